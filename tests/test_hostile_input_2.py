"""Hostile but fair input, second probe (issue #25): decode limits that hold at the decoder, bounded progressive
JPEG work, bounded label files, outputs that never replace inputs, one escaped line per failure, checked API
arrays, exit codes and messages that say what happened."""

from __future__ import annotations

import json
import os
import shutil
import struct

import cv2
import numpy as np
import pytest

from edge_ocr.errors import EdgeOCRError, ImageError, printable
from edge_ocr.images import ImageHeader, decode_image, load_image, read_header
from tests.conftest import run_cli


def one_line_error(proc) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-ocr:")]
    assert errors, proc.stderr
    return errors[-1]


def _decode_in_child(path: str) -> tuple[float, str]:
    """(peak RSS in MB, outcome) of ``load_image(path)`` in a fresh process (a crash is an outcome, not a lost
    test run)."""
    from benchmarks.image_bombs import DECODE_ONLY, measure, outcome_of_decode

    run = measure(DECODE_ONLY, [path], timeout=120)
    return run["peak_rss_mb"], outcome_of_decode(run)


def _encode(ext: str, image: np.ndarray, params=()) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


# ------------------------------------------------------------------ class 2: the header the decoder obeys


def test_jpeg_stuffed_byte_and_fake_sof_are_read_as_libjpeg_does(tmp_path):
    """FF 00 after SOI is a stuffed byte to libjpeg, and the 1x1 SOF inside APP1 is data: the real frame is
    24000 x 24000, decoded at 1/4 (before: decoded full size, 3.76 GB)."""
    from benchmarks.image_bombs import jpeg_stuffed_header

    path = str(tmp_path / "stuffed.jpg")
    jpeg_stuffed_header(path, 24000, 24000)
    header = read_header(open(path, "rb").read())
    assert (header.width, header.height) == (24000, 24000)
    peak, outcome = _decode_in_child(path)
    assert outcome == "decoded 6000x6000, scale 4.0" and peak < 700, (outcome, peak)


@pytest.mark.parametrize("prefix", [b"\xff\xff\xff", b"junk\x00\x01", b"\xff\x00\xff\x00", b"\xff\xd0"])
def test_jpeg_fill_bytes_junk_and_restart_markers_before_a_segment(prefix):
    """libjpeg skips FF fill bytes, non-FF junk, stuffed FF 00 and parameterless markers between segments: the
    header reader does too, and agrees with the decoder on the size."""
    data = _encode(".jpg", np.full((37, 53, 3), 90, np.uint8))
    at = data.index(b"\xff\xdb")  # before the first quantisation table (OpenCV wants FF D8 FF at the start)
    spliced = data[:at] + prefix + data[at:]
    header = read_header(spliced)
    assert (header.width, header.height) == (53, 37)
    assert decode_image(spliced, "x.jpg").image.shape == (37, 53, 3)


def test_jpeg_second_sof_or_unknown_marker_is_refused():
    data = _encode(".jpg", np.full((16, 16, 3), 90, np.uint8))
    sof = data.index(b"\xff\xc0")
    length = struct.unpack(">H", data[sof + 2 : sof + 4])[0]
    twice = data[: sof + 2 + length] + data[sof : sof + 2 + length] + data[sof + 2 + length :]
    assert read_header(twice) is None  # libjpeg: JERR_SOF_DUPLICATE
    assert read_header(data[:2] + b"\xff\x02\x00\x04ab" + data[2:]) is None  # JERR_UNKNOWN_MARKER


@pytest.mark.parametrize("where", ["after_idat", "before_idat"])
def test_png_chunk_claiming_gigabytes_is_refused_from_the_header(tmp_path, where):
    """OpenCV's own PNG chunk reader allocates a chunk's declared length before reading it (2.1 GB from 99 bytes
    before the fix); Pillow stops reading at IDAT and saw a valid 10 x 10 image."""
    from benchmarks.image_bombs import _png_chunk_before_idat, png_chunk_claiming

    path = str(tmp_path / "chunk.png")
    if where == "after_idat":
        png_chunk_claiming(path)
    else:
        _png_chunk_before_idat(path, 0xFFFFFFF0)
    peak, outcome = _decode_in_child(path)
    assert "more than the file holds" in outcome and peak < 300, (outcome, peak)


def test_tiff_duplicate_tags_count_as_libtiff_counts_them(tmp_path):
    """ImageWidth/ImageLength repeated as 1 after the real 30000: libtiff keeps the first (Pillow the last)."""
    from benchmarks.image_bombs import tiff_duplicate_size

    path = str(tmp_path / "dup.tif")
    tiff_duplicate_size(path, 30000, 30000)
    header = read_header(open(path, "rb").read())
    assert (header.width, header.height) == (30000, 30000)
    peak, outcome = _decode_in_child(path)
    assert "above the 64 MP limit" in outcome and peak < 300, (outcome, peak)


def test_tiff_tile_buffer_counts(tmp_path):
    """A 16 x 16 TIFF whose tiles are declared 16384 x 16000: OpenCV allocates one tile's buffer (1 GB)."""
    entries = [(256, 4, 16), (257, 4, 16), (258, 3, 8), (259, 3, 1), (262, 3, 2), (277, 3, 4),
               (322, 4, 16384), (323, 4, 16000), (324, 4, 8), (325, 4, 16)]
    data = b"II*\x00" + struct.pack("<I", 8 + 16) + bytes(16) + struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        data += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                                     else struct.pack("<I", value))
    data += struct.pack("<I", 0)
    with pytest.raises(ImageError, match="would need about 1000 MiB"):
        decode_image(data, "tiles.tif")


def test_jp2_whose_ihdr_box_disagrees_with_its_codestream_is_refused(tmp_path):
    """OpenJPEG decodes such a file with both sizes and crashed (SIGSEGV) in this process on one of them."""
    from benchmarks.image_bombs import jp2_small_ihdr

    path = str(tmp_path / "ihdr.jp2")
    jp2_small_ihdr(path, 200)
    peak, outcome = _decode_in_child(path)
    assert "ihdr box declares 16x16" in outcome and "200x200" in outcome, outcome


def test_decoded_size_is_checked_against_the_header(monkeypatch):
    """If a header reader and the decoder ever disagree, the decoded array is a refusal, not a result."""
    import edge_ocr.images as images

    data = _encode(".png", np.zeros((100, 120, 3), np.uint8))
    monkeypatch.setattr(images, "read_header", lambda _: ImageHeader(60, 50, "PNG", 3, 1, work_bytes=0))
    with pytest.raises(ImageError, match="decoder read a 120x100 image where the header declares 60x50"):
        decode_image(data, "lie.png")


def test_opencv_enforces_the_pixel_limit_itself(tmp_path):
    """edge_ocr sets OpenCV's own limits before cv2 loads: a decoder that reads more pixels than the limit refuses,
    whatever edge_ocr's header reader said (it is made to lie here)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "big.png"
    path.write_bytes(_encode(".png", np.zeros((8001, 8001), np.uint8), (cv2.IMWRITE_PNG_COMPRESSION, 1)))
    code = ("import os, sys\n"
            "import edge_ocr.images as images\n"
            "print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'])\n"
            "images.read_header = lambda d: images.ImageHeader(10, 10, 'PNG', 1, 1, work_bytes=0)\n"
            "try:\n    images.load_image(sys.argv[1])\nexcept images.ImageError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO)
    lines = proc.stdout.splitlines()
    assert lines[0] == "64000000", proc.stdout + proc.stderr
    assert "decoder reads an image above its 64 MP limit" in lines[1], proc.stdout
    assert "[ERROR" not in proc.stderr and "[ WARN" not in proc.stderr


def test_png_metadata_bomb_is_an_image_not_a_damaged_file(tmp_path):
    """A valid PNG whose zTXt chunk inflates to 1 GB: libpng skips it (with a warning, which becomes the image's
    warning) and the image decodes."""
    import zlib

    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(bytes(1 << 24)) for _ in range(64)) + packer.flush()
    data = _encode(".png", np.full((10, 12, 3), 7, np.uint8))
    chunk = b"Comment\0\0" + bomb
    crc = struct.pack(">I", zlib.crc32(b"zTXt" + chunk))
    data = data[:33] + struct.pack(">I", len(chunk)) + b"zTXt" + chunk + crc + data[33:]
    loaded = decode_image(data, "meta.png")
    assert loaded.image.shape == (10, 12, 3)
    assert any("zTXt" in warning for warning in loaded.warnings), loaded.warnings


@pytest.mark.slow
def test_two_hostile_files_with_two_workers_stay_under_the_bound(models_dir, tmp_path):
    """Two header-disagreement JPEGs in one folder with --workers 2 (4.23 GB before): decodes take turns."""
    from benchmarks.image_bombs import PREDICT, jpeg_stuffed_header, measure

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        jpeg_stuffed_header(str(folder / name), 24000, 24000)
    run = measure(PREDICT, ["predict", str(folder), "--models", models_dir, "--workers", "2", "--quiet"])
    assert run["rc"] == 0, run["stderr"][-2000:]
    assert run["peak_rss_mb"] < 1500, run["peak_rss_mb"]


# ------------------------------------------------------------------ class 4: progressive JPEG work


def test_repeated_progressive_scans_are_refused_before_decoding(tmp_path):
    """The last scan repeated 5,000 times (43 ms a scan at 64 MP, minutes of CPU before): refused at once."""
    import time

    from benchmarks.image_bombs import jpeg_repeated_scans

    path = str(tmp_path / "scans.jpg")
    jpeg_repeated_scans(path, 2000, 5000)
    start = time.perf_counter()
    with pytest.raises(ImageError, match="in 5010 scans"):
        load_image(path)
    assert time.perf_counter() - start < 5


def test_ordinary_progressive_jpeg_decodes():
    data = _encode(".jpg", np.full((300, 400, 3), 60, np.uint8), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    header = read_header(data)
    assert header.progressive and 2 <= header.scans <= 12
    assert decode_image(data, "p.jpg").image.shape == (300, 400, 3)


# ------------------------------------------------------------------ class 7: label files


def _box(points: int = 4, text: str = "A") -> dict:
    return {"transcription": text, "points": [[k, k % 2] for k in range(points)]}


@pytest.mark.parametrize("line, message", [
    (lambda: json.dumps([_box()] * 1001), "1,001 boxes for one image, above the limit of 1,000"),
    (lambda: json.dumps([_box(101)]), "box 0 has 101 points, above the limit of 100"),
    (lambda: json.dumps([_box(text="x" * 1001)]), "1,001 characters, above the limit of 1000"),
    (lambda: json.dumps([_box()] * 1000) + " " * (2 << 20), "line longer than 1 MiB"),
])
def test_det_label_lines_are_bounded(tmp_path, line, message):
    from edge_ocr.evaluation.labels import LabelError, read_det_labels

    path = tmp_path / "det.txt"
    path.write_text(f"a.jpg\t{json.dumps([_box()])}\nb.jpg\t{line()}\n")
    with pytest.raises(LabelError, match=f"det.txt:2: .*{message}"):
        read_det_labels(str(path))


def test_million_box_line_is_refused_quickly(tmp_path, models_dir):
    """The issue's 73 MB line of 1,000,000 boxes (2.47 GB and 2 min 38 s before): one line, at once."""
    import time

    path = tmp_path / "det.txt"
    box = json.dumps(_box())
    with open(path, "w") as handle:
        handle.write("a.jpg\t[" + ", ".join([box] * 1_000_000) + "]\n")
    start = time.perf_counter()
    line = one_line_error(run_cli("eval", "--models", models_dir, "--det-labels", str(path)))
    assert "det.txt:1: line longer than 1 MiB" in line and time.perf_counter() - start < 30


def test_rec_label_text_is_bounded(tmp_path):
    from edge_ocr.evaluation.labels import LabelError, read_rec_labels

    path = tmp_path / "rec.txt"
    path.write_text("a.jpg\tok\nb.jpg\t" + "y" * 5000 + "\n")
    with pytest.raises(LabelError, match="rec.txt:2: text of 5,000 characters"):
        read_rec_labels(str(path))


# ------------------------------------------------------------------ class 6: outputs never replace inputs


@pytest.fixture
def folder_of_one(img11, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(img11, folder / "a.jpg")
    return folder


@pytest.mark.parametrize("spelling", ["same", "dotted", "hard_link"])
def test_predict_json_over_an_input_image_is_refused(folder_of_one, tmp_path, spelling):
    image = folder_of_one / "a.jpg"
    before = image.read_bytes()
    target = {"same": str(image), "dotted": str(folder_of_one / "." / "a.jpg"),
              "hard_link": str(tmp_path / "link.jpg")}[spelling]
    if spelling == "hard_link":
        os.link(image, target)
    line = one_line_error(run_cli("predict", str(folder_of_one), "--models", str(tmp_path / "no-models"),
                                  "--json", target))
    assert "is an input of this run" in line and "refusing to overwrite it" in line, line
    assert image.read_bytes() == before


def test_predict_drawing_over_an_input_is_refused(folder_of_one, img11, tmp_path):
    shutil.copy(img11, folder_of_one / "a_ocr.jpg")  # an input that a drawing of a.jpg would replace
    line = one_line_error(run_cli("predict", str(folder_of_one), "--models", str(tmp_path / "no-models"),
                                  "--draw", str(folder_of_one)))
    assert "--draw" in line and "is an input of this run" in line, line


def test_predict_json_over_a_model_file_is_refused(models_dir, img11, tmp_path):
    from tests.conftest import copy_models

    models = copy_models(models_dir, str(tmp_path / "models"))
    target = os.path.join(models, "ppocr_keys_v1.txt")
    line = one_line_error(run_cli("predict", img11, "--models", models, "--json", target))
    assert "is an input of this run" in line


def test_eval_outputs_over_labels_or_each_other_are_refused(img11, tmp_path):
    labels = tmp_path / "rec.txt"
    labels.write_text(f"{img11}\tBEWARE\n")
    no_models = str(tmp_path / "no-models")
    line = one_line_error(run_cli("eval", "--models", no_models, "--rec-labels", str(labels),
                                  "--save-predictions", str(labels)))
    assert "--save-predictions" in line and "is an input of this run" in line
    assert labels.read_text() == f"{img11}\tBEWARE\n"
    out = str(tmp_path / "out.json")
    line = one_line_error(run_cli("eval", "--models", no_models, "--rec-labels", str(labels), "--json", out,
                                  "--markdown", out))
    assert "is also the target of --json" in line


# ------------------------------------------------------------------ class 8: one escaped line per failure


def test_printable_escapes_every_control_character():
    assert printable("a\nb\rc\x1b[31md\x7fe\x85f\u2028g\th") == "a\\nb\\rc\\x1b[31md\\x7fe\\x85f\\u2028g\\th"
    assert printable("ordinary: été 文字") == "ordinary: été 文字"


def test_names_cannot_forge_lines_and_decoder_chatter_stays_off_stderr(models_dir, img11, test_images, tmp_path):
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    forged = folder + b"/x.jpg\nedge-ocr: forged.jpg"
    open(forged, "wb").write(b"not an image")
    open(folder + b"/esc\x1b[31m.jpg", "wb").write(b"not an image either")
    data = open(os.path.join(test_images, "img_13.jpg"), "rb").read()
    open(folder + b"/cut.jpg", "wb").write(data[: len(data) // 2])  # libjpeg: "Premature end of JPEG file"
    at = data.index(b"\xff\xdb")
    open(folder + b"/junk.jpg", "wb").write(data[:at] + b"junk" + data[at:])  # "Corrupt JPEG data: 4 extraneous..."
    png = _encode(".png", np.zeros((20, 20, 3), np.uint8))
    idat = png.index(b"IDAT")
    open(folder + b"/crc.png", "wb").write(png[: idat + 6] + bytes([png[idat + 6] ^ 0xFF]) + png[idat + 7 :])
    proc = run_cli("predict", os.fsdecode(folder), "--models", models_dir)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert "\x1b" not in proc.stderr
    assert not [line for line in lines if line.startswith("edge-ocr: forged")], lines
    assert sum("x.jpg\\nedge-ocr: forged.jpg" in line for line in lines) == 1
    for chatter in ("Corrupt JPEG", "Premature end", "libpng", "[ERROR", "[ WARN"):
        assert not [line for line in lines if line.lstrip("\r ").startswith(chatter)], (chatter, lines)
    assert any("junk.jpg: decoded with warnings: Corrupt JPEG data: 4 extraneous bytes" in line for line in lines)
    assert any(line.startswith("edge-ocr: ") and "cut.jpg: not an image or a damaged" in line for line in lines)
    assert lines[-1].startswith("edge-ocr: ") and "image(s) failed" in lines[-1]


def test_eval_warnings_start_their_own_line_after_the_progress_bar(models_dir, img11, tmp_path):
    labels = tmp_path / "rec.txt"
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    labels.write_text(f"{img11}\tBEWARE\nbad.jpg\tX\n{img11}\tBEWARE\n")
    proc = run_cli("eval", "--models", models_dir, "--rec-labels", str(labels))
    warnings = [line for line in proc.stderr.split("\n") if "bad.jpg" in line and "WARNING" in line]
    assert warnings and all(line.split("\r")[-1].startswith("WARNING") for line in warnings), proc.stderr
    assert proc.returncode == 1 and "1 of 3 sample(s) could not be read" in proc.stderr


# ------------------------------------------------------------------ class 9: the Python API


@pytest.mark.parametrize("make", [
    lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
    lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[:, :, None],
    lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
    lambda bgr: bgr.astype(np.uint16) * 257,
    lambda bgr: np.asfortranarray(bgr),
], ids=["gray", "gray_hw1", "bgra", "uint16", "fortran_order"])
def test_api_converts_what_the_cli_converts(pipeline, img11, make):
    bgr = cv2.imread(img11)
    assert [line.text for line in pipeline(make(bgr))] == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]


@pytest.mark.parametrize("array, message", [
    (np.zeros((20, 20, 3), np.float32), "pixel type float32 is not accepted"),
    (np.zeros((20, 20, 3), bool), "pixel type bool"),
    (np.zeros((20, 20, 3), object), "pixel type object"),
    (np.zeros((20, 20, 3), np.int16), "pixel type int16"),
    (np.zeros((20, 20, 5), np.uint8), r"shape \(20, 20, 5\) is not an image"),
    (np.zeros((2, 20, 20, 3), np.uint8), "is not an image"),
    (np.zeros((0, 20, 3), np.uint8), "empty image"),
    ([[0, 1], [2, 3]], "must be a numpy array"),
])
def test_api_refuses_the_rest_up_front(pipeline, array, message):
    for call in (pipeline, pipeline.analyze, pipeline.detect):
        with pytest.raises(ImageError, match=message):
            call(array)


def test_api_refuses_a_bad_scale(pipeline, img11):
    with pytest.raises(EdgeOCRError, match="scale must be"):
        pipeline.analyze(cv2.imread(img11), scale=float("nan"))


# ------------------------------------------------------------------ class 10: exit codes and messages


def test_results_are_kept_when_the_json_cannot_be_written_after_the_work(pipeline, img11, tmp_path, monkeypatch,
                                                                         capsys):
    import errno

    import edge_ocr.atomic
    from edge_ocr import cli

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(edge_ocr.atomic, "write_json", full_disk)
    monkeypatch.setattr(cli, "build_pipeline", lambda args: pipeline)
    rc = cli.main(["predict", img11, "--json", str(tmp_path / "out.json")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert [line["text"] for line in json.loads(out[out.index("["):])[0]["lines"]] == \
        ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    assert "No space left on device" in err and "printed on stdout instead" in err


def test_link_loop_and_overlong_path_have_their_own_messages(tmp_path, img11):
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(ImageError, match="symbolic link loop"):
        load_image(str(tmp_path / "loop"))
    line = one_line_error(run_cli("predict", str(tmp_path / "loop")))
    assert "too many levels of symbolic links" in line
    # An existing file whose path is longer than PATH_MAX (4096): made one folder at a time through descriptors.
    fd = os.open(tmp_path, os.O_RDONLY)
    parts = []
    for k in range(18):
        name = f"{k:02d}" + "d" * 248
        os.mkdir(name, dir_fd=fd)
        parts.append(name)
        fd, old = os.open(name, os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    out = os.open("img.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(out, open(img11, "rb").read())
    os.close(out)
    os.close(fd)
    deep = os.path.join(str(tmp_path), *parts, "img.jpg")
    assert len(deep) > 4096
    with pytest.raises(ImageError, match="path too long"):
        load_image(deep)
    assert "path too long" in one_line_error(run_cli("predict", deep))
    with pytest.raises(ImageError, match="path too long"):
        load_image(str(tmp_path / ("n" * 300 + ".jpg")))


@pytest.mark.slow
def test_damaged_jpeg2000_never_kills_the_process():
    """OpenCV's OpenJPEG crashed (SIGSEGV) on truncated JPEG 2000 files (the image fuzzer found them): they are
    decoded in a child process, and every cut of a real file is a decoded image or a one-line refusal here."""
    from benchmarks.image_fuzz import seeds

    data = seeds()["rgb.jp2"]
    outcomes = set()
    for cut in range(40, len(data), max(1, len(data) // 24)):
        try:
            decode_image(data[:cut], "cut.jp2")
            outcomes.add("decoded")
        except ImageError as exc:
            assert "\n" not in str(exc)
            outcomes.add("refused")
    assert "refused" in outcomes
