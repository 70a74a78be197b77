"""Text-line direction classification (0 or 180 degrees) and rotation of upside-down crops."""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from .config import ClsParams
from .engines.base import Engine
from .errors import ModelError

log = logging.getLogger(__name__)


def resize_norm_padded(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to ``height`` keeping aspect (at most ``width``), scale to [-1, 1], zero-pad right: 3xHxW."""
    h, w = image.shape[:2]
    ratio = w / float(h)
    resized_w = width if math.ceil(height * ratio) > width else int(math.ceil(height * ratio))
    resized = cv2.resize(image, (resized_w, height)).astype(np.float32)
    resized = resized.transpose((2, 0, 1)) / 255
    resized -= 0.5
    resized /= 0.5
    padded = np.zeros((3, height, width), dtype=np.float32)
    padded[:, :, :resized_w] = resized
    return padded


class TextClassifier:
    """Crops in; the same crops (upside-down ones rotated) and each crop's (label, score) out."""

    def __init__(self, engine: Engine, params: ClsParams | None = None) -> None:
        self.engine = engine
        self.params = params or ClsParams()

    def batches(self, crops: list[np.ndarray]):
        """(crop indices, 3x48x192 batch) as inference builds them: sorted by aspect ratio, ``batch_size`` at a time."""
        _, height, width = self.params.image_shape
        order = np.argsort(np.array([c.shape[1] / float(c.shape[0]) for c in crops]), kind="stable")
        step = self.params.batch_size
        for start in range(0, len(crops), step):
            ids = order[start : start + step]
            yield ids, np.stack([resize_norm_padded(crops[i], height, width) for i in ids])

    def __call__(self, crops: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
        crops = list(crops)
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for ids, batch in self.batches(crops):
            probs = self.engine.run(batch)
            if probs.ndim != 2 or probs.shape[1] != len(self.params.labels):
                raise ModelError(f"the classifier outputs {probs.shape[-1]} classes but cls.labels has "
                                 f"{len(self.params.labels)}")
            for i, row in zip(ids, probs):
                if not np.isfinite(row).all():  # NaN/inf: no direction can be read from it, the crop stays as it is
                    log.warning("the classifier returned non-finite values: crop left unrotated")
                    results[i] = (self.params.labels[0], 0.0)
                    continue
                label = self.params.labels[int(row.argmax())]
                score = float(row.max())
                results[i] = (label, score)
                if "180" in label and score > self.params.thresh:
                    crops[i] = cv2.rotate(crops[i], cv2.ROTATE_180)
        return crops, results
