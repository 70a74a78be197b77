"""Peak memory of edge-ocr on image bombs: every format OpenCV decodes, at, above and far above the limits.

    python benchmarks/image_bombs.py [--models DIR] [--only NAME ...] [--keep DIR]

Generates the corpus (in a temporary folder: formats x sizes, real encodings where they fit in memory here,
crafted streams or headers that lie where they do not), then runs each case in a fresh subprocess twice: the
decoder alone (``load_image``) and the whole ``edge-ocr predict FILE --json`` with the FP32 models (Paddle
Inference), and records each one's own peak RSS (VmHWM, reset at its start: see PRELUDE), its wall time and its
outcome (decoded size, reduced, or the refusal line). Writes ``benchmarks/results/image-bombs.{json,md}``; exits 1
if any case passes 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import RESULTS, git_commit, machine, shared_dir, write_json, write_text  # noqa: E402

LIMIT_BYTES = 1.5e9
PEAK_FILE_ENV = "EDGE_OCR_PEAK_FILE"
# Run first in every measured process. A child's ru_maxrss (and VmHWM) starts from its parent's RSS at fork time,
# which would charge the parent's memory (a test process that has loaded Paddle) to the child: writing 5 to
# clear_refs resets VmHWM to the process's own current RSS, and the value at exit is reported through a file.
PRELUDE = (
    "import atexit, os, resource\n"
    "open('/proc/self/clear_refs', 'w').write('5')\n"
    "def _report_peak():\n"
    "    peak = next(ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM:'))\n"
    "    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    f"    open(os.environ['{PEAK_FILE_ENV}'], 'w').write(f'{{peak}} {{child}}')\n"
    "atexit.register(_report_peak)\n"
)
PREDICT = "import sys\nfrom edge_ocr.cli import main\nsys.exit(main(sys.argv[1:]))\n"
DECODE_ONLY = (
    "import json, sys\n"
    "from edge_ocr.errors import ImageError\n"
    "from edge_ocr.images import load_image\n"
    "try:\n"
    "    loaded = load_image(sys.argv[1])\n"
    "    print(json.dumps({'decoded': list(loaded.image.shape[:2][::-1]), 'scale': round(loaded.scale, 4)}))\n"
    "except ImageError as exc:\n"
    "    print(json.dumps({'refused': str(exc)}))\n"
)


# ------------------------------------------------------------------------------------------ corpus


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def crafted_png(path: str, width: int, height: int, rows: int | None = None) -> None:
    """An 8-bit gray PNG of zeros, compressed row block by row block (a 900 MP one is ~1 MB and never in memory);
    ``rows`` < height writes only that many rows (a header that lies about its data)."""
    packer = zlib.compressobj(9)
    row = bytes(width + 1)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        data = []
        for start in range(0, rows if rows is not None else height, 256):
            data.append(packer.compress(row * min(256, height - start)))
        data.append(packer.flush())
        out.write(_png_chunk(b"IDAT", b"".join(data)) + _png_chunk(b"IEND", b""))


def crafted_tiff(path: str, width: int, height: int) -> None:
    """A deflate-compressed 8-bit gray single-strip TIFF of zeros, written as a stream."""
    packer = zlib.compressobj(9)
    strip = b"".join(packer.compress(bytes(width * min(256, height - s))) for s in range(0, height, 256))
    strip += packer.flush()
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 4, height), (279, 4, len(strip))]
    ifd_offset = 8 + len(strip)
    with open(path, "wb") as out:
        out.write(b"II*\x00" + struct.pack("<I", ifd_offset) + strip)
        out.write(struct.pack("<H", len(entries)))
        for tag, kind, value in entries:
            out.write(struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                                           else struct.pack("<I", value)))
        out.write(struct.pack("<I", 0))


def encoded(path: str, image: np.ndarray, params: tuple = ()) -> None:
    ok, data = cv2.imencode(os.path.splitext(path)[1], image, list(params))
    assert ok, path
    data.tofile(path)


def jpeg_with_size(path: str, width: int, height: int) -> None:
    """A small real JPEG whose SOF is patched to claim ``width`` x ``height`` (its data runs out early)."""
    ok, data = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    open(path, "wb").write(bytes(data))


def exif_jpeg(path: str, width: int, height: int, orientation: int) -> None:
    from PIL import Image

    picture = Image.fromarray(np.full((height, width, 3), 200, np.uint8))
    exif = picture.getexif()
    exif[0x0112] = orientation
    picture.save(path, quality=50, exif=exif.tobytes())


def text_header(path: str, header: bytes, payload: int = 1024) -> None:
    open(path, "wb").write(header + bytes(payload))


# ------------------------------------------------------------------ headers that two parsers read differently


def jpeg_stuffed_header(path: str, width: int, height: int) -> None:
    """SOI, then ``FF 00 00 06`` (a stuffed byte and junk to libjpeg, which skips them; a marker with a 6-byte
    segment to a naive reader), then an APP1 segment that holds a fake 1x1 SOF, then the real SOF claiming
    ``width`` x ``height`` over a small real scan."""
    ok, data = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    fake_sof = b"\xff\xc0\x00\x11\x08\x00\x01\x00\x01\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 2 + len(fake_sof)) + b"\x00\x00" + fake_sof
    open(path, "wb").write(bytes(data[:2]) + b"\xff\x00\x00\x06" + app1 + bytes(data[2:]))


def jpeg_repeated_scans(path: str, side: int, repeats: int) -> None:
    """A progressive JPEG of ``side`` x ``side`` whose last refinement scan is repeated ``repeats`` times: a small
    file whose decode walks the whole image once per scan."""
    image = np.zeros((side, side, 3), np.uint8)
    image[side // 3 : side // 3 + side // 20, side // 8 : side - side // 8] = 255
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    del image
    data = data.tobytes()
    last = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    open(path, "wb").write(data[:end] + data[last:end] * repeats + data[end:])


def png_chunk_claiming(path: str, length: int = 0x7FFFFFF0, kind: bytes = b"tEXt") -> None:
    """A valid 10x10 PNG with one more chunk after IDAT whose length field claims ``length`` bytes (OpenCV's own
    chunk reader allocates that much before reading it; Pillow stops reading at IDAT)."""
    ok, data = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))
    data = data.tobytes()
    end = data.rindex(b"IEND") - 4
    open(path, "wb").write(data[:end] + struct.pack(">I", length) + kind + b"abc" + data[end:])


def tiff_duplicate_size(path: str, width: int, height: int) -> None:
    """A deflate TIFF of ``width`` x ``height`` zeros whose IFD repeats ImageWidth and ImageLength as 1 after the
    real ones: libtiff keeps the first of two equal tags, Pillow the last."""
    packer = zlib.compressobj(9)
    strip = b"".join(packer.compress(bytes(width * min(256, height - s))) for s in range(0, height, 256))
    strip += packer.flush()
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 4, height), (279, 4, len(strip)), (256, 4, 1), (257, 4, 1)]
    with open(path, "wb") as out:
        out.write(b"II*\x00" + struct.pack("<I", 8 + len(strip)) + strip)
        out.write(struct.pack("<H", len(entries)))
        for tag, kind, value in entries:
            out.write(struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                                           else struct.pack("<I", value)))
        out.write(struct.pack("<I", 0))


def jp2_small_ihdr(path: str, side: int) -> None:
    """A real JPEG 2000 file of ``side`` x ``side`` whose JP2 ``ihdr`` box claims 16 x 16 (OpenJPEG sizes the
    image from the codestream's SIZ marker; Pillow from ihdr)."""
    ok, data = cv2.imencode(".jp2", np.zeros((side, side, 3), np.uint8))
    data = bytearray(data.tobytes())
    ihdr = data.index(b"ihdr")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 16, 16)
    open(path, "wb").write(bytes(data))


def _png_chunk_before_idat(path: str, length: int) -> None:
    ok, data = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))
    data = data.tobytes()
    open(path, "wb").write(data[:33] + struct.pack(">I", length) + b"tEXt" + b"abc" + data[33:])


def corpus(folder: str) -> list[tuple[str, str, str]]:
    """(name, file, what it is) for every case; files are written into ``folder``."""
    cases = []

    def add(name: str, ext: str, what: str, make) -> None:
        path = os.path.join(folder, name + ext)
        if not os.path.lexists(path):  # a kept corpus (--keep) is reused
            make(path)
        cases.append((name, path, what))

    mp64 = np.zeros((8000, 8000, 3), np.uint8)
    mp64[3000:3400, 1000:6000] = 255
    png_fast, webp_low, progressive = (cv2.IMWRITE_PNG_COMPRESSION, 1), (cv2.IMWRITE_WEBP_QUALITY, 1), \
        (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    # Real encodings: (name, extension, what, image shape or the 64 MP picture, dtype, imencode parameters).
    encodings = [
        ("png-8000x8000-rgb", ".png", "64 MP RGB PNG (at the pixel limit)", None, None, png_fast),
        ("png-8000x8000-rgba16", ".png", "64 MP 16-bit RGBA PNG (512 MB with alpha and depth)", (8000, 8000, 4),
         np.uint16, png_fast),
        ("png-8000x8000-rgba", ".png", "64 MP 8-bit RGBA PNG (alpha composited)", (8000, 8000, 4), np.uint8, png_fast),
        ("tiff-8000x8000-rgb16", ".tif", "64 MP 16-bit RGB TIFF (decoded straight to 8-bit)", (8000, 8000, 3),
         np.uint16, ()),
        ("tiff-8000x8000-float", ".tif", "64 MP float RGB TIFF (768 MB unconverted)", (8000, 8000, 3), np.float32, ()),
        ("webp-16000x16000", ".webp", "256 MP WebP of one colour", (16000, 16000, 3), np.uint8, webp_low),
        ("webp-8000x8000", ".webp", "64 MP WebP", None, None, (cv2.IMWRITE_WEBP_QUALITY, 50)),
        ("jpeg-8000x8000", ".jpg", "64 MP baseline JPEG", None, None, ()),
        ("jpeg-8000x8000-progressive", ".jpg", "64 MP progressive JPEG (full-size coefficient buffers)", None, None,
         progressive),
        ("jpeg-16000x12000-progressive", ".jpg", "192 MP progressive JPEG", (12000, 16000, 3), np.uint8, progressive),
        ("jpeg-20000x20000", ".jpg", "400 MP baseline JPEG (decoded at 1/4)", (20000, 20000, 3), np.uint8,
         (cv2.IMWRITE_JPEG_QUALITY, 30)),
        ("jp2-6000x6000", ".jp2", "36 MP JPEG 2000 (OpenJPEG holds int32 planes)", (6000, 6000, 3), np.uint8, ()),
        ("bmp-8000x8000", ".bmp", "64 MP uncompressed BMP (192 MB file)", None, None, ()),
        ("bmp-9500x9500-rgba", ".bmp", "90 MP 32-bit BMP (344 MB file, above the byte limit)", (9500, 9500, 4),
         np.uint8, ()),
        ("pgm-8000x8000-16bit", ".pgm", "64 MP 16-bit PGM (128 MB file)", (8000, 8000), np.uint16, ()),
        ("pfm-4000x4000", ".pfm", "16 MP float PFM (192 MB file)", (4000, 4000, 3), np.float32, ()),
        ("hdr-4000x4000", ".hdr", "16 MP Radiance HDR", (4000, 4000, 3), np.float32, ()),
        ("sun-8000x8000", ".ras", "64 MP Sun raster", None, None, ()),
    ]
    for name, ext, what, shape, dtype, params in encodings:
        add(name, ext, what, lambda p, s=shape, d=dtype, k=params: encoded(p, mp64 if s is None else np.zeros(s, d), k))
    # Crafted streams and headers that lie: sizes no real encoding here could hold in memory.
    add("png-30000x30000-bomb", ".png", "900 MP PNG of zeros, ~1 MB", lambda p: crafted_png(p, 30000, 30000))
    add("png-65535x65535-lie", ".png", "PNG header claiming 4.3 GP, 200 rows of data",
        lambda p: crafted_png(p, 65535, 65535, rows=200))
    add("tiff-30000x30000-bomb", ".tif", "900 MP deflate TIFF, ~1 MB", lambda p: crafted_tiff(p, 30000, 30000))
    add("tiff-1x1100000", ".tif", "1 x 1,100,000 TIFF (past OpenCV's 2^20 side)", lambda p: crafted_tiff(p, 1, 1100000))
    add("jpeg-16000x6000-exif6", ".jpg", "96 MP JPEG, EXIF orientation 6 (decoded at 1/2, rotated)",
        lambda p: exif_jpeg(p, 16000, 6000, 6))
    add("jpeg-50000x50000-lie", ".jpg", "JPEG header claiming 2.5 GP, 1 KB of data",
        lambda p: jpeg_with_size(p, 50000, 50000))
    add("jpeg-65500x65500-lie", ".jpg", "JPEG header claiming 4.3 GP (too large even at 1/8)",
        lambda p: jpeg_with_size(p, 65500, 65500))
    add("pam-100000x100000-lie", ".pam", "PAM header claiming 10 GP",
        lambda p: text_header(p, b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"))
    add("hdr-30000x30000-lie", ".hdr", "Radiance HDR header claiming 900 MP",
        lambda p: text_header(p, b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 30000 +X 30000\n"))
    add("garbage-10MB", ".png", "10 MB of random bytes named .png",
        lambda p: open(p, "wb").write(np.random.default_rng(0).bytes(10 << 20)))
    add("fifo", ".jpg", "a FIFO named .jpg (nobody writes to it)", os.mkfifo)
    # Headers that two parsers read differently (issue #25): each case reached 2-4 GB before.
    add("jpeg-24000x24000-stuffed-ff00", ".jpg", "JPEG: FF 00 00 06 after SOI, a fake 1x1 SOF in APP1, real SOF "
        "24000x24000", lambda p: jpeg_stuffed_header(p, 24000, 24000))
    add("png-chunk-2gb-after-idat", ".png", "10x10 PNG, a tEXt chunk after IDAT claiming 2^31 bytes",
        png_chunk_claiming)
    add("png-chunk-4gb-before-idat", ".png", "10x10 PNG, a chunk before IDAT claiming 4 GB",
        lambda p: _png_chunk_before_idat(p, 0xFFFFFFF0))
    add("tiff-30000x30000-duplicate-tags", ".tif", "900 MP TIFF whose IFD repeats width/height as 1 (libtiff keeps "
        "the first)", lambda p: tiff_duplicate_size(p, 30000, 30000))
    add("jp2-8000x8000-ihdr-16x16", ".jp2", "64 MP JPEG 2000 whose ihdr box claims 16x16",
        lambda p: jp2_small_ihdr(p, 8000))
    # Work, not memory: a progressive JPEG whose last scan is repeated.
    add("jpeg-8000x8000-5000-scans", ".jpg", "64 MP progressive JPEG, last scan repeated 5,000 times",
        lambda p: jpeg_repeated_scans(p, 8000, 5000))
    return cases


# ------------------------------------------------------------------------------------------ measuring


def measure(code: str, args: list[str], timeout: float = 600) -> dict:
    """Run ``python -c code args`` in a fresh process: its own peak RSS (VmHWM, see PRELUDE), wall time, exit code
    and output; ``peak_rss_mb`` is None when the process died before reporting it."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as peak:
        env = {**os.environ, PEAK_FILE_ENV: peak.name}
        proc = subprocess.Popen([sys.executable, "-c", PRELUDE + code, *args], stdout=out, stderr=err, env=env)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        reported = open(peak.name).read().split()
        child = int(reported[1]) * 1024 / 1e6 if len(reported) > 1 else 0.0
        return {"peak_rss_mb": round(int(reported[0]) * 1024 / 1e6, 1) if reported else None,  # VmHWM is in kB
                "child_peak_rss_mb": round(child, 1) if child > 0 else None,  # a decoder run in a child (JP2)
                "seconds": round(time.perf_counter() - start, 2), "rc": proc.returncode,
                "stdout": out.read().decode("utf-8", "replace"), "stderr": err.read().decode("utf-8", "replace")}


def outcome_of_decode(run: dict) -> str:
    lines = [ln for ln in run["stdout"].splitlines() if ln.startswith("{")]
    if run["rc"] != 0 or not lines:
        return f"CRASH rc {run['rc']}: {run['stderr'].strip().splitlines()[-1:] or ''}"
    result = json.loads(lines[-1])
    if "refused" in result:
        reason = result["refused"].split(": ", 1)[-1]
        return reason if reason.startswith("refused") else "refused: " + reason
    width, height = result["decoded"]
    return f"decoded {width}x{height}" + (f", scale {result['scale']}" if result["scale"] != 1 else "")


# Folder runs with several workers: (name, corpus cases linked into one folder, --workers, what it is).
WORKER_CASES = [
    ("workers-2-stuffed-jpeg-x2", ["jpeg-24000x24000-stuffed-ff00"] * 2, 2,
     "two header-disagreement JPEGs (24000x24000 each), --workers 2"),
    ("workers-2-64mp-x2", ["png-8000x8000-rgba", "bmp-8000x8000"], 2, "two 64 MP images (RGBA PNG, BMP), --workers 2"),
    ("workers-8-64mp-x4", ["png-8000x8000-rgba", "bmp-8000x8000", "jpeg-8000x8000-progressive", "sun-8000x8000"], 8,
     "four 64 MP images, --workers 8 (capped at 2)"),
]


def run_worker_cases(cases: list[tuple[str, str, str]], models: str, only: list[str] | None) -> list[dict]:
    """The WORKER_CASES whose files are in ``cases``: each a ``predict FOLDER --workers N`` in a fresh process."""
    files = {name: path for name, path, _ in cases}
    rows = []
    for name, members, workers, what in WORKER_CASES:
        if (only and name not in only) or not all(m in files for m in members):
            continue
        with tempfile.TemporaryDirectory() as work:
            folder = os.path.join(work, "in")
            os.mkdir(folder)
            for k, member in enumerate(members):
                os.link(files[member], os.path.join(folder, f"{k}-{os.path.basename(files[member])}"))
            run = measure(PREDICT, ["predict", folder, "--models", models, "--workers", str(workers), "--quiet",
                                    "--json", os.path.join(work, "out.json")])
            size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
        errors = [ln for ln in run["stderr"].splitlines() if ln.startswith("edge-ocr:")]
        rows.append({"case": name, "what": what, "file_bytes": size,
                     "outcome": f"{len(members)} images, {workers} workers asked",
                     "decode_peak_rss_mb": None, "decode_seconds": None,
                     "predict_peak_rss_mb": run["peak_rss_mb"], "predict_seconds": run["seconds"],
                     "predict_rc": run["rc"], "predict_json_written": True,
                     "predict_error": errors[0] if errors else None, "traceback": "Traceback" in run["stderr"]})
        print(f"{name:32s} predict {run['peak_rss_mb']} MB rc {run['rc']}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=os.path.join(shared_dir(), "models", "ppocrv2"))
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--keep", metavar="DIR", help="write the corpus here and keep it")
    parser.add_argument("--out", default=os.path.join(RESULTS, "image-bombs"))
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="bombs-")
    os.makedirs(folder, exist_ok=True)
    print(f"generating the corpus in {folder}", file=sys.stderr)
    cases = [c for c in corpus(folder) if not args.only or c[0] in args.only]
    baseline = measure("import edge_ocr.images", [])
    worker_rows = run_worker_cases(corpus(folder), args.models, args.only)  # before the loop removes the files
    rows = []
    for name, path, what in cases:
        decode = measure(DECODE_ONLY, [path], timeout=120)
        with tempfile.TemporaryDirectory() as work:
            out_json = os.path.join(work, "out.json")
            predict = measure(PREDICT, ["predict", path, "--models", args.models, "--json", out_json, "--quiet"])
            written = os.path.isfile(out_json)
        errors = [ln for ln in predict["stderr"].splitlines() if ln.startswith("edge-ocr:")]
        row = {"case": name, "what": what, "file_bytes": os.path.getsize(path) if os.path.isfile(path) else 0,
               "outcome": outcome_of_decode(decode),
               "decode_peak_rss_mb": decode["peak_rss_mb"], "decode_seconds": decode["seconds"],
               "decode_child_peak_rss_mb": decode["child_peak_rss_mb"],
               "predict_peak_rss_mb": predict["peak_rss_mb"], "predict_seconds": predict["seconds"],
               "predict_child_peak_rss_mb": predict["child_peak_rss_mb"],
               "predict_rc": predict["rc"], "predict_json_written": written,
               "predict_error": errors[0] if errors else None,
               "traceback": "Traceback" in predict["stderr"] + decode["stderr"]}
        rows.append(row)
        print(f"{name:32s} decode {row['decode_peak_rss_mb']} MB  predict {row['predict_peak_rss_mb']} MB "
              f"rc {row['predict_rc']}  {row['outcome'][:90]}", file=sys.stderr)
        if os.path.isfile(path) and not args.keep:
            os.remove(path)
    rows += worker_rows
    peaks = [r[key] for r in rows for key in ("decode_peak_rss_mb", "predict_peak_rss_mb")
             if not (key == "decode_peak_rss_mb" and r["case"].startswith("workers-"))]
    # A decoder isolated in a child process (JPEG 2000) counts together with the process that waits for it.
    # (predict's own children are not counted: importing paddle runs a ~230 MB child once, before any image.)
    peaks += [r["decode_peak_rss_mb"] + r["decode_child_peak_rss_mb"] for r in rows
              if r.get("decode_child_peak_rss_mb")]
    worst = max((p for p in peaks if p is not None), default=0.0)
    ok = None not in peaks and worst * 1e6 < LIMIT_BYTES and not any(r["traceback"] for r in rows)
    report = {"command": "python benchmarks/image_bombs.py", "commit": git_commit(), "machine": machine(),
              "limit_mb": LIMIT_BYTES / 1e6, "import_only_peak_rss_mb": baseline["peak_rss_mb"],
              "max_peak_rss_mb": worst, "all_under_limit": ok, "cases": rows}
    write_json(args.out + ".json", report)
    write_text(args.out + ".md", to_markdown(report))
    print(f"max peak RSS {worst:.1f} MB ({'under' if ok else 'OVER'} {LIMIT_BYTES / 1e9} GB)", file=sys.stderr)
    if not args.keep and not os.listdir(folder):
        os.rmdir(folder)
    return 0 if ok else 1


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Image bombs: peak memory per input", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}. "
             "Each case runs in a fresh process: the decoder alone (`load_image`) and the whole "
             "`edge-ocr predict FILE --json` with the FP32 models on Paddle Inference. Peak RSS is the process's "
             f"VmHWM from its start (importing edge_ocr.images alone: {report['import_only_peak_rss_mb']} MB). "
             f"**Largest peak: {report['max_peak_rss_mb']} MB** (limit {report['limit_mb']:.0f} MB). "
             "The cases after `fifo` are issue #25's: headers that two parsers read differently (each reached 2-4 GB "
             "or crashed before), a progressive JPEG whose scan is repeated 5,000 times (minutes of CPU before), and "
             "folder runs with several workers (the `workers-*` rows: one `predict FOLDER --workers N`; decodes take "
             "turns, and workers are capped at 2). A JPEG 2000 is decoded in a child process (OpenJPEG crashes on "
             "some damaged files): its decode peak is shown as `own + child` and counted as their sum.", "",
             "| case | what | file | outcome | decode peak MB | predict peak MB | predict exit |",
             "|---|---|---|---|---|---|---|"]
    for r in report["cases"]:
        size = f"{r['file_bytes'] / 1e6:.2f} MB" if r["file_bytes"] >= 1e5 else f"{r['file_bytes'] / 1e3:.1f} KB"
        outcome = r["outcome"].replace("|", "/")
        decode = "–" if r["decode_peak_rss_mb"] is None else r["decode_peak_rss_mb"]
        if r.get("decode_child_peak_rss_mb"):
            decode = f"{decode} + child {r['decode_child_peak_rss_mb']}"
        lines.append(f"| {r['case']} | {r['what']} | {size} | {outcome} | {decode} | {r['predict_peak_rss_mb']} | "
                     f"{r['predict_rc']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
