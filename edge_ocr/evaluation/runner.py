"""Run a pipeline over labelled data and score it: the engine behind ``edge-ocr eval``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from ..errors import EdgeOCRError
from ..images import load_image
from .labels import read_det_labels, read_rec_labels
from .metrics import DetCounts, E2ECounts, score_detection, score_end_to_end, score_recognition

log = logging.getLogger(__name__)


@dataclass
class DetEvaluation:
    det: DetCounts = field(default_factory=DetCounts)  # every detector box (before drop_score)
    det_after_drop: DetCounts = field(default_factory=DetCounts)  # only lines kept after recognition
    e2e: E2ECounts = field(default_factory=E2ECounts)
    images: int = 0
    failed: list[dict] = field(default_factory=list)
    gt_boxes: int = 0
    predictions: list[dict] = field(default_factory=list)
    seconds_scoring: float = 0.0


def _part(samples: list, tail: int | None, limit: int | None) -> list:
    """The last ``tail`` samples (a dev split cut from a train file), then the first ``limit`` of those."""
    return (samples[-tail:] if tail else samples)[: limit or None]


def evaluate_detection(pipeline, label_file: str, limit: int | None = None, progress: bool = True,
                       tail: int | None = None) -> DetEvaluation:
    """Det P/R/Hmean (all detector boxes) and end-to-end P/R/Hmean (kept lines with text) on a det label file."""
    samples = _part(read_det_labels(label_file), tail, limit)
    result = DetEvaluation()
    for sample in tqdm(samples, desc="det+e2e", unit="img", disable=not progress):
        result.images += 1
        result.gt_boxes += len(sample.boxes)
        try:
            loaded = load_image(sample.image, pipeline.params.max_image_pixels)
            analysis = pipeline.analyze(loaded.image, loaded.scale)
        except EdgeOCRError as exc:  # reported, skipped, and its boxes count as missed
            log.warning("%s", exc)
            result.failed.append({"image": sample.image, "error": str(exc)})
            analysis = None
        boxes = analysis.boxes if analysis else []
        lines = analysis.lines if analysis else []
        start = time.perf_counter()
        result.det += score_detection(sample.boxes, boxes)
        result.det_after_drop += score_detection(sample.boxes, [line.box for line in lines])
        result.e2e += score_end_to_end(sample.boxes, [line.box for line in lines], [line.text for line in lines])
        result.seconds_scoring += time.perf_counter() - start
        result.predictions.append({"image": sample.image, "boxes": boxes,
                                   "lines": [line.to_dict() for line in lines]})
    _refuse_if_none_read(result.failed, len(samples), label_file)
    return result


def _refuse_if_none_read(failed: list[dict], total: int, label_file: str) -> None:
    """A few unreadable images are reported and scored as misses; all of them means a wrong path, not a score of 0."""
    if total and len(failed) == total:
        raise EdgeOCRError(f"none of the {total} images of {label_file} could be read (first: {failed[0]['error']}); "
                           "image paths are relative to the label file's folder")


def evaluate_recognition(pipeline, label_file: str, limit: int | None = None, progress: bool = True,
                         chunk: int = 60, tail: int | None = None) -> dict:
    """Feed the labelled word crops straight to the recognizer (no detection, no classifier). A label with a
    character outside the recognizer's charset (a charset bundle) is scored like any other: wrong."""
    samples = _part(read_rec_labels(label_file), tail, limit)
    pairs, failed, predictions = [], [], []
    bar = tqdm(total=len(samples), desc="rec", unit="crop", disable=not progress)
    for start in range(0, len(samples), chunk):
        batch = samples[start : start + chunk]
        images, kept = [], []
        for sample in batch:
            try:
                images.append(load_image(sample.image, pipeline.params.max_image_pixels).image)
                kept.append(sample)
            except EdgeOCRError as exc:
                log.warning("%s", exc)
                failed.append({"image": sample.image, "error": str(exc)})
                pairs.append(("", sample.text))  # counted as wrong
        # The recognizer sorts its input by aspect ratio and batches it, as in the pipeline.
        for sample, (text, score) in zip(kept, pipeline.recognizer(images) if images else []):
            pairs.append((text, sample.text))
            predictions.append({"image": sample.image, "text": text, "score": round(score, 6), "truth": sample.text})
        bar.update(len(batch))
    bar.close()
    _refuse_if_none_read(failed, len(samples), label_file)
    out = score_recognition(pairs).to_dict()
    known = set(pipeline.recognizer.charset)
    out["out_of_charset"] = sum(not set(sample.text) <= known for sample in samples)  # lines it cannot read
    out["failed"] = failed
    out["predictions"] = predictions
    return out
