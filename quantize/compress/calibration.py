"""Calibration inputs, preprocessed exactly as at inference so activation ranges match what the models see.

Each function returns a list of float32 NCHW batches (the ``calibration_data`` of ``quantize_ptq``). Calibration
reads train splits only: a label file whose name says "test", or that an evaluation domain scores in full, is
refused, and the tail of TD500's train labels that the ``td500`` domain scores is left out (``merge_label_files``).
"""

from __future__ import annotations

import json
import os
import random

import numpy as np

from edge_ocr.cls import TextClassifier, resize_norm_padded
from edge_ocr.config import ClsParams, DetParams, RecParams
from edge_ocr.det import preprocess_det
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.domains import usable_part
from edge_ocr.evaluation.labels import read_det_labels, read_rec_labels
from edge_ocr.images import load_image
from edge_ocr.rec import TextRecognizer


def _refuse_test_split(label_file: str) -> None:
    if "test" in os.path.basename(label_file).lower() or usable_part(label_file) is None:
        raise EdgeOCRError(f"{label_file}: calibration and training must use a train split, never a test set or an "
                           "evaluation domain's dev split")


def label_files(values: list[str]) -> list[str]:
    """Label files given as repeated and/or comma-separated option values."""
    return [path for value in values for path in value.split(",") if path]


def merge_label_files(paths: list[str], kind: str, out_file: str, seed: int = 0) -> str:
    """One label file for calibration and training from several train files: each without the part an evaluation
    domain scores, absolute image paths, shuffled together (seeded) so that a dev split cut from its end draws from
    every source. A single file that needs no cutting is returned as it is."""
    for path in paths:
        _refuse_test_split(path)
    parts = [usable_part(path) for path in paths]
    if len(paths) == 1 and parts[0] == slice(None):
        return paths[0]
    if kind == "det":
        rows = [f"{s.image}\t" + json.dumps([{"transcription": b.text, "points": [list(p) for p in b.points]}
                                             for b in s.boxes], ensure_ascii=False)
                for path, part in zip(paths, parts) for s in read_det_labels(path)[part]]
    else:
        rows = [f"{s.image}\t{s.text}" for path, part in zip(paths, parts) for s in read_rec_labels(path)[part]]
    random.Random(seed).shuffle(rows)
    from edge_ocr.atomic import write_text

    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    write_text(out_file, "\n".join(rows) + "\n")
    return out_file


def _pick(items: list, limit: int | None, seed: int) -> list:
    items = list(items)
    if limit and len(items) > limit:
        items = random.Random(seed).sample(items, limit)
    return items


def det_calibration(
    label_file: str, limit: int = 32, params: DetParams | None = None, seed: int = 0
) -> list[np.ndarray]:
    """1x3xHxW inputs from the images of a detection label file (same resize rule as inference)."""
    _refuse_test_split(label_file)
    params = params or DetParams()
    samples = _pick(read_det_labels(label_file), limit, seed)
    return [preprocess_det(load_image(s.image).image, params) for s in samples]


def _crops(label_file: str, limit: int, seed: int) -> list[np.ndarray]:
    _refuse_test_split(label_file)
    samples = _pick(read_rec_labels(label_file), limit, seed)
    return [load_image(s.image).image for s in samples]


class _NoEngine:
    name = "none"
    model_path = ""

    def run(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - never called
        raise RuntimeError("calibration builds batches only")


def rec_calibration(
    label_file: str, limit: int = 240, params: RecParams | None = None, seed: int = 0
) -> list[np.ndarray]:
    """Nx3x32xW batches of word crops, sorted, grouped and padded exactly as the recognizer does."""
    params = params or RecParams()
    recognizer = TextRecognizer.__new__(TextRecognizer)
    recognizer.params = params
    return [batch for _, batch in recognizer.batches(_crops(label_file, limit, seed))]


def rec_train_images(label_file: str, limit: int = 3000, seed: int = 0) -> np.ndarray:
    """N × 3 × 32 × 320 word crops (resized and padded as in training) from a train label file, seeded sample."""
    return np.stack([resize_norm_padded(crop, 32, 320) for crop in _crops(label_file, limit, seed)])


def cls_calibration(
    label_file: str, limit: int = 240, params: ClsParams | None = None, seed: int = 0
) -> list[np.ndarray]:
    """Nx3x48x192 batches of text-line crops, as the direction classifier builds them."""
    classifier = TextClassifier(_NoEngine(), params or ClsParams())
    return [batch for _, batch in classifier.batches(_crops(label_file, limit, seed))]
