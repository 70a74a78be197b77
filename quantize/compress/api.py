"""``compress(config) -> CompressReport``: FP32 models in; quantized (and pruned) models, a bundle run and verified on
the ARM runtime, and a report per domain out. ``edge-ocr compress`` builds a ``CompressConfig`` and calls it.

    from edge_ocr import compress, CompressConfig
    report = compress(CompressConfig.from_recipe("recipes/tiny.toml", out="/tmp/tiny"))
    print(report.bundle_bytes, report.drop, report.exit_code)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from edge_ocr.errors import EdgeOCRError

from .config import CompressConfig, report_options

log = logging.getLogger(__name__)

EXIT_GATE = 3  # an accuracy gate failed
EXIT_VERIFY = 4  # the bundle did not run on ARM, or does not compute what its quantized models compute


@dataclass
class CompressReport:
    """The report a compress run writes (``OUT-artifacts/report.json``), with what callers ask of it."""

    data: dict

    @property
    def bundle(self) -> str:
        return self.data["bundle"]

    @property
    def bundle_bytes(self) -> int:
        return self.data["bundle_bytes"]

    @property
    def drop(self) -> dict:
        """{domain: {metric: points below FP32}} (empty when nothing was scored)."""
        return self.data.get("drop", {})

    @property
    def verification(self) -> dict:
        return self.data["verification"]

    @property
    def gate_failures(self) -> list[str]:
        return self.data["gate"]["failures"]

    @property
    def verified(self) -> bool:
        return bool(self.verification.get("passed"))

    @property
    def exit_code(self) -> int:
        """0; 4 when verification ran and failed; 3 when the accuracy gate failed (the command's exit status)."""
        if not self.verification.get("passed", False) and not self.verification.get("skipped"):
            return EXIT_VERIFY
        return EXIT_GATE if self.gate_failures else 0

    def to_markdown(self) -> str:
        return compress_markdown(self.data)


def _git_commit() -> str | None:
    """The repository's commit, with "+changes" when the tree differs from it (the report says what code ran)."""
    from .config import REPO

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+changes" if dirty else "")) if commit else None


def seed_everything(seed: int) -> None:
    """Python's, numpy's and paddle's generators (training stages seed theirs again from the same seed)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import paddle
    except ImportError:  # pragma: no cover - compress needs paddle anyway; the error comes where it is used
        return
    paddle.seed(seed)


def _clear_work(work: str, keep: str) -> None:
    """Empty the run's work folder, but keep the recipe's inputs folder when it lies inside (its stamps decide)."""
    if not os.path.isdir(work):
        return
    for name in os.listdir(work):
        path = os.path.join(work, name)
        if os.path.abspath(path) == os.path.abspath(keep):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def dev_domains(specs: list[str] | None) -> list[str]:
    """The domains that are dev splits with det labels (a train file's tail, or a file not named as a test set):
    prune-qat may judge a pruned detector on them; a test set only reports."""
    from edge_ocr.evaluation.domains import parse_domain

    kept = []
    for spec in specs or []:
        domain = parse_domain(spec)
        if domain.det and (domain.tail or "test" not in os.path.basename(domain.det).lower()):
            kept.append(spec)
    return kept


def ptq_options(config: CompressConfig):
    """PTQ's options (every role; with qat / prune-qat, the classifier's)."""
    from .recipes import PTQOptions

    keep: dict[str, list[str]] = {}
    for report_path in config.sensitivity:
        with open(report_path) as handle:
            report = json.load(handle)
        keep[report["kind"]] = [row["layer"] for row in report["ranking"][: config.keep_fp32]]
    return PTQOptions(det_algo=config.det_algo, rec_algo=config.rec_algo, cls_algo=config.cls_algo,
                      det_images=config.calib_det_images, rec_crops=config.calib_rec_crops,
                      per_channel=not config.per_tensor, keep_fp32=keep,
                      keep_fp32_first={r: n for r, n in config.keep_fp32_first.items() if n},
                      rec_lstm_rank=config.rec_lstm_rank, rec_lstm_distill_steps=config.rec_lstm_distill_steps,
                      rec_lstm_train_crops=config.rec_lstm_train_crops, seed=config.seed)


def train_options(config: CompressConfig):
    """The training recipes' options (qat, prune-qat)."""
    from .recipes import TrainRecipeOptions

    for path in config.prune_sensitivity.values():
        if not os.path.isfile(path):
            raise EdgeOCRError(f"sensitivity report {path} does not exist")
    if config.prune_plan:
        from ..nets.pruned import load_plan

        for role, path in config.prune_plan.items():
            planned_for = load_plan(path)["role"]
            if planned_for != role:
                raise EdgeOCRError(f"{path} is a plan for {planned_for}, not {role}")
    defaults = TrainRecipeOptions()
    return TrainRecipeOptions(
        det_steps=config.det_steps, rec_steps=config.rec_steps, recovery_det_steps=config.recovery_det_steps,
        recovery_rec_steps=config.recovery_rec_steps, det_batch_size=config.det_batch_size,
        rec_batch_size=config.rec_batch_size, lr=config.lr, recovery_lr=config.recovery_lr,
        det_distill=config.det_distill, rec_distill=config.rec_distill, rec_label_weight=config.rec_label_weight,
        recovery_det_distill=config.recovery_det_distill, recovery_rec_distill=config.recovery_rec_distill,
        pact=config.pact, rec_lstm_rank=config.rec_lstm_rank, det_flops_reduction=config.det_flops_reduction,
        rec_flops_reduction=config.rec_flops_reduction, criterion=config.criterion,
        prune_fallback_drop=config.prune_fallback_drop, sensitivity=dict(config.prune_sensitivity),
        plans=dict(config.prune_plan), eval_every=config.eval_every, resume=config.resume, threads=config.threads,
        fallback_domains=dev_domains(config.domain), dev_tail={**defaults.dev_tail, **config.dev},
        keep_fp32_first={r: n for r, n in config.keep_fp32_first.items() if r in ("det", "rec")},
        seed=config.seed)


def _evaluate(models: str, config: CompressConfig, det_model: str | None = None) -> dict:
    from edge_ocr.evaluation.api import EvalConfig, run_evaluation
    from edge_ocr.pipeline_options import PipelineOptions

    settings = EvalConfig(pipeline=PipelineOptions(models=models, engine="paddle", threads=config.threads,
                                                   det_model=det_model),
                          domains=list(config.domain), det_labels=config.eval_det, rec_labels=config.eval_rec,
                          limit=config.eval_limit)
    return run_evaluation(settings).data


def compress(config: CompressConfig) -> CompressReport:
    """Run ``config``: make the recipe's inputs, quantize (train, prune), export, score, verify on ARM and gate.

    A gate failure does not raise: the report says it (``exit_code``); bad inputs raise ``EdgeOCRError``."""
    from edge_ocr.atomic import write_json, write_text
    from edge_ocr.bundle import load_bundle
    from edge_ocr.evaluation.domains import domains_from_args
    from edge_ocr.host.export.bundle import export_bundle
    from edge_ocr.host.export.targets import get_target
    from edge_ocr.models import resolve_models

    from .calibration import label_files, merge_label_files
    from .recipes import (
        accuracy_drop,
        bundle_files,
        fp32_bundle_bytes,
        gate,
        machine_summary,
        now,
        quantize_models,
        require,
        train_models,
    )

    config.check()
    config.require_complete()
    get_target(config.target)
    start, commit = time.perf_counter(), _git_commit()  # the code as the run starts, not as it ends an hour later
    work, inputs_dir = config.artifacts, config.inputs_dir

    def made_later(path: str | None) -> bool:  # a recipe input this run has yet to make
        return bool(config.generate and path and os.path.abspath(path).startswith(inputs_dir + os.sep))

    def check_paths(skip_inputs: bool) -> None:
        calib = label_files(config.calib_det) + label_files(config.calib_rec)
        for path, what in ((config.models, "model folder"), *((p, "label file") for p in calib),
                           (config.eval_det, "label file"), (config.eval_rec, "label file")):
            if not (skip_inputs and made_later(path)):
                require(path, what)
        for domain in domains_from_args(config.domain, config.eval_det, config.eval_rec):
            if not (skip_inputs and (made_later(domain.det) or made_later(domain.rec))):
                domain.check()

    check_paths(skip_inputs=True)  # what exists already, before the inputs take their minutes
    resolve_models(config.models)
    out = config.out
    if os.path.isdir(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, "manifest.json")):
        raise EdgeOCRError(f"{out} exists and is not a bundle: refusing to overwrite it")
    ptq = ptq_options(config)
    training = train_options(config) if config.recipe != "ptq" else None
    if not config.resume:
        _clear_work(work, inputs_dir)
    seed_everything(config.seed)
    made_inputs = {}
    if config.generate:
        from .inputs import make_inputs

        made_inputs = make_inputs(config.generate, inputs_dir, config.models, config.threads)
        check_paths(skip_inputs=False)
    seed_everything(config.seed)  # the same state whether the inputs were made now or kept
    calib = {role: merge_label_files(label_files(files), role, os.path.join(work, f"calib-{role}.txt"),
                                     seed=config.seed)
             for role, files in (("det", config.calib_det), ("rec", config.calib_rec))}
    stages = None
    if training is None:
        quantized = quantize_models(config.models, calib["det"], calib["rec"], os.path.join(work, "quantized"), ptq)
    else:
        quantized, stages = train_models(config.recipe, config.models, calib["det"], calib["rec"], work, training,
                                         ptq)
    extra, fp32_reference, charset_sources = {"recipe": config.recipe}, config.models, None
    if config.recipe_name:
        extra["recipe_file"] = {"name": config.recipe_name, "sha256": config.recipe_sha256}
    if config.charset:  # the bundle, its scores and its verification all use the sliced recognizer
        from edge_ocr.host.export.charset import apply_charset

        # verification measures the rec sureness on the full models' softmax, not on the renormalized charset's
        charset_sources = {"expected": quantized, "fp32": config.models}
        quantized, extra["charset"] = apply_charset(quantized, config.charset, os.path.join(work, "quantized-charset"))
        # verification compares like with like: the FP32 models cut to the same charset
        fp32_reference, _ = apply_charset(config.models, config.charset, os.path.join(work, "fp32-charset"))
    if config.cls_precision == "fp32":  # the official classifier replaces the quantized one
        target = os.path.join(quantized, os.path.basename(os.path.normpath(resolve_models(quantized).cls)))
        shutil.rmtree(target)
        shutil.copytree(resolve_models(config.models).cls, target)
        extra["cls_precision"] = "fp32"
    weight_only: dict = {}
    bits = {"int16": 16, "int8": 8}.get(config.fp32_layer_weights, 0)
    if bits and get_target(config.target).weight_only:
        from edge_ocr.host.export.weight_only import snap_models

        quantized, weight_only = snap_models(quantized, os.path.join(work, f"quantized-weights-int{bits}"), bits)
        if charset_sources:  # the full models snapped alike: a snapped weight moves int8 roundings downstream
            charset_sources["expected"], _ = snap_models(
                charset_sources["expected"], os.path.join(work, f"quantized-full-weights-int{bits}"), bits)
    export_bundle(quantized, out, target=config.target, extra=extra, weight_bits=bits or 8,
                  weight_only=tuple(role for role, done in weight_only.items() if done["layers"]))
    bundle = load_bundle(out)
    report = {
        "recipe": config.recipe,
        "command": config.command or "edge-ocr " + command_line(config),
        "recipe_name": config.recipe_name,
        "recipe_file": config.recipe_file,
        "recipe_sha256": config.recipe_sha256,
        "commit": commit,
        "created": now(),
        "machine": machine_summary(),
        "target": config.target,
        "bundle": os.path.abspath(out),
        "quantized_models": quantized,
        "bundle_bytes": bundle.total_bytes(),
        "files": bundle_files(out),
        "file_sha256": {name: bundle.manifest["files"][name] for name in bundle.manifest["files"]},
        "precision": {role: entry["precision"] for role, entry in bundle.manifest["models"].items()},
        "config": report_options(config),
        "inputs": made_inputs,
        "calibration_labels": {role: {"file": path, "sha256": _sha256(path)} for role, path in calib.items()},
        "options": ptq.__dict__ if training is None else {"ptq_cls": ptq.__dict__, "training": training.__dict__},
        "fp32_bundle_bytes": fp32_bundle_bytes(config.models, config.target, work),
    }
    if stages is not None:
        report["stages"] = stages
        report["flops"] = {role: {"fp32": st["fp32_cost"], "compressed": st["compressed_cost"],
                                  "reduction": round(1 - st["compressed_cost"]["flops"] / st["fp32_cost"]["flops"], 4)}
                           for role, st in stages.items()}
    if config.charset:
        report["charset"] = extra["charset"]
        report["charset_sources"] = charset_sources
    if weight_only:
        report["weight_only"] = weight_only
    if config.eval_det or config.eval_rec or config.domain:
        from edge_ocr.evaluation.api import headlines

        fp32, compressed = _evaluate(config.models, config), _evaluate(quantized, config)
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
    report["verification"] = verify_what_shipped(config, quantized, fp32_reference, calib["det"],
                                                 charset_sources)
    report["latency_estimate"] = estimate_what_shipped(config, os.path.join(work, f"fp32-{config.target}"))
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    failures = gate(report.get("drop", {}), config.max_drop)
    report["gate"] = {"max_drop": config.max_drop, "failures": failures}
    write_json(os.path.join(work, "report.json"), report)
    write_text(os.path.join(work, "report.md"), compress_markdown(report))
    if config.report:
        write_json(config.report, report)
    return CompressReport(report)


def _sha256(path: str) -> str:
    from edge_ocr.models import sha256_file

    return sha256_file(path)


def command_line(config: CompressConfig) -> str:
    """``compress`` and the flags that give ``config`` (the options that differ from their defaults)."""
    import shlex

    from .config import OPTIONS, _default

    parts = ["compress"]
    if config.recipe_file:
        parts += ["--config", config.recipe_file]
    for option in OPTIONS:
        value = getattr(config, option.field)
        if (option.name not in config.overrides) if config.recipe_file else value == _default(option.field):
            continue  # a recipe's values are in its file; else what differs from the defaults
        if option.boolean:
            parts.append(f"--{option.name}" if value else f"--no-{option.name}")
        elif isinstance(value, dict):
            parts += [f"--{option.name}", *(f"{k}={v}" for k, v in value.items())]
        elif isinstance(value, list):
            parts += [f"--{option.name}", *map(str, value)]
        elif value is not None:
            parts += [f"--{option.name}", str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def verify_what_shipped(config: CompressConfig, quantized: str, fp32_models: str | None = None,
                        calib_det: str | None = None, charset_sources: dict[str, str] | None = None) -> dict:
    """Run the bundle's own .nb files on ARM and compare them with the quantized models and FP32 (export.verify).

    A bundle that does not load or run, or whose outputs leave the limits, is reported as failed, never as a result.
    """
    from edge_ocr.evaluation.labels import read_det_labels
    from edge_ocr.host.export.verify import Thresholds, verify_bundle

    if not config.verify:
        return {"skipped": True, "reason": "--no-verify: the bundle was never run"}
    labels = config.eval_det or calib_det or config.calib_det[0]
    # the images with the most text among the first 50: every model gets real lines to read
    samples = sorted(read_det_labels(labels)[:50], key=lambda s: -sum(not box.dont_care for box in s.boxes))
    images = [sample.image for sample in samples[: config.verify_images]]
    try:
        return verify_bundle(config.out, fp32_models or config.models, images, quantized=quantized,
                             max_images=config.verify_images,
                             thresholds=Thresholds().override(config.verify_limit),
                             charset_sources=charset_sources)
    except EdgeOCRError as exc:
        return {"passed": False, "failed": str(exc), "error": str(exc)}


def estimate_what_shipped(config: CompressConfig, fp32_bundle: str) -> dict:
    """The bundle's estimated ARM latency beside the FP32 bundle's (``edge_ocr.bench.estimate``): an estimate,
    labelled so in the report. A failed estimate is recorded, not raised: the bundle is made and verified."""
    from edge_ocr.bench.estimate.bundles import default_images, estimate_against

    if not config.estimate:
        return {"skipped": True, "reason": "no --estimate cores"}
    if config.target != "arm":
        return {"skipped": True, "reason": f"a '{config.target}' bundle: the estimate runs ARM bundles"}
    try:
        return estimate_against(config.out, fp32_bundle, config.models, config.estimate_images or default_images(),
                                config.estimate)
    except EdgeOCRError as exc:
        log.warning("latency estimate failed: %s", exc)
        return {"failed": str(exc)}


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
    lines = [f"# edge-ocr compress --recipe {report['recipe']} (target {report['target']})", ""]
    if report.get("recipe_file"):
        lines += [f"Recipe file `{report['recipe_file']}` (sha256 `{report['recipe_sha256']}`), commit "
                  f"`{report.get('commit')}`.", ""]
    lines += [f"Bundle `{report['bundle']}`: **{report['bundle_bytes'] / 1e6:.3f} MB**", "",
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
            from edge_ocr.host.export.verify import verify_markdown

            lines += ["", verify_markdown(verification).replace("# verify", "## Verification of", 1)]
        else:
            lines += ["", f"**Verification failed**: {verification['failed']}"]
    estimate = report.get("latency_estimate") or {}
    if estimate.get("targets"):
        from edge_ocr.bench.estimate.bundles import against_markdown

        lines += ["", against_markdown(estimate)]
    elif estimate:
        lines += ["", f"No latency estimate: {estimate.get('reason') or estimate.get('failed')}."]
    lines += ["", f"Wall time {report['wall_seconds']} s on {report['machine']}.", ""]
    return "\n".join(lines)
