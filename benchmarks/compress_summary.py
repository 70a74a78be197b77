"""Every compression variant side by side: bundle size against det / e2e Hmean and rec accuracy, and a PNG.

Reads the compress reports (``benchmarks/results/compress-*.json``, written by ``edge-ocr compress --report``), the
FP32 evaluation (``eval-fp32.json``) and the official slim detector's evaluation (``eval-official-slim-det.json``),
and sizes PaddleOCR's published slim ARM bundle from ``$EDGE_OCR_SHARED/models/reference``. Writes
``compress-summary.md`` and ``compress-accuracy-size.png`` next to them.

    python benchmarks/compress_summary.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_ocr.atomic import write_text  # noqa: E402
from edge_ocr.evaluation.domains import DEFAULT_DOMAIN, by_domain  # noqa: E402

METRICS = ("det_hmean", "e2e_hmean", "rec_accuracy")
OFFICIAL_SLIM = "ch_PP-OCRv2_slim_lite_v2.10_arm"


def load_variants(results: str, shared: str) -> list[dict]:
    """One row per variant: name, bundle bytes, the three metrics (None where not measured), FLOPs, source."""
    rows = []
    reports = sorted(glob.glob(os.path.join(results, "compress-*.json")))
    reports = [p for p in reports if not p.endswith("compress-summary.json")]
    fp32_bytes = next((json.load(open(p)).get("fp32_bundle_bytes") for p in reports
                       if json.load(open(p)).get("fp32_bundle_bytes")), None)
    fp32_eval = os.path.join(results, "eval-fp32.json")
    if os.path.isfile(fp32_eval):
        ev = json.load(open(fp32_eval))
        rows.append({"name": "FP32 (official models)", "bytes": fp32_bytes, "det_hmean": ev["det"]["hmean"],
                     "e2e_hmean": ev["e2e"]["hmean"], "rec_accuracy": ev["rec"]["accuracy"],
                     "source": "eval-fp32.json"})
    slim_dir = os.path.join(shared, "models", "reference", OFFICIAL_SLIM)
    slim_eval = os.path.join(results, "eval-official-slim-det.json")
    if os.path.isdir(slim_dir):
        size = sum(os.path.getsize(os.path.join(slim_dir, f)) for f in os.listdir(slim_dir) if f.endswith(".nb"))
        ev = json.load(open(slim_eval)) if os.path.isfile(slim_eval) else None
        rows.append({"name": "PaddleOCR slim (official)", "bytes": size,
                     "det_hmean": ev["det"]["hmean"] if ev else None, "e2e_hmean": ev["e2e"]["hmean"] if ev else None,
                     "rec_accuracy": None,
                     "source": f"{OFFICIAL_SLIM} (.nb sizes, dictionary not counted); det/e2e: its quantized "
                               "detector with the FP32 recognizer; its rec .nb is ARM-only"})
    for path in reports:
        report = json.load(open(path))
        if "compressed" not in report:
            continue
        name = os.path.basename(path)[len("compress-") : -len(".json")]
        # reports before domains hold ICDAR 2015's numbers directly; later ones {domain: numbers}
        domains = by_domain(report["compressed"])
        row = {"name": name, "bytes": report["bundle_bytes"],
               **domains.get(DEFAULT_DOMAIN, dict.fromkeys(METRICS)), "domains": domains,
               "drop": by_domain(report.get("drop")), "source": os.path.basename(path),
               "wall_seconds": report.get("wall_seconds")}
        if "flops" in report:
            row["det_flops_reduction"] = report["flops"]["det"]["reduction"]
        row["on_arm"] = arm_verification(report)
        rows.append(row)
    return rows


def arm_verification(report: dict) -> str:
    """What the report says of the shipped bundle on the ARM runtime (reports before 2026-11-26 never ran it)."""
    verification = report.get("verification")
    if not verification:
        return "never run"
    if verification.get("skipped"):
        return "not run (--no-verify)"
    if "checks" not in verification:
        return f"**did not run**: {verification.get('failed', '')}"
    where = "emulated" if verification.get("emulated") else verification.get("runtime", "")
    sides = {}
    for check in verification["checks"]:
        if not check["check"].startswith("dictionary"):
            sides[check["against"]] = sides.get(check["against"], True) and check["passed"]
    words = {"expected": ("= its quantized models", "**differs from its quantized models**"),
             "fp32": ("within the FP32 limits", "outside the FP32 limits")}
    return f"{where}: " + "; ".join(words[side][0 if ok else 1] for side, ok in sides.items())


def markdown(rows: list[dict]) -> str:
    def pct(value):
        return "n/a" if value is None else f"{value * 100:.2f}"

    lines = ["# Compression variants: size against accuracy", "",
             "ICDAR2015 test (500 images) for det / e2e Hmean, IC15 word test (2077 crops) for rec accuracy; "
             "bundle = ARM `.nb` files + dictionary.", "",
             "Accuracy of compressed variants: their quantized models in Paddle Inference (simulated int8). 'on ARM': "
             "the bundle itself run on Paddle Lite's ARM runtime and compared with those models and FP32 "
             "(`edge-ocr verify`, run by compress since 2026-11-26).", "",
             "| variant | ARM bundle MB | det Hmean % | e2e Hmean % | rec accuracy % | det FLOPs cut | on ARM "
             "| source |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        size = "n/a" if row["bytes"] is None else f"{row['bytes'] / 1e6:.2f}"
        cut = f"{row['det_flops_reduction']:.1%}" if row.get("det_flops_reduction") is not None else ""
        lines.append(f"| {row['name']} | {size} | {pct(row['det_hmean'])} | {pct(row['e2e_hmean'])} | "
                     f"{pct(row['rec_accuracy'])} | {cut} | {row.get('on_arm', '')} | {row['source']} |")
    others = sorted({d for row in rows for d in row.get("domains", {}) if d != DEFAULT_DOMAIN})
    if others:  # variants scored on more domains: every metric, FP32 → compressed (drop in points)
        lines += ["", "Other domains (the compress report's FP32 → compressed, drop in points):", "",
                  "| variant | domain | det Hmean % | e2e Hmean % | rec accuracy % |", "|---|---|---|---|---|"]
        for row in rows:
            for domain in others:
                values = row.get("domains", {}).get(domain)
                if values:
                    drop = row["drop"].get(domain, {})
                    cells = [f"{pct(values[m])} ({-drop[m]:+.2f})" if m in drop else pct(values.get(m))
                             for m in METRICS]
                    lines.append(f"| {row['name']} | {domain} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric in zip(axes, METRICS):
        for i, row in enumerate(rows):
            if row["bytes"] is None or row.get(metric) is None:
                continue
            ax.scatter(row["bytes"] / 1e6, row[metric] * 100, color=f"C{i}", label=row["name"], s=40)
        ax.set_xlabel("ARM bundle (MB)")
        ax.set_ylabel(metric.replace("_", " ") + " (%)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path + ".tmp.png", dpi=100)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--shared", default=os.environ.get("EDGE_OCR_SHARED", "../shared"))
    args = parser.parse_args()
    if not os.path.isdir(args.results):
        print(f"no results folder {args.results}", file=sys.stderr)
        return 1
    rows = load_variants(args.results, args.shared)
    if not rows:
        print(f"no results in {args.results}", file=sys.stderr)
        return 1
    write_text(os.path.join(args.results, "compress-summary.md"), markdown(rows))
    plot(rows, os.path.join(args.results, "compress-accuracy-size.png"))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
