"""Speed levers measured, issue #26: one pipeline parameter of the released bundle set to each value, accuracy per
domain against estimated ARM latency.

For each value: the release's quantized models (what its ``.nb`` files were exported from, as compress scored them:
``RUN-artifacts/quantized-weights-int16``; Paddle Inference with their fake-quant ops) scored on the lever's domains,
and the bundle's estimated A72/A76 latency with that value in its manifest parameters, both against FP32 at the
default. Latency is an estimate (qemu block counts costed by llvm-mca, ``edge_ocr.bench.estimate``), labelled so,
with its validation error.

    python benchmarks/speed_levers.py det-size --quantized RUN-artifacts/quantized-weights-int16 \\
        --zh-dev INPUTS/synth/e2e_dev.txt [--values 960 736 640]
    python benchmarks/speed_levers.py rec-batch --quantized RUN-artifacts/quantized-weights-int16 \\
        --zh-dev INPUTS/synth/e2e_dev.txt --zh-rec INPUTS/synth/rec_dev.txt [--values 1 6 16]

Every lever is judged on ICDAR 2015 and on the zh_synth dev split (a second domain), det-size on TD500 too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.bench.estimate import bundles as estimates  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
IC15 = [("icdar2015", "det_hmean", "IC15 det"), ("icdar2015", "e2e_hmean", "IC15 e2e")]
DENSE_PAGE = "data/icdar2015/ch4_test_images/img_486.jpg"  # the most labelled words of IC15 test (30)


@dataclass(frozen=True)
class Lever:
    """One manifest parameter (``stage.key``) and the pipeline option that sets it when scoring."""

    title: str
    stage: str
    key: str
    option: str  # the PipelineOptions field
    default: int
    values: tuple[int, ...]
    columns: tuple[tuple[str, str, str], ...]
    why: str
    rec_labels: bool = False  # score the word/line crops too (ICDAR 2015's and zh_synth's: --zh-rec)
    td500: bool = False  # score TD500's dev tail too
    dense_page: bool = False  # estimate on ICDAR 2015's densest page as well


LEVERS = {
    "det-size": Lever(
        "the detector's input size", "det", "limit_side_len", "det_limit_side_len", 960, (960, 736, 640),
        tuple(IC15) + (("td500", "det_hmean", "TD500 det"), ("zh_synth", "det_hmean", "zh det"),
                       ("zh_synth", "e2e_hmean", "zh e2e")),
        "A smaller longest side cuts the detector's FLOPs with the square of the side; small text is lost.",
        td500=True),
    "rec-batch": Lever(
        "the recognizer's batch width", "rec", "batch_size", "rec_batch_size", 6, (1, 6, 16),
        tuple(IC15) + (("icdar2015", "rec_accuracy", "IC15 rec"), ("zh_synth", "e2e_hmean", "zh e2e"),
                       ("zh_synth", "rec_accuracy", "zh rec")),
        "The pipeline sorts a page's crops by aspect ratio and pads each batch to its widest crop: a wider batch "
        "loads the weights fewer times but computes more padding.",
        rec_labels=True, dense_page=True),
}


def with_param(bundle: str, stage: str, key: str, value: int, out: str) -> str:
    """A copy of ``bundle`` whose manifest parameter ``stage.key`` is ``value`` (the params travel with the bundle)."""
    from edge_ocr.bundle import load_bundle

    shutil.copytree(bundle, out)
    path = os.path.join(out, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["params"][stage][key] = value
    write_json(path, manifest)
    load_bundle(out)  # still a valid bundle
    return out


def score(lever: Lever, models: str, value: int, domains: list[str], threads: int, shared: str) -> dict:
    from edge_ocr.evaluation.api import EvalConfig, headlines, run_evaluation
    from edge_ocr.pipeline_options import PipelineOptions

    rec = os.path.join(shared, "data", "ic15_rec", "rec_gt_test.txt") if lever.rec_labels else None
    settings = EvalConfig(pipeline=PipelineOptions(models=models, engine="paddle", threads=threads,
                                                   **{lever.option: value}),
                          domains=domains, det_labels=os.path.join(shared, "data", "icdar2015", "test_label.txt"),
                          rec_labels=rec, progress=False)
    return headlines(run_evaluation(settings).data)


def main(argv: list[str] | None = None) -> int:
    from edge_ocr.host.export.bundle import export_bundle
    from edge_ocr.releases import check_release, load_releases

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lever", choices=sorted(LEVERS))
    parser.add_argument("--quantized", required=True,
                        help="the release's quantized models, as compress scored them (RUN-artifacts/"
                             "quantized-weights-int16)")
    parser.add_argument("--zh-dev", required=True, help="the zh_synth dev det labels (INPUTS/synth/e2e_dev.txt)")
    parser.add_argument("--zh-rec", help="rec-batch: the zh_synth dev line crops (INPUTS/synth/rec_dev.txt)")
    parser.add_argument("--values", nargs="+", type=int)
    parser.add_argument("--release", default="qat-distill")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    lever = LEVERS[args.lever]
    if lever.rec_labels and not args.zh_rec:
        parser.error(f"{args.lever} needs --zh-rec")
    shared = shared_dir()
    models = os.path.join(shared, "models", "ppocrv2")
    zh = f"zh_synth:det={os.path.abspath(args.zh_dev)}"
    if lever.rec_labels:
        zh += f",rec={os.path.abspath(args.zh_rec)}"
    domains = (["td500"] if lever.td500 else []) + [zh]
    image_sets = {"usual": estimates.default_images()}
    if lever.dense_page:
        image_sets["dense"] = [os.path.join(shared, DENSE_PAGE)]
    created = datetime.datetime.now().isoformat(timespec="seconds")
    rows = []
    fp32_scores = score(lever, models, lever.default, domains, args.threads, shared)
    with tempfile.TemporaryDirectory(prefix="edge-ocr-lever-") as tmp:
        fp32 = export_bundle(models, os.path.join(tmp, "fp32"), target="arm")
        release = check_release(load_releases()[args.release])
        for value in args.values or lever.values:
            print(f"{lever.stage}.{lever.key} = {value}: scoring and estimating", file=sys.stderr, flush=True)
            bundle = with_param(release, lever.stage, lever.key, value, os.path.join(tmp, str(value)))
            rows.append({"value": value, "scores": score(lever, args.quantized, value, domains, args.threads, shared),
                         "estimates": {name: estimates.estimate_against(bundle, fp32, models, images)
                                       for name, images in image_sets.items()}})
    report = {"created": created, "kind": "lever", "lever": args.lever, "release": args.release,
              "quantized": args.quantized, "fp32": fp32_scores, "rows": rows,
              "command": "python benchmarks/speed_levers.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    name = f"{args.lever}-lever"
    write_json(os.path.join(RESULTS, name + ".json"), report)
    write_text(os.path.join(RESULTS, name + ".md"), to_markdown(report))
    print(to_markdown(report))
    return 0


def estimate_cells(target: dict, role: str) -> str:
    return f"{target['bundle'][role + '_ms']:.1f} | {target['ratio'][role]:.2f} | {target['ratio']['e2e']:.2f}"


def to_markdown(report: dict) -> str:
    lever, fp32 = LEVERS[report["lever"]], report["fp32"]
    first = report["rows"][0]["estimates"]
    targets = list(first["usual"]["targets"])
    sets = {name: ", ".join(est["images"]) for name, est in first.items()}
    role = lever.stage
    lines = [f"# Lever: {lever.title} — {report['created']}", "", lever.why, "",
             f"The released `{report['release']}` bundle with `{lever.stage}.{lever.key}` set to each value, against "
             f"FP32 at the default {lever.default}. Accuracy: its quantized models in Paddle Inference (points, "
             "change against FP32). Latency: **estimates, not measurements** — " + first["usual"]["method"] +
             f"; 1 thread; {role} ms per image and × FP32, end to end × FP32, on " +
             "; ".join(f"{name} ({images})" for name, images in sets.items()) + ".", "",
             "| value | " + " | ".join(c[2] for c in lever.columns) + " | " +
             " | ".join(f"{t} {name}: {role} ms | {role} × FP32 | e2e × FP32" for t in targets for name in sets) + " |",
             "|---|" + "---|" * (len(lever.columns) + 3 * len(targets) * len(sets))]

    def cell(value, reference):
        if value is None or reference is None:
            return "n/a"
        return f"{value * 100:.2f} ({(value - reference) * 100:+.2f})"

    for row in report["rows"]:
        scores, est = row["scores"], row["estimates"]
        lines.append(f"| {row['value']} | " + " | ".join(cell(scores.get(d, {}).get(m), fp32.get(d, {}).get(m))
                                                     for d, m, _ in lever.columns) + " | " +
                     " | ".join(estimate_cells(est[n]["targets"][t], role) for t in targets for n in sets) + " |")
    lines += ["", "Validation error of the estimates: " + "; ".join(
        f"{t}: {first['usual']['targets'][t]['validation']}" for t in targets), "",
        f"Made by `{report['command'].strip()}`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
