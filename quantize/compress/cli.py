"""``edge-ocr quantize`` (one model), ``prune``, ``sensitivity`` and ``compress`` (models -> bundle + report)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

from edge_ocr.cli import command, name_value_pairs, positive_int, write_json_atomic
from edge_ocr.errors import EdgeOCRError

from ..train.cli import DET_DISTILL, REC_DISTILL
from .ptq import ALGORITHMS
from .recipes import PTQOptions, TrainRecipeOptions


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
    from .sensitivity import layer_sensitivity

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
    from export.targets import TARGETS

    parser = sub.add_parser("compress", help="quantize, export and score: models -> smallest verified bundle")
    parser.add_argument("--recipe", choices=("ptq", "qat", "prune-qat"), default="ptq",
                        help="ptq: post-training quantization; qat: quantization-aware training with distillation; "
                             "prune-qat: filter pruning + recovery, then QAT")
    parser.add_argument("--models", required=True, metavar="DIR", help="FP32 inference models")
    parser.add_argument("--calib-det", required=True, nargs="+", metavar="LABELS",
                        help="det train labels for calibration and training: one or more files (or comma-separated), "
                             "mixed; TD500's labels without the td500 domain's dev tail")
    parser.add_argument("--calib-rec", required=True, nargs="+", metavar="LABELS",
                        help="rec train labels (rec + cls calibration, rec training): one or more files")
    parser.add_argument("--target", choices=sorted(TARGETS), default="arm")
    parser.add_argument("--out", required=True, metavar="BUNDLE_DIR")
    parser.add_argument("--eval-det", metavar="LABELS", help="det test labels: det and end-to-end Hmean")
    parser.add_argument("--eval-rec", metavar="LABELS", help="rec test labels: recognition accuracy")
    parser.add_argument("--domain", nargs="+", action="extend", default=[], metavar="NAME[:det=F,rec=F]",
                        help="also score (and gate) these domains, as edge-ocr eval --domain: icdar2015, td500, "
                             "zh_synth or NAME:det=FILE,rec=FILE[,tail=N][,e2e=no]")
    parser.add_argument("--charset", metavar="latin|digits|FILE",
                        help="the recognizer reads only these characters (CTC head sliced before export; scored so)")
    parser.add_argument("--cls-precision", choices=("int8", "fp32"), default="int8",
                        help="int8: the direction classifier quantized (PTQ on --calib-rec crops); fp32: the FP32 "
                             "classifier (0.03 GFLOPs), its weights packed as --fp32-layer-weights says")
    parser.add_argument("--fp32-layer-weights", choices=("int16", "int8", "fp32"), default="int16",
                        help="layers left FP32 (the recognizer's first layers) keep FP32 activations; int16/int8: "
                             "their conv and matmul weights ship as 16/8-bit integers (opt's weight-only "
                             "quantization, restored to FP32 at load), put on that grid in the quantized model "
                             "first, so scores and verification see them (int8 on the recognizer's stem: -2 points)")
    parser.add_argument("--eval-limit", type=positive_int, help="first N eval samples only")
    parser.add_argument("--max-drop", type=float,
                        help="exit nonzero if a metric of any domain falls more than this many points")
    parser.add_argument("--det-algo", choices=ALGORITHMS, default="KL")
    parser.add_argument("--rec-algo", choices=ALGORITHMS, default="hist")
    parser.add_argument("--cls-algo", choices=ALGORITHMS, default="hist")
    parser.add_argument("--calib-det-images", type=positive_int, default=32)
    parser.add_argument("--calib-rec-crops", type=positive_int, default=240)
    parser.add_argument("--per-tensor", action="store_true", help="per-tensor weight scales")
    parser.add_argument("--sensitivity", nargs="*", default=[], metavar="REPORT.json",
                        help="sensitivity reports (edge-ocr sensitivity) whose --keep-fp32 top layers stay FP32")
    parser.add_argument("--keep-fp32", type=int, default=0, metavar="K", help="keep the K most sensitive layers FP32")
    parser.add_argument("--keep-fp32-first", nargs="*", default=[], metavar="ROLE=N",
                        help="keep the first N quantizable layers of a model FP32, e.g. rec=16 (the recognizer's "
                             "stem does not survive int8 activations)")
    parser.add_argument("--rec-lstm-rank", type=positive_int, default=None, metavar="R",
                        help="factor the recognizer's first LSTM input projection (2x256x512 FP32 weights in the rnn "
                             "op) through a rank-R Linear that ships in int8; the truncation is weighted by the "
                             "LSTM's inputs on train crops (R=512: exact); PTQ first distills the factored head "
                             "from the FP32 recognizer (--rec-lstm-distill-steps), QAT trains on from it")
    parser.add_argument("--rec-lstm-distill-steps", type=int, default=PTQOptions.rec_lstm_distill_steps,
                        metavar="N", help="PTQ with --rec-lstm-rank: steps of distilling the factored LSTM on cached "
                                          "backbone features of --calib-rec train crops (0: the truncation alone)")
    parser.add_argument("--rec-lstm-train-crops", type=positive_int, default=PTQOptions.rec_lstm_train_crops,
                        metavar="N", help="PTQ with --rec-lstm-rank: train crops (seeded sample of --calib-rec) for "
                                          "the truncation's weighting and the distillation")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--report", metavar="OUT.json", help="also write the report JSON here")
    parser.add_argument("--verify-images", type=positive_int, default=2,
                        help="images (from --eval-det, else --calib-det) on which the bundle's own .nb files are run "
                             "on ARM (natively or under qemu) and compared with the quantized models and FP32")
    parser.add_argument("--verify-limit", action="append", default=[], metavar="SIDE.NAME=VALUE",
                        help="override a verification limit, as verify's --limit (e.g. fp32.rec_line_change=0.3)")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not run the bundle (the report then says it was never run)")
    train = parser.add_argument_group("qat / prune-qat (det and rec train on the calibration labels' train splits)")
    defaults = TrainRecipeOptions()
    train.add_argument("--det-steps", type=positive_int, default=defaults.det_steps, help="det QAT steps")
    train.add_argument("--rec-steps", type=positive_int, default=defaults.rec_steps, help="rec QAT steps")
    train.add_argument("--recovery-det-steps", type=positive_int, default=defaults.recovery_det_steps)
    train.add_argument("--recovery-rec-steps", type=positive_int, default=defaults.recovery_rec_steps)
    train.add_argument("--det-batch-size", type=positive_int, default=defaults.det_batch_size)
    train.add_argument("--rec-batch-size", type=positive_int, default=defaults.rec_batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr, help="QAT stages")
    train.add_argument("--recovery-lr", type=float, default=defaults.recovery_lr, help="pruning recovery stages")
    train.add_argument("--det-distill", choices=DET_DISTILL, default=defaults.det_distill)
    train.add_argument("--rec-distill", choices=REC_DISTILL, default=defaults.rec_distill)
    train.add_argument("--rec-label-weight", type=float, default=defaults.rec_label_weight, metavar="W",
                       help="QAT: weight of CTC on the --calib-rec labels beside distillation from the FP32 teacher; "
                            "0 = distillation only (the recognizer keeps FP32's reading, spaces included)")
    train.add_argument("--recovery-det-distill", choices=DET_DISTILL,
                       default=defaults.recovery_det_distill)
    train.add_argument("--recovery-rec-distill", choices=REC_DISTILL,
                       default=defaults.recovery_rec_distill)
    train.add_argument("--pact", action="store_true", help="PACT clipping of activations in QAT")
    train.add_argument("--det-flops-reduction", type=float, default=defaults.det_flops_reduction)
    train.add_argument("--rec-flops-reduction", type=float, default=defaults.rec_flops_reduction)
    train.add_argument("--criterion", choices=("fpgm", "l1"), default=defaults.criterion, help="pruning criterion")
    train.add_argument("--prune-fallback-drop", type=float, default=defaults.prune_fallback_drop, metavar="POINTS",
                       help="prune-qat: a pruned model whose QAT dev metric ends more than POINTS below the official "
                            "model's on the same dev split (drawn from every --calib file), or a pruned detector "
                            "whose det Hmean does on any --domain that is a dev split (td500, zh_synth), is replaced "
                            "by the unpruned QAT model; the report says so")
    train.add_argument("--prune-sensitivity", nargs="*", default=[], metavar="ROLE=REPORT.json",
                       help="reuse saved pruning sensitivity reports (edge-ocr prune writes them)")
    train.add_argument("--prune-plan", nargs="*", default=[], metavar="ROLE=PLAN.json",
                       help="prune to a saved plan (edge-ocr prune writes plan.json) instead of planning one")
    train.add_argument("--dev", nargs="*", default=[], metavar="ROLE=N",
                       help="dev split sizes for checkpoint selection (default det=30 rec=200)")
    train.add_argument("--eval-every", type=positive_int, default=defaults.eval_every)
    train.add_argument("--resume", action="store_true",
                       help="keep the finished pruning and training stages of an earlier run with the same --out")
    parser.set_defaults(func=run_compress)


def _role_values(items: list[str], option: str, convert=str) -> dict:
    values = {}
    for role, value in name_value_pairs(items, option, "ROLE=VALUE with ROLE det or rec"):
        if role not in ("det", "rec"):
            raise EdgeOCRError(f"{option} takes ROLE=VALUE with ROLE det or rec, not {role}={value}")
        try:
            values[role] = convert(value)
        except ValueError:
            raise EdgeOCRError(f"{option}: bad value in {role}={value}") from None
    return values


def dev_domains(specs: list[str] | None) -> list[str]:
    """The --domain values that are dev splits with det labels (a train file's tail, or a file not named as a test
    set): prune-qat may judge a pruned detector on them; a test set only reports."""
    from edge_ocr.evaluation.domains import parse_domain

    kept = []
    for spec in specs or []:
        domain = parse_domain(spec)
        if domain.det and (domain.tail or "test" not in os.path.basename(domain.det).lower()):
            kept.append(spec)
    return kept


def train_recipe_options(args: argparse.Namespace) -> TrainRecipeOptions:
    for name in ("det_flops_reduction", "rec_flops_reduction"):
        if not 0 <= getattr(args, name) < 1:
            raise EdgeOCRError(f"--{name.replace('_', '-')} must lie in [0, 1) (0: that model is not pruned)")
    defaults = TrainRecipeOptions()
    sensitivity = _role_values(args.prune_sensitivity, "--prune-sensitivity")
    for path in sensitivity.values():
        if not os.path.isfile(path):
            raise EdgeOCRError(f"sensitivity report {path} does not exist")
    plans = _role_values(args.prune_plan, "--prune-plan")
    if plans:
        from ..nets.pruned import load_plan

        for role, path in plans.items():
            planned_for = load_plan(path)["role"]
            if planned_for != role:
                raise EdgeOCRError(f"{path} is a plan for {planned_for}, not {role}")
    return TrainRecipeOptions(
        det_steps=args.det_steps, rec_steps=args.rec_steps, recovery_det_steps=args.recovery_det_steps,
        recovery_rec_steps=args.recovery_rec_steps, det_batch_size=args.det_batch_size,
        rec_batch_size=args.rec_batch_size, lr=args.lr, recovery_lr=args.recovery_lr,
        det_distill=args.det_distill, rec_distill=args.rec_distill, rec_label_weight=args.rec_label_weight,
        recovery_det_distill=args.recovery_det_distill, recovery_rec_distill=args.recovery_rec_distill,
        pact=args.pact, rec_lstm_rank=args.rec_lstm_rank, det_flops_reduction=args.det_flops_reduction,
        rec_flops_reduction=args.rec_flops_reduction,
        criterion=args.criterion, prune_fallback_drop=args.prune_fallback_drop, sensitivity=sensitivity, plans=plans,
        eval_every=args.eval_every, resume=args.resume, threads=args.threads,
        fallback_domains=dev_domains(args.domain),
        dev_tail={**defaults.dev_tail, **_role_values(args.dev, "--dev", int)},
        keep_fp32_first=(_role_values([i for i in args.keep_fp32_first if not i.startswith("cls=")],
                                      "--keep-fp32-first", int)
                         if args.keep_fp32_first else defaults.keep_fp32_first))


def run_compress(args: argparse.Namespace) -> int:
    from edge_ocr.bundle import load_bundle
    from edge_ocr.evaluation.cli import eval_args, evaluate, headlines
    from edge_ocr.evaluation.domains import domains_from_args
    from edge_ocr.models import resolve_models
    from export.bundle import export_bundle
    from export.targets import get_target

    from .calibration import label_files, merge_label_files
    from .recipes import (
        PTQOptions,
        accuracy_drop,
        artifacts_dir,
        bundle_files,
        fp32_bundle_bytes,
        gate,
        machine_summary,
        now,
        quantize_models,
        require,
        train_models,
    )

    start = time.perf_counter()
    calib = {"det": label_files(args.calib_det), "rec": label_files(args.calib_rec)}
    for path, what in ((args.models, "model folder"), *((p, "label file") for p in calib["det"] + calib["rec"]),
                       (args.eval_det, "label file"), (args.eval_rec, "label file")):
        require(path, what)
    for domain in domains_from_args(args.domain, args.eval_det, args.eval_rec):
        domain.check()
    resolve_models(args.models)
    if os.path.isdir(args.out) and os.listdir(args.out) and not os.path.isfile(os.path.join(args.out, "manifest.json")):
        raise EdgeOCRError(f"{args.out} exists and is not a bundle: refusing to overwrite it")
    keep: dict[str, list[str]] = {}
    for report_path in args.sensitivity:
        with open(report_path) as handle:
            report = json.load(handle)
        keep[report["kind"]] = [row["layer"] for row in report["ranking"][: args.keep_fp32]]
    keep_first: dict[str, int] = {}
    for item in args.keep_fp32_first:
        role, _, count = item.partition("=")
        if role not in ("det", "cls", "rec") or not count.isdigit():
            raise EdgeOCRError(f"--keep-fp32-first takes ROLE=N with ROLE det, cls or rec, not {item!r}")
        keep_first[role] = int(count)
    options = PTQOptions(det_algo=args.det_algo, rec_algo=args.rec_algo, cls_algo=args.cls_algo,
                         det_images=args.calib_det_images, rec_crops=args.calib_rec_crops,
                         per_channel=not args.per_tensor, keep_fp32=keep, keep_fp32_first=keep_first,
                         rec_lstm_rank=args.rec_lstm_rank, rec_lstm_distill_steps=args.rec_lstm_distill_steps,
                         rec_lstm_train_crops=args.rec_lstm_train_crops)
    train_options = train_recipe_options(args) if args.recipe != "ptq" else None
    work = artifacts_dir(args.out)
    if os.path.isdir(work) and not (train_options and train_options.resume):
        shutil.rmtree(work)
    for role, files in calib.items():  # one (merged) train label file per role from here on
        setattr(args, f"calib_{role}", merge_label_files(files, role, os.path.join(work, f"calib-{role}.txt")))
    stages = None
    if train_options is None:
        quantized = quantize_models(args.models, args.calib_det, args.calib_rec, os.path.join(work, "quantized"),
                                    options)
    else:
        quantized, stages = train_models(args.recipe, args.models, args.calib_det, args.calib_rec, work,
                                         train_options, options)
    extra, fp32_reference = {"recipe": args.recipe}, args.models
    if args.charset:  # the bundle, its scores and its verification all use the sliced recognizer
        from export.charset import apply_charset

        quantized, extra["charset"] = apply_charset(quantized, args.charset, os.path.join(work, "quantized-charset"))
        # verification compares like with like: the FP32 models cut to the same charset
        fp32_reference, _ = apply_charset(args.models, args.charset, os.path.join(work, "fp32-charset"))
    if args.cls_precision == "fp32":  # the official classifier replaces the quantized one
        target = os.path.join(quantized, os.path.basename(os.path.normpath(resolve_models(quantized).cls)))
        shutil.rmtree(target)
        shutil.copytree(resolve_models(args.models).cls, target)
        extra["cls_precision"] = "fp32"
    weight_only: dict = {}
    bits = {"int16": 16, "int8": 8}.get(args.fp32_layer_weights, 0)
    if bits and get_target(args.target).weight_only:
        from export.weight_only import snap_models

        quantized, weight_only = snap_models(quantized, os.path.join(work, f"quantized-weights-int{bits}"), bits)
    export_bundle(quantized, args.out, target=args.target, extra=extra, weight_bits=bits or 8,
                  weight_only=tuple(role for role, done in weight_only.items() if done["layers"]))
    bundle = load_bundle(args.out)
    report = {
        "recipe": args.recipe,
        "command": "edge-ocr " + " ".join(sys.argv[1:]),
        "created": now(),
        "machine": machine_summary(),
        "target": args.target,
        "bundle": os.path.abspath(args.out),
        "quantized_models": quantized,
        "bundle_bytes": bundle.total_bytes(),
        "files": bundle_files(args.out),
        "precision": {role: entry["precision"] for role, entry in bundle.manifest["models"].items()},
        "options": options.__dict__ if train_options is None else {"ptq_cls": options.__dict__,
                                                                     "training": train_options.__dict__},
        "fp32_bundle_bytes": fp32_bundle_bytes(args.models, args.target, work),
    }
    if stages is not None:
        report["stages"] = stages
        report["flops"] = {role: {"fp32": st["fp32_cost"], "compressed": st["compressed_cost"],
                                  "reduction": round(1 - st["compressed_cost"]["flops"] / st["fp32_cost"]["flops"], 4)}
                           for role, st in stages.items()}
    if args.charset:
        report["charset"] = extra["charset"]
    if weight_only:
        report["weight_only"] = weight_only
    if args.eval_det or args.eval_rec or args.domain:
        common = dict(det_labels=args.eval_det, rec_labels=args.eval_rec, domain=args.domain, limit=args.eval_limit,
                      threads=args.threads)
        fp32, _ = evaluate(eval_args(models=args.models, engine="paddle", **common))
        compressed, _ = evaluate(eval_args(models=quantized, engine="paddle", **common))
        report["fp32"], report["compressed"] = headlines(fp32), headlines(compressed)  # {domain: {metric: value}}
        report["drop"] = {name: accuracy_drop(report["fp32"][name], report["compressed"][name])
                          for name in report["fp32"]}
        report["domains"] = {name: part["labels"] for name, part in fp32["domains"].items()}
        report["evaluated_with"] = {
            "fp32": "Paddle Inference (MKLDNN), FP32 models",
            "compressed": "the quantized models the bundle was exported from, run by Paddle Inference with their "
                          "fake-quant ops (simulated int8); Paddle Lite 2.13's x86 runtime returns NaN for int8 "
                          "matmul, so the x86 twin cannot score rec",
        }
        report["eval_details"] = {"fp32": fp32, "compressed": compressed}
    report["verification"] = verify_what_shipped(args, quantized, fp32_reference)
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    failures = gate(report.get("drop", {}), args.max_drop)
    report["gate"] = {"max_drop": args.max_drop, "failures": failures}
    write_json_atomic(os.path.join(work, "report.json"), report)
    from edge_ocr.atomic import write_text as write_text_atomic

    write_text_atomic(os.path.join(work, "report.md"), compress_markdown(report))
    if args.report:
        write_json_atomic(args.report, report)
    print(compress_markdown(report))
    verification = report["verification"]
    if not verification.get("passed", False) and not verification.get("skipped"):
        print(f"edge-ocr: the bundle failed verification on ARM: {verification['failed']}", file=sys.stderr)
        return 4
    if failures:
        print("edge-ocr: accuracy gate failed: " + "; ".join(failures), file=sys.stderr)
        return 3
    return 0


def verify_what_shipped(args: argparse.Namespace, quantized: str, fp32_models: str | None = None) -> dict:
    """Run the bundle's own .nb files on ARM and compare them with the quantized models and FP32 (export.verify).

    A bundle that does not load or run, or whose outputs leave the limits, is reported as failed, never as a result.
    """
    from edge_ocr.evaluation.labels import read_det_labels
    from export.verify import Thresholds, verify_bundle

    if args.no_verify:
        return {"skipped": True, "reason": "--no-verify: the bundle was never run"}
    labels = args.eval_det or args.calib_det
    # the images with the most text among the first 50: every model gets real lines to read
    samples = sorted(read_det_labels(labels)[:50], key=lambda s: -sum(not box.dont_care for box in s.boxes))
    images = [sample.image for sample in samples[: args.verify_images]]
    try:
        report = verify_bundle(args.out, fp32_models or args.models, images, quantized=quantized,
                               max_images=args.verify_images, thresholds=Thresholds().override(args.verify_limit))
    except EdgeOCRError as exc:
        return {"passed": False, "failed": str(exc), "error": str(exc)}
    return report  # its gate: the checks against the quantized models (what the accuracy above measured)


def accuracy_markdown(report: dict) -> str:
    """FP32 → compressed (drop in points) per metric, a column per domain (old single-domain reports too)."""
    from edge_ocr.evaluation.domains import HEADLINE_KEYS, by_domain

    fp32, compressed, drop = (by_domain(report.get(k)) for k in ("fp32", "compressed", "drop"))
    names = list(fp32)
    lines = ["| metric (FP32 → compressed, drop in points) | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for key in HEADLINE_KEYS:
        cells = [f"{fp32[n][key]:.4f} → {compressed[n][key]:.4f} ({drop[n][key]:+.2f})"
                 if fp32[n].get(key) is not None and compressed[n].get(key) is not None else "–" for n in names]
        if any(c != "–" for c in cells):
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compress_markdown(report: dict) -> str:
    lines = [f"# edge-ocr compress --recipe {report['recipe']} (target {report['target']})", "",
             f"Bundle `{report['bundle']}`: **{report['bundle_bytes'] / 1e6:.3f} MB**", "",
             "| file | bytes | precision |", "|---|---|---|"]
    names = {"det": "det.nb", "cls": "cls.nb", "rec": "rec.nb"}
    for role, name in names.items():
        if name in report["files"]:
            lines.append(f"| {name} | {report['files'][name]:,} | {report['precision'].get(role, '')} |")
    for name, size in report["files"].items():
        if name not in names.values():
            lines.append(f"| {name} | {size:,} | |")
    if "drop" in report:
        lines += ["", accuracy_markdown(report), ""]
        lines.append(f"Compressed accuracy: {report['evaluated_with']['compressed']}.")
    if "fp32_bundle_bytes" in report:
        lines += ["", f"FP32 bundle for the same target: {report['fp32_bundle_bytes'] / 1e6:.3f} MB."]
    if "flops" in report:
        lines += ["", "| model | FLOPs FP32 (G) | FLOPs compressed (G) | cut | params FP32 | params compressed |",
                  "|---|---|---|---|---|---|"]
        for role, entry in report["flops"].items():
            shape = "x".join(str(d) for d in entry["fp32"]["input_shape"][2:])
            lines.append(f"| {role} @ {shape} | {entry['fp32']['flops'] / 1e9:.3f} | "
                         f"{entry['compressed']['flops'] / 1e9:.3f} | {entry['reduction']:.1%} | "
                         f"{entry['fp32']['params']:,} | {entry['compressed']['params']:,} |")
        lines += ["", "FLOPs as `paddle.flops` counts them (multiply-accumulates of conv and linear layers plus BN; "
                      "the LSTM is not counted).", ""]
    for role, stage in report.get("stages", {}).items():
        parts = [f"official FP32 {stage['fp32_dev']:.4f}"] if "fp32_dev" in stage else []
        for name in ("recovery", "qat"):
            if name in stage:
                parts.append(f"{name} best {stage[name]['best']:.4f} (last {stage[name]['last']:.4f}, "
                             f"{stage[name]['steps']} steps)")
        for name, drop in stage.get("domain_dev", {}).items():
            parts.append(f"pruned QAT det on {name}: {drop['pruned']:.4f} against FP32 {drop['fp32']:.4f}")
        if "fallback" in stage:
            fell = stage["fallback"]
            on = f" on {fell['on']}" if "on" in fell else ""
            parts.append(f"**pruned and quantized it ended {fell['points_below_fp32']:.2f} points below FP32{on} "
                         f"(limit {fell['limit']}): the unpruned QAT model ships**")
        lines.append(f"- {role} dev split: " + "; ".join(parts))
    verification = report.get("verification")
    if verification:
        if verification.get("skipped"):
            lines += ["", f"Not verified: {verification['reason']}."]
        elif "checks" in verification:
            from export.verify import verify_markdown

            lines += ["", verify_markdown(verification).replace("# verify", "## Verification of", 1)]
        else:
            lines += ["", f"**Verification failed**: {verification['failed']}"]
    lines += ["", f"Wall time {report['wall_seconds']} s on {report['machine']}.", ""]
    return "\n".join(lines)
