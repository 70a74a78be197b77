"""Readers for PaddleOCR's label files. Paths are relative to the label file's folder; a malformed line is an
error naming its line number and reason, never silently skipped."""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from dataclasses import dataclass

from ..errors import EdgeOCRError, describe_os_error

DONT_CARE = ("###", "*")
# The largest |coordinate| a label may give: beyond any image side the 64 MP limit allows, small enough that the
# metric's 1/16-pixel Clipper grid stays exact in 64-bit integers.
MAX_COORDINATE = 1 << 26
# Per-line and per-file bounds: the reader's memory and the metric's time (boxes x detections per image) stay small
# whatever a label file says. ICDAR 2015 has at most ~100 boxes an image, curved-text sets 14-20 points a box.
MAX_LINE_BYTES = 1 << 20
MAX_BOXES_PER_IMAGE = 1000
MAX_POINTS_PER_BOX = 100
MAX_TEXT_CHARS = 1000
MAX_LABEL_LINES = 1_000_000
MAX_LABEL_POINTS = 2_000_000  # over the whole file


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
    """(line number, text) of every non-blank line; a file with none, a line that is not UTF-8 or is longer than
    ``MAX_LINE_BYTES``, or more than ``MAX_LABEL_LINES`` lines, is an error (a line is never read whole first)."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        reason = "does not exist" if exc.errno == errno.ENOENT else f"cannot be read: {describe_os_error(exc)}"
        raise LabelError(f"label file {path} {reason}") from None
    lines = []
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise LabelError(f"label file {path} is not a regular file")
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise LabelError(f"{path}:{number}: line longer than {MAX_LINE_BYTES >> 20} MiB, the limit for one "
                                 "label line")
            if number > MAX_LABEL_LINES:
                raise LabelError(f"{path}: more than {MAX_LABEL_LINES:,} lines, the limit for a label file")
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
    total_points = 0
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
        if len(entries) > MAX_BOXES_PER_IMAGE:
            raise LabelError(f"{where}: {len(entries):,} boxes for one image, above the limit of "
                             f"{MAX_BOXES_PER_IMAGE:,}")
        boxes = []
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict) or "points" not in entry or "transcription" not in entry:
                raise LabelError(f"{where}: box {k} needs 'points' and 'transcription'")
            points, text = entry["points"], entry["transcription"]
            if not isinstance(points, list):
                raise LabelError(f"{where}: box {k} points must be a list of [x, y]")
            if len(points) > MAX_POINTS_PER_BOX:
                raise LabelError(f"{where}: box {k} has {len(points):,} points, above the limit of "
                                 f"{MAX_POINTS_PER_BOX} for one box")
            total_points += len(points)
            if total_points > MAX_LABEL_POINTS:
                raise LabelError(f"{where}: more than {MAX_LABEL_POINTS:,} points in the file, the limit for a "
                                 "label file")
            pts = [_point(p, f"{where}: box {k} point {j}") for j, p in enumerate(points)]
            if len(pts) < 3:
                raise LabelError(f"{where}: box {k} has {len(pts)} points; a polygon needs at least 3")
            if not isinstance(text, str):
                raise LabelError(f"{where}: box {k} transcription must be a string, not {json.dumps(text)[:40]}")
            if len(text) > MAX_TEXT_CHARS:
                raise LabelError(f"{where}: box {k} transcription has {len(text):,} characters, above the limit of "
                                 f"{MAX_TEXT_CHARS}")
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
        if len(text) > MAX_TEXT_CHARS:
            raise LabelError(f"{path}:{number}: text of {len(text):,} characters, above the limit of "
                             f"{MAX_TEXT_CHARS} for one label")
        samples.append(RecSample(os.path.join(root, image), text))
    return samples
