"""``edge-ocr bench``: measure model variants side by side and write JSON + Markdown + PNG plots.

Options map to Paddle Lite's ``benchmark_bin`` flags so numbers can be compared with it: ``--warmup`` = ``--warmup``,
``--repeats`` = ``--repeats``, ``--threads`` = ``--threads``, ``--power-mode`` = ``--power_mode``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys

from ..cli import command, name_value_pairs, positive_int, write_json_atomic
from ..errors import EdgeOCRError


@command("bench")
def _add_bench(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="latency, memory, size (and accuracy) of model variants, with a report")
    parser.add_argument("--images", required=True, nargs="+", metavar="IMAGE_OR_DIR")
    parser.add_argument("--models", metavar="DIR", help="FP32 inference models (default: PP-OCRv2, pulled if needed)")
    parser.add_argument("--engines", nargs="*", default=["paddle", "lite"], choices=("paddle", "lite"),
                        help="engines to run the --models variant on (default both; none with --engines)")
    parser.add_argument("--bundle", nargs="*", default=[], metavar="NAME=DIR", help="bundles to measure")
    parser.add_argument("--variant", nargs="*", default=[], metavar="NAME=MODELS_DIR",
                        help="more model folders to run on Paddle Inference, e.g. the quantized models a compress "
                             "run leaves in BUNDLE-artifacts/quantized (fake-quant ops: simulated int8)")
    parser.add_argument("--threads", nargs="+", type=positive_int, default=[1, 2])
    parser.add_argument("--power-mode", help="Paddle Lite power mode for bundles on ARM (benchmark_bin --power_mode)")
    parser.add_argument("--limit", type=positive_int, help="first N images")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=positive_int, default=1)
    parser.add_argument("--quick", action="store_true", help="5 images, 1 warm-up, 1 repeat: a regression check")
    parser.add_argument("--accuracy", nargs="*", default=[], metavar="NAME=EVAL.json",
                        help="eval or compress reports whose scores belong to a variant")
    parser.add_argument("--merge", nargs="*", default=[], metavar="RESULTS.json", help="results from another machine")
    parser.add_argument("--estimate", nargs="+", metavar="CORE@GHZ",
                        help="estimate the bundles' ARM latency instead of measuring (cortex-a72@1.5, "
                             "cortex-a76@2.84, cortex-a55@1.8): the real ARM runtime's instructions under qemu, "
                             "costed by llvm-mca; --merge puts board measurements beside them")
    parser.add_argument("--out-dir", default=None, help="default benchmarks/results when run in the repo, else .")
    parser.add_argument("--name", help="file stem (default DATE-MACHINE)")
    parser.set_defaults(func=run_bench)


def headline_from(path: str) -> dict:
    """det_hmean / e2e_hmean / rec_accuracy from an ``eval`` JSON or a ``compress`` report: ICDAR 2015's when it
    has several domains, else its only (first) domain's."""
    from ..evaluation.cli import headline
    from ..evaluation.domains import DEFAULT_DOMAIN, by_domain

    with open(path) as handle:
        data = json.load(handle)
    if "compressed" in data:
        domains = by_domain(data["compressed"])
    elif "domains" in data:
        domains = {name: headline(part) for name, part in data["domains"].items()}
    else:
        return headline(data)
    return domains.get(DEFAULT_DOMAIN) or next(iter(domains.values()))


COMPLEXITY_INPUTS = {"det": (1, 3, 544, 960), "cls": (1, 3, 48, 192), "rec": (1, 3, 32, 320)}


def model_complexity(models_dir: str | None) -> dict:
    """MACs/FLOPs/params of the FP32 models at the stated input sizes (host side: needs paddle)."""
    from ..models import default_models, resolve_models
    from ..program import complexity

    paths = resolve_models(models_dir or default_models())
    return {role: complexity(getattr(paths, role), shape) for role, shape in COMPLEXITY_INPUTS.items()
            if getattr(paths, role)}


def run_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..images import list_images
    from ..models import resolve_models
    from .measure import machine_info, measure_in_subprocess
    from .report import plots, to_markdown

    if args.estimate:
        from .estimate.cli import run_estimate

        return run_estimate(args)
    images = list_images(args.images)
    if not images:
        raise EdgeOCRError("no images to benchmark")
    limit, warmup, repeats = args.limit, args.warmup, args.repeats
    if args.quick:
        limit, warmup, repeats = 5, 1, 1
    images = images[: limit or None]
    variants = [{"name": f"fp32-{engine}", "models": args.models, "engine": engine} for engine in args.engines]
    for name, path in name_value_pairs(args.variant, "--variant"):
        resolve_models(path)  # a clear error now rather than in the measuring subprocess
        variants.append({"name": name, "models": os.path.abspath(path), "engine": "paddle"})
    for name, path in name_value_pairs(args.bundle, "--bundle"):
        if not os.path.isfile(os.path.join(path, "manifest.json")):
            raise EdgeOCRError(f"{path} is not a bundle (no manifest.json)")
        variants.append({"name": name, "bundle": os.path.abspath(path), "power_mode": args.power_mode})
    if not variants:
        raise EdgeOCRError("nothing to measure: give --engines and/or --bundle")
    accuracy = {name: headline_from(path) for name, path in name_value_pairs(args.accuracy, "--accuracy")}
    results = []
    jobs = [(v, t) for v in variants for t in args.threads]
    for spec, threads in tqdm(jobs, desc="bench", unit="variant", file=sys.stderr):
        entry = measure_in_subprocess(spec, images, threads, warmup, repeats)
        entry["accuracy"] = accuracy.get(spec["name"])
        results.append(entry)
    for path in args.merge:
        with open(path) as handle:
            other = json.load(handle)
        for entry in other.get("results", []):
            where = other["machine"]["cpu"] or other["machine"]["arch"]
            emulated = " (emulated)" if other["machine"].get("emulated") else ""
            entry["name"] = f"{entry['name']} @ {where}{emulated}"
            results.append(entry)
    try:
        complexity = model_complexity(args.models) if args.engines else {}
    except EdgeOCRError as exc:  # the timings are measured already: report them without the FLOPs table
        print(f"edge-ocr: warning: no complexity table: {exc}", file=sys.stderr)
        complexity = {}
    machine = machine_info()
    created = datetime.datetime.now().isoformat(timespec="seconds")
    report = {"created": created, "machine": machine, "command": "edge-ocr " + " ".join(sys.argv[1:]),
              "settings": {"images": len(images), "warmup": warmup, "repeats": repeats, "threads": args.threads},
              "results": results, "complexity": complexity}
    repo_results = os.path.join(os.getcwd(), "benchmarks", "results")
    out_dir = args.out_dir or (repo_results if os.path.isdir(repo_results) else ".")
    os.makedirs(out_dir, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", (machine["cpu"] or machine["arch"]).lower()).strip("-")[:40]
    stem = os.path.join(out_dir, args.name or f"{created[:10]}-{slug}")
    write_json_atomic(stem + ".json", report)
    from ..atomic import write_text

    markdown = to_markdown(report)
    written = plots(report, stem)
    markdown += "".join(f"\n![{os.path.basename(p)}]({os.path.basename(p)})\n" for p in written)
    write_text(stem + ".md", markdown)
    print(markdown)
    print(f"wrote {stem}.json, {stem}.md" + "".join(f", {p}" for p in written))
    failed = [r for r in results if "error" in r]
    return 1 if failed else 0
