"""Reading images the way users hand them over, with memory bounded for every format before pixels are allocated.

Returns 8-bit BGR arrays, the colour order every PP-OCR model was trained on. Grayscale, RGBA (composited
on white), 16-bit, float and palette images are converted; JPEG EXIF orientation is applied as OpenCV does.

The bounds, in order (README, "Bad input"):
1. only regular files are read (a FIFO or device is refused without opening it for a blocking read), and at most
   ``MAX_IMAGE_BYTES`` of them;
2. the size is read from the header (Pillow's lazy ``Image.open``, a JPEG SOF scan that also finds sizes Pillow
   would refuse, or the text header of PAM/PFM/HDR, the OpenCV formats Pillow does not know); a file whose header
   names no size is refused, never decoded blind;
3. above ``max_pixels`` a JPEG is decoded at 1/2, 1/4 or 1/8 size by libjpeg (boxes come back in original pixels)
   and anything else is refused;
4. what the decoder itself holds (OpenJPEG's int32 planes, float HDR/PFM planes, TIFF strips, progressive JPEG
   coefficients, which are full size even for a reduced decode) is estimated from the header and refused above
   ``MAX_DECODE_BYTES``; a result that would pass ``MAX_UNCHANGED_BYTES`` with its alpha and depth is decoded
   straight to 8-bit BGR instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import stat
import struct
import threading
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from .config import MAX_IMAGE_PIXELS
from .errors import ImageError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm")
MAX_IMAGE_BYTES = 256 << 20  # an uncompressed 64 MP RGBA BMP/TIFF is 244 MiB
MAX_UNCHANGED_BYTES = 256 << 20  # 64 MP x 4 channels x 8 bit: the largest array decoded with its alpha and depth
MAX_DECODE_BYTES = 640 << 20  # output plus what the codec holds while decoding

# JPEG start-of-frame markers carry the image size (C4, C8 and CC are other segments); C2, C6, CA and CE are
# progressive, for which libjpeg keeps every DCT coefficient of the full image in memory.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_REDUCED_JPEG_FLAGS = (
    (2, cv2.IMREAD_REDUCED_COLOR_2),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (8, cv2.IMREAD_REDUCED_COLOR_8),
)
# The formats OpenCV decodes whose headers Pillow reads (GIF, PSD... are known to Pillow only, so not asked for).
_PILLOW_FORMATS = ("PNG", "BMP", "WEBP", "JPEG2000", "PPM", "SUN")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
OPENCV_MAX_SIDE = 1 << 20  # CV_IO_MAX_IMAGE_WIDTH / _HEIGHT: OpenCV throws above it
# Pillow mode -> (channels, bytes per sample) of the array OpenCV's IMREAD_UNCHANGED returns.
_MODE_LAYOUT = {"1": (1, 1), "L": (1, 1), "P": (4, 1), "LA": (2, 1), "PA": (4, 1), "RGB": (3, 1), "YCbCr": (3, 1),
                "RGBA": (4, 1), "RGBX": (4, 1), "CMYK": (4, 1), "I": (1, 4), "F": (1, 4)}
# Codecs that hold a full-size plane of their own while decoding: bytes per pixel per channel.
_CODEC_PLANE_BYTES = {"JPEG2000": 4, "PFM": 4, "HDR": 4, "WEBP": 1}


@dataclass
class LoadedImage:
    image: np.ndarray  # HxWx3 uint8 BGR
    # Original size / decoded size, >1 when a huge JPEG was decoded at reduced resolution.
    scale: float = 1.0
    # (width, height) of the original image as displayed (EXIF orientation applied): boxes are clipped to it.
    size: tuple[int, int] | None = None


@dataclass
class ImageHeader:
    width: int
    height: int
    format: str  # "JPEG", "PNG", ... as Pillow names it
    channels: int = 3  # of the array IMREAD_UNCHANGED returns
    sample_bytes: int = 1
    progressive: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _jpeg_header(data: bytes) -> ImageHeader | None:
    """Size from the first SOF segment; Pillow refuses to even open a JPEG above 178 MP, which we reduce."""
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
        if marker in _SOF_MARKERS and pos + 10 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageHeader(width, height, "JPEG", max(1, data[pos + 9]), 1, marker in _PROGRESSIVE)
        pos += 2 + length
    return None


_PAM_FIELD = re.compile(rb"^(WIDTH|HEIGHT|DEPTH|MAXVAL)\s+(\d+)\s*$", re.M)
_HDR_SIZE = re.compile(rb"\n\n[-+][XY] (\d+) [-+][XY] (\d+)\n")
_PFM_SIZE = re.compile(rb"^P[Ff]\s+(\d+)\s+(\d+)\s")


def _text_header(data: bytes) -> ImageHeader | None:
    """PAM, PFM and Radiance HDR: formats OpenCV decodes and Pillow does not read (short text headers)."""
    head = data[:4096]
    if head.startswith(b"P7\n"):
        fields = {k.decode(): int(v) for k, v in _PAM_FIELD.findall(head.split(b"ENDHDR", 1)[0])}
        if {"WIDTH", "HEIGHT"} <= set(fields):
            depth, maxval = fields.get("DEPTH", 1), fields.get("MAXVAL", 255)
            return ImageHeader(fields["WIDTH"], fields["HEIGHT"], "PAM", depth, 2 if maxval > 255 else 1)
    match = _PFM_SIZE.match(head)
    if match:
        return ImageHeader(int(match[1]), int(match[2]), "PFM", 3 if head[1:2] == b"F" else 1, 4)
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        match = _HDR_SIZE.search(head)
        if match:
            rows, columns = int(match[1]), int(match[2])  # "-Y rows +X columns" (or rotated: same product)
            return ImageHeader(columns, rows, "HDR", 3, 4)
    return None


_WARNINGS_LOCK = threading.Lock()


@contextlib.contextmanager
def _silenced(category: type[Warning]):
    """Ignore ``category`` warnings in this block. ``catch_warnings`` swaps the process-wide filter list, so the
    blocks of the pipeline's worker threads take turns instead of restoring each other's lists."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


def _pillow_header(data: bytes) -> ImageHeader | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with _silenced(Image.DecompressionBombWarning):  # above 89 MP: refused below, with the reason
            with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as picture:
                width, height = picture.size
                channels, sample_bytes = _MODE_LAYOUT.get(picture.mode, (1, 2) if "16" in picture.mode else (4, 4))
                if picture.format == "PNG" and len(data) >= 26:
                    sample_bytes = 2 if data[24] == 16 else 1  # Pillow reads 16-bit colour PNGs as 8-bit modes
                elif picture.format == "PPM" and picture.mode in ("RGB", "L"):
                    sample_bytes = 2  # a 16-bit PPM/PGM may be opened as 8-bit: assume the larger
                return ImageHeader(width, height, picture.format, channels, sample_bytes)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image is over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, EOFError):
        return None


def _tiff_header(data: bytes) -> ImageHeader | None:
    """The first IFD's tags, read by Pillow's tag parser (``Image.open`` refuses layouts OpenCV decodes, such as
    float RGB, and sizes it calls bombs before telling them)."""
    from PIL import TiffImagePlugin

    try:
        directory = TiffImagePlugin.ImageFileDirectory_v2(ifh=data[:16] if data[2] == 43 else data[:8])
        stream = io.BytesIO(data)
        stream.seek(directory.next)
        with _silenced(UserWarning):  # "Corrupt EXIF data": a damaged file is refused below, not warned about
            directory.load(stream)
        width, height = int(directory[256]), int(directory[257])
        bits = directory.get(258, (1,))
        bits = max(bits) if isinstance(bits, tuple) and bits else int(bits or 1)
        return ImageHeader(width, height, "TIFF", int(directory.get(277, 1)), max(1, (bits + 7) // 8))
    except (KeyError, TypeError, ValueError, SyntaxError, OSError, struct.error, IndexError):
        return None


def read_header(data: bytes) -> ImageHeader | None:
    """The size and pixel layout an image's header declares, without decoding pixels; None if unknown."""
    if data[:2] == b"\xff\xd8":
        return _jpeg_header(data)
    if data[:4] in _TIFF_MAGIC:
        return _tiff_header(data)
    return _text_header(data) or _pillow_header(data)


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
    codec = header.pixels * header.channels * _CODEC_PLANE_BYTES.get(header.format, 0)
    if header.format == "TIFF":
        codec = unchanged  # a single-strip TIFF is read in one piece
    if header.progressive:
        codec = header.pixels * header.channels * 2  # 16-bit DCT coefficients of the whole image, whatever the scale
    if output + codec > MAX_DECODE_BYTES:
        raise ImageError(f"{name}: refused: decoding this {header.format} of {size} would need about "
                         f"{(output + codec) / 2**20:.0f} MiB, above the {MAX_DECODE_BYTES >> 20} MiB limit")
    return flag, factor


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Decode encoded image bytes to BGR, refusing or reducing images above ``max_pixels`` (see the module doc)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    try:
        header = read_header(data)
    except ImageError as exc:
        raise ImageError(f"{name}: refused: {exc}, above the {max_pixels / 1e6:.0f} MP limit") from None
    if header is None:
        raise ImageError(f"{name}: not an image, a damaged/truncated file, or a format whose size cannot be read "
                         "from its header")
    flag, factor = plan_decode(header, name, max_pixels)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error as exc:  # e.g. a side above OpenCV's own 2^20 limit
        reason = str(exc).strip().splitlines()[-1][:200]
        raise ImageError(f"{name}: OpenCV cannot decode this {header.format} ({reason})") from None
    if image is None or image.size == 0:
        raise ImageError(f"{name}: not an image or a damaged/truncated file")
    scale = 1.0
    height, width = image.shape[:2]
    rotated = (header.width > header.height) != (width > height) and header.width != header.height
    size = (header.height, header.width) if rotated else (header.width, header.height)
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
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror})") from None
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
        raise ImageError(f"{name}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while we read it
        raise ImageError(f"{name}: refused: above the {max_bytes >> 20} MiB file size limit")
    return data


def load_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Read an image file to BGR; every failure is an ``ImageError`` with a one-line reason."""
    path = os.fspath(path)
    return decode_image(read_image_file(path), display_path(path), max_pixels)


def display_path(path: str) -> str:
    """``path`` as printable text: bytes that are not UTF-8 in a file name (kept by Python as surrogates) are shown
    as ``\\xNN`` escapes, so messages and JSON can always be written."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
