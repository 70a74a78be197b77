"""Text recognition: CRNN inference on aspect-ratio-sorted batches and greedy CTC decoding."""

from __future__ import annotations

import logging

import numpy as np

from .cls import resize_norm_padded
from .config import RecParams
from .engines.base import Engine
from .errors import ModelError

log = logging.getLogger(__name__)


def load_charset(path: str, use_space_char: bool = True) -> list[str]:
    """CTC classes: the blank (index 0), the dictionary's characters, then the space if ``use_space_char``."""
    try:
        with open(path, "rb") as handle:
            chars = [line.decode("utf-8").strip("\n").strip("\r\n") for line in handle]
    except OSError as exc:
        raise ModelError(f"cannot read dictionary {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"dictionary {path} is not UTF-8 text") from exc
    if not chars:
        raise ModelError(f"dictionary {path} is empty")
    if use_space_char:
        chars.append(" ")
    return ["blank"] + chars


def ctc_greedy_decode(probs: np.ndarray, charset: list[str]) -> list[tuple[str, float]]:
    """Best path: argmax per step, merge repeats, drop blanks; score = mean probability of kept steps.

    A sequence with any non-finite value decodes to ("", 0.0): its argmax means nothing."""
    best = probs.argmax(axis=2)
    best_prob = probs.max(axis=2)
    finite = np.isfinite(probs).all(axis=(1, 2))
    results = []
    for idx, prob, ok in zip(best, best_prob, finite):
        if not ok:
            results.append(("", 0.0))
            continue
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        text = "".join(charset[i] for i in idx[keep])
        kept = prob[keep]
        results.append((text, float(np.mean(kept)) if len(kept) else 0.0))
    return results


class TextRecognizer:
    """Crops in, (text, score) per crop out."""

    def __init__(self, engine: Engine, dictionary: str, params: RecParams | None = None) -> None:
        self.engine = engine
        self.params = params or RecParams()
        self.charset = load_charset(dictionary, self.params.use_space_char)
        self._checked = False

    def _check_classes(self, probs: np.ndarray) -> None:
        if probs.ndim != 3 or probs.shape[2] != len(self.charset):
            raise ModelError(
                f"dictionary has {len(self.charset)} classes (with blank"
                f"{' and space' if self.params.use_space_char else ''}) but the recognizer outputs "
                f"{probs.shape[-1]}: wrong dictionary for this model"
            )
        self._checked = True

    def batches(self, crops: list[np.ndarray]):
        """(crop indices, 3x32xW batch) as inference builds them: sorted by aspect ratio, ``batch_size`` at a time,
        each batch as wide as its widest crop needs and never narrower than the base width."""
        _, height, base_width = self.params.image_shape
        ratios = np.array([c.shape[1] / float(c.shape[0]) for c in crops])
        order = np.argsort(ratios, kind="stable")  # stable: the C++ core batches identically
        step = self.params.batch_size
        for start in range(0, len(crops), step):
            ids = order[start : start + step]
            width = int(height * max(base_width / height, float(ratios[ids].max())))
            yield ids, np.stack([resize_norm_padded(crops[i], height, width) for i in ids])

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for ids, batch in self.batches(crops):
            probs = self.engine.run(batch)
            if not self._checked:
                self._check_classes(probs)
            bad = int(np.count_nonzero(~np.isfinite(probs).all(axis=(1, 2))))
            if bad:
                log.warning("the recognizer returned non-finite values for %d of %d text lines: dropped", bad,
                            len(probs))
            for i, decoded in zip(ids, ctc_greedy_decode(probs, self.charset)):
                results[i] = decoded
        return results


