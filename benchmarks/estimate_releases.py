"""Estimated ARM latency of every released bundle, PaddleOCR's slim bundle and the FP32 bundle, side by side: the
numbers behind the README's "est. A72 / A76" column.

Each bundle runs the pipeline on the same photos (ICDAR 2015's img_11 and TD500's IMG_2224 by default), 1 thread;
every figure is an estimate (``edge_ocr.bench.estimate``: qemu block counts costed by llvm-mca), printed with its
validation error. PaddleOCR's slim ``.nb`` files (``../shared/models/reference/ch_PP-OCRv2_slim_lite_v2.10_arm``)
run inside a bundle made for them, with the FP32 bundle's parameters (the official dictionary, det size policy).
With ``--update-reports``, each release's compress report (``benchmarks/results/compress-NAME-release.json``)
gets the estimate it would have carried had compress estimated it (``latency_estimate``, marked as added later).

    python benchmarks/estimate_releases.py [--targets cortex-a72@1.5 cortex-a76@2.84] [--update-reports]
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
from edge_ocr.models import sha256_file  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SLIM = {"det": "det_db.nb", "cls": "cls.nb", "rec": "rec_crnn.nb"}


def slim_bundle(fp32_bundle: str, out: str) -> str:
    """PaddleOCR's slim .nb files in a bundle with the FP32 bundle's manifest (files and precision replaced)."""
    folder = os.path.join(shared_dir(), "models", "reference", "ch_PP-OCRv2_slim_lite_v2.10_arm")
    shutil.copytree(fp32_bundle, out)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    for role, name in SLIM.items():
        target = os.path.join(out, manifest["models"][role]["file"])
        shutil.copyfile(os.path.join(folder, name), target)
        manifest["files"][manifest["models"][role]["file"]] = sha256_file(target)
        manifest["models"][role].update(precision="int8", source={"paddleocr_slim": name})
    manifest["recipe"] = "paddleocr-slim"
    write_json(os.path.join(out, "manifest.json"), manifest)
    return out


def main(argv: list[str] | None = None) -> int:
    from edge_ocr.host.export.bundle import export_bundle
    from edge_ocr.releases import check_release, load_releases

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(estimates.DEFAULT_TARGETS), metavar="CORE@GHZ")
    parser.add_argument("--images", nargs="+", help="default: img_11 and IMG_2224 from ../shared")
    parser.add_argument("--update-reports", action="store_true",
                        help="add the estimate to each release's compress report (json and md)")
    parser.add_argument("--name", default="estimate-variants")
    args = parser.parse_args(argv)
    models = os.path.join(shared_dir(), "models", "ppocrv2")
    images = args.images or estimates.default_images()
    created = datetime.datetime.now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="edge-ocr-estimate-") as tmp:
        fp32 = export_bundle(models, os.path.join(tmp, "fp32"), target="arm")
        bundles = {"PaddleOCR slim": slim_bundle(fp32, os.path.join(tmp, "slim"))}
        releases = load_releases()
        bundles.update({name: check_release(release) for name, release in releases.items()})
        rows = {}
        for name, path in bundles.items():
            print(f"estimating {name}", file=sys.stderr, flush=True)
            rows[name] = estimates.estimate_against(path, fp32, models, images, args.targets)
    report = {"created": created, "kind": "estimate", "command": "python benchmarks/estimate_releases.py " +
              " ".join(argv if argv is not None else sys.argv[1:]), "bundles": rows}
    lines = [f"# Estimated ARM latency of the releases, PaddleOCR slim and FP32 — {created}", "",
             "**Estimates, not measurements** (no ARM board here). Made by `" + report["command"].strip() + "`.", ""]
    first = next(iter(rows.values()))
    lines += ["| bundle | core | det ms (est.) | rec ms (est.) | end-to-end ms (est.) | det × FP32 | e2e × FP32 | "
              "validation error |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for label, row in first["targets"].items():
        fp = row["fp32"]
        lines.append(f"| FP32 (official models) | {label} | {fp['det_ms']:.1f} | {fp['rec_ms']:.1f} | "
                     f"{fp['e2e_ms']:.1f} | 1.00 | 1.00 | {row['validation']} |")
    for name, estimate in rows.items():
        for label, row in estimate["targets"].items():
            mine, ratio = row["bundle"], row["ratio"]
            lines.append(f"| {name} | {label} | {mine['det_ms']:.1f} | {mine['rec_ms']:.1f} | {mine['e2e_ms']:.1f} | "
                         f"{ratio['det']:.2f} | {ratio['e2e']:.2f} | {row['validation']} |")
    lines += ["", f"{first['method']}; 1 thread; mean of {', '.join(first['images'])}, each bundle on the inputs "
              "its own pipeline makes of them; ms per image. Target (issue #26): ≤ 0.6× FP32 end to end and for det "
              "alone, on both cores.", ""]
    write_json(os.path.join(RESULTS, args.name + ".json"), report)
    write_text(os.path.join(RESULTS, args.name + ".md"), "\n".join(lines))
    print("\n".join(lines))
    if args.update_reports:
        from edge_ocr.host.quantize.compress.api import compress_markdown

        for name in releases:
            path = os.path.join(RESULTS, f"compress-{name}-release.json")
            if not os.path.isfile(path):
                print(f"no compress report {path}: not updated", file=sys.stderr)
                continue
            with open(path, encoding="utf-8") as handle:
                compress_report = json.load(handle)
            compress_report["latency_estimate"] = {**rows[name], "added_later_by": report["command"].strip(),
                                                   "added": created}
            write_json(path, compress_report)
            write_text(path[:-5] + ".md", compress_markdown(compress_report))
            print(f"updated {path}\n{estimates.against_markdown(rows[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
