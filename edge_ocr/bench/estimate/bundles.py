"""Estimates for whole bundles on an image set: each image's real model inputs (det size, cls and rec batches), each
model's estimated latency at those shapes, and the end-to-end sum; the report keeps estimates and board measurements
(``--merge``) in separate tables."""

from __future__ import annotations

import copy
import logging
import os
from collections import defaultdict

import numpy as np

from ...errors import EdgeOCRError
from . import METHOD, RunCost, estimate_model, latency_ms
from .cores import Target, calibration

log = logging.getLogger(__name__)

ROLES = ("det", "cls", "rec")


class _Recorder:
    """An engine that notes each batch shape it is given, then runs it (so the pipeline's later stages see the real
    boxes and crops)."""

    def __init__(self, engine, shapes: list) -> None:
        self.engine, self.shapes = engine, shapes
        self.name, self.model_path = engine.name, engine.model_path

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(tuple(int(d) for d in batch.shape))
        return self.engine.run(batch)


def input_shapes(images: list[str], bundle_dir: str, models_dir: str | None) -> list[dict[str, list[tuple]]]:
    """Per image, the input shape of every det/cls/rec call the bundle's pipeline makes. The boxes come from the
    FP32 inference models on this machine (Paddle Inference), with the bundle's own parameters (det size limit, rec
    batch size, cls on or off)."""
    from ...bundle import load_bundle
    from ...images import load_image
    from ...pipeline import OCRPipeline

    bundle = load_bundle(bundle_dir)
    params = copy.deepcopy(bundle.params)
    params.use_cls = params.use_cls and bundle.model_file("cls") is not None
    pipeline = OCRPipeline.from_models(models_dir, engine="paddle", threads=1, params=params)
    calls: dict[str, list] = {role: [] for role in ROLES}
    pipeline.detector.engine = _Recorder(pipeline.detector.engine, calls["det"])
    pipeline.recognizer.engine = _Recorder(pipeline.recognizer.engine, calls["rec"])
    if pipeline.classifier is not None:
        pipeline.classifier.engine = _Recorder(pipeline.classifier.engine, calls["cls"])
    out = []
    for path in images:
        for shapes in calls.values():
            shapes.clear()
        loaded = load_image(path, params.max_image_pixels)
        pipeline.analyze(loaded.image, loaded.scale, loaded.size)
        out.append({role: list(shapes) for role, shapes in calls.items()})
    return out


def estimate_bundle(bundle_dir: str, shapes: list[dict[str, list[tuple]]], target: Target,
                    timeout: float | None = None) -> dict:
    """Estimated latency per model and end to end (mean over the images), instructions, and time per kernel family."""
    from ...bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    cal = calibration(target.core)
    costs: dict[str, dict[tuple, RunCost]] = {}
    for role in ROLES:
        wanted = sorted({s for image in shapes for s in image[role]})
        nb = bundle.model_file(role)
        if not wanted:
            continue
        if nb is None:
            raise EdgeOCRError(f"{bundle_dir} has no {role} model but its pipeline calls one")
        costs[role] = dict(zip(wanted, estimate_model(nb, wanted, target.core, timeout=timeout)))
    per_image = []
    families: dict[str, dict[str, float]] = {role: defaultdict(float) for role in ROLES}
    for image in shapes:
        row = {}
        for role in ROLES:
            ms = compute = memory = 0.0
            instructions = 0
            for shape in image[role]:
                cost = costs[role][shape]
                est = latency_ms(cost, target)
                ms, compute, memory = ms + est["ms"], compute + est["compute_ms"], memory + est["memory_ms"]
                instructions += cost.instructions
                for family, cycles in cost.family_cycles.items():
                    families[role][family] += cycles
            row[role] = {"ms": ms, "compute_ms": compute, "memory_ms": memory, "instructions": instructions,
                         "calls": len(image[role])}
        row["e2e_ms"] = sum(row[role]["ms"] for role in ROLES)
        per_image.append(row)
    n = max(len(per_image), 1)
    models = {}
    for role in ROLES:
        if not any(image[role]["calls"] for image in per_image):
            continue
        total = sum(families[role].values()) or 1.0
        models[role] = {
            "file": os.path.basename(bundle.model_file(role) or ""),
            "ms": sum(r[role]["ms"] for r in per_image) / n,
            "compute_ms": sum(r[role]["compute_ms"] for r in per_image) / n,
            "memory_ms": sum(r[role]["memory_ms"] for r in per_image) / n,
            "instructions": sum(r[role]["instructions"] for r in per_image) / n,
            "calls": sum(r[role]["calls"] for r in per_image) / n,
            "families": {k: v / total for k, v in sorted(families[role].items(), key=lambda kv: -kv[1])},
        }
    return {"target": target.label, "core": target.core.name, "ghz": target.ghz, "mca": target.core.mca_note,
            "calibration": cal, "models": models, "e2e_ms": sum(r["e2e_ms"] for r in per_image) / n,
            "per_image": per_image}


def validation_text(entry: dict) -> str:
    cal = entry.get("calibration") or {}
    if not cal:
        return "uncalibrated: no memory term (run benchmarks/estimate_validation.py)"
    if cal.get("validated"):
        ranges = cal.get("error_range_pct") or {}
        if ranges:
            parts = ", ".join(f"{p} {lo:+.0f}…{hi:+.0f} %" for p, (lo, hi) in ranges.items())
            return f"{parts} on {cal.get('board', 'its board')}"
        return f"±{cal['max_abs_error_pct']:.0f} % max on {cal.get('board', 'its board')}"
    return cal.get("note") or "not validated"


def to_markdown(report: dict) -> str:
    out = [f"# edge-ocr bench --estimate — {report['created']}", "",
           "**Estimates, not measurements.** " + METHOD + ". The error column is the largest error of the method "
           "against Paddle Lite's published latencies on that core (`benchmarks/results/estimate-validation.md`).",
           "", f"{report['settings']['images']} images; mean per image; 1 thread; model inputs as each image's "
           "pipeline makes them (boxes from the FP32 models).", "",
           "| bundle | target | det ms (est.) | cls ms (est.) | rec ms (est.) | end-to-end ms (est.) | "
           "det M instr. | rec M instr. | validation error |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]

    def cell(entry: dict, role: str, key: str = "ms", scale: float = 1.0) -> str:
        model = entry["models"].get(role)
        return f"{model[key] / scale:.1f}" if model else "–"

    for entry in report["estimates"]:
        out.append(f"| {entry['bundle']} | {entry['target']} | {cell(entry, 'det')} | {cell(entry, 'cls')} | "
                   f"{cell(entry, 'rec')} | {entry['e2e_ms']:.1f} | {cell(entry, 'det', 'instructions', 1e6)} | "
                   f"{cell(entry, 'rec', 'instructions', 1e6)} | {validation_text(entry)} |")
    out += ["", "Estimated share of time per kernel family (by instruction signature of each function of the "
            "stripped Paddle Lite library; the memory term is not in these shares):", ""]
    for entry in report["estimates"]:
        for role, model in entry["models"].items():
            top = ", ".join(f"{k} {100 * v:.0f} %" for k, v in model["families"].items() if v >= 0.01)
            out.append(f"- {entry['bundle']} {role} on {entry['target']} (compute {model['compute_ms']:.1f} ms + "
                       f"memory {model['memory_ms']:.1f} ms, estimated): {top}")
    if report.get("measured"):
        out += ["", "## Measured on boards (`--merge`): measurements, not estimates", "",
                "| variant | machine | threads | e2e ms | det ms | cls ms | rec ms |",
                "|---|---|---|---:|---:|---:|---:|"]
        for row in report["measured"]:
            ms = row.get("ms", {})

            def med(stage: str, ms: dict = ms) -> str:
                value = ms.get(stage, {}).get("median")
                return f"{value:.1f}" if isinstance(value, (int, float)) else "–"

            out.append(f"| {row['name']} | {row['machine']} | {row.get('threads', '–')} | {med('e2e')} | "
                       f"{med('det')} | {med('cls')} | {med('rec')} |")
    return "\n".join(out) + "\n"


# What compress estimates by default: a Pi 4's and a Snapdragon 855's big core, on a typical ICDAR 2015 photo and a
# TD500 photo (the images of benchmarks/results/estimate-releases.md).
DEFAULT_TARGETS = ("cortex-a72@1.5", "cortex-a76@2.84")
DEFAULT_IMAGES = ("data/icdar2015/ch4_test_images/img_11.jpg", "data/td500_train/images/IMG_2224.JPG")


def default_images() -> list[str]:
    from ...evaluation.domains import shared_dir

    return [os.path.join(shared_dir(), rel) for rel in DEFAULT_IMAGES]


def _summary(entry: dict) -> dict:
    models = entry["models"]
    out = {f"{role}_ms": round(models[role]["ms"], 2) for role in ROLES if role in models}
    out.update({f"{role}_instructions": int(models[role]["instructions"]) for role in ROLES if role in models})
    out["e2e_ms"] = round(entry["e2e_ms"], 2)
    return out


def estimate_against(bundle_dir: str, reference_dir: str, models_dir: str | None, images: list[str],
                     targets: list[str] | tuple[str, ...] = DEFAULT_TARGETS) -> dict:
    """Estimated latency of ``bundle_dir`` beside ``reference_dir`` (the FP32 bundle), per target core: ms per model
    and end to end (mean over ``images``, 1 thread), instructions, and the ratio to the reference. Each bundle runs
    on the inputs its own pipeline makes of the images."""
    from .cores import parse_target

    parsed = [parse_target(text) for text in targets]
    missing = [path for path in images if not os.path.isfile(path)]
    if missing:
        raise EdgeOCRError(f"estimate images not found: {', '.join(missing)}")
    shapes = input_shapes(images, bundle_dir, models_dir)
    reference_shapes = input_shapes(images, reference_dir, models_dir)
    rows = {}
    for target in parsed:
        log.info("estimating %s and its FP32 reference on %s", bundle_dir, target.label)
        ours = estimate_bundle(bundle_dir, shapes, target)
        theirs = estimate_bundle(reference_dir, reference_shapes, target)
        mine, ref = _summary(ours), _summary(theirs)
        ratio = {key[:-3]: round(mine[key] / ref[key], 3) for key in mine
                 if key.endswith("_ms") and ref.get(key)}
        rows[target.label] = {"bundle": mine, "fp32": ref, "ratio": ratio, "validation": validation_text(ours),
                              "mca": ours["mca"]}
    return {"estimate": True, "method": METHOD, "threads": 1,
            "images": [os.path.basename(path) for path in images], "targets": rows}


def against_markdown(estimate: dict) -> str:
    """The compress report's section: every figure labelled an estimate, with its method and validation error."""
    lines = ["## Estimated ARM latency (estimates, not measurements)", "",
             f"{estimate['method']}; 1 thread; mean of {', '.join(estimate['images'])}; ms per image.", "",
             "| core | det ms (est.) | rec ms (est.) | end-to-end ms (est.) | FP32 end-to-end ms (est.) | det × FP32 | "
             "end-to-end × FP32 | validation error |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, row in estimate["targets"].items():
        mine, ratio = row["bundle"], row["ratio"]
        lines.append(f"| {label} | {mine.get('det_ms', 0):.1f} | {mine.get('rec_ms', 0):.1f} | {mine['e2e_ms']:.1f} | "
                     f"{row['fp32']['e2e_ms']:.1f} | {ratio.get('det', float('nan')):.2f} | "
                     f"{ratio.get('e2e', float('nan')):.2f} | {row['validation']} |")
    return "\n".join(lines)
