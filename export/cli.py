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
    packing = parser.add_mutually_exclusive_group()
    packing.add_argument("--weight-only-int8", action="store_true",
                         help="store FP32 conv/fc weights as int8 (opt's dynamic quant; restored to FP32 at load)")
    packing.add_argument("--weight-only-int16", action="store_true", help="the same with int16 (half the bytes)")
    parser.add_argument("--no-cls", action="store_true", help="leave the direction classifier out")
    parser.add_argument("--keep-program-attrs", action="store_true",
                        help="keep the op attributes Paddle Lite never reads (oneDNN/cuDNN switches, graph "
                             "bookkeeping); by default they are dropped: the .nb computes the same, 0.05-0.14 MB "
                             "smaller per model")
    parser.add_argument("--no-compact-program", action="store_true",
                        help="write each .nb's program as opt does; by default each distinct table of it is stored "
                             "once (the same program, 0.1-0.16 MB smaller per model)")
    parser.add_argument("--charset", metavar="latin|digits|FILE",
                        help="a recognizer that reads only these characters (its CTC head sliced, no retraining): "
                             "latin = the dictionary's printable ASCII, digits = 0-9 .,:-/+%%, or a file of "
                             "characters, one a line")
    parser.add_argument("--out", required=True, metavar="BUNDLE_DIR")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from .api import ExportConfig, export

    bits = 8 if args.weight_only_int8 else 16 if args.weight_only_int16 else None
    bundle = export(config=ExportConfig(
        models=args.models or args.quantized, out=args.out, target=args.target, fp16=args.fp16,
        weight_only_bits=bits, include_cls=not args.no_cls, charset=args.charset,
        keep_program_attrs=args.keep_program_attrs, compact_program=not args.no_compact_program))
    for entry in bundle.manifest["models"].values():
        size = os.path.getsize(os.path.join(bundle.path, entry["file"]))
        print(f"{entry['file']:8s} {size / 1e6:7.3f} MB  {entry['precision']}")
    opt = bundle.manifest["opt_version"]
    charset = bundle.manifest.get("charset")
    reads = f", charset {charset['name']} ({charset['characters']} characters)" if charset else ""
    print(f"bundle {bundle.path}: {bundle.total_bytes() / 1e6:.3f} MB, target {bundle.target}, opt {opt}{reads}")
    return 0


@command("verify")
def _add_verify(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("verify", help="run a bundle's own .nb files (on ARM, or emulated) and compare them with "
                                           "its quantized models and with FP32")
    parser.add_argument("bundle", metavar="BUNDLE")
    parser.add_argument("--against", required=True, metavar="MODELS_DIR", help="the FP32 source models")
    parser.add_argument("--quantized", metavar="QMODELS",
                        help="the quantized models the bundle was exported from (default: from its compress report)")
    parser.add_argument("--samples", nargs="+", required=True, metavar="IMAGE_OR_DIR", help="sample images")
    parser.add_argument("--max-images", type=int, default=8)
    parser.add_argument("--runtime", choices=("auto", "native", "qemu", "x86-twin"), default="auto",
                        help="auto: natively on ARM, under qemu-aarch64 on x86, an x86 twin for FP32 bundles only")
    parser.add_argument("--limit", action="append", default=[], metavar="SIDE.NAME=VALUE",
                        help="override a threshold, e.g. expected.rec_line_change=0.2 (see the report's thresholds)")
    parser.add_argument("--gate-fp32", action="store_true",
                        help="also fail past the FP32 side's limits (by default they are reported: what compression "
                             "costs is gated by eval's --max-drop on labelled data, not by a few sample images)")
    parser.add_argument("--charset-source", action="append", default=[], metavar="SIDE=MODELS_DIR",
                        help="a charset bundle: the full models a reference (expected, fp32) was cut from, so that "
                             "rec sureness is measured on their whole softmax (default: from its compress report)")
    parser.add_argument("--json", metavar="OUT.json")
    parser.add_argument("--markdown", metavar="OUT.md")
    parser.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from edge_ocr.atomic import check_output_file, write_text
    from edge_ocr.cli import check_outputs_apart, files_under, write_json_atomic
    from edge_ocr.images import list_images

    from .api import VerifyConfig, verify
    from .verify import verify_markdown

    config = VerifyConfig(
        bundle=args.bundle, against=args.against, samples=list(args.samples), quantized=args.quantized,
        max_images=args.max_images, runtime=args.runtime, limits=list(args.limit), gate_fp32=args.gate_fp32,
        charset_sources=list(args.charset_source))
    config.check()  # parses the options once, before any work
    outputs = [(option, path) for option, path in (("--json", args.json), ("--markdown", args.markdown)) if path]
    check_outputs_apart(outputs, files_under(args.bundle, args.against, args.quantized,
                                             *config.charset_sources.values()) + list_images(args.samples))
    for _, path in outputs:  # before any work: never an input, never a target that cannot be written
        check_output_file(path)

    report = verify(config=config).data
    for row in report["checks"]:
        mark = "ok  " if row["passed"] else "FAIL" if row["gates"] else "over"
        print(f"{mark} [{row['against']}] {row['check']}: {row['value']:.4g} (limit {row['limit']}) {row['detail']}")
    if args.json:
        write_json_atomic(args.json, report)
    if args.markdown:
        write_text(args.markdown, verify_markdown(report))
    if not report["passed"]:
        print(f"edge-ocr: verify failed for {args.bundle}: {report['failed']}", file=sys.stderr)
        return 1
    print(f"verified {args.bundle} ({report['target']}, ran on {report['runtime']})")
    return 0
