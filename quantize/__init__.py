"""Host-side compression of the PP-OCRv2 models, in three rooms, each standing only on the ones before it.

``quantize.nets`` (the dygraph networks, their weights, pruned networks, export), ``quantize.train`` (the training
loops, losses, augmentation, QAT) and ``quantize.compress`` (calibration, PTQ, sensitivity, pruning plans, recipes).
The main entry points are one import away and load their room (and paddle) only when first used::

    from edge_ocr.host.quantize import det_calibration, quantize_ptq

    quantize_ptq("ch_PP-OCRv2_det_infer", det_calibration("train_label.txt"), "out/det")
"""

from __future__ import annotations

import importlib

_API = {
    "load_official": "edge_ocr.host.quantize.nets.registry",
    "export_models": "edge_ocr.host.quantize.nets.registry",
    "build_network": "edge_ocr.host.quantize.nets.pruned",
    "apply_plan": "edge_ocr.host.quantize.nets.pruned",
    "load_plan": "edge_ocr.host.quantize.nets.pruned",
    "save_inference_model": "edge_ocr.host.quantize.nets.export",
    "train_det": "edge_ocr.host.quantize.train.det",
    "DetTrainConfig": "edge_ocr.host.quantize.train.det",
    "train_rec": "edge_ocr.host.quantize.train.rec",
    "RecTrainConfig": "edge_ocr.host.quantize.train.rec",
    "train_cls": "edge_ocr.host.quantize.train.cls",
    "ClsTrainConfig": "edge_ocr.host.quantize.train.cls",
    "quantize_aware": "edge_ocr.host.quantize.train.qat",
    "save_qat_model": "edge_ocr.host.quantize.train.qat",
    "det_calibration": "edge_ocr.host.quantize.compress.calibration",
    "rec_calibration": "edge_ocr.host.quantize.compress.calibration",
    "cls_calibration": "edge_ocr.host.quantize.compress.calibration",
    "quantize_ptq": "edge_ocr.host.quantize.compress.ptq",
    "quantizable_layers": "edge_ocr.host.quantize.compress.program",
    "layer_sensitivity": "edge_ocr.host.quantize.compress.sensitivity",
    "prune_model": "edge_ocr.host.quantize.compress.prune",
    "PTQOptions": "edge_ocr.host.quantize.compress.recipes",
    "TrainRecipeOptions": "edge_ocr.host.quantize.compress.recipes",
    "quantize_models": "edge_ocr.host.quantize.compress.recipes",
    "train_models": "edge_ocr.host.quantize.compress.recipes",
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
