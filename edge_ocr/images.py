"""Reading images the way users hand them over, with memory bounded for huge files.

Returns 8-bit BGR arrays, the colour order every PP-OCR model was trained on. Grayscale, RGBA (composited
on white), 16-bit and palette images are converted; JPEG EXIF orientation is applied as OpenCV does.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm")

# JPEG start-of-frame markers carry the image size (C4, C8 and CC are other segments).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_REDUCED_JPEG_FLAGS = (
    (2, cv2.IMREAD_REDUCED_COLOR_2),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (8, cv2.IMREAD_REDUCED_COLOR_8),
)


@dataclass
class LoadedImage:
    image: np.ndarray  # HxWx3 uint8 BGR
    # Original size / decoded size, >1 when a huge JPEG was decoded at reduced resolution.
    scale: float = 1.0


def read_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG, PNG, BMP or GIF header without decoding pixels; None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] in (b"GIF8",) and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
            if marker in _SOF_MARKERS and pos + 9 <= len(data):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return width, height
            pos += 2 + length
    return None


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, BGRA, 16-bit, float) to HxWx3 uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        peak = float(image.max()) if image.size else 1.0
        image = np.clip(image * (255.0 if peak <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        # Transparent pixels often store black: composite on white, as PaddleOCR's alpha_to_color does.
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32)
        return (rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if channels == 3:
        return image
    raise ImageError(f"unsupported number of channels: {channels}")


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = 64_000_000) -> LoadedImage:
    """Decode encoded image bytes to BGR, refusing or reducing images above ``max_pixels``."""
    if not data:
        raise ImageError(f"{name}: empty file")
    size = read_header_size(data)
    is_jpeg = data[:2] == b"\xff\xd8"
    buffer = np.frombuffer(data, dtype=np.uint8)
    scale = 1.0
    if size is not None and size[0] * size[1] > max_pixels:
        width, height = size
        if not is_jpeg:
            raise ImageError(
                f"{name}: image is {width}x{height} ({width * height / 1e6:.0f} MP), above the "
                f"{max_pixels / 1e6:.0f} MP limit; downscale it or raise max_image_pixels"
            )
        # libjpeg decodes directly at 1/2, 1/4 or 1/8 size: memory stays bounded.
        factor, flag = next(
            ((f, fl) for f, fl in _REDUCED_JPEG_FLAGS if (width // f) * (height // f) <= max_pixels),
            _REDUCED_JPEG_FLAGS[-1],
        )
        if (width // factor) * (height // factor) > max_pixels:
            raise ImageError(f"{name}: image is {width}x{height}, too large even at 1/8 size")
        image = cv2.imdecode(buffer, flag)
        if image is not None:
            scale = width / image.shape[1]
    elif is_jpeg:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # applies EXIF orientation
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)  # keeps alpha and 16-bit for proper conversion
    if image is None or image.size == 0:
        raise ImageError(f"{name}: not an image or a damaged/truncated file")
    return LoadedImage(to_bgr8(image), scale)


def load_image(path: str | os.PathLike, max_pixels: int = 64_000_000) -> LoadedImage:
    """Read an image file to BGR; every failure is an ``ImageError`` with a one-line reason."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from exc
    return decode_image(data, path, max_pixels)


def list_images(paths: list[str]) -> list[str]:
    """Expand folders (sorted, non-recursive) into image files; files are kept as given."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES))
            found.extend(os.path.join(path, n) for n in names)
        else:
            found.append(path)
    return found
