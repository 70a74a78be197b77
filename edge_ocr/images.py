"""Reading images the way users hand them over, with memory and work bounded for every format before pixels exist.

Returns 8-bit BGR arrays, the colour order every PP-OCR model was trained on. Grayscale, RGBA (composited
on white), 16-bit, float and palette images are converted; JPEG EXIF orientation is applied as OpenCV does.

The bounds, in order (README, "Bad input"):
1. only regular files are read (a FIFO or device is refused without opening it for a blocking read), and at most
   ``MAX_IMAGE_BYTES`` of them;
2. the header is read by a parser of our own that follows the decoder OpenCV will run, not a different one
   (libjpeg's marker reader: ``FF00`` is a stuffed byte, ``FF`` fill bytes and junk are skipped, segments by their
   length; libtiff takes the first of two equal tags; OpenJPEG sizes from the codestream's SIZ, not the JP2
   ``ihdr`` box; OpenCV's own PNG chunk reader, PxM number reader, ...). A file whose header names no size is
   refused, never decoded blind;
3. above ``max_pixels`` a JPEG is decoded at 1/2, 1/4 or 1/8 size by libjpeg (boxes come back in original pixels)
   and anything else is refused;
4. what the decoder itself holds (progressive or multi-scan JPEG coefficients, OpenJPEG's int32 planes, TIFF tiles
   and strips, WebP's canvases, a PNG chunk's buffer, float planes) is estimated from the header and refused above
   ``MAX_DECODE_BYTES``; a progressive JPEG's scans are counted and refused above a work budget (each scan walks
   every block of the image); a result that would pass ``MAX_UNCHANGED_BYTES`` with its alpha and depth is
   decoded straight to 8-bit BGR instead;
5. the decoder enforces the pixel limit itself (``edge_ocr.opencv`` sets OpenCV's limits before it loads), and the
   decoded array is checked against the header: a decoder that read another size is a refusal, not a result;
6. decodes run one at a time (a process-wide lock): the decoders' working memory is never held twice, whatever the
   number of workers, and what libjpeg/libpng print on the C stderr is captured and logged as the image's warning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import struct
import sys
import tempfile
import threading
from dataclasses import dataclass, field

import numpy as np

from .config import MAX_IMAGE_PIXELS
from .errors import ImageError, describe_os_error, printable
from .opencv import OPENCV_MAX_SIDE, cv2

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm")
MAX_IMAGE_BYTES = 256 << 20  # an uncompressed 64 MP RGBA BMP/TIFF is 244 MiB
MAX_UNCHANGED_BYTES = 256 << 20  # 64 MP x 4 channels x 8 bit: the largest array decoded with its alpha and depth
MAX_DECODE_BYTES = 640 << 20  # output plus what the codec holds while decoding
# A progressive JPEG's decode time grows with scans x blocks (an empty refinement scan of 64 MP is ~45 ms here):
# at most 40 full-size scans of a 64 MP image (libjpeg's own scripts write 6-10), and never more than 1000 scans.
MAX_JPEG_SCAN_PIXELS = 40 * MAX_IMAGE_PIXELS
MAX_JPEG_SCANS = 1000

_REDUCED_JPEG_FLAGS = (
    (2, cv2.IMREAD_REDUCED_COLOR_2),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (8, cv2.IMREAD_REDUCED_COLOR_8),
)
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# Codecs that hold a full-size plane of their own while decoding: bytes per pixel per channel (for headers built
# without a parser's own estimate).
_CODEC_PLANE_BYTES = {"JPEG2000": 4, "PFM": 4, "HDR": 4, "WEBP": 1}


@dataclass
class LoadedImage:
    image: np.ndarray  # HxWx3 uint8 BGR
    # Original size / decoded size, >1 when a huge JPEG was decoded at reduced resolution.
    scale: float = 1.0
    # (width, height) of the original image as displayed (EXIF orientation applied): boxes are clipped to it.
    size: tuple[int, int] | None = None
    # What the decoder said about a damaged but readable file (libjpeg's "Corrupt JPEG data...", libpng warnings).
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImageHeader:
    width: int
    height: int
    format: str  # "JPEG", "PNG", ...
    channels: int = 3  # of the array IMREAD_UNCHANGED returns
    sample_bytes: int = 1
    progressive: bool = False  # JPEG: progressive or multi-scan (full-size coefficient buffers)
    # Bytes the decoder holds besides its output (None: estimated from ``format``), and JPEG scans.
    work_bytes: int | None = None
    scans: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height


# ------------------------------------------------------------------------------------------ header parsers


def _u16be(data: bytes, pos: int) -> int:
    return (data[pos] << 8) | data[pos + 1]


# libjpeg-turbo 3.0's read_markers: the SOF types it decodes (baseline, extended, progressive, lossless,
# arithmetic), those it refuses, and the segments it skips by their length.
_JPEG_SOF = {0xC0: False, 0xC1: False, 0xC2: True, 0xC3: False, 0xC9: False, 0xCA: True}
_JPEG_SOF_UNSUPPORTED = {0xC5, 0xC6, 0xC7, 0xC8, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_TABLES = {0xC4, 0xCC, 0xDB, 0xDD}  # DHT, DAC, DQT, DRI: a bad length is an error in libjpeg
_JPEG_SKIPPED = set(range(0xE0, 0xF0)) | {0xFE, 0xDC}  # APPn, COM, DNL: skipped by length (< 2: nothing)
_JPEG_NO_PAYLOAD = set(range(0xD0, 0xD8)) | {0x01}  # RSTn, TEM


def _jpeg_next_marker(data: bytes, pos: int) -> tuple[int, int] | None:
    """libjpeg's next_marker: skip bytes up to an FF, swallow FF fill bytes; FF 00 is a stuffed data byte, not a
    marker. (marker, position after it), or None at the end of the data."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0:
            return None
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            return None
        marker = data[pos]
        pos += 1
        if marker != 0:
            return marker, pos


def _jpeg_header(data: bytes) -> ImageHeader | None:
    """The frame libjpeg decodes: markers read as libjpeg's read_markers reads them, every scan (SOS) up to EOI
    counted. None where libjpeg would stop with an error (a second SOI or SOF, an unknown or unsupported marker)."""
    pos, frame, scans, multi_scan = 2, None, 0, False
    while True:
        found = _jpeg_next_marker(data, pos)
        if found is None:
            break
        marker, pos = found
        if marker == 0xD9:  # EOI: libjpeg stops here, whatever follows
            break
        if marker in _JPEG_NO_PAYLOAD:
            continue
        if pos + 2 > len(data):
            break
        length = _u16be(data, pos)
        if marker in _JPEG_SOF:
            if frame is not None or pos + 8 > len(data):
                return None  # JERR_SOF_DUPLICATE, or cut inside the segment
            height, width, components = _u16be(data, pos + 3), _u16be(data, pos + 5), data[pos + 7]
            if length != 8 + 3 * components or not 1 <= components <= 10:
                return None  # JERR_BAD_LENGTH / JERR_COMPONENT_COUNT
            frame = (width, height, components, _JPEG_SOF[marker], data[pos + 2])
        elif marker == 0xDA:  # SOS: then entropy-coded data, which _jpeg_next_marker skips as libjpeg does
            if frame is None or pos + 3 > len(data):
                return None  # JERR_SOS_NO_SOF
            in_scan = data[pos + 2]
            if length != 6 + 2 * in_scan or not 1 <= in_scan <= 4:
                return None
            if scans == 0 and in_scan < frame[2]:
                multi_scan = True  # a non-interleaved first scan: libjpeg buffers the whole image's coefficients
            scans += 1
        elif marker in _JPEG_TABLES:
            if length < 2:
                return None
        elif marker in _JPEG_SOF_UNSUPPORTED or marker not in _JPEG_SKIPPED:
            return None  # JERR_SOF_UNSUPPORTED / JERR_UNKNOWN_MARKER
        pos += max(length, 2)
    if frame is None:
        return None
    width, height, components, progressive, precision = frame
    buffered = progressive or multi_scan
    # Coefficients: 64 16-bit values per 8x8 block and component, at full size whatever the output scale.
    work = width * height * components * 2 if buffered else 0
    return ImageHeader(width, height, "JPEG", components, 2 if precision > 8 else 1, buffered, work, scans)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_header(data: bytes) -> ImageHeader | None:
    """IHDR, then every chunk walked by its length as OpenCV's own chunk reader does: it allocates each chunk's
    declared length before reading it (a length of 2^31 is 2 GB from a 1 KB file), so a chunk that claims more
    than the file holds is refused. An animated PNG (acTL) is composed in two more full-size frames."""
    if len(data) < 33 or data[12:16] != b"IHDR" or _u32be(data, 8) != 13:
        return None
    width, height, depth, colour = _u32be(data, 16), _u32be(data, 20), data[24], data[25]
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None:
        return None
    pos, frames, largest, transparent = 33, 1, 0, False
    while pos + 8 <= len(data):
        length, kind = _u32be(data, pos), data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            raise ImageError(f"damaged, truncated or hostile PNG: chunk {_chunk_name(kind)} declares {length:,} "
                             "bytes, more than the file holds")
        largest = max(largest, length)
        if kind == b"acTL" and length == 8:
            frames = max(1, _u32be(data, pos + 8))
        elif kind == b"tRNS":
            transparent = True
        elif kind == b"IEND":
            break
        pos += 12 + length
    if colour in (2, 3) and transparent:
        channels = 4  # OpenCV returns BGRA for a palette or RGB image with tRNS
    if colour == 3:
        depth = 8
    sample = 2 if depth == 16 else 1
    work = largest + (3 * width * height * channels * sample if frames > 1 else 0)
    return ImageHeader(width, height, "PNG", channels, sample, work_bytes=work)


def _chunk_name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else kind.hex()


def _u32be(data: bytes, pos: int) -> int:
    return struct.unpack_from(">I", data, pos)[0]


def _u24le(data: bytes, pos: int) -> int:
    return data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)


def _webp_header(data: bytes) -> ImageHeader | None:
    """RIFF/WEBP as libwebp's WebPGetFeatures reads it (the first chunk: VP8X canvas, VP8 frame or VP8L header).
    Measured here: a still 64 MP WebP, lossy or lossless, holds ~3 bytes a pixel besides its output (counted as
    4); an animation is composed on two RGBA canvases (8)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kind, pos = data[12:16], 20
    alpha = animated = False
    if kind == b"VP8X":
        flags = data[pos]
        alpha, animated = bool(flags & 0x10), bool(flags & 0x02)
        width, height = _u24le(data, pos + 4) + 1, _u24le(data, pos + 7) + 1
    elif kind == b"VP8 ":
        if data[pos + 3 : pos + 6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", data, pos + 6)
        width, height = width & 0x3FFF, height & 0x3FFF
    elif kind == b"VP8L":
        if data[pos] != 0x2F:
            return None
        bits = struct.unpack_from("<I", data, pos + 1)[0]
        width, height, alpha = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    else:
        return None
    channels = 4 if alpha else 3
    work = width * height * (8 if animated else 4)
    return ImageHeader(width, height, "WEBP", channels, 1, work_bytes=work)


def _tiff_header(data: bytes) -> ImageHeader | None:
    """The first IFD as libtiff reads it: of two entries with the same tag the first counts (libtiff ignores the
    later ones; Pillow would keep the last). The strip or tile buffer OpenCV allocates is the working memory."""
    big = data[2] == 43
    order = "<" if data[:2] == b"II" else ">"
    try:
        if big:
            offset = struct.unpack_from(order + "Q", data, 8)[0]
            count = struct.unpack_from(order + "Q", data, offset)[0]
            entry_size, first = 20, offset + 8
        else:
            offset = struct.unpack_from(order + "I", data, 4)[0]
            count = struct.unpack_from(order + "H", data, offset)[0]
            entry_size, first = 12, offset + 2
        tags: dict[int, list[int]] = {}
        for k in range(min(count, 4096)):
            at = first + k * entry_size
            tag, kind = struct.unpack_from(order + "HH", data, at)
            if tag in tags or tag not in (256, 257, 258, 277, 278, 322, 323, 339):
                continue
            tags[tag] = _tiff_values(data, order, big, at, kind)
    except (struct.error, IndexError):
        return None
    if 256 not in tags or 257 not in tags or not tags[256] or not tags[257]:
        return None
    width, height = tags[256][0], tags[257][0]
    channels = (tags.get(277) or [1])[0]
    bits = max(tags.get(258) or [1])
    sample = max(1, (bits + 7) // 8)
    if 322 in tags or 323 in tags:
        tile_w, tile_h = (tags.get(322) or [width])[0] or width, (tags.get(323) or [height])[0] or height
    else:
        rows = (tags.get(278) or [height])[0]
        tile_w, tile_h = width, height if rows <= 0 or rows >= height else rows
    # OpenCV reads odd layouts (palette, 1-bit, YCbCr) as 32-bit RGBA tiles.
    work = tile_w * tile_h * max(channels * sample, 4)
    return ImageHeader(width, height, "TIFF", channels, sample, work_bytes=work)


_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 16: "Q", 17: "q"}


def _tiff_values(data: bytes, order: str, big: bool, at: int, kind: int) -> list[int]:
    code = _TIFF_TYPES.get(kind)
    if code is None:
        return []
    count = struct.unpack_from(order + ("Q" if big else "I"), data, at + 4)[0]
    count = min(count, 64)
    size = struct.calcsize(code) * count
    inline = 8 if big else 4
    where = at + (12 if big else 8)
    if size > inline:
        where = struct.unpack_from(order + ("Q" if big else "I"), data, where)[0]
    return list(struct.unpack_from(order + code * count, data, where))


def _jp2_header(data: bytes) -> ImageHeader | None:
    """The codestream's SIZ marker, which OpenJPEG sizes the image from (a JP2 file's ``ihdr`` box may say
    anything). OpenJPEG holds an int32 plane per component and tile parameters per tile and component."""
    start, ihdr = 0, None
    if data[:4] == b"\x00\x00\x00\x0c" and data[4:8] == b"jP  ":
        boxes = _jp2_boxes(data, 0, len(data))
        if "jp2c" not in boxes:
            return None
        start = boxes["jp2c"]
        if "jp2h" in boxes:
            inner = _jp2_boxes(data, boxes["jp2h"], len(data))
            if "ihdr" in inner and inner["ihdr"] + 10 <= len(data):
                at = inner["ihdr"]
                ihdr = (_u32be(data, at + 4), _u32be(data, at), _u16be(data, at + 8))
    if data[start : start + 4] != b"\xff\x4f\xff\x51" or start + 42 > len(data):
        return None
    siz = start + 4  # Lsiz, Rsiz, then the sizes
    xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz = struct.unpack_from(">8I", data, siz + 4)
    components = _u16be(data, siz + 36)
    width, height = xsiz - xosiz, ysiz - yosiz
    if components < 1 or width < 1 or height < 1 or xtsiz < 1 or ytsiz < 1 or siz + 38 + 3 * components > len(data):
        return None
    if ihdr is not None and ihdr != (width, height, components):
        # OpenJPEG decodes with both and can write out of bounds (a SIGSEGV here) when they differ.
        raise ImageError(f"damaged or hostile JPEG 2000: its ihdr box declares {ihdr[0]}x{ihdr[1]} with {ihdr[2]} "
                         f"components, its codestream {width}x{height} with {components}")
    precision = max((data[siz + 38 + 3 * c] & 0x7F) + 1 for c in range(components))
    tiles = -(-(xsiz - xtosiz) // xtsiz) * -(-(ysiz - ytosiz) // ytsiz)
    work = width * height * components * 4 + tiles * components * 2048  # planes + per-tile component parameters
    return ImageHeader(width, height, "JPEG2000", components, 2 if precision > 8 else 1, work_bytes=work)


def _jp2_boxes(data: bytes, pos: int, end: int) -> dict[str, int]:
    """The first box of each type from ``pos`` on, up to the codestream: type -> where its content starts."""
    found: dict[str, int] = {}
    while pos + 8 <= end:
        size, kind = _u32be(data, pos), data[pos + 4 : pos + 8].decode("latin-1")
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        found.setdefault(kind, pos + header)
        if kind == "jp2c" or size < header:
            break
        pos += size
    return found


def _bmp_header(data: bytes) -> ImageHeader | None:
    """As OpenCV's BMP decoder: a header size of 12 has 16-bit sides, 36 and more 32-bit ones (negative height:
    top-down rows)."""
    if len(data) < 26 or data[:2] != b"BM":
        return None
    size = struct.unpack_from("<I", data, 14)[0]
    if size == 12:
        width, height = struct.unpack_from("<HH", data, 18)
        bpp = struct.unpack_from("<H", data, 24)[0] if len(data) >= 26 else 24
    elif size >= 36 and len(data) >= 30:
        width, height = struct.unpack_from("<ii", data, 18)
        height = abs(height)
        bpp = struct.unpack_from("<H", data, 28)[0]
    else:
        return None
    return ImageHeader(width, height, "BMP", 4 if bpp == 32 else 3, 1, work_bytes=width * 4)


def _sun_header(data: bytes) -> ImageHeader | None:
    if len(data) < 32 or data[:4] != b"\x59\xa6\x6a\x95":
        return None
    width, height, depth = struct.unpack_from(">iii", data, 4)
    return ImageHeader(width, height, "SUN", 3 if depth >= 24 else 1, 1, work_bytes=max(width, 0) * 4)


def _pxm_number(data: bytes, pos: int) -> tuple[int, int]:
    """OpenCV's PxM ReadNumber: skip white space and ``#`` comments (to CR or LF), read digits, and consume the
    byte after them. ValueError where OpenCV throws."""
    n = len(data)
    while True:
        if pos >= n:
            raise ValueError("end of header")
        c = data[pos]
        if 48 <= c <= 57:
            break
        if c == 35:  # '#'
            pos += 1
            while pos < n and data[pos] not in (10, 13):
                pos += 1
            pos += 1
        elif c in b" \t\n\v\f\r":
            pos += 1
        else:
            raise ValueError("unexpected byte")
    value = 0
    while pos < n and 48 <= data[pos] <= 57:
        value = value * 10 + data[pos] - 48
        if value > 0x7FFFFFFF:
            raise ValueError("number too large")
        pos += 1
    return value, pos + 1


def _pxm_header(data: bytes) -> ImageHeader | None:
    """P1-P6, read as OpenCV's PxM decoder reads it."""
    if len(data) < 3 or data[0:1] != b"P" or data[1:2] not in b"123456":
        return None
    kind = data[1] - 48
    try:
        width, pos = _pxm_number(data, 2)
        height, pos = _pxm_number(data, pos)
        maxval = 1 if kind in (1, 4) else _pxm_number(data, pos)[0]
    except ValueError:
        return None
    channels = 3 if kind in (3, 6) else 1
    return ImageHeader(width, height, "PPM", channels, 2 if maxval > 255 else 1, work_bytes=width * 8)


_PAM_LINE = re.compile(rb"^[ \t]*([A-Z]+)[ \t]*([^\n]*)$", re.M)
_HDR_SIZE = re.compile(rb"\n\n[-+][XY] (\d+) [-+][XY] (\d+)\n")
_PFM_SIZE = re.compile(rb"^P[Ff]\s+(\d+)\s+(\d+)\s")


def _leading_int(text: bytes) -> int | None:
    """C's atoi on a header value: leading digits (after blanks), None if there are none."""
    match = re.match(rb"\s*\+?(\d+)", text)
    return int(match[1]) if match else None


def _text_header(data: bytes) -> ImageHeader | None:
    """PAM, PFM and Radiance HDR: short text headers. A PAM header's fields are read line by line, the last of two
    equal fields counting (as OpenCV's PAM reader does); a size field that is not a number is a refusal."""
    head = data[:4096]
    if head.startswith(b"P7\n"):
        fields: dict[str, int] = {}
        for name, value in _PAM_LINE.findall(head.split(b"ENDHDR", 1)[0]):
            if name in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"):
                number = _leading_int(value)
                if number is None:
                    return None
                fields[name.decode()] = number
        if {"WIDTH", "HEIGHT"} <= set(fields):
            depth, maxval = fields.get("DEPTH", 1), fields.get("MAXVAL", 255)
            return ImageHeader(fields["WIDTH"], fields["HEIGHT"], "PAM", depth, 2 if maxval > 255 else 1,
                               work_bytes=fields["WIDTH"] * max(depth, 1) * 8)
        return None
    match = _PFM_SIZE.match(head)
    if match:
        return ImageHeader(int(match[1]), int(match[2]), "PFM", 3 if head[1:2] == b"F" else 1, 4)
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        match = _HDR_SIZE.search(head)
        if match:
            rows, columns = int(match[1]), int(match[2])  # "-Y rows +X columns" (or rotated: same product)
            return ImageHeader(columns, rows, "HDR", 3, 4)
    return None


def read_header(data: bytes) -> ImageHeader | None:
    """The size, pixel layout and decoder working memory an image's header declares, read the way the decoder
    OpenCV will run reads it, without decoding pixels; None if unknown. ``ImageError`` for a header that is
    damaged in a way that would make the decoder allocate without bound."""
    if data[:3] == b"\xff\xd8\xff":  # OpenCV's JPEG signature: anything else after SOI finds no decoder
        return _jpeg_header(data)
    if data[:8] == _PNG_SIGNATURE:
        return _png_header(data)
    if data[:4] in _TIFF_MAGIC:
        return _tiff_header(data)
    if data[:4] == b"RIFF":
        return _webp_header(data)
    if data[:4] == b"\xff\x4f\xff\x51" or data[:8] == b"\x00\x00\x00\x0cjP  ":
        return _jp2_header(data)
    if data[:2] == b"BM":
        return _bmp_header(data)
    if data[:4] == b"\x59\xa6\x6a\x95":
        return _sun_header(data)
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
        return _pxm_header(data)
    return _text_header(data)


def read_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image header without decoding pixels; None if unknown."""
    header = read_header(data)
    return (header.width, header.height) if header else None


def _bands(rows: int, row_bytes: int, band_bytes: int = 16 << 20):
    """Row slices of at most ``band_bytes`` each: conversions run band by band, so they allocate little."""
    step = max(1, band_bytes // max(1, row_bytes))
    return (slice(start, min(rows, start + step)) for start in range(0, rows, step))


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, BGRA, 16-bit, float) to HxWx3 uint8 BGR, in bands (never a full-size float copy)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ImageError(f"unsupported number of channels: {channels}")
    if image.dtype == np.uint8 and channels == 3:
        return image
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ImageError(f"unsupported pixel type {image.dtype}")
    peak = 1.0
    if image.dtype.kind == "f":
        # fmax skips NaN (an all-NaN band gives NaN, without nanmax's warning)
        peaks = [float(np.fmax.reduce(image[rows], axis=None)) for rows in _bands(len(image), image[0].nbytes)]
        peak = max((p for p in peaks if np.isfinite(p)), default=1.0)
    out = np.empty(image.shape[:2] + (3,), np.uint8)
    for rows in _bands(len(image), image[0].nbytes):
        band = image[rows]
        if band.dtype == np.uint16:
            band = (band >> 8).astype(np.uint8)
        elif band.dtype.kind == "f":
            band = np.nan_to_num(band * (255.0 if peak <= 1.0 else 1.0), nan=0.0, posinf=255.0, neginf=0.0)
            band = np.clip(band, 0, 255).astype(np.uint8)
        if channels == 1:
            out[rows] = cv2.cvtColor(band, cv2.COLOR_GRAY2BGR)
        elif channels == 2:  # gray + alpha
            out[rows] = _composite_on_white(cv2.cvtColor(np.ascontiguousarray(band[:, :, 0]), cv2.COLOR_GRAY2BGR),
                                            band[:, :, 1:2])
        elif channels == 4:
            # Transparent pixels often store black: composite on white, as PaddleOCR's alpha_to_color does.
            out[rows] = _composite_on_white(band[:, :, :3], band[:, :, 3:4])
        else:
            out[rows] = band
    return out


def _composite_on_white(bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    weight = alpha.astype(np.float32) / 255.0
    return (bgr.astype(np.float32) * weight + 255.0 * (1.0 - weight)).astype(np.uint8)



def plan_decode(header: ImageHeader, name: str, max_pixels: int) -> tuple[int, int]:
    """(imdecode flag, reduction factor) for ``header``, or ``ImageError`` saying why it is refused."""
    width, height = header.width, header.height
    if width < 1 or height < 1:
        raise ImageError(f"{name}: header declares a {width}x{height} image")
    size = f"{width}x{height} ({header.pixels / 1e6:.0f} MP)"
    if max(width, height) > OPENCV_MAX_SIDE:
        raise ImageError(f"{name}: refused: image is {size}, a side above OpenCV's {OPENCV_MAX_SIDE:,} px limit")
    if header.scans > 1 and (header.scans > MAX_JPEG_SCANS or header.scans * header.pixels > MAX_JPEG_SCAN_PIXELS):
        raise ImageError(f"{name}: refused: a JPEG of {size} in {header.scans} scans, each of which walks the whole "
                         f"image: above the limit of {MAX_JPEG_SCAN_PIXELS / 1e6:.0f} MP of scans "
                         f"({MAX_JPEG_SCAN_PIXELS // MAX_IMAGE_PIXELS} scans of {MAX_IMAGE_PIXELS / 1e6:.0f} MP)")
    factor, flag = 1, cv2.IMREAD_UNCHANGED
    if header.format == "JPEG":
        flag = cv2.IMREAD_COLOR  # applies EXIF orientation
    if header.pixels > max_pixels:
        if header.format != "JPEG":
            raise ImageError(f"{name}: refused: image is {size}, above the {max_pixels / 1e6:.0f} MP limit "
                             "(only JPEGs are decoded at reduced size); downscale it")
        # libjpeg decodes directly at 1/2, 1/4 or 1/8 size: memory stays bounded.
        factor, flag = next(((f, fl) for f, fl in _REDUCED_JPEG_FLAGS if (width // f) * (height // f) <= max_pixels),
                            _REDUCED_JPEG_FLAGS[-1])
        if -(-width // factor) * -(-height // factor) > max_pixels:
            raise ImageError(f"{name}: refused: image is {size}, too large even at 1/8 size")
    out_pixels = -(-width // factor) * -(-height // factor)
    unchanged = header.pixels * header.channels * header.sample_bytes
    if flag == cv2.IMREAD_UNCHANGED and unchanged > MAX_UNCHANGED_BYTES:
        flag = cv2.IMREAD_COLOR  # straight to 8-bit BGR: drops alpha and depth, bounds the array
    output = unchanged if flag == cv2.IMREAD_UNCHANGED else out_pixels * 3
    if header.work_bytes is not None:
        codec = header.work_bytes
    else:
        codec = header.pixels * header.channels * _CODEC_PLANE_BYTES.get(header.format, 0)
        if header.format == "TIFF":
            codec = unchanged  # a single-strip TIFF is read in one piece
        if header.progressive:
            codec = header.pixels * header.channels * 2  # 16-bit DCT coefficients of the whole image
    if output + codec > MAX_DECODE_BYTES:
        raise ImageError(f"{name}: refused: decoding this {header.format} of {size} would need about "
                         f"{(output + codec) / 2**20:.0f} MiB, above the {MAX_DECODE_BYTES >> 20} MiB limit")
    return flag, factor


# Decodes run one at a time: the decoders' working memory (up to MAX_DECODE_BYTES) is held by one image at a time
# whatever the number of workers, and what a decoder prints on the C stderr belongs to the image being decoded.
_DECODE_LOCK = threading.Lock()
_CHATTER_BYTES = 4096


@contextlib.contextmanager
def _c_stderr_captured():
    """Point file descriptor 2 at a temporary file while a C decoder runs: libjpeg ("Corrupt JPEG data: ...") and
    libpng ("libpng warning: ...") print there with fprintf. Yields a list that receives the captured lines.
    The CLI writes its own lines through a duplicate of fd 2 (see ``edge_ocr.cli``), so they are never caught."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
        sink = tempfile.TemporaryFile()
    except (OSError, ValueError, AttributeError):
        sink = None
    saved = -1
    if sink is not None:
        try:
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
        except OSError:  # no fd 2 at all: nothing to capture
            if saved >= 0:
                os.close(saved)
            saved = -1
    try:
        yield lines
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        if sink is not None:
            sink.seek(0)
            text = sink.read(_CHATTER_BYTES).decode("utf-8", "replace")
            sink.close()
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _decoder_reason(chatter: list[str]) -> str:
    """The decoder's last complaint, as a parenthesised suffix for a refusal ("" if it said nothing)."""
    errors = [line for line in chatter if "error" in line.lower()] or chatter
    return f" ({printable(errors[-1])[:160]})" if errors else ""


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Decode encoded image bytes to BGR, refusing or reducing images above ``max_pixels`` (see the module doc)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    try:
        header = read_header(data)
    except ImageError as exc:
        raise ImageError(f"{name}: refused: {exc}") from None
    if header is None:
        raise ImageError(f"{name}: not an image, a damaged/truncated file, or a format whose size cannot be read "
                         "from its header")
    flag, factor = plan_decode(header, name, max_pixels)
    with _DECODE_LOCK, _c_stderr_captured() as chatter:
        try:
            if header.format in ISOLATED_FORMATS:
                image = _imdecode_in_child(data, flag, name, header.format)
            else:
                image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
            failure = None
        except cv2.error as exc:
            image, failure = None, str(exc)
        if image is not None and image.size:
            _check_decoded(image, header, factor, name)
            loaded = _finish(image, header, factor, name, max_pixels)
    if failure is not None:
        if "CV_IO_MAX_IMAGE" in failure:  # the decoder's own limit: it read a size the header did not declare
            raise ImageError(f"{name}: refused: OpenCV's {header.format} decoder reads an image above its "
                             f"{max_pixels / 1e6:.0f} MP limit where the header declares {header.width}x"
                             f"{header.height}: a damaged or hostile file")
        reason = printable(failure.strip().splitlines()[-1])[:200]
        raise ImageError(f"{name}: OpenCV cannot decode this {header.format} ({reason})")
    if image is None or image.size == 0:
        raise ImageError(f"{name}: not an image or a damaged/truncated file{_decoder_reason(chatter)}")
    if chatter:
        loaded.warnings = [printable(line)[:200] for line in chatter[:3]]
        log.warning("%s: decoded with warnings: %s", name, "; ".join(loaded.warnings))
    return loaded


# OpenCV's bundled OpenJPEG (2.5.0) dies with SIGSEGV on some truncated or bit-flipped JPEG 2000 files
# (benchmarks/property_soak.py --images found 4 in 5000 mutants): those are decoded in a child process, where a crash
# is a refusal. It costs a process start (~0.3 s) per JPEG 2000 image, a format rarely fed to OCR.
ISOLATED_FORMATS = ("JPEG2000",)
# The child inherits OpenCV's limits through the environment (edge_ocr.opencv put them there) and imports only
# cv2 and numpy, not edge_ocr.
_CHILD_DECODE = (
    "import sys\n"
    "import numpy as np\n"
    "import cv2\n"
    "cv2.setLogLevel(0)\n"
    "image = cv2.imdecode(np.fromfile(sys.argv[1], np.uint8), int(sys.argv[3]))\n"
    "if image is not None:\n"
    "    np.save(sys.argv[2], image, allow_pickle=False)\n"
)


def _imdecode_in_child(data: bytes, flag: int, name: str, kind: str) -> np.ndarray | None:
    """``cv2.imdecode`` in a fresh Python process: the decoded array, None if the decoder gave none, or
    ``ImageError`` if it crashed."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="edge-ocr-decode-") as work:
        source, result = os.path.join(work, "in"), os.path.join(work, "out.npy")
        with open(source, "wb") as handle:
            handle.write(data)
        try:
            # OpenCV's temporary copy of the input (__opencv_temp.*) goes in ``work`` too: a crashed child cannot
            # remove it, and /tmp would collect one per crash
            proc = subprocess.run([sys.executable, "-c", _CHILD_DECODE, source, result, str(flag)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
                                  env={**os.environ, "OPENCV_TEMP_PATH": work})
        except subprocess.TimeoutExpired:
            raise ImageError(f"{name}: refused: the {kind} decoder ran for more than 300 s on this file") from None
        if proc.returncode < 0:
            raise ImageError(f"{name}: refused: the {kind} decoder crashed on this file (signal {-proc.returncode}): "
                             "a damaged or hostile file")
        if proc.returncode != 0 or not os.path.exists(result):
            chatter = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            if proc.returncode != 0 and chatter:
                raise cv2.error(chatter[-1])
            return None
        return np.load(result, allow_pickle=False)


def _check_decoded(image: np.ndarray, header: ImageHeader, factor: int, name: str) -> None:
    """The decoded array must be the size the header declared (at the planned reduction, turned by EXIF or not):
    anything else means the decoder read another header than ours, and its memory bound did not hold."""
    expected = (-(-header.height // factor), -(-header.width // factor))
    height, width = image.shape[:2]
    if (height, width) not in (expected, expected[::-1]):
        at = f" at 1/{factor}" if factor > 1 else ""
        raise ImageError(f"{name}: refused: the decoder read a {width}x{height} image where the header declares "
                         f"{header.width}x{header.height}{at}: a damaged or hostile file")


def _finish(image: np.ndarray, header: ImageHeader, factor: int, name: str, max_pixels: int) -> LoadedImage:
    height, width = image.shape[:2]
    rotated = (header.width > header.height) != (width > height) and header.width != header.height
    size = (header.height, header.width) if rotated else (header.width, header.height)
    scale = 1.0
    if factor > 1:
        scale = max(header.width, header.height) / max(width, height)
        log.warning("%s: %dx%d (%.0f MP) is above the %.0f MP limit: decoded at 1/%d size", name, header.width,
                    header.height, header.pixels / 1e6, max_pixels / 1e6, factor)
    return LoadedImage(to_bgr8(image), scale, size if factor > 1 else (width, height))


def read_image_file(path: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``ImageError`` for anything else.

    The file is opened non-blocking and checked on its descriptor, so a FIFO never blocks and a file swapped for a
    device between a check and the read is still refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    name = display_path(path)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason = describe_os_error(exc)
        raise ImageError(f"{name}: {reason}" if exc.errno in _PRECISE_ERRNOS else f"{name}: cannot read ({reason})"
                         ) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{name}: is a folder, not an image")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{name}: not a regular file (a device, FIFO or socket is never read)")
        if info.st_size > max_bytes:
            raise ImageError(f"{name}: refused: {info.st_size / 2**20:.0f} MiB, above the {max_bytes >> 20} MiB "
                             "file size limit")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({describe_os_error(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while we read it
        raise ImageError(f"{name}: refused: above the {max_bytes >> 20} MiB file size limit")
    return data


_PRECISE_ERRNOS = {errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR}


def load_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Read an image file to BGR; every failure is an ``ImageError`` with a one-line reason."""
    path = os.fspath(path)
    return decode_image(read_image_file(path), display_path(path), max_pixels)


def as_bgr8(image, max_pixels: int = MAX_IMAGE_PIXELS, name: str = "image") -> np.ndarray:
    """An array handed to the Python API as the HxWx3 uint8 BGR the pipeline runs on, or ``ImageError`` saying
    what is wrong with it. Converted as decoded files are: gray (HxW, HxWx1), gray+alpha, BGRA (composited on
    white), 16-bit (top 8 bits); a non-contiguous view is copied. Refused: float, bool, signed and object arrays,
    other ranks or channel counts, empty arrays and images above ``max_pixels``."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name} must be a numpy array (H x W x 3, uint8, BGR), not {type(image).__name__}")
    if image.dtype not in (np.uint8, np.uint16):
        hint = " (scale it to 0-255 and convert to uint8)" if image.dtype.kind == "f" else ""
        raise ImageError(f"{name}: pixel type {image.dtype} is not accepted, only uint8 or uint16{hint}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ImageError(f"{name}: shape {image.shape} is not an image: expected H x W (gray), H x W x 1, "
                         "H x W x 3 (BGR) or H x W x 4 (BGRA)")
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ImageError(f"{name}: empty image (shape {image.shape})")
    if height * width > max_pixels:
        raise ImageError(f"{name}: {width}x{height} is above the {max_pixels / 1e6:.0f} MP limit; downscale it")
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    return to_bgr8(np.ascontiguousarray(image))


def display_path(path: str) -> str:
    """``path`` as printable text: bytes that are not UTF-8 in a file name (kept by Python as surrogates) are shown
    as ``\\xNN`` escapes, so messages and JSON can always be written. (Control characters stay: JSON escapes
    them, and ``edge_ocr.errors.printable`` does for the terminal.)"""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def list_images(paths: list[str]) -> list[str]:
    """Expand folders (sorted, non-recursive) into image files; files are kept as given."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES))
            except OSError as exc:
                raise ImageError(f"{display_path(path)}: cannot list this folder ({describe_os_error(exc)})") from None
            found.extend(os.path.join(path, n) for n in names)
        else:
            found.append(path)
    return found
