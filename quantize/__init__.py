"""Host-side compression of the PP-OCRv2 models, in three rooms, each standing only on the ones before it.

``quantize.nets`` (the dygraph networks, their weights, pruned networks, export), ``quantize.train`` (the training
loops, losses, augmentation, QAT) and ``quantize.compress`` (calibration, PTQ, sensitivity, pruning plans, recipes).
The main entry points are one import away and load their room (and paddle) only when first used::

    from quantize import det_calibration, quantize_ptq

    quantize_ptq("ch_PP-OCRv2_det_infer", det_calibration("train_label.txt"), "out/det")
"""

from __future__ import annotations

import importlib

_API = {
    "load_official": "quantize.nets.registry",
    "export_models": "quantize.nets.registry",
    "build_network": "quantize.nets.pruned",
    "apply_plan": "quantize.nets.pruned",
    "load_plan": "quantize.nets.pruned",
    "save_inference_model": "quantize.nets.export",
    "train_det": "quantize.train.det",
    "DetTrainConfig": "quantize.train.det",
    "train_rec": "quantize.train.rec",
    "RecTrainConfig": "quantize.train.rec",
    "train_cls": "quantize.train.cls",
    "ClsTrainConfig": "quantize.train.cls",
    "quantize_aware": "quantize.train.qat",
    "save_qat_model": "quantize.train.qat",
    "det_calibration": "quantize.compress.calibration",
    "rec_calibration": "quantize.compress.calibration",
    "cls_calibration": "quantize.compress.calibration",
    "quantize_ptq": "quantize.compress.ptq",
    "quantizable_layers": "quantize.compress.program",
    "layer_sensitivity": "quantize.compress.sensitivity",
    "prune_model": "quantize.compress.prune",
    "PTQOptions": "quantize.compress.recipes",
    "TrainRecipeOptions": "quantize.compress.recipes",
    "quantize_models": "quantize.compress.recipes",
    "train_models": "quantize.compress.recipes",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:  # anything else (a room: ``from quantize import compress``) is Python's to find
        raise AttributeError(f"module 'quantize' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
