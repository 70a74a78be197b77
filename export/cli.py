"""``edge-ocr export``: inference models -> a Paddle Lite bundle for a target."""

from __future__ import annotations

import argparse
import os

from edge_ocr.cli import command


@command("export")
def _add_export(sub: argparse._SubParsersAction) -> None:
    from .targets import TARGETS

    parser = sub.add_parser("export", help="convert inference models with Paddle Lite opt into a .nb bundle")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--models", metavar="DIR", help="folder of FP32 inference models")
    source.add_argument("--quantized", metavar="DIR", help="folder of quantized inference models (edge-ocr quantize)")
    parser.add_argument("--target", choices=sorted(TARGETS), default="arm")
    parser.add_argument("--fp16", action="store_true", help="FP16 kernels (ARMv8.2+)")
    parser.add_argument("--weight-only-int8", action="store_true", help="store weights as int8 (opt's dynamic quant)")
    parser.add_argument("--no-cls", action="store_true", help="leave the direction classifier out")
    parser.add_argument("--out", required=True, metavar="BUNDLE_DIR")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from edge_ocr.bundle import load_bundle

    from .bundle import export_bundle

    out = export_bundle(args.models or args.quantized, args.out, target=args.target, fp16=args.fp16,
                        weight_only_int8=args.weight_only_int8, include_cls=not args.no_cls)
    bundle = load_bundle(out)
    for entry in bundle.manifest["models"].values():
        size = os.path.getsize(os.path.join(out, entry["file"]))
        print(f"{entry['file']:8s} {size / 1e6:7.3f} MB  {entry['precision']}")
    opt = bundle.manifest["opt_version"]
    print(f"bundle {out}: {bundle.total_bytes() / 1e6:.3f} MB, target {bundle.target}, opt {opt}")
    return 0
