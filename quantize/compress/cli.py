"""``edge-ocr quantize`` (one model), ``prune``, ``sensitivity`` and ``compress`` (models -> bundle + report)."""

from __future__ import annotations

import argparse
import os
import sys

from edge_ocr.cli import command, name_value_pairs, positive_int, write_json_atomic
from edge_ocr.errors import EdgeOCRError

from .api import accuracy_markdown, compress_markdown
from .ptq import ALGORITHMS

__all__ = ["accuracy_markdown", "compress_markdown", "run_compress"]


@command("quantize")
def _add_quantize(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quantize", help="post-training quantization of one inference model")
    parser.add_argument("--model", required=True, metavar="DIR", help="inference model folder")
    parser.add_argument("--kind", required=True, choices=("det", "rec", "cls"), help="how to preprocess calibration")
    parser.add_argument("--calib", required=True, metavar="LABELS", help="train-split label file (det or rec format)")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--algo", choices=ALGORITHMS, default="KL")
    parser.add_argument("--samples", type=positive_int, help="calibration images (det) or crops (rec, cls)")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor, not per channel")
    parser.add_argument("--skip", nargs="*", default=[], metavar="WEIGHT", help="layers (weight names) kept in FP32")
    parser.set_defaults(func=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    from .calibration import cls_calibration, det_calibration, rec_calibration
    from .ptq import quantize_ptq

    make = {"det": det_calibration, "rec": rec_calibration, "cls": cls_calibration}[args.kind]
    data = make(args.calib, args.samples) if args.samples else make(args.calib)
    print(quantize_ptq(args.model, data, args.out, algo=args.algo, per_channel=not args.per_tensor,
                       skip_layers=args.skip))
    return 0


@command("prune")
def _add_prune(sub: argparse._SubParsersAction) -> None:
    from ..nets.pruned import CRITERIA

    parser = sub.add_parser("prune", help="filter pruning (FPGM / L1) to a FLOPs target, planned by sensitivity")
    parser.add_argument("kind", choices=("det", "rec"))
    parser.add_argument("--init", required=True, metavar="MODELS_DIR", help="official (FP32) models")
    parser.add_argument("--labels", required=True, metavar="TRAIN_LABELS",
                        help="train labels: the dev split for the sensitivity analysis is their last --dev samples")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--flops-reduction", type=float, default=0.3, help="share of FLOPs to remove (default 0.3)")
    parser.add_argument("--criterion", choices=CRITERIA, default="fpgm")
    parser.add_argument("--dev", type=positive_int, default=16, help="dev samples (default 16)")
    parser.add_argument("--align", type=positive_int, default=8, help="keep channels in multiples of this")
    parser.add_argument("--sensitivity", metavar="REPORT.json", help="reuse a sensitivity report")
    parser.add_argument("--layers", nargs="*", metavar="PARAM", help="only these layers (parameter paths)")
    parser.add_argument("--ratios", nargs="*", default=[], metavar="PARAM=RATIO",
                        help="prune exactly these layers by these ratios (kept channels rounded up to --align) "
                             "instead of planning from a sensitivity analysis, e.g. neck.in5.weight=0.59")
    parser.set_defaults(func=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    from .prune import prune_model

    for path, what in ((args.init, "model folder"), (args.labels, "label file"), (args.sensitivity, "report")):
        if path and not os.path.exists(path):
            raise EdgeOCRError(f"{what} {path} does not exist")
    if not 0 < args.flops_reduction < 1:  # before a sensitivity analysis that takes minutes
        raise EdgeOCRError(f"--flops-reduction must lie between 0 and 1, not {args.flops_reduction}")
    ratios = {}
    for layer, value in name_value_pairs(args.ratios, "--ratios", "PARAM=RATIO"):
        try:
            ratios[layer] = float(value)
        except ValueError:
            raise EdgeOCRError(f"--ratios: {layer}={value} is not a number") from None
    plan = prune_model(args.kind, args.init, args.labels, args.out, args.flops_reduction, args.criterion, args.dev,
                       args.align, args.sensitivity, args.layers, ratios=ratios or None)
    before, after = plan["before"], plan["after"]
    print(f"{args.kind}: FLOPs {before['flops'] / 1e9:.3f} G -> {after['flops'] / 1e9:.3f} G "
          f"(-{plan['flops_reduction']:.1%}) at {before['input_shape'][2]}x{before['input_shape'][3]}, "
          f"params {before['params']:,} -> {after['params']:,}; dev metric {plan['dev_metric_before']:.4f} -> "
          f"{plan['dev_metric_after']:.4f} before recovery; plan, {'' if ratios else 'sensitivity '}and model in "
          f"{args.out}")
    return 0


@command("sensitivity")
def _add_sensitivity(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sensitivity", help="rank layers by how much quantizing them hurts (det or rec)")
    parser.add_argument("--model", required=True, metavar="DIR")
    parser.add_argument("--kind", required=True, choices=("det", "rec"))
    parser.add_argument("--labels", required=True, metavar="TRAIN_LABELS",
                        help="train labels: calibration from the start, the dev split from the end")
    parser.add_argument("--dictionary", metavar="FILE", help="rec dictionary")
    parser.add_argument("--dev", type=positive_int, default=20, help="dev samples (default 20)")
    parser.add_argument("--calib", type=positive_int, default=8, help="calibration samples (default 8)")
    parser.add_argument("--algo", choices=ALGORITHMS, default="avg")
    parser.add_argument("--mode", choices=("only", "all-but"), default="only")
    parser.add_argument("--max-layers", type=positive_int, help="first N layers only")
    parser.add_argument("--out", required=True, metavar="REPORT.json")
    parser.set_defaults(func=run_sensitivity)


def run_sensitivity(args: argparse.Namespace) -> int:
    from edge_ocr.atomic import check_output_file
    from edge_ocr.cli import check_outputs_apart, files_under

    from .sensitivity import layer_sensitivity

    check_outputs_apart([("--out", args.out)], files_under(args.model, args.labels, args.dictionary))
    check_output_file(args.out)  # before hours of work

    report = layer_sensitivity(args.model, args.kind, args.labels, args.dictionary, dev=args.dev, calib=args.calib,
                               algo=args.algo, mode=args.mode, max_layers=args.max_layers)
    write_json_atomic(args.out, report)
    print(f"{report['metric_name']}: FP32 {report['fp32_metric']:.4f}, all layers int8 "
          f"{report['all_quantized_metric']:.4f}")
    for row in report["ranking"][:10]:
        print(f"  {row['layer']:24s} {row['op_type']:18s} damage {row['damage'] * 100:+.2f} pts  "
              f"drift {row['drift']:.5f}")
    return 0


@command("compress")
def _add_compress(sub: argparse._SubParsersAction) -> None:
    from .config import OPTIONS, _default

    parser = sub.add_parser(
        "compress", help="quantize, export and score: models -> smallest verified bundle",
        description="Models -> quantized (trained, pruned) models -> a bundle run and verified on ARM, and a report "
                    "per domain. Every option below may come from a recipe file (--config recipes/NAME.toml, "
                    "options named as their flags); flags given here override its values.")
    parser.add_argument("--config", metavar="RECIPE.toml",
                        help="a recipe file: every option and every input the run makes first (recipes/*.toml)")
    groups = {"compress": parser, "run": parser,
              "train": parser.add_argument_group("qat / prune-qat (det and rec train on the calibration labels' "
                                                 "train splits)")}
    for option in OPTIONS:
        default = _default(option.field)
        shown = ", ".join(f"{k}={v}" for k, v in default.items()) if isinstance(default, dict) else default
        kwargs: dict = {"dest": option.field, "default": argparse.SUPPRESS,
                        "help": option.help + ("" if shown in (None, "", []) or option.boolean
                                               else f" (default: {shown})")}
        if option.boolean:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["help"] += f" (default: {'on' if default else 'off'})"
        else:
            choices = getattr(option.parse, "choices", None)
            kwargs["metavar"] = option.metavar or ("|".join(choices) if choices else option.field.upper())
            if option.nargs:
                kwargs.update(nargs=option.nargs, action="extend")
        groups[option.group].add_argument(f"--{option.name}", **kwargs)
    parser.set_defaults(func=run_compress)


def run_compress(args: argparse.Namespace) -> int:
    """The command line as a ``CompressConfig`` (a recipe's values under the flags given), then ``compress``."""
    import shlex

    from .api import EXIT_GATE, EXIT_VERIFY, compress
    from .config import OPTIONS, CompressConfig

    given = {option.name: getattr(args, option.field) for option in OPTIONS if hasattr(args, option.field)}
    command = "edge-ocr " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.config:
        config = CompressConfig.from_recipe(args.config, given, command=command)
    else:
        config = CompressConfig.from_values({}, overrides=given, command=command)
    report = compress(config)
    print(report.to_markdown())
    code = report.exit_code
    if code == EXIT_VERIFY:
        print(f"edge-ocr: the bundle failed verification on ARM: {report.verification['failed']}", file=sys.stderr)
    elif code == EXIT_GATE:
        print("edge-ocr: accuracy gate failed: " + "; ".join(report.gate_failures), file=sys.stderr)
    return code
