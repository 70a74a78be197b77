"""Readers for PaddleOCR's label files. Paths are relative to the label file's folder; a malformed line is an
error naming its line number and reason, never silently skipped."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import EdgeOCRError

DONT_CARE = ("###", "*")


@dataclass
class GtBox:
    points: list[tuple[float, float]]
    text: str

    @property
    def dont_care(self) -> bool:
        return self.text in DONT_CARE


@dataclass
class DetSample:
    image: str
    boxes: list[GtBox]


@dataclass
class RecSample:
    image: str
    text: str


class LabelError(EdgeOCRError):
    pass


def _lines(path: str):
    if not os.path.isfile(path):
        raise LabelError(f"label file {path} does not exist")
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def read_det_labels(path: str) -> list[DetSample]:
    """``image<TAB>[{"transcription": str, "points": [[x, y], ...]}, ...]`` per line."""
    root = os.path.dirname(os.path.abspath(path))
    samples = []
    for number, line in _lines(path):
        where = f"{path}:{number}"
        if "\t" not in line:
            raise LabelError(f"{where}: expected 'image<TAB>json', found no tab")
        image, payload = line.split("\t", 1)
        try:
            entries = json.loads(payload)
        except ValueError as exc:
            raise LabelError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(entries, list):
            raise LabelError(f"{where}: expected a JSON list of boxes")
        boxes = []
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict) or "points" not in entry or "transcription" not in entry:
                raise LabelError(f"{where}: box {k} needs 'points' and 'transcription'")
            points = entry["points"]
            try:
                pts = [(float(p[0]), float(p[1])) for p in points]
            except (TypeError, ValueError, IndexError):
                raise LabelError(f"{where}: box {k} has malformed points") from None
            if len(pts) < 3:
                raise LabelError(f"{where}: box {k} has {len(pts)} points; a polygon needs at least 3")
            boxes.append(GtBox(pts, str(entry["transcription"])))
        samples.append(DetSample(os.path.join(root, image), boxes))
    return samples


def read_rec_labels(path: str) -> list[RecSample]:
    """``image<TAB>text`` per line (the text may contain spaces)."""
    root = os.path.dirname(os.path.abspath(path))
    samples = []
    for number, line in _lines(path):
        if "\t" not in line:
            raise LabelError(f"{path}:{number}: expected 'image<TAB>text', found no tab")
        image, text = line.split("\t", 1)
        if not image:
            raise LabelError(f"{path}:{number}: empty image path")
        samples.append(RecSample(os.path.join(root, image), text))
    return samples
