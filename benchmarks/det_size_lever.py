"""A speed lever measured, issue #26: the detector's input size policy (``det_limit_side_len``), accuracy per domain
against estimated ARM latency.

For each longest side: the released bundle's quantized models (what its ``.nb`` files were exported from, run by
Paddle Inference with their fake-quant ops) scored on every det domain, and the bundle's estimated A72/A76 latency
with that size in its parameters, both against FP32 at the default 960. Latency is an estimate (qemu block counts
costed by llvm-mca, ``edge_ocr.bench.estimate``), labelled so, with its validation error.

    python benchmarks/det_size_lever.py --quantized RUN-artifacts/quantized --zh-dev INPUTS/synth/e2e_dev.txt \
        [--sizes 960 736 640] [--release qat-distill]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.bench.estimate import bundles as estimates  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def with_det_size(bundle: str, size: int, out: str) -> str:
    """A copy of ``bundle`` whose parameters detect at longest side ``size`` (the manifest's params travel with it)."""
    from edge_ocr.bundle import load_bundle

    shutil.copytree(bundle, out)
    path = os.path.join(out, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["params"]["det"]["limit_side_len"] = size
    write_json(path, manifest)
    load_bundle(out)  # still a valid bundle
    return out


def score(models: str, size: int, domains: list[str], threads: int, ic15: str) -> dict:
    from edge_ocr.evaluation.api import EvalConfig, headlines, run_evaluation
    from edge_ocr.pipeline_options import PipelineOptions

    settings = EvalConfig(pipeline=PipelineOptions(models=models, engine="paddle", threads=threads,
                                                   det_limit_side_len=size), domains=domains, det_labels=ic15,
                          progress=False)
    return headlines(run_evaluation(settings).data)


def main(argv: list[str] | None = None) -> int:
    from edge_ocr.host.export.bundle import export_bundle
    from edge_ocr.releases import check_release, load_releases

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantized", required=True, help="the release's quantized models (RUN-artifacts/quantized)")
    parser.add_argument("--zh-dev", required=True, help="the zh_synth dev det labels (INPUTS/synth/e2e_dev.txt)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[960, 736, 640])
    parser.add_argument("--release", default="qat-distill")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="det-size-lever")
    args = parser.parse_args(argv)
    shared = shared_dir()
    models = os.path.join(shared, "models", "ppocrv2")
    ic15 = os.path.join(shared, "data", "icdar2015", "test_label.txt")
    domains = ["td500", f"zh_synth:det={os.path.abspath(args.zh_dev)}"]
    images = estimates.default_images()
    created = datetime.datetime.now().isoformat(timespec="seconds")
    rows = []
    fp32_scores = score(models, 960, domains, args.threads, ic15)
    with tempfile.TemporaryDirectory(prefix="edge-ocr-det-size-") as tmp:
        fp32 = export_bundle(models, os.path.join(tmp, "fp32"), target="arm")
        release = check_release(load_releases()[args.release])
        for size in args.sizes:
            print(f"det limit {size}: scoring and estimating", file=sys.stderr, flush=True)
            bundle = with_det_size(release, size, os.path.join(tmp, f"det{size}"))
            rows.append({"size": size, "scores": score(args.quantized, size, domains, args.threads, ic15),
                         "estimate": estimates.estimate_against(bundle, fp32, models, images)})
    report = {"created": created, "kind": "lever", "release": args.release, "fp32": fp32_scores, "rows": rows,
              "command": "python benchmarks/det_size_lever.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json(os.path.join(RESULTS, args.name + ".json"), report)
    write_text(os.path.join(RESULTS, args.name + ".md"), to_markdown(report))
    print(to_markdown(report))
    return 0


def to_markdown(report: dict) -> str:
    fp32 = report["fp32"]
    cols = [("icdar2015", "det_hmean", "IC15 det"), ("icdar2015", "e2e_hmean", "IC15 e2e"),
            ("td500", "det_hmean", "TD500 det"), ("zh_synth", "det_hmean", "zh det"),
            ("zh_synth", "e2e_hmean", "zh e2e")]
    first = report["rows"][0]["estimate"]
    targets = list(first["targets"])
    lines = [f"# Lever: the detector's input size — {report['created']}", "",
             f"The released `{report['release']}` bundle with `det.limit_side_len` set to each size, against FP32 at "
             "960. Accuracy: its quantized models in Paddle Inference (points, change against FP32 at 960). "
             "Latency: **estimates, not measurements** — " + first["method"] + f"; 1 thread; mean of "
             f"{', '.join(first['images'])}.", "",
             "| det longest side | " + " | ".join(c[2] for c in cols) + " | " +
             " | ".join(f"{t}: det × FP32 (est.) | {t}: e2e × FP32 (est.)" for t in targets) + " |",
             "|---|" + "---|" * (len(cols) + 2 * len(targets))]

    def cell(value, reference):
        if value is None or reference is None:
            return "n/a"
        return f"{value * 100:.2f} ({(value - reference) * 100:+.2f})"

    for row in report["rows"]:
        scores = row["scores"]
        ratios = [row["estimate"]["targets"][t]["ratio"] for t in targets]
        lines.append(f"| {row['size']} | " + " | ".join(cell(scores.get(d, {}).get(m), fp32.get(d, {}).get(m))
                                                    for d, m, _ in cols) + " | " +
                     " | ".join(f"{r['det']:.2f} | {r['e2e']:.2f}" for r in ratios) + " |")
    lines += ["", "Validation error of the estimates: " + "; ".join(
        f"{t}: {first['targets'][t]['validation']}" for t in targets), "",
        f"Made by `{report['command'].strip()}`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
