"""``edge-ocr bench --estimate CORE@GHZ ...``: estimated ARM latency of bundles (the options are parsed by
``edge_ocr.bench.cli``; this is the run)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

from ...errors import EdgeOCRError


def run_estimate(args: argparse.Namespace) -> int:
    from ...atomic import write_text
    from ...cli import name_value_pairs, write_json_atomic
    from ...images import list_images
    from ..measure import machine_info
    from .bundles import estimate_bundle, input_shapes, to_markdown
    from .cores import parse_target

    targets = [parse_target(text) for text in args.estimate]
    bundles = name_value_pairs(args.bundle, "--bundle")
    if not bundles:
        raise EdgeOCRError("--estimate needs ARM bundles to estimate: --bundle NAME=DIR ...")
    from ...bundle import load_bundle

    for _, path in bundles:
        if not os.path.isfile(os.path.join(path, "manifest.json")):
            raise EdgeOCRError(f"{path} is not a bundle (no manifest.json)")
        if load_bundle(path).target != "arm":
            raise EdgeOCRError(f"{path} is a '{load_bundle(path).target}' bundle: --estimate runs ARM bundles "
                               "(edge-ocr export --target arm)")
    images = list_images(args.images)[: (5 if args.quick else args.limit) or None]
    if not images:
        raise EdgeOCRError("no images to estimate on")
    estimates = []
    for name, path in bundles:
        shapes = input_shapes(images, path, args.models)
        for target in targets:
            print(f"estimating {name} on {target.label} ({len(images)} images)", file=sys.stderr, flush=True)
            entry = estimate_bundle(path, shapes, target)
            entry["bundle"] = name
            entry["bundle_dir"] = os.path.abspath(path)
            estimates.append(entry)
    measured = []
    for merge in args.merge:
        try:
            with open(merge) as handle:
                other = json.load(handle)
            machine = other["machine"]
            where = machine.get("cpu") or machine.get("arch")
            rows = other.get("results", [])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EdgeOCRError(f"--merge {merge}: not a bench results file ({exc})") from None
        for row in rows:
            if "error" in row:
                continue
            emulated = " (emulated: not a board timing)" if machine.get("emulated") else ""
            measured.append({"name": row.get("name"), "machine": f"{where}{emulated}", "threads": row.get("threads"),
                             "ms": row.get("ms", {})})
    created = datetime.datetime.now().isoformat(timespec="seconds")
    report = {"created": created, "kind": "estimate", "machine": machine_info(),
              "command": "edge-ocr " + " ".join(sys.argv[1:]),
              "settings": {"images": len(images), "targets": [t.label for t in targets], "threads": 1},
              "estimates": estimates, "measured": measured}
    repo_results = os.path.join(os.getcwd(), "benchmarks", "results")
    out_dir = args.out_dir or (repo_results if os.path.isdir(repo_results) else ".")
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, args.name or f"{created[:10]}-estimate")
    write_json_atomic(stem + ".json", report)
    markdown = to_markdown(report)
    write_text(stem + ".md", markdown)
    print(markdown)
    print(f"wrote {stem}.json, {stem}.md")
    return 0
