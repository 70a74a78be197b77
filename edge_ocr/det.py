"""Text detection: DB (Differentiable Binarization) pre-processing, inference and post-processing.

Follows PaddleOCR 2.8.1's ``DetResizeForTest`` + ``NormalizeImage`` + ``DBPostProcess`` + ``filter_tag_det_res``
step for step, so that boxes match PaddleOCR's to the pixel.
"""

from __future__ import annotations

import functools
import logging
import math

import cv2
import numpy as np
import pyclipper

from .config import MAX_DET_PIXELS, MAX_DET_SIDE, DetParams
from .engines.base import Engine

log = logging.getLogger(__name__)


def resize_for_det(image: np.ndarray, params: DetParams) -> tuple[np.ndarray, float, float]:
    """Resize so the limited side fits ``limit_side_len`` and both sides are multiples of 32."""
    h, w = image.shape[:2]
    if h + w < 64:  # tiny images are padded to at least 32x32 first, as PaddleOCR does
        padded = np.zeros((max(32, h), max(32, w), 3), np.uint8)
        padded[:h, :w] = image
        image = padded
        h, w = image.shape[:2]
    limit = params.limit_side_len
    if params.limit_type == "max":
        ratio = float(limit) / max(h, w) if max(h, w) > limit else 1.0
    elif params.limit_type == "min":
        ratio = (float(limit) / h if h < w else float(limit) / w) if min(h, w) < limit else 1.0
    elif params.limit_type == "resize_long":
        ratio = float(limit) / max(h, w)
    else:
        raise ValueError(f"unknown limit_type {params.limit_type!r}")
    # "min" raises the short side, so a thin strip could ask for a huge input: the long side and the area stay within
    # bounds (the C++ core's PreprocessDet does the same).
    ratio = min(ratio, MAX_DET_SIDE / max(h, w), math.sqrt(MAX_DET_PIXELS / (h * w)))
    resize_h = max(int(round(int(h * ratio) / 32) * 32), 32)
    resize_w = max(int(round(int(w * ratio) / 32) * 32), 32)
    resized = cv2.resize(image, (resize_w, resize_h))
    return resized, resize_h / float(h), resize_w / float(w)


@functools.lru_cache(maxsize=8)
def _normalize_lut(mean: tuple, std: tuple, scale: float) -> np.ndarray:
    """3x256 table of (v * scale - mean_c) / std_c, computed with PaddleOCR's float32 operations."""
    levels = np.repeat(np.arange(256, dtype=np.float32)[:, None], 3, axis=1)
    levels *= np.float32(scale)
    levels -= np.asarray(mean, np.float32)
    levels /= np.asarray(std, np.float32)
    return np.ascontiguousarray(levels.T)


def normalize_to_chw(image: np.ndarray, mean, std, scale: float) -> np.ndarray:
    """(x * scale - mean) / std as float32, HWC BGR uint8 -> CHW.

    A uint8 pixel has 256 values, so a per-channel lookup table gives bit-identical results to the
    element-wise arithmetic at a fraction of the cost.
    """
    lut = _normalize_lut(tuple(mean), tuple(std), float(scale))
    out = np.empty((3,) + image.shape[:2], np.float32)
    for channel, plane in enumerate(cv2.split(image)):
        out[channel] = lut[channel][plane]
    return out


def preprocess_det(image: np.ndarray, params: DetParams) -> np.ndarray:
    """BGR uint8 image -> 1x3xHxW float32 network input."""
    resized, _, _ = resize_for_det(image, params)
    return normalize_to_chw(resized, params.mean, params.std, params.scale)[None]


# ---------------------------------------------------------------- DB post-processing


def mini_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimum-area rectangle of a contour as 4 points (clockwise from top-left) and its shorter side."""
    rect = cv2.minAreaRect(contour)
    points = sorted(list(cv2.boxPoints(rect)), key=lambda p: p[0])
    i1, i4 = (0, 1) if points[1][1] > points[0][1] else (1, 0)
    i2, i3 = (2, 3) if points[3][1] > points[2][1] else (3, 2)
    return np.array([points[i1], points[i2], points[i3], points[i4]]), min(rect[1])


def box_score_fast(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the box polygon (rasterised on its bounding rectangle)."""
    h, w = prob.shape[:2]
    box = box.copy()
    xmin = np.clip(np.floor(box[:, 0].min()).astype(np.int32), 0, w - 1)
    xmax = np.clip(np.ceil(box[:, 0].max()).astype(np.int32), 0, w - 1)
    ymin = np.clip(np.floor(box[:, 1].min()).astype(np.int32), 0, h - 1)
    ymax = np.clip(np.ceil(box[:, 1].max()).astype(np.int32), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    box[:, 0] -= xmin
    box[:, 1] -= ymin
    cv2.fillPoly(mask, box.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0]


def box_score_slow(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability inside the contour itself."""
    h, w = prob.shape[:2]
    contour = np.reshape(contour.copy(), (-1, 2))
    xmin, xmax = np.clip(contour[:, 0].min(), 0, w - 1), np.clip(contour[:, 0].max(), 0, w - 1)
    ymin, ymax = np.clip(contour[:, 1].min(), 0, h - 1), np.clip(contour[:, 1].max(), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    contour[:, 0] -= xmin
    contour[:, 1] -= ymin
    cv2.fillPoly(mask, contour.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0]


def polygon_area_perimeter(points: np.ndarray) -> tuple[float, float]:
    pts = np.asarray(points, dtype=np.float64)
    x, y = pts[:, 0], pts[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    perimeter = float(np.sum(np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)))
    return area, perimeter


def unclip(box: np.ndarray, ratio: float) -> list:
    """Grow a polygon by area * ratio / perimeter (the DB paper's offset), with Clipper's round joins."""
    area, perimeter = polygon_area_perimeter(box)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return offset.Execute(area * ratio / perimeter) if perimeter > 0 else []


def boxes_from_prob_map(
    prob: np.ndarray, params: DetParams, dest_width: int, dest_height: int
) -> tuple[np.ndarray, list[float]]:
    """DB post-processing of one HxW probability map into int32 boxes in original-image pixels."""
    bitmap = prob > params.thresh
    if params.use_dilation:
        bitmap = cv2.dilate(bitmap.astype(np.uint8), np.array([[1, 1], [1, 1]])).astype(bool)
    height, width = bitmap.shape
    contours, _ = cv2.findContours((bitmap * 255).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes, scores = [], []
    for contour in contours[: params.max_candidates]:
        points, short_side = mini_box(contour)
        if short_side < params.min_size:
            continue
        if params.score_mode == "fast":
            score = box_score_fast(prob, points.reshape(-1, 2))
        else:
            score = box_score_slow(prob, contour)
        if not math.isfinite(score) or params.box_thresh > score:  # NaN/inf pixels inside: not a result
            continue
        expanded = unclip(points, params.unclip_ratio)
        if len(expanded) != 1:  # the offset split or vanished
            continue
        box, short_side = mini_box(np.array(expanded).reshape(-1, 1, 2))
        if short_side < params.min_size + 2:
            continue
        box = np.array(box)
        box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_width), 0, dest_width)
        box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_height), 0, dest_height)
        boxes.append(box.astype(np.int32))
        scores.append(float(score))
    return np.array(boxes, dtype=np.int32).reshape(-1, 4, 2), scores


def order_points_clockwise(pts: np.ndarray) -> np.ndarray:
    rect = np.zeros((4, 2), dtype=np.float32)
    s = pts.sum(axis=1)
    rect[0] = pts[np.argmin(s)]
    rect[2] = pts[np.argmax(s)]
    rest = np.delete(pts, (np.argmin(s), np.argmax(s)), axis=0)
    diff = np.diff(np.array(rest), axis=1)
    rect[1] = rest[np.argmin(diff)]
    rect[3] = rest[np.argmax(diff)]
    return rect


def clip_and_filter(boxes: np.ndarray, image_height: int, image_width: int) -> np.ndarray:
    """Order corners, clip to the image and drop boxes 3 px or thinner (PaddleOCR's filter_tag_det_res)."""
    kept = []
    for box in boxes:
        box = order_points_clockwise(box)
        box[:, 0] = np.floor(np.clip(box[:, 0], 0, image_width - 1))
        box[:, 1] = np.floor(np.clip(box[:, 1], 0, image_height - 1))
        if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
            continue
        kept.append(box)
    return np.array(kept, dtype=np.float32).reshape(-1, 4, 2)


class TextDetector:
    """Image in, text boxes (float32 Nx4x2, original pixels) and their DB scores out."""

    def __init__(self, engine: Engine, params: DetParams | None = None) -> None:
        self.engine = engine
        self.params = params or DetParams()

    def prob_map(self, image: np.ndarray) -> np.ndarray:
        """The network's HxW probability map for ``image`` (at network resolution)."""
        return self.engine.run(preprocess_det(image, self.params))[0, 0]

    def postprocess(self, prob: np.ndarray, image_shape: tuple[int, ...]) -> tuple[np.ndarray, list[float]]:
        height, width = image_shape[:2]
        nonfinite = prob.size - int(np.count_nonzero(np.isfinite(prob)))
        if nonfinite:  # some runtimes return NaN (Paddle Lite 2.13's x86 int8 kernels)
            log.warning("the detector returned %d non-finite values of %d: boxes over them are dropped", nonfinite,
                        prob.size)
        boxes, scores = boxes_from_prob_map(prob, self.params, width, height)
        kept_boxes, kept_scores = [], []
        for box, score in zip(boxes, scores):
            filtered = clip_and_filter(box[None], height, width)
            if len(filtered):
                kept_boxes.append(filtered[0])
                kept_scores.append(score)
        return np.array(kept_boxes, dtype=np.float32).reshape(-1, 4, 2), kept_scores

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, list[float]]:
        return self.postprocess(self.prob_map(image), image.shape)
