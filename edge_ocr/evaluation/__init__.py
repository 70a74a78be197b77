"""Accuracy evaluation: ICDAR 2015 detection P/R/Hmean, recognition accuracy and end-to-end scores."""

from .labels import DetSample, RecSample, read_det_labels, read_rec_labels
from .metrics import (
    DetCounts,
    E2ECounts,
    RecCounts,
    edit_distance,
    normalize_text,
    score_detection,
    score_end_to_end,
    score_recognition,
)

__all__ = [
    "DetCounts",
    "DetSample",
    "E2ECounts",
    "RecCounts",
    "RecSample",
    "edit_distance",
    "normalize_text",
    "read_det_labels",
    "read_rec_labels",
    "score_detection",
    "score_end_to_end",
    "score_recognition",
]
