"""Builds of one recipe side by side: size, accuracy and drop against FP32 per domain, and how each was made.

A release is rebuilt from its recipe file (``edge-ocr compress --config recipes/NAME.toml``); this puts the compress
reports of several builds next to each other so that a rebuild can be judged against the release (the same size to
the byte, accuracy within 0.3 points), and the spread between builds is on record.

    python benchmarks/release_compare.py --report NAME=REPORT.json [NAME=REPORT.json ...] --out FILE.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_ocr.atomic import write_text  # noqa: E402
from edge_ocr.evaluation.domains import by_domain  # noqa: E402

METRICS = ("det_hmean", "e2e_hmean", "rec_accuracy")


def _load(spec: str) -> tuple[str, dict]:
    name, _, path = spec.partition("=")
    if not path:
        raise SystemExit(f"--report takes NAME=REPORT.json, not {spec!r}")
    with open(path, encoding="utf-8") as handle:
        return name, json.load(handle)


def compare(reports: list[tuple[str, dict]], note: str = "", spread: bool = False) -> str:
    lines = ["# Builds of one recipe, side by side", "",
             "Drop = FP32 minus compressed, in points (positive: worse than FP32). Compressed accuracy is that of the "
             "quantized models in Paddle Inference; every build's bundle was verified on the ARM runtime (emulated).",
             ""]
    if note:
        lines += [note, ""]
    header = "| | " + " | ".join(name for name, _ in reports) + (" | drop over the builds: mean (min…max) |"
                                                                   if spread else " |")
    lines += [header, "|---|" + "---|" * (len(reports) + spread)]

    def row(label: str, cells: list[str], summary: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + (f" | {summary} |" if spread else " |"))

    row("bundle bytes", [f"{r.get('bundle_bytes', 0):,}" for _, r in reports])
    row("machine", [str(r.get("machine", "?")) for _, r in reports])
    row("created", [str(r.get("created", "?")) for _, r in reports])
    row("wall time", [f"{r['wall_seconds'] / 60:.0f} min" if r.get("wall_seconds") else "?" for _, r in reports])
    row("recipe", [f"{os.path.basename(r.get('recipe_file') or '?')} "
                   f"{(r.get('recipe_sha256') or '')[:12]}" if r.get("recipe_file") else
                   f"command line ({r.get('recipe')})" for _, r in reports])
    row("commit", [str(r.get("commit") or "?")[:10] for _, r in reports])
    row("verified on ARM", [("yes" if (r.get("verification") or {}).get("passed") else "no") +
                            f" ({(r.get('verification') or {}).get('runtime', '?')})" for _, r in reports])
    compressed = [by_domain(r.get("compressed")) for _, r in reports]
    drops = [by_domain(r.get("drop")) for _, r in reports]
    domains = list(dict.fromkeys(d for c in compressed for d in c))
    for domain in domains:
        for metric in METRICS:
            values = [c.get(domain, {}).get(metric) for c in compressed]
            if all(v is None for v in values):
                continue
            cells, points_all = [], []
            for value, drop in zip(values, drops):
                points = drop.get(domain, {}).get(metric)
                if points is not None:
                    points_all.append(points)
                cells.append("–" if value is None else f"{100 * value:.2f}" +
                             (f" ({points:+.2f})" if points is not None else ""))
            summary = (f"{sum(points_all) / len(points_all):+.2f} ({min(points_all):+.2f}…{max(points_all):+.2f})"
                       if points_all else "–")
            row(f"{domain} {metric}", cells, summary)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", nargs="+", required=True, metavar="NAME=REPORT.json")
    parser.add_argument("--note", default="", help="a paragraph under the title")
    parser.add_argument("--spread", action="store_true", help="add each drop's mean and range over the builds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    text = compare([_load(spec) for spec in args.report], args.note, args.spread)
    write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
