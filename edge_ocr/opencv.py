"""The one place OpenCV is configured. ``edge_ocr/__init__`` imports this module before anything imports ``cv2``.

OpenCV reads its decoder limits (``OPENCV_IO_MAX_IMAGE_PIXELS``, ``..._WIDTH``, ``..._HEIGHT``) from the
environment once, when its library loads: set here, they make the decoder itself refuse a size that
``edge_ocr.images``' header reader did not see (a header two parsers read differently), so memory stays bounded
even where the two disagree. A value the user set lower is kept. OpenCV's own log lines (``[ERROR:0@...]
imdecode_``) are silenced unless ``OPENCV_LOG_LEVEL`` is set: every refusal is reported by edge_ocr, in one line.
"""

from __future__ import annotations

import logging
import os
import sys

from .config import MAX_IMAGE_PIXELS

log = logging.getLogger(__name__)

OPENCV_MAX_SIDE = 1 << 20  # OpenCV's default CV_IO_MAX_IMAGE_WIDTH / _HEIGHT
DECODER_LIMITS = {
    "OPENCV_IO_MAX_IMAGE_PIXELS": MAX_IMAGE_PIXELS,  # of the decoded array (a reduced JPEG's reduced size)
    "OPENCV_IO_MAX_IMAGE_WIDTH": OPENCV_MAX_SIDE,
    "OPENCV_IO_MAX_IMAGE_HEIGHT": OPENCV_MAX_SIDE,
}
_USER_LOG_LEVEL = "OPENCV_LOG_LEVEL" in os.environ


def _set_limits() -> bool:
    """Put the limits in os.environ; False when cv2 was imported first (then its defaults hold: 2^30 pixels)."""
    for name, limit in DECODER_LIMITS.items():
        current = os.environ.get(name, "")
        if not (current.isdigit() and 0 < int(current) <= limit):
            os.environ[name] = str(limit)
    return "cv2" not in sys.modules


LIMITS_ACTIVE = _set_limits()

import cv2  # noqa: E402  (after the limits, on purpose)

if not _USER_LOG_LEVEL:
    cv2.setLogLevel(0)  # LOG_LEVEL_SILENT
if not LIMITS_ACTIVE:
    log.debug("cv2 was imported before edge_ocr: OpenCV's own pixel limit is its default; edge_ocr's header "
              "checks and decoded-size checks still apply")

__all__ = ["DECODER_LIMITS", "LIMITS_ACTIVE", "OPENCV_MAX_SIDE", "cv2"]
