"""DB training targets (Differentiable Binarization, Liao et al. 2020) from polygon labels.

- shrink map: each text polygon shrunk by D = A (1 − r²) / L (r = 0.4), filled with 1; the shrink mask is 0 over
  don't-care polygons and polygons too small to train on.
- threshold map: inside each polygon dilated by D, 1 − distance-to-the-polygon's-border / D (clipped), the maximum
  over polygons, rescaled to [thresh_min, thresh_max]; the threshold mask is 1 inside the dilated polygons.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

from edge_ocr.det import polygon_area_perimeter


@dataclass
class DBLabelParams:
    shrink_ratio: float = 0.4
    min_text_size: int = 8
    thresh_min: float = 0.3
    thresh_max: float = 0.7


def _offset(polygon: np.ndarray, distance: float) -> list[np.ndarray]:
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(map(int, p)) for p in np.round(polygon)], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.array(p) for p in offset.Execute(distance)]


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every (x, y) to the segment a-b."""
    ab = b - a
    length2 = float(ab @ ab) or 1e-6
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / length2, 0, 1)
    return np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))


def make_db_labels(height: int, width: int, polygons: list[np.ndarray], ignore: list[bool],
                   params: DBLabelParams | None = None) -> dict[str, np.ndarray]:
    """shrink_map, shrink_mask, threshold_map, threshold_mask (float32 H×W) for polygons in pixel coordinates."""
    p = params or DBLabelParams()
    shrink_map = np.zeros((height, width), np.float32)
    shrink_mask = np.ones((height, width), np.float32)
    border = np.zeros((height, width), np.float32)
    threshold_mask = np.zeros((height, width), np.float32)
    for polygon, dont_care in zip(polygons, ignore):
        polygon = np.asarray(polygon, np.float32)
        sides = polygon.max(axis=0) - polygon.min(axis=0)
        area, perimeter = polygon_area_perimeter(polygon)
        fill = [np.round(polygon).astype(np.int32)]
        if dont_care or min(sides) < p.min_text_size or area < 1 or perimeter <= 0:
            cv2.fillPoly(shrink_mask, fill, 0)
            continue
        distance = area * (1 - p.shrink_ratio**2) / perimeter
        shrunk = _offset(polygon, -distance)
        if len(shrunk) != 1 or len(shrunk[0]) < 3:
            cv2.fillPoly(shrink_mask, fill, 0)
            continue
        cv2.fillPoly(shrink_map, [shrunk[0].astype(np.int32)], 1)
        grown = _offset(polygon, distance)
        if not grown:
            continue
        grown = grown[0]
        cv2.fillPoly(threshold_mask, [grown.astype(np.int32)], 1)
        x0, y0 = np.maximum(grown.min(axis=0), 0)
        x1, y1 = np.minimum(grown.max(axis=0), [width - 1, height - 1])
        if x1 < x0 or y1 < y0:
            continue
        ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32)
        nearest = np.min([_segment_distance(xs, ys, polygon[i], polygon[(i + 1) % len(polygon)])
                          for i in range(len(polygon))], axis=0)
        value = 1 - np.clip(nearest / distance, 0, 1)
        region = border[y0 : y1 + 1, x0 : x1 + 1]
        np.maximum(region, value, out=region)
    threshold_map = border * (p.thresh_max - p.thresh_min) + p.thresh_min
    return {"shrink_map": shrink_map, "shrink_mask": shrink_mask, "threshold_map": threshold_map,
            "threshold_mask": threshold_mask}
