"""Write benchmarks/results/INDEX.md: every file in benchmarks/results, what it is, the command that wrote it, and
whether it is current or superseded; then the studies in experiments/.

    python benchmarks/results_index.py [--check]

Commands come from the reports themselves where they carry one (``command`` in compress, bench, parity and the
benchmark scripts' JSON; ``Command:`` lines in their Markdown), are rebuilt from an ``edge-ocr eval`` or ``verify``
report's own settings (marked "rebuilt"), or are the ones recorded in this file for the training curves and plans
that carry none. ``--check`` exits 1 when INDEX.md is not what this script writes (a results file was added
without its entry, or the index is stale).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
EXPERIMENTS = os.path.join(REPO, "experiments")
INDEX = os.path.join(RESULTS, "INDEX.md")

# Runs that a later one replaces: stem -> why (the file stays as the record of what was measured).
SUPERSEDED = {
    **{f"compress-prune-qat-run{n}": "prune-qat with the sensitivity-table plan; replaced by the hand plan "
                                     "(compress-prune-qat)" for n in (1, 2, 3)},
    "compress-prune-qat-mixed-r64": "resumed with the td500 dev-domain judgement as compress-prune-qat-fallback",
    "compress-qat-mixed-r128": "the same trained stages with the 16-bit stem packing (compress-qat-mixed-r128-w16)",
    "compress-qat-mixed-r128-latin": "the same trained stages with the 16-bit stem packing "
                                     "(compress-qat-mixed-r128-w16-latin)",
    "compress-qat-mixed-r128-w16": "label-trained QAT with the old (wrong) rec teacher term; the bundle to ship is "
                                   "compress-qat-distill",
    "compress-qat-mixed-r128-w16-latin": "label-trained QAT with the old rec teacher term; the Latin bundle shipped "
                                         "is compress-qat-distill-latin-release",
    "compress-qat-distill-latin-int16": "a run that resumed its det stage; the Latin release is its recipe built "
                                        "from scratch (compress-qat-distill-latin-release)",
    "compress-qat-lines": "label-trained QAT with the old rec teacher term; replaced by compress-qat-distill",
}

# What each file (by stem pattern) is, and the command for files that record none. First match wins.
RULES: list[tuple[str, str, str | None]] = [
    (r"^INDEX$", "this index", "python benchmarks/results_index.py"),
    (r"^\d{4}-\d\d-\d\d-.*-quantized-(latency|accuracy-size|accuracy-latency)$",
     "plot of the compressed variants' bench report", "see 2026-11-24-amd-epyc-2core-quantized.json"),
    (r"^\d{4}-\d\d-\d\d-.*-(latency|accuracy-size|accuracy-latency)$", "plot of the bench report of that name",
     "BENCH_NAME=2026-11-24-amd-epyc-2core bash benchmarks/bench.sh"),
    (r"^\d{4}-\d\d-\d\d-.*-quantized$", "edge-ocr bench of the compressed variants, first 100 images (simulated "
     "int8 on x86; the prune-qat row is run 2's models)", None),
    (r"^\d{4}-\d\d-\d\d-", "edge-ocr bench report: latency, memory, size and accuracy per variant, with peers",
     "BENCH_NAME=2026-11-24-amd-epyc-2core bash benchmarks/bench.sh"),
    (r"^compress-summary$", "every compression variant side by side, domain by domain (generated)",
     "python benchmarks/compress_summary.py"),
    (r"^compress-accuracy-size$", "plot: accuracy against ARM bundle size per variant",
     "python benchmarks/compress_summary.py"),
    (r"^compress-", "edge-ocr compress report: sizes, accuracy per domain, drop against FP32, ARM verification",
     None),
    (r"^release-", "builds of a release's recipe side by side: size, accuracy and drop per domain, how each was made",
     "python benchmarks/release_compare.py --report NAME=REPORT.json ... --out FILE.md (command in the file's note)"),
    (r"^crosscheck-det$", "det Hmean cross-checked against an independent Shapely scorer", None),
    (r"^domains-charsets$", "notes of issue #18: domains, the synthetic set, charset bundles, with their commands",
     "commands inside"),
    (r"^(det-size|rec-batch)-lever$", "a speed lever: one parameter of the release set to each value, accuracy per "
     "domain against estimated A72/A76 latency", None),
    (r"^isa-determinism$", "why builds differ across x86 hosts: outputs and .nb bytes under oneDNN/MKL instruction-set "
     "caps", None),
    (r"^estimate-releases$", "estimated A72/A76 latency of the released bundle against FP32, per model and end to "
     "end", None),
    (r"^estimate-validation$", "board-free ARM latency estimates (bench --estimate) against published board "
     "latencies", None),
    (r"^estimate-", "study of the board-free ARM latency estimator (bench --estimate)", None),
    (r"^eval-.*-lines$", "edge-ocr eval on the td500_lines domain (agreement with FP32 on real TD500 lines)", None),
    (r"^eval-.*-domains$", "edge-ocr eval on the td500 and zh_synth domains (and icdar2015 where scored)", None),
    (r"^eval-", "edge-ocr eval report", None),
    (r"^finetune-rec-ctc-frozen-bn$", "24-step CPU fine-tune of the recognizer, plain CTC, frozen BN (metrics.csv)",
     "edge-ocr train rec --train-labels ../shared/data/ic15_rec/rec_gt_train.txt --eval-labels "
     "../shared/data/ic15_rec/rec_gt_test.txt --eval-limit 400 --init ../shared/models/ppocrv2 --out OUT --steps 24 "
     "--batch-size 16 --lr 5e-5 --eval-every 12"),
    (r"^finetune-rec-ctc-train-bn$", "the same fine-tune with BatchNorm statistics updated",
     "the finetune-rec-ctc-frozen-bn command + --train-bn"),
    (r"^finetune-rec-udml$", "the same fine-tune with U-DML",
     "the finetune-rec-ctc-frozen-bn command + --distill udml"),
    (r"^finetune-rec-enhanced-ctc$", "the same fine-tune with enhanced CTC",
     "the finetune-rec-ctc-frozen-bn command + --enhanced-ctc"),
    (r"^finetune-rec-augment$", "the same fine-tune with word-crop augmentation",
     "the finetune-rec-ctc-frozen-bn command + --augment"),
    (r"^finetune-cls$", "100-step fine-tune of the direction classifier (metrics.csv, curve)",
     "edge-ocr train cls --train-labels ../shared/data/ic15_rec/rec_gt_train.txt --eval-labels "
     "../shared/data/ic15_rec/rec_gt_train.txt --dev-tail 300 --init ../shared/models/ppocrv2 --out OUT --steps 100 "
     "--batch-size 32"),
    (r"^finetune-det-db$", "20-step CPU fine-tune of the detector, plain DB loss",
     "edge-ocr train det --train-labels ../shared/data/icdar2015/train_label.txt --eval-labels "
     "../shared/data/icdar2015/test_label.txt --eval-limit 100 --init ../shared/models/ppocrv2 --out OUT --steps 20 "
     "--batch-size 2 --lr 5e-5 --eval-every 20"),
    (r"^finetune-det-cml-copypaste$", "the same detector fine-tune with CML and CopyPaste",
     "the finetune-det-db command + --distill cml --copy-paste"),
    (r"^finetune-", "training curve", None),
    (r"^image-fuzz$", "image fuzzing: mutants of every format decoded in child processes (verdicts, signals, peak RSS)",
     None),
    (r"^nb-fuzz(-.*)?$", "`.nb` fuzzing: mutants of a bundle's models through the Python and C++ verifiers, probe "
     "loads and predicts", None),
    (r"^nb-probe-cost$", "what the first-load probe of a `.nb` costs", None),
    (r"^image-bombs$", "peak memory of decoding and predict on generated image bombs", None),
    (r"^nets-roundtrip$", "the dygraph networks re-exported against the official models on 500 images", None),
    (r"^parity$", "parity and speed against PaddleOCR 2.8.1, same models and images", None),
    (r"^property-soak$", "the property tests with many examples", None),
    (r"^prune-det-plans$", "detector pruning plans and recovery compared (notes, with their commands)",
     "commands inside"),
    (r"^prune-plan-det-hand$", "the hand pruning plan of the detector that prune-qat uses (K4)",
     "edge-ocr prune det --init ../shared/models/ppocrv2 --labels ../shared/data/icdar2015/train_label.txt --out "
     "prune-det-hand --dev 60 --ratios neck.in5.weight=0.75 backbone.blocks.11.expand.conv.weight=0.5 "
     "backbone.blocks.12.expand.conv.weight=0.5 backbone.blocks.13.expand.conv.weight=0.5 "
     "backbone.blocks.14.expand.conv.weight=0.5 backbone.last.conv.weight=0.5"),
    (r"^prune-plan-det$", "the detector plan chosen from the 16-image sensitivity table (plan A of prune-det-plans)",
     "edge-ocr prune det --init ../shared/models/ppocrv2 --labels ../shared/data/icdar2015/train_label.txt --out "
     "prune-det --flops-reduction 0.32"),
    (r"^prune-sensitivity-det$", "detector filter-pruning sensitivity (each group alone, 16 dev images)",
     "edge-ocr prune det --init ../shared/models/ppocrv2 --labels ../shared/data/icdar2015/train_label.txt --out "
     "prune-det --flops-reduction 0.32"),
    (r"^prune-(sensitivity|plan)-rec$", "recognizer filter-pruning sensitivity / plan (edge-ocr prune rec)",
     "edge-ocr prune rec (exact command not recorded)"),
    (r"^prune-qat-(qat|recover)-det$", "training curve of a prune-qat detector stage", "see prune-det-plans.md"),
    (r"^qat-det-150-steps$", "the hand-plan det QAT stage run for 150 steps", "see prune-det-plans.md"),
    (r"^qat-rec-keep-fp32-(\d+)$", "100 rec QAT steps keeping the first N layers FP32 (dev accuracy curve)",
     "edge-ocr train rec --train-labels CALIB_REC --eval-labels CALIB_REC --dev-tail 200 --init "
     "../shared/models/ppocrv2 --qat --distill teacher --keep-fp32-first N --steps 100 --batch-size 16 --lr 5e-5 "
     "--eval-every 50"),
    (r"^qat-rec-all-int8$", "40 rec QAT steps with every layer int8 (dev accuracy collapsed)",
     "exact command not recorded"),
    (r"^qat-mixed-r128-rec$", "rec QAT stage curve of compress-qat-mixed-r128", "see compress-qat-mixed-r128.json"),
    (r"^sensitivity-rec-allbut$", "recognizer PTQ sensitivity, all layers but one quantized (edge-ocr sensitivity)",
     "edge-ocr sensitivity (exact command not recorded)"),
    (r"^synth-default$", "statistics of the default synthetic set", "edge-ocr synth --out data/synth"),
    (r"^verify-.*-arm$", "edge-ocr verify of an ARM bundle on the emulated ARM runtime", None),
    (r"^verify-.*-release$", "edge-ocr verify of a released bundle on the emulated ARM runtime, on photos of every "
     "domain (IC15, TD500, zh_synth)", None),
]


def describe(stem: str) -> tuple[str, str | None]:
    for pattern, what, command in RULES:
        if re.search(pattern, stem):
            return what, command
    return "(not described: add a rule to benchmarks/results_index.py)", None


def _short(path: str | None) -> str:
    """The shared folder written as the repository's docs write it (``../shared``)."""
    return str(path or "").replace("/work/shared/", "../shared/")


CODE = re.compile(r"^(python |edge-ocr |\.venv/|bash |BENCH_NAME=)")


def command_from_json(path: str) -> tuple[str | None, bool]:
    """(command, rebuilt): the report's own ``command``, or one rebuilt from an eval / verify report's settings."""
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        return None, False
    if not isinstance(report, dict):
        return None, False
    if isinstance(report.get("command"), str):
        return report["command"].strip(), False
    settings = report.get("settings")
    if isinstance(settings, dict) and ("models" in settings or "bundle" in settings):
        parts = ["edge-ocr eval"]
        if settings.get("bundle"):
            parts.append(f"--bundle {_short(settings['bundle'])}")
        elif settings.get("models"):
            parts.append(f"--models {_short(settings['models'])}")
        if settings.get("engine") not in (None, "auto"):
            parts.append(f"--engine {settings['engine']}")
        for key in ("det_labels", "rec_labels", "det_model"):
            if settings.get(key):
                parts.append(f"--{key.replace('_', '-')} {_short(settings[key])}")
        domains = report.get("domains")
        if isinstance(domains, dict) and domains and not (settings.get("det_labels") or settings.get("rec_labels")):
            parts.append("--domain " + " ".join(domains))
        if settings.get("limit"):
            parts.append(f"--limit {settings['limit']}")
        return " ".join(parts), True
    if "bundle" in report and isinstance(report.get("references"), dict):
        refs = report["references"]
        parts = ["edge-ocr verify", _short(report["bundle"]), f"--against {_short(refs.get('fp32'))}"]
        if refs.get("expected") and refs.get("expected") != refs.get("fp32"):
            parts.append(f"--quantized {_short(refs['expected'])}")
        sureness = report.get("rec_sureness")
        if isinstance(sureness, dict):  # a charset bundle's full source models, per side
            prefix = "the full softmax of "
            parts += [f"--charset-source {side}={_short(how[len(prefix):])}" for side, how in sureness.items()
                      if isinstance(how, str) and how.startswith(prefix)]
        images = report.get("images")
        if isinstance(images, list) and images:
            parts.append("--samples " + " ".join(os.path.basename(str(i)) for i in images))
        return " ".join(parts), True
    return None, False


def command_from_markdown(path: str) -> str | None:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"Command:\s*`([^`]+)`", text) or re.search(r"`((?:python|edge-ocr) [^`]+)`", text)
    return match.group(1) if match else None


def results_rows() -> list[dict]:
    stems: dict[str, list[str]] = {}
    for name in sorted(os.listdir(RESULTS)):
        if name.startswith(".") or name.endswith(".tmp"):
            continue
        stem, ext = os.path.splitext(name)
        stems.setdefault(stem, []).append(ext.lstrip("."))
    rows = []
    for stem, exts in stems.items():
        what, command = describe(stem)
        rebuilt = False
        if "json" in exts and command is None:
            command, rebuilt = command_from_json(os.path.join(RESULTS, stem + ".json"))
        if "md" in exts and command is None:
            command = command_from_markdown(os.path.join(RESULTS, stem + ".md"))
        status = f"superseded: {SUPERSEDED[stem]}" if stem in SUPERSEDED else "current"
        variant = re.sub(r"^eval-(.*?)-(lines|domains)$", r"compress-\1", stem)
        if variant != stem and variant in SUPERSEDED:
            status = f"supplements {variant} (superseded)"
        rows.append({"stem": stem, "exts": exts, "what": what, "command": _short(command) or "not recorded",
                     "rebuilt": rebuilt, "status": status})
    return rows


def experiment_rows() -> list[dict]:
    rows = []
    if not os.path.isdir(EXPERIMENTS):
        return rows
    for slug in sorted(os.listdir(EXPERIMENTS)):
        readme = os.path.join(EXPERIMENTS, slug, "README.md")
        if not os.path.isfile(readme):
            continue
        with open(readme, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        files = sorted(f for f in os.listdir(os.path.join(EXPERIMENTS, slug)) if f != "README.md")
        rows.append({"slug": slug, "measured": lines[0] if lines else "", "files": files})
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    out = ["# benchmarks/results: what each file is",
           "",
           "Generated by `python benchmarks/results_index.py`; do not edit by hand. Each row is one report (its "
           "`.json`, `.md`, `.csv` or `.png` files). **Command**: as the report records it (paths as on the machine "
           "that ran it; `/work/shared` is `../shared`), or rebuilt from an `edge-ocr eval` / `verify` report's "
           "settings (*rebuilt*), or recorded in the script for files that carry none. **Status**: *current* is a "
           "number the README and docs stand on; *superseded* files are kept as the record of what was measured, "
           "and say what replaced them. One-off studies live in `experiments/` (second table).",
           "",
           "| file | what it is | command | status |",
           "|---|---|---|---|"]
    for row in results_rows():
        files = row["stem"] + ".{" + ",".join(row["exts"]) + "}" if len(row["exts"]) > 1 else \
            row["stem"] + "." + row["exts"][0]
        command = f"`{_cell(row['command'])}`" if CODE.match(row["command"]) else _cell(row["command"])
        if row["rebuilt"]:
            command += " (rebuilt)"
        out.append(f"| `{files}` | {_cell(row['what'])} | {command} | {_cell(row['status'])} |")
    out += ["", "## Studies in experiments/", "",
            "| folder | what it measured | files |", "|---|---|---|"]
    for row in experiment_rows():
        out.append(f"| `experiments/{row['slug']}/` | {_cell(row['measured'])} | "
                   f"{', '.join('`' + f + '`' for f in row['files'])} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if INDEX.md is not up to date")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = open(INDEX, encoding="utf-8").read() if os.path.isfile(INDEX) else ""
        if current != text:
            print("benchmarks/results/INDEX.md is stale: run python benchmarks/results_index.py", file=sys.stderr)
            return 1
        return 0
    tmp = INDEX + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, INDEX)
    print(f"wrote {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
