"""Compression recipes: models in, a deployable bundle (plus its x86 twin and a report) out.

``compress_ptq`` quantizes det, cls and rec with PTQ, exports the target bundle and the x86 twin from the same
quantized models, and scores FP32 against the twin (what ships, run here through Paddle Lite).
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import time
from dataclasses import dataclass, field

from edge_ocr.errors import EdgeOCRError
from edge_ocr.models import resolve_models

from .calibration import cls_calibration, det_calibration, rec_calibration
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


def artifacts_dir(out_dir: str) -> str:
    return os.path.abspath(out_dir).rstrip("/") + "-artifacts"


def quantize_models(models_dir: str, calib_det: str, calib_rec: str, out_dir: str, options: PTQOptions) -> str:
    """PTQ of det, cls and rec into ``out_dir`` laid out as a model folder (det/, cls/, rec/, dictionary)."""
    paths = resolve_models(models_dir)
    os.makedirs(out_dir, exist_ok=True)
    jobs = [
        ("det", paths.det, lambda: det_calibration(calib_det, options.det_images), options.det_algo),
        ("cls", paths.cls, lambda: cls_calibration(calib_rec, options.rec_crops), options.cls_algo),
        ("rec", paths.rec, lambda: rec_calibration(calib_rec, options.rec_crops), options.rec_algo),
    ]
    for role, model_dir, calibration, algo in jobs:
        start = time.perf_counter()
        log.info("PTQ %s (%s)", role, algo)
        quantize_ptq(model_dir, calibration(), os.path.join(out_dir, role), algo=algo,
                     per_channel=options.per_channel, skip_layers=options.keep_fp32.get(role, ()))
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
    """The metrics whose drop exceeds ``max_drop`` points."""
    if max_drop is None:
        return []
    return [f"{k} fell {v:.2f} points (> {max_drop})" for k, v in drop.items() if v > max_drop]


def bundle_files(bundle_dir: str) -> dict[str, int]:
    from edge_ocr.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    return {name: os.path.getsize(os.path.join(bundle_dir, name)) for name in bundle.manifest["files"]}


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def require(path: str | None, what: str) -> None:
    if path and not os.path.exists(path):
        raise EdgeOCRError(f"{what} {path} does not exist")
