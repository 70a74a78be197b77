"""Compression recipes: models in, quantized models (then a deployable bundle, its x86 twin and a report) out.

``ptq``: post-training quantization of det, cls and rec. ``qat``: det and rec trained quantization-aware with
distillation from the FP32 models (cls, 0.5 MB and no training data of its own, takes PTQ). ``prune-qat``: det and
rec first filter-pruned to a FLOPs target (sensitivity-planned), recovered by training with distillation, then
trained quantization-aware. Every training stage picks its best checkpoint on a dev split carved from the end of the
train labels and never sees the test sets.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field

from edge_ocr.errors import EdgeOCRError
from edge_ocr.models import resolve_models

from .calibration import cls_calibration, det_calibration, rec_calibration, rec_train_images
from .ptq import quantize_ptq

log = logging.getLogger(__name__)


@dataclass
class PTQOptions:
    det_algo: str = "KL"
    rec_algo: str = "hist"
    cls_algo: str = "hist"
    det_images: int = 32
    rec_crops: int = 240
    per_channel: bool = True
    keep_fp32: dict[str, list[str]] = field(default_factory=dict)  # role -> weight names kept in FP32
    keep_fp32_first: dict[str, int] = field(default_factory=dict)  # role -> its first N quantizable layers stay FP32
    rec_lstm_rank: int | None = None  # rec's LSTM input projection factored to this rank first (int8 Linear)
    rec_lstm_distill_steps: int = 300  # then its head distilled from the FP32 recognizer (cached features)
    rec_lstm_train_crops: int = 3000  # train crops for the moment and the distillation
    seed: int = 0  # calibration samples and the factored LSTM's distillation


def artifacts_dir(out_dir: str) -> str:
    return os.path.abspath(out_dir).rstrip("/") + "-artifacts"


def quantize_models(models_dir: str, calib_det: str, calib_rec: str, out_dir: str, options: PTQOptions,
                    roles: tuple[str, ...] = ("det", "cls", "rec")) -> str:
    """PTQ of ``roles`` into ``out_dir`` laid out as a model folder (det/, cls/, rec/, dictionary)."""
    paths = resolve_models(models_dir)
    os.makedirs(out_dir, exist_ok=True)
    jobs = [
        ("det", paths.det, lambda: det_calibration(calib_det, options.det_images, seed=options.seed),
         options.det_algo),
        ("cls", paths.cls, lambda: cls_calibration(calib_rec, options.rec_crops, seed=options.seed),
         options.cls_algo),
        ("rec", paths.rec, lambda: rec_calibration(calib_rec, options.rec_crops, seed=options.seed),
         options.rec_algo),
    ]
    from .program import quantizable_layers

    for role, model_dir, calibration, algo in jobs:
        if role not in roles:
            continue
        start = time.perf_counter()
        log.info("PTQ %s (%s)", role, algo)
        batches = calibration()
        if role == "rec" and options.rec_lstm_rank:
            from .lowrank import factored_recognizer

            model_dir = factored_recognizer(
                models_dir, options.rec_lstm_rank,
                os.path.join(os.path.dirname(os.path.abspath(out_dir)), "fp32-rec-lowrank"),
                rec_train_images(calib_rec, options.rec_lstm_train_crops, seed=options.seed),
                options.rec_lstm_distill_steps, seed=options.seed)
        skip = list(options.keep_fp32.get(role, ()))  # names of the program PTQ reads (a factored one has others)
        skip += [layer.weight for layer in quantizable_layers(model_dir)[: options.keep_fp32_first.get(role, 0)]]
        quantize_ptq(model_dir, batches, os.path.join(out_dir, role), algo=algo,
                     per_channel=options.per_channel, skip_layers=skip)
        log.info("PTQ %s done in %.0f s", role, time.perf_counter() - start)
    shutil.copyfile(paths.dictionary, os.path.join(out_dir, os.path.basename(paths.dictionary)))
    return out_dir


def machine_summary() -> str:
    from edge_ocr.bench.measure import machine_info

    info = machine_info()
    return f"{info['cpu']}, {info['cores']} cores, {info['arch']}"


def accuracy_drop(fp32: dict, compressed: dict) -> dict:
    """Points lost (positive = worse) on each of det_hmean, e2e_hmean and rec_accuracy."""
    return {k: round((fp32[k] - compressed[k]) * 100, 3) for k in fp32 if fp32.get(k) is not None
            and compressed.get(k) is not None}


def gate(drop: dict, max_drop: float | None) -> list[str]:
    """The metrics, of every domain, whose drop exceeds ``max_drop`` points (``drop``: {domain: {metric: points}},
    or one domain's {metric: points})."""
    from edge_ocr.evaluation.domains import by_domain

    if max_drop is None:
        return []
    return [f"{name} {k} fell {v:.2f} points (> {max_drop})" for name, metrics in by_domain(drop).items()
            for k, v in metrics.items() if v > max_drop]


def bundle_files(bundle_dir: str) -> dict[str, int]:
    from edge_ocr.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    return {name: os.path.getsize(os.path.join(bundle_dir, name)) for name in bundle.manifest["files"]}


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def require(path: str | None, what: str) -> None:
    if path and not os.path.exists(path):
        raise EdgeOCRError(f"{what} {path} does not exist")


@dataclass
class TrainRecipeOptions:
    """The training recipes' knobs; the defaults are what a 2-core CPU finishes in well under an hour."""

    det_steps: int = 60  # QAT steps
    rec_steps: int = 40
    recovery_det_steps: int = 60  # prune-qat: FP32 steps that recover the pruned network first
    recovery_rec_steps: int = 40
    det_batch_size: int = 2
    rec_batch_size: int = 16
    lr: float = 5e-5
    recovery_lr: float = 5e-5  # pruning recovery stages
    det_distill: str = "teacher"  # QAT stage; or "cml" (two students: twice the cost)
    rec_distill: str = "teacher"  # QAT stage; or "udml", "udml+teacher"
    # QAT stage: CTC on the labels next to distillation; 0 (what ships): distillation only, the recognizer keeps
    # FP32's reading instead of the label files' conventions
    rec_label_weight: float = 0.0
    recovery_det_distill: str = "cml"  # pruning recovery: the paper's CML (FP32 teacher + two students)
    recovery_rec_distill: str = "udml+teacher"  # U-DML between two students plus the unpruned FP32 teacher
    pact: bool = False
    rec_lstm_rank: int | None = None  # QAT: the recognizer's LSTM input projection factored to this rank, in int8
    keep_fp32_first: dict[str, int] = field(default_factory=lambda: {"rec": 16})  # as PTQ: rec's stem stays FP32
    det_flops_reduction: float = 0.32
    rec_flops_reduction: float = 0.0  # 0 = not pruned: 10% of almost any rec layer's filters costs 10-35 points
    criterion: str = "fpgm"
    # prune-qat: a pruned model whose QAT dev metric ends more than this many points below the official model's on
    # the same dev split (drawn from every calibration source) is replaced by the unpruned QAT model
    prune_fallback_drop: float = 1.5
    # ... and a pruned detector is also judged on these dev domains (det Hmean against FP32, each within
    # prune_fallback_drop): the mixed dev split is mostly ICDAR 2015, and long Chinese lines hide in it
    fallback_domains: list[str] = field(default_factory=list)
    threads: int = 2
    prune_dev: dict[str, int] = field(default_factory=lambda: {"det": 16, "rec": 200})
    sensitivity: dict[str, str] = field(default_factory=dict)  # role -> saved prune sensitivity report
    plans: dict[str, str] = field(default_factory=dict)  # role -> saved pruning plan (instead of planning one)
    dev_tail: dict[str, int] = field(default_factory=lambda: {"det": 30, "rec": 200})
    eval_every: int = 20
    resume: bool = False  # keep finished stages (pruning plans, training runs) of an earlier run in the same folder
    seed: int = 0  # every training stage's (python, numpy, paddle, data order)


LABELS_DIGEST = "labels.sha256"  # beside a stage's checkpoint: the train + dev labels it was trained on


def _labels_digest(labels: str) -> str:
    """The labels' rows (image paths and texts), so a stage retrains when its data changes."""
    from edge_ocr.models import sha256_file

    return sha256_file(labels)


def _finished(out_dir: str, config, labels: str | None = None) -> dict | None:
    """The best evaluation of a stage an earlier run finished with the same configuration and labels; None
    otherwise (a stage from before labels were recorded is taken on its configuration alone)."""
    from dataclasses import MISSING, asdict, fields

    try:
        with open(os.path.join(out_dir, "checkpoint.json")) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    recorded = os.path.join(out_dir, LABELS_DIGEST)
    if labels and os.path.isfile(recorded):
        with open(recorded) as handle:
            if handle.read().strip() != _labels_digest(labels):
                return None
    # an option added since that stage ran counts as its default
    defaults = {f.name: f.default for f in fields(config) if f.default is not MISSING}
    same = {**json.loads(json.dumps(defaults)), **state.get("config", {})} == json.loads(json.dumps(asdict(config)))
    weights = getattr(config, "init_weights", None)
    if weights and (not os.path.isfile(weights) or
                    os.path.getmtime(weights) > os.path.getmtime(os.path.join(out_dir, "checkpoint.json"))):
        return None  # its starting weights were retrained since (a rerun recovery stage)
    done = state.get("step", 0) >= config.steps and os.path.isfile(os.path.join(out_dir, "final", "inference.pdmodel"))
    return state.get("best") if same and done else None


def _train(role: str, models_dir: str, labels: str, out_dir: str, options: TrainRecipeOptions, steps: int,
           qat: bool, plan: dict | None, weights: str | None) -> str:
    """One training stage on ``labels`` (dev split from their end); returns the folder of the model to keep."""
    distill = {("det", True): options.det_distill, ("rec", True): options.rec_distill,
               ("det", False): options.recovery_det_distill, ("rec", False): options.recovery_rec_distill}
    common = dict(steps=steps, lr=options.lr if qat else options.recovery_lr, eval_every=options.eval_every, qat=qat,
                  pact=qat and options.pact,
                  keep_fp32_first=options.keep_fp32_first.get(role, 0), prune_plan=plan,
                  init_weights=weights, distill=distill[role, qat], seed=options.seed)
    if role == "det":
        from ..train.det import DetTrainConfig, train_det

        config, train = DetTrainConfig(batch_size=options.det_batch_size, **common), train_det
    else:
        from ..train.rec import RecTrainConfig, train_rec

        config, train = RecTrainConfig(batch_size=options.rec_batch_size, lstm_input_rank=options.rec_lstm_rank if qat
                                       else None, label_weight=options.rec_label_weight if qat else 1.0,
                                       **common), train_rec
    best = _finished(out_dir, config, labels) if options.resume else None
    if best is not None:
        log.info("%s: kept from an earlier run with the same configuration", out_dir)
    else:
        best = train(models_dir, labels, labels, out_dir, config, dev_tail=options.dev_tail[role])
        from edge_ocr.atomic import write_text

        write_text(os.path.join(out_dir, LABELS_DIGEST), _labels_digest(labels) + "\n")
    # Recovery is a means to QAT: it hands on its last weights (its dev numbers, on a few dozen images, are noise next
    # to what QAT changes). The shipped QAT model is the one chosen on the dev split (its last step if none beat the
    # start: QAT's start has no scales yet).
    selected = qat and os.path.isfile(os.path.join(out_dir, "best", "inference.pdmodel"))
    kept = os.path.join(out_dir, "best" if selected else "final")
    log.info("%s %s: dev %s, keeping %s", role, "QAT" if qat else "recovery", best, kept)
    return kept


def train_models(recipe: str, models_dir: str, calib_det: str, calib_rec: str, work: str,
                 options: TrainRecipeOptions, ptq: PTQOptions) -> tuple[str, dict]:
    """The qat / prune-qat recipes: quantized models in ``work``/quantized, and what each stage measured."""
    from ..nets.pruned import build_network
    from .prune import dev_metric, model_cost, prune_model

    paths = resolve_models(models_dir)
    quantized = os.path.join(work, "quantized")
    quantize_models(models_dir, calib_det, calib_rec, quantized, ptq, roles=("cls",))
    stages: dict = {}
    for role, labels in (("det", calib_det), ("rec", calib_rec)):
        start = time.perf_counter()
        plan = weights = None
        fp32 = build_network(role, models_dir)
        stages[role] = {"fp32_cost": model_cost(fp32, role),  # and the official model on the same dev split:
                        "fp32_dev": dev_metric(role, labels, options.dev_tail[role], models_dir)(fp32)}
        reduction = options.det_flops_reduction if role == "det" else options.rec_flops_reduction
        if recipe == "prune-qat" and (reduction > 0 or role in options.plans):  # a given plan needs no target
            plan_file = os.path.join(work, f"prune-{role}", "plan.json")
            if role in options.plans or (options.resume and os.path.isfile(plan_file)):
                from ..nets.pruned import load_plan

                plan = load_plan(options.plans.get(role, plan_file))
                if role in options.plans:  # the run's folder records the plan it trained
                    from edge_ocr.atomic import write_text

                    os.makedirs(os.path.dirname(plan_file), exist_ok=True)
                    write_text(plan_file, json.dumps(plan, indent=1))
            else:
                plan = prune_model(role, models_dir, labels, os.path.join(work, f"prune-{role}"), reduction,
                                   options.criterion, options.prune_dev[role],
                                   sensitivity_report=options.sensitivity.get(role))
            recovery_steps = options.recovery_det_steps if role == "det" else options.recovery_rec_steps
            recovered = _train(role, models_dir, labels, os.path.join(work, f"recover-{role}"), options,
                               recovery_steps, False, plan, None)
            weights = recovered + ".pdparams"
            stages[role].update(plan={k: plan[k] for k in ("criterion", "ratios", "flops_reduction")},
                                recovery=_best(os.path.join(work, f"recover-{role}")))
        steps = options.det_steps if role == "det" else options.rec_steps
        kept = _train(role, models_dir, labels, os.path.join(work, f"qat-{role}"), options, steps, True, plan, weights)
        stages[role]["qat"] = _best(os.path.join(work, f"qat-{role}"))
        lost = (stages[role]["fp32_dev"] - stages[role]["qat"]["best"]) * 100
        # where the pruned model fell too far below FP32: the mixed dev split first, then each dev domain (det)
        falls = [("the mixed dev split", lost)]
        if plan is not None and role == "det" and options.fallback_domains:
            stages[role]["domain_dev"] = det_drops(models_dir, kept, options.fallback_domains, options.threads)
            falls += sorted(((f"the {name} dev domain", drop["points_below_fp32"])  # the worst one named
                             for name, drop in stages[role]["domain_dev"].items()), key=lambda fall: -fall[1])
        fell = next(((where, below) for where, below in falls if below > options.prune_fallback_drop), None)
        if plan is not None and fell:
            where, below = fell
            log.warning("%s: pruned and quantized, %s fell %.2f points below FP32 on %s (> %.2f): falling back to "
                        "the unpruned model", role, stages[role]["qat"]["metric"], below, where,
                        options.prune_fallback_drop)
            stages[role]["fallback"] = {"pruned_qat": stages[role]["qat"], "points_below_fp32": round(below, 3),
                                        "on": where, "limit": options.prune_fallback_drop, "to": "unpruned QAT"}
            plan = None
            kept = _train(role, models_dir, labels, os.path.join(work, f"qat-{role}-unpruned"), options, steps, True,
                          None, None)
            stages[role]["qat"] = _best(os.path.join(work, f"qat-{role}-unpruned"))
        compressed = build_network(role, models_dir, plan)
        if role == "rec" and options.rec_lstm_rank:
            from ..nets.rec_lcnet_crnn import factor_lstm_input

            compressed = factor_lstm_input(compressed, options.rec_lstm_rank)
        stages[role]["compressed_cost"] = model_cost(compressed, role)
        target = os.path.join(quantized, role)
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(kept, target)
        stages[role]["wall_seconds"] = round(time.perf_counter() - start, 1)
    shutil.copyfile(paths.dictionary, os.path.join(quantized, os.path.basename(paths.dictionary)))
    return quantized, stages


def det_drops(models_dir: str, det_model: str, domains: list[str], threads: int = 2) -> dict[str, dict]:
    """{domain: det Hmean of FP32 and of ``det_model`` (the official cls and rec behind both), and the points
    between} on each domain's det labels, through Paddle Inference."""
    from edge_ocr.evaluation.api import EvalConfig, run_evaluation
    from edge_ocr.pipeline_options import PipelineOptions

    def scores(det: str | None) -> dict:
        options = PipelineOptions(models=models_dir, engine="paddle", threads=threads, det_model=det)
        return run_evaluation(EvalConfig(pipeline=options, domains=list(domains), progress=False)).headlines()

    fp32, pruned = scores(None), scores(det_model)
    return {name: {"fp32": fp32[name]["det_hmean"], "pruned": pruned[name]["det_hmean"],
                   "points_below_fp32": round((fp32[name]["det_hmean"] - pruned[name]["det_hmean"]) * 100, 3)}
            for name in fp32 if fp32[name].get("det_hmean") is not None}


def _best(out_dir: str) -> dict:
    """The training stage's dev metric at its start and at its kept checkpoint, from its metrics log."""
    import csv

    with open(os.path.join(out_dir, "metrics.csv")) as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("eval_hmean") or r.get("eval_accuracy")]
    key = "eval_hmean" if "eval_hmean" in rows[0] else "eval_accuracy"
    values = [(int(r["step"]), float(r[key])) for r in rows]
    return {"metric": key.removeprefix("eval_"), "start": values[0][1], "best": max(v for _, v in values),
            "last": values[-1][1], "steps": values[-1][0]}


def fp32_bundle_bytes(models_dir: str, target: str, work: str) -> int:
    """Size of the FP32 bundle for ``target``: what the compressed bundle is measured against."""
    from edge_ocr.bundle import load_bundle
    from edge_ocr.host.export.bundle import export_bundle

    out = os.path.join(work, f"fp32-{target}")
    export_bundle(models_dir, out, target=target, extra={"recipe": "fp32"})
    return load_bundle(out).total_bytes()
