"""Recognition sets cut from a detection-labelled photo set and read by the FP32 models: real lines without
transcriptions become labelled line crops.

MSRA-TD500 labels its lines' boxes but not their text, and ``zh_synth``'s rendered lines come from the generator that
training also uses. ``read_lines`` cuts every cared-for line out as the pipeline does (perspective crop, tall lines
turned, the FP32 classifier's 180° turn) and keeps those the FP32 recognizer reads surely (score >= ``min_score``),
labelled with that reading:

- the lines of the images training may use (``usable_part``: TD500 without its dev tail) are train crops: QAT and
  distillation see real Chinese + English signs, with the spaces FP32 reads in them;
- the lines of the dev tail are the ``td500_lines`` domain. A compressed recognizer's accuracy there is its
  **agreement with FP32 on real photos** (FP32 scores 1.0 by construction), not accuracy against human labels;
  lines FP32 reads unsurely are left out, so it says nothing about them.

    edge-ocr read-lines [--det-labels TD500_LABELS] [--out data/td500_lines] [--min-score 0.9]
"""

from __future__ import annotations

import logging
import os
import time

import cv2
import numpy as np

from edge_ocr.atomic import replace_dir, write_json, write_text
from edge_ocr.evaluation.domains import TD500_DEV_IMAGES
from edge_ocr.evaluation.labels import DetSample, read_det_labels
from edge_ocr.geometry import crop_text_line
from edge_ocr.images import load_image

log = logging.getLogger(__name__)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _boxes(pipeline, sample: DetSample, image: np.ndarray, boxes: str) -> list[np.ndarray]:
    if boxes == "detector":  # what the pipeline hands the recognizer: the FP32 detector's unclipped boxes
        return pipeline.detect(image)[0]
    return [np.array(box.points, dtype=np.float32) for box in sample.boxes if not box.dont_care]


def _read_split(pipeline, samples: list[DetSample], min_score: float, out_dir: str, split: str,
                progress: bool, boxes: str = "labels") -> dict:
    from tqdm import tqdm

    rows, kept, scores = [], [], []
    for sample in tqdm(samples, desc=f"read lines ({split})", unit="image", disable=not progress):
        image = load_image(sample.image, pipeline.params.max_image_pixels).image
        crops = [crop_text_line(image, box, pipeline.params.crop.rotate_ratio)
                 for box in _boxes(pipeline, sample, image, boxes)]
        if not crops:
            continue
        if pipeline.classifier is not None:
            crops, _ = pipeline.classifier(crops)
        stem = os.path.splitext(os.path.basename(sample.image))[0]
        for index, (crop, (text, score)) in enumerate(zip(crops, pipeline.recognizer(crops))):
            scores.append(score)
            if score < min_score or not text.strip():
                continue
            name = f"{split}/{stem}_{index:02d}.png"
            if not cv2.imwrite(os.path.join(out_dir, name), crop):
                raise OSError(f"cannot write {name}")
            rows.append(f"{name}\t{text}")
            kept.append(text)
    write_text(os.path.join(out_dir, f"rec_{split}.txt"), "\n".join(rows) + ("\n" if rows else ""))
    chars = "".join(kept)
    return {
        "images": len(samples), "lines": len(scores), "kept": len(kept),
        "kept_with_chinese": sum(any(map(_is_cjk, t)) for t in kept),
        "kept_with_spaces": sum(" " in t for t in kept),
        "chinese_char_share": round(sum(map(_is_cjk, chars)) / max(1, len(chars)), 4),
        "mean_chars": round(len(chars) / max(1, len(kept)), 2),
        "fp32_score_median": round(float(np.median(scores)), 4) if scores else None,
    }


def read_lines(det_labels: str, out_dir: str, models: str | None = None, dev_tail: int = TD500_DEV_IMAGES,
               min_score: float = 0.9, threads: int = 2, progress: bool = True, boxes: str = "labels") -> dict:
    """Write ``out_dir``/rec_train.txt (lines of all but the last ``dev_tail`` images) and rec_dev.txt (lines of
    those), their crops, and lines.json; returns the summary in lines.json. ``models``: FP32 inference models
    (default: PP-OCRv2). ``boxes``: "labels" (the labelled boxes, don't-care ones left out) or "detector" (the FP32
    detector's boxes: the crops the pipeline gives the recognizer, looser than labelled ones). The folder is replaced
    only once complete."""
    if boxes not in ("labels", "detector"):
        raise ValueError("boxes is 'labels' or 'detector'")
    from edge_ocr.pipeline import OCRPipeline

    start = time.perf_counter()
    samples = read_det_labels(det_labels)
    if dev_tail < 0 or dev_tail > len(samples):
        raise ValueError(f"dev_tail must be between 0 and the {len(samples)} images of {det_labels}")
    pipeline = OCRPipeline.from_models(models, engine="paddle", threads=threads)
    out_dir = os.path.abspath(out_dir)
    staging = out_dir.rstrip("/") + ".partial"
    splits = {"train": samples[: len(samples) - dev_tail], "dev": samples[len(samples) - dev_tail :]}
    summary = {"det_labels": det_labels, "models": models or "PP-OCRv2 (official)", "min_score": min_score,
               "dev_tail": dev_tail, "boxes": boxes}
    for split, part in splits.items():
        os.makedirs(os.path.join(staging, split), exist_ok=True)
        summary[split] = _read_split(pipeline, part, min_score, staging, split, progress, boxes)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    write_json(os.path.join(staging, "lines.json"), summary)
    replace_dir(staging, out_dir)
    log.info("read-lines: %s", summary)
    return summary
