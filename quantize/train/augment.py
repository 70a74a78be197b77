"""Training augmentations. CopyPaste (PP-OCRv2 for the detector): paste text instances, cut out with their polygon
masks from another image, at places that overlap no existing text, and add them to the labels. ``rec_augment``: the
word-crop augmentations of CRNN-style training (geometric jitter, blur, colour, noise) that keep the text readable."""

from __future__ import annotations

import cv2
import numpy as np

from edge_ocr.evaluation.labels import DONT_CARE


def _bbox(points) -> tuple[int, int, int, int]:
    pts = np.asarray(points, dtype=np.float32)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _overlaps(a, b, margin: int = 2) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def copy_paste(
    image: np.ndarray,
    boxes: list[dict],
    donor_image: np.ndarray,
    donor_boxes: list[dict],
    rng: np.random.Generator,
    max_instances: int = 3,
    tries: int = 20,
) -> tuple[np.ndarray, list[dict]]:
    """Return a copy of ``image`` with up to ``max_instances`` text instances of the donor pasted in, and the labels.

    ``boxes`` and ``donor_boxes`` are ``{"points": [[x, y], ...], "transcription": str}`` as in PaddleOCR labels.
    Don't-care instances are never pasted; a pasted instance overlaps no box of the image, pasted ones included.
    """
    out = image.copy()
    labels = [dict(b) for b in boxes]
    occupied = [_bbox(b["points"]) for b in labels]
    height, width = out.shape[:2]
    candidates = [b for b in donor_boxes if b["transcription"] not in DONT_CARE]
    for index in rng.permutation(len(candidates))[:max_instances]:
        source = candidates[int(index)]
        x0, y0, x1, y1 = _bbox(source["points"])
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, donor_image.shape[1]), min(y1, donor_image.shape[0])
        w, h = x1 - x0, y1 - y0
        if w < 2 or h < 2 or w >= width or h >= height:
            continue
        patch = donor_image[y0:y1, x0:x1]
        polygon = np.asarray(source["points"], dtype=np.float32) - [x0, y0]
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        for _ in range(tries):
            tx, ty = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            target = (tx, ty, tx + w, ty + h)
            if any(_overlaps(target, other) for other in occupied):
                continue
            region = out[ty : ty + h, tx : tx + w]
            region[mask > 0] = patch[mask > 0]
            placed = (polygon + [tx, ty]).round().astype(int).tolist()
            labels.append({"points": placed, "transcription": source["transcription"]})
            occupied.append(_bbox(placed))
            break
    return out, labels


def rec_augment(crop: np.ndarray, rng: np.random.Generator, p: float = 0.4) -> np.ndarray:
    """Each with probability ``p``: a small perspective warp (corners moved by up to 6% of the height), edge crop
    jitter (up to 4% of the width, 8% of the height per side), Gaussian blur, brightness/contrast jitter, Gaussian
    noise. The label does not change: nothing here can cut a character away or mirror the text."""
    out = crop
    h, w = out.shape[:2]
    if h < 4 or w < 4:
        return out
    if rng.random() < p:
        d = 0.06 * h
        src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
        dst = (src + rng.uniform(-d, d, size=(4, 2))).astype(np.float32)
        out = cv2.warpPerspective(out, cv2.getPerspectiveTransform(src, dst), (w, h),
                                  borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < p:
        x0, x1 = (int(rng.integers(0, max(1, int(0.04 * w)) + 1)) for _ in range(2))
        y0, y1 = (int(rng.integers(0, max(1, int(0.08 * h)) + 1)) for _ in range(2))
        if w - x0 - x1 >= 4 and h - y0 - y1 >= 4:
            out = out[y0 : h - y1, x0 : w - x1]
    if rng.random() < p:
        out = cv2.GaussianBlur(out, (3, 3), float(rng.uniform(0.3, 1.2)))
    if rng.random() < p:
        out = np.clip(out.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
    if rng.random() < p:
        out = np.clip(out.astype(np.float32) + rng.normal(0, rng.uniform(2, 8), out.shape), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)
