"""``edge-ocr export``: inference models -> a Paddle Lite bundle for a target."""

from __future__ import annotations

import argparse
import os
import sys

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


@command("verify")
def _add_verify(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("verify", help="check a bundle's numerics (through its x86 twin) against source models")
    parser.add_argument("bundle", metavar="BUNDLE")
    parser.add_argument("--against", required=True, metavar="MODELS_DIR", help="the FP32 source models")
    parser.add_argument("--samples", nargs="+", required=True, metavar="IMAGE_OR_DIR", help="sample images")
    parser.add_argument("--twin", metavar="X86_BUNDLE", help="the bundle's x86 twin (default: BUNDLE-artifacts)")
    parser.add_argument("--quantized", metavar="DIR", help="build the twin from these (quantized) models")
    parser.add_argument("--max-images", type=int, default=8)
    parser.add_argument("--max-det-flip", type=float, default=0.05)
    parser.add_argument("--max-det-box-miss", type=float, default=0.10)
    parser.add_argument("--max-cls-flip", type=float, default=0.10)
    parser.add_argument("--max-rec-change", type=float, default=0.15)
    parser.add_argument("--json", metavar="OUT.json")
    parser.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from edge_ocr.cli import write_json_atomic

    from .verify import Thresholds, verify_bundle

    report = verify_bundle(args.bundle, args.against, args.samples, twin=args.twin, quantized=args.quantized,
                           thresholds=Thresholds(args.max_det_flip, args.max_det_box_miss, args.max_cls_flip,
                                                  args.max_rec_change),
                           max_images=args.max_images)
    for row in report["checks"]:
        mark = "ok  " if row["passed"] else "FAIL"
        print(f"{mark} {row['check']}: {row['value']:.4f} (limit {row['limit']}) {row['detail']}")
    if args.json:
        write_json_atomic(args.json, report)
    if not report["passed"]:
        print(f"edge-ocr: verify failed for {args.bundle}", file=sys.stderr)
        return 1
    print(f"verified {args.bundle} ({report['target']}, twin {report['twin']})")
    return 0
