"""Readers for PaddleOCR's label files. Paths are relative to the label file's folder; a malformed line is an
error naming its line number and reason, never silently skipped."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from ..errors import EdgeOCRError

DONT_CARE = ("###", "*")
# The largest |coordinate| a label may give: beyond any image side the 64 MP limit allows, small enough that the
# metric's 1/16-pixel Clipper grid stays exact in 64-bit integers.
MAX_COORDINATE = 1 << 26


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


def _lines(path: str) -> list[tuple[int, str]]:
    """(line number, text) of every non-blank line; a file with none, or a line that is not UTF-8, is an error."""
    if not os.path.isfile(path):
        raise LabelError(f"label file {path} does not exist")
    lines = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise LabelError(f"{path}:{number}: not UTF-8 text (byte {exc.start + 1})") from None
            if line.strip():
                lines.append((number, line))
    if not lines:
        raise LabelError(f"label file {path} has no labels (it is empty)")
    return lines


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _point(point, where: str) -> tuple[float, float]:
    """``[x, y]`` as finite floats within MAX_COORDINATE; LabelError saying what is wrong otherwise."""
    if not isinstance(point, (list, tuple)) or len(point) != 2:
        raise LabelError(f"{where} must be [x, y], not {json.dumps(point)[:40]}")
    for value in point:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabelError(f"{where} has a coordinate that is not a number: {json.dumps(value)[:40]}")
        if abs(value) > MAX_COORDINATE or not math.isfinite(value):  # abs first: a huge int has no float
            raise LabelError(f"{where} has a coordinate outside +-{MAX_COORDINATE}: {value}")
    return float(point[0]), float(point[1])


def read_det_labels(path: str) -> list[DetSample]:
    """``image<TAB>[{"transcription": str, "points": [[x, y], ...]}, ...]`` per line."""
    root = os.path.dirname(os.path.abspath(path))
    samples = []
    for number, line in _lines(path):
        where = f"{path}:{number}"
        if "\t" not in line:
            raise LabelError(f"{where}: expected 'image<TAB>json', found no tab")
        image, payload = line.split("\t", 1)
        if not image:
            raise LabelError(f"{where}: empty image path")
        try:
            entries = json.loads(payload, parse_constant=_refuse_constant)
        except RecursionError:
            raise LabelError(f"{where}: invalid JSON (nested too deeply)") from None
        except ValueError as exc:
            raise LabelError(f"{where}: invalid JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(entries, list):
            raise LabelError(f"{where}: expected a JSON list of boxes")
        boxes = []
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict) or "points" not in entry or "transcription" not in entry:
                raise LabelError(f"{where}: box {k} needs 'points' and 'transcription'")
            points, text = entry["points"], entry["transcription"]
            if not isinstance(points, list):
                raise LabelError(f"{where}: box {k} points must be a list of [x, y]")
            pts = [_point(p, f"{where}: box {k} point {j}") for j, p in enumerate(points)]
            if len(pts) < 3:
                raise LabelError(f"{where}: box {k} has {len(pts)} points; a polygon needs at least 3")
            if not isinstance(text, str):
                raise LabelError(f"{where}: box {k} transcription must be a string, not {json.dumps(text)[:40]}")
            boxes.append(GtBox(pts, text))
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
