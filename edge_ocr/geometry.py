"""Box ordering and perspective cropping of text lines."""

from __future__ import annotations

import cv2
import numpy as np


def reading_order(boxes: np.ndarray | list[np.ndarray], same_line_px: float = 10) -> list[int]:
    """Indices of ``boxes`` top-to-bottom, then left-to-right where top-left corners are within ``same_line_px`` rows.

    The same bubble pass as PaddleOCR's ``sorted_boxes``, so the order (and so the output) is identical.
    """
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][0][1], boxes[i][0][0]))
    for i in range(len(order) - 1):
        for j in range(i, -1, -1):
            upper, lower = boxes[order[j]][0], boxes[order[j + 1]][0]
            if abs(lower[1] - upper[1]) < same_line_px and lower[0] < upper[0]:
                order[j], order[j + 1] = order[j + 1], order[j]
            else:
                break
    return order


def crop_text_line(image: np.ndarray, box: np.ndarray, rotate_ratio: float = 1.5) -> np.ndarray:
    """Warp the quadrilateral ``box`` to an upright rectangle; rotate it 90 degrees if it is tall (vertical text)."""
    points = np.asarray(box, dtype=np.float32)
    # At least 1 px: a size of 0 would make OpenCV warp to the whole image's size instead.
    width = max(1, int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3]))))
    height = max(1, int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2]))))
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(points, target)
    crop = cv2.warpPerspective(
        image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if crop.shape[0] * 1.0 / crop.shape[1] >= rotate_ratio:
        crop = np.rot90(crop)
    return crop
