"""Visualisation: the image with its boxes, and beside it each line's text at the same place.

Text is rendered with Pillow and a CJK-capable font when one is found (``EDGE_OCR_FONT``, Noto CJK, WenQuanYi,
Droid), otherwise a Latin font, otherwise OpenCV's built-in font with non-ASCII characters shown as '?'.
"""

from __future__ import annotations

import glob
import logging
import os

import cv2
import numpy as np

from .results import OCRLine

log = logging.getLogger(__name__)

FONT_ENV = "EDGE_OCR_FONT"
_FONT_PATTERNS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/NotoSans*CJK*.otf",
    "/usr/share/fonts/**/wqy-*.tt[cf]",
    "/usr/share/fonts/**/wqy*/*.tt[cf]",
    "/usr/share/fonts/**/DroidSansFallback*.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "/usr/share/fonts/**/DejaVuSans.ttf",
)


def find_font() -> str | None:
    env = os.environ.get(FONT_ENV)
    if env and os.path.isfile(env):
        return env
    for pattern in _FONT_PATTERNS:
        hits = sorted(glob.glob(pattern, recursive=True))
        if hits:
            return hits[0]
    return None


def _color(i: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(i)
    return tuple(int(c) for c in rng.integers(40, 220, 3))


def draw_result(image: np.ndarray, lines: list[OCRLine]) -> np.ndarray:
    """Side-by-side picture: left the image with boxes, right the texts placed where their boxes are."""
    h, w = image.shape[:2]
    left = image.copy()
    right = np.full((h, w, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        pts = np.array(line.box, np.int32).reshape(-1, 1, 2)
        cv2.polylines(left, [pts], True, _color(i), max(1, round(max(h, w) / 500)))
        cv2.polylines(right, [pts], True, _color(i), 1)
    right = _draw_texts(right, lines)
    return np.hstack([left, right])


def _draw_texts(canvas: np.ndarray, lines: list[OCRLine]) -> np.ndarray:
    font_path = find_font()
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        font_path = None
    if font_path is None:
        for line in lines:
            x, y = line.box[0]
            text = "".join(c if ord(c) < 128 else "?" for c in line.text)
            height = max(8, abs(line.box[3][1] - line.box[0][1]))
            cv2.putText(canvas, text, (x, y + height), cv2.FONT_HERSHEY_SIMPLEX, height / 30, (0, 0, 0), 1)
        return canvas
    picture = Image.fromarray(canvas[:, :, ::-1])
    draw = ImageDraw.Draw(picture)
    for line in lines:
        box = np.array(line.box)
        height = max(8, int(np.linalg.norm(box[0] - box[3]) * 0.8))
        width = max(1, int(np.linalg.norm(box[0] - box[1])))
        size = max(8, min(height, int(width / max(1, len(line.text)) * 1.6)))
        try:
            font = ImageFont.truetype(font_path, size)
        except OSError:
            font = ImageFont.load_default()
        draw.text((int(box[0][0]), int(box[0][1])), line.text, fill=(0, 0, 0), font=font)
    return np.asarray(picture)[:, :, ::-1].copy()


def write_image(path: str, image: np.ndarray) -> None:
    """Encode and write atomically (temp file + rename, ``edge_ocr.atomic``'s rule); the extension picks the format."""
    from .atomic import write_bytes

    ext = os.path.splitext(path)[1] or ".jpg"
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise OSError(f"cannot encode {path}")
    write_bytes(path, data.tobytes())

