"""The metrics, as the ICDAR 2015 protocol and PaddleOCR's DetMetric/RecMetric define them.

Detection: one-to-one matching at IoU > 0.5, greedy in ground-truth order (the reference script's order);
a prediction lying more than 50% inside a don't-care region is ignored, and don't-care boxes are not positives.
Polygons are clipped with Clipper on a 1/16-pixel integer grid: exact for the integer coordinates of labels
and predictions.

Degenerate polygons, as the protocol's reference treats them: a ground-truth polygon that is not simple
(self-intersecting, traced twice, touching itself, zero area) is not scored. A prediction is always counted; its
region is what it encloses under the non-zero winding rule (a bowtie is its two triangles, a polygon traced twice
is covered once), so its area, every intersection and every IoU are those of real regions: IoU lies in [0, 1].
A zero-area prediction matches nothing.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyclipper

from .labels import GtBox

IOU_THRESHOLD = 0.5
DONT_CARE_AREA = 0.5
_GRID = 16
_KEEP = frozenset(string.digits + string.ascii_letters)

Points = Sequence[Sequence[float]]


def _path(points: Points) -> list[tuple[int, int]]:
    return [(int(round(x * _GRID)), int(round(y * _GRID))) for x, y in points]


def _region(path: list[tuple[int, int]]) -> list:
    """The polygons (outer rings and holes) that ``path`` encloses under the non-zero winding rule."""
    if len(path) < 3:
        return []
    return pyclipper.SimplifyPolygon(path, pyclipper.PFT_NONZERO)


def _area(paths: list) -> float:
    return abs(sum(pyclipper.Area(p) for p in paths)) / _GRID**2  # holes come back with the opposite sign


def is_simple_polygon(points: Points) -> bool:
    """One ring, enclosing all of its traced area: not self-intersecting, not traced twice, not pinched, not flat.

    Clipper resolves the polygon under the non-zero rule; a simple polygon comes back as one ring with the same
    area as its shoelace area."""
    path = _path(points)
    region = _region(path)
    traced = abs(pyclipper.Area(path)) if len(path) >= 3 else 0
    return len(region) == 1 and traced > 0 and abs(pyclipper.Area(region[0])) == traced


class Polygon:
    """A polygon with its Clipper path, area and bounding box cached."""

    __slots__ = ("points", "path", "area", "bbox")

    def __init__(self, points: Points) -> None:
        self.points = [(float(x), float(y)) for x, y in points]
        self.path = _region(_path(self.points))  # the enclosed region's rings (one for a simple polygon)
        self.area = _area(self.path)
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        self.bbox = (min(xs), min(ys), max(xs), max(ys))

    def intersection(self, other: Polygon) -> float:
        a, b = self.bbox, other.bbox
        if a[0] >= b[2] or b[0] >= a[2] or a[1] >= b[3] or b[1] >= a[3] or self.area == 0 or other.area == 0:
            return 0.0  # disjoint boxes, or a degenerate (zero-area) polygon Clipper would refuse
        clipper = pyclipper.Pyclipper()
        clipper.AddPaths(self.path, pyclipper.PT_SUBJECT, True)
        clipper.AddPaths(other.path, pyclipper.PT_CLIP, True)
        parts = clipper.Execute(pyclipper.CT_INTERSECTION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
        return min(_area(parts), self.area, other.area)  # min: equal in exact arithmetic, never above either

    def iou(self, other: Polygon) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return min(1.0, inter / union) if union > 0 else 0.0


def polygon_area(points: Points) -> float:
    return abs(pyclipper.Area(_path(points))) / _GRID**2


@dataclass
class DetCounts:
    matched: int = 0
    gt_care: int = 0
    det_care: int = 0

    def __add__(self, other: DetCounts) -> DetCounts:
        return DetCounts(self.matched + other.matched, self.gt_care + other.gt_care, self.det_care + other.det_care)

    @property
    def precision(self) -> float:
        return self.matched / self.det_care if self.det_care else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gt_care if self.gt_care else 0.0

    @property
    def hmean(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {"precision": round(self.precision, 6), "recall": round(self.recall, 6), "hmean": round(self.hmean, 6),
                "matched": self.matched, "gt_care": self.gt_care, "det_care": self.det_care}


@dataclass
class E2ECounts:
    exact: DetCounts = field(default_factory=DetCounts)
    normalized: DetCounts = field(default_factory=DetCounts)

    def __add__(self, other: E2ECounts) -> E2ECounts:
        return E2ECounts(self.exact + other.exact, self.normalized + other.normalized)

    def to_dict(self) -> dict:
        out = self.exact.to_dict()
        norm = self.normalized.to_dict()
        out.update({"precision_normalized": norm["precision"], "recall_normalized": norm["recall"],
                    "hmean_normalized": norm["hmean"], "matched_normalized": norm["matched"]})
        return out


def _match(gt: list[GtBox], predictions: list[Points]) -> tuple[list[tuple[int, int]], int, int]:
    """ICDAR 2015 matching for one image: (pairs (gt, pred), care gt count, care prediction count)."""
    gt_polys = [(Polygon(box.points), box.dont_care) for box in gt if is_simple_polygon(box.points)]
    det_polys = [Polygon(points) for points in predictions]
    dont_care_gt = [poly for poly, dc in gt_polys if dc]
    ignored_det = set()
    for d, det in enumerate(det_polys):
        for poly in dont_care_gt:
            if det.area > 0 and poly.intersection(det) / det.area > DONT_CARE_AREA:
                ignored_det.add(d)
                break
    gt_used, det_used, pairs = set(), set(), []
    for g, (gpoly, dc) in enumerate(gt_polys):
        if dc:
            continue
        for d, det in enumerate(det_polys):
            if d in det_used or d in ignored_det or g in gt_used:
                continue
            if gpoly.iou(det) > IOU_THRESHOLD:
                gt_used.add(g)
                det_used.add(d)
                pairs.append((g, d))
    gt_care = sum(1 for _, dc in gt_polys if not dc)
    return pairs, gt_care, len(det_polys) - len(ignored_det)


def _care_gt(gt: list[GtBox]) -> list[GtBox]:
    return [box for box in gt if is_simple_polygon(box.points)]


def score_detection(gt: list[GtBox], predictions: list[Points]) -> DetCounts:
    """Matched, care-GT and care-prediction counts of one image (sum them with ``+`` over a data set)."""
    pairs, gt_care, det_care = _match(gt, predictions)
    return DetCounts(len(pairs), gt_care, det_care)


def normalize_text(text: str) -> str:
    """PaddleOCR's RecMetric normalisation: keep ASCII letters and digits, lower-case."""
    return "".join(c for c in text if c in _KEEP).lower()


def score_end_to_end(gt: list[GtBox], predictions: list[Points], texts: list[str]) -> E2ECounts:
    """A prediction is a true positive when it matches a GT box (as in detection) and its text equals the GT."""
    pairs, gt_care, det_care = _match(gt, predictions)
    valid = _care_gt(gt)
    exact = sum(1 for g, d in pairs if texts[d] == valid[g].text)
    normal = sum(1 for g, d in pairs if normalize_text(texts[d]) == normalize_text(valid[g].text))
    return E2ECounts(DetCounts(exact, gt_care, det_care), DetCounts(normal, gt_care, det_care))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass
class RecCounts:
    total: int = 0
    correct: int = 0
    correct_normalized: int = 0
    norm_edit_distance_sum: float = 0.0

    def to_dict(self) -> dict:
        n = self.total or 1
        return {"accuracy": round(self.correct / n, 6), "accuracy_normalized": round(self.correct_normalized / n, 6),
                "norm_edit_distance": round(1 - self.norm_edit_distance_sum / n, 6), "samples": self.total,
                "correct": self.correct, "correct_normalized": self.correct_normalized}


def score_recognition(pairs: Sequence[tuple[str, str]]) -> RecCounts:
    """(prediction, truth) pairs -> exact and normalised accuracy, and 1 - mean normalised edit distance."""
    counts = RecCounts()
    for pred, truth in pairs:
        counts.total += 1
        counts.correct += pred == truth
        counts.correct_normalized += normalize_text(pred) == normalize_text(truth)
        longest = max(len(pred), len(truth))
        counts.norm_edit_distance_sum += edit_distance(pred, truth) / longest if longest else 0.0
    return counts
