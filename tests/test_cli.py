"""The command line as a user meets it: results, and one-line errors with nonzero exits for bad input."""

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from tests.conftest import copy_models, run_cli


def _one_line_error(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-ocr:")]
    assert errors, proc.stderr
    return errors[0]


def test_predict_default_models_from_mirror(img11, models_dir, tmp_path):
    out = tmp_path / "out.json"
    env = {"EDGE_OCR_MODEL_MIRROR": models_dir, "EDGE_OCR_CACHE": str(tmp_path / "cache")}
    proc = run_cli("predict", img11, "--json", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "BEWARE OF" in proc.stdout and "VEHICLES" in proc.stdout
    data = json.loads(out.read_text())
    assert data[0]["image"] == img11
    assert [line["text"] for line in data[0]["lines"]] == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    assert all(len(line["box"]) == 4 and len(line["box"][0]) == 2 for line in data[0]["lines"])
    assert os.path.isfile(tmp_path / "cache" / "ppocrv2" / ".edge-ocr-models.json")


def test_folder_with_bad_image_continues_and_draws(models_dir, test_images, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("img_11.jpg", "img_13.jpg"):
        shutil.copy(os.path.join(test_images, name), folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    (folder / "empty.png").write_bytes(b"")
    out = tmp_path / "res.json"
    proc = run_cli("predict", str(folder), "--models", models_dir, "--json", str(out), "--draw", str(tmp_path / "draw"))
    assert proc.returncode == 1
    assert "broken.jpg" in proc.stderr and "empty.png" in proc.stderr and "Traceback" not in proc.stderr
    results = {os.path.basename(r["image"]): r for r in json.loads(out.read_text())}
    assert "error" in results["broken.jpg"] and "error" in results["empty.png"]
    assert "HSBC" in [line["text"] for line in results["img_13.jpg"]["lines"]]
    drawn = cv2.imread(str(tmp_path / "draw" / "img_11_ocr.jpg"))
    assert drawn.shape == (720, 2560, 3)


def test_json_is_not_half_written_on_error(tmp_path, models_dir):
    out = tmp_path / "keep.json"
    out.write_text('["precious"]')
    proc = run_cli("predict", str(tmp_path / "missing.jpg"), "--models", models_dir, "--json", str(out))
    _one_line_error(proc)
    assert out.read_text() == '["precious"]'


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "/no/such/image.jpg"], "no such file"),
        (["predict", "{img}", "--models", "/no/such/models"], "does not exist"),
        (["predict", "{img}", "--bundle", "/no/such/bundle"], "does not exist"),
        (["predict", "{img}", "--models", "{models}", "--json", "/no/such/dir/out.json"], "does not exist"),
    ],
)
def test_bad_arguments_are_one_line_errors(args, message, img11, models_dir):
    args = [a.format(img=img11, models=models_dir) for a in args]
    assert message in _one_line_error(run_cli(*args))


def test_bad_option_values_exit_nonzero(img11):
    proc = run_cli("predict", img11, "--threads", "0")
    assert proc.returncode == 2 and "must be at least 1" in proc.stderr


def _texts(img: str, models_dir: str, out, *flags: str) -> list[str]:
    proc = run_cli("predict", img, "--models", models_dir, "--json", str(out), *flags)
    assert proc.returncode == 0, proc.stderr
    return [line["text"] for line in json.loads(out.read_text())[0]["lines"]]


@pytest.mark.slow
def test_threshold_flags_reach_the_pipeline(img11, models_dir, tmp_path):
    """Each flag changes what is read (img_11's lines score 0.947, 0.964 and 0.997; a flag that were ignored would
    read all three)."""
    out = tmp_path / "out.json"
    assert _texts(img11, models_dir, out, "--drop-score", "0.99") == ["VEHICLES"]
    assert len(_texts(img11, models_dir, out, "--det-limit-side-len", "64")) < 3
    assert _texts(img11, models_dir, out, "--det-box-thresh", "0.99") == []
    boxes = {}
    for ratio in ("1.5", "3.0"):
        run_cli("predict", img11, "--models", models_dir, "--json", str(out), "--det-unclip-ratio", ratio)
        line = json.loads(out.read_text())[0]["lines"][0]
        boxes[ratio] = cv2.contourArea(np.array(line["box"], np.float32))
    assert boxes["3.0"] > 1.5 * boxes["1.5"]


def test_model_folder_missing_a_file(models_dir, tmp_path, img11):
    folder = copy_models(models_dir, str(tmp_path / "m"))
    os.remove(os.path.join(folder, "ch_PP-OCRv2_rec_infer", "inference.pdmodel"))
    line = _one_line_error(run_cli("predict", img11, "--models", folder))
    assert "no rec model folder with inference.pdmodel" in line


def test_wrong_dictionary(models_dir, tmp_path, img11):
    folder = copy_models(models_dir, str(tmp_path / "m"))
    with open(os.path.join(folder, "ppocr_keys_v1.txt"), "w") as handle:
        handle.write("a\nb\nc\n")
    assert "wrong dictionary" in _one_line_error(run_cli("predict", img11, "--models", folder))


def test_arm_bundle_on_x86_runtime_is_refused(arm_bundle, img11):
    line = _one_line_error(run_cli("predict", img11, "--bundle", arm_bundle))
    assert "built for ARM" in line and "--target x86" in line


def test_tampered_bundle_is_refused(x86_bundle, tmp_path, img11):
    bundle = shutil.copytree(x86_bundle, tmp_path / "b")
    with open(bundle / "rec.nb", "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00\x01\x02")
    assert "sha256" in _one_line_error(run_cli("predict", img11, "--bundle", str(bundle)))


def test_special_images_through_cli(models_dir, img11, tmp_path):
    image = cv2.imread(img11)
    cv2.imwrite(str(tmp_path / "gray.png"), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "deep.png"), image.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "one.png"), np.zeros((1, 1, 3), np.uint8))
    out = tmp_path / "r.json"
    proc = run_cli("predict", str(tmp_path), "--models", models_dir, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    results = {os.path.basename(r["image"]): [line["text"] for line in r["lines"]] for r in json.loads(out.read_text())}
    assert results["one.png"] == []
    assert results["deep.png"] == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    assert "VEHICLES" in results["gray.png"]


def test_models_pull_and_verify_cli(models_dir, tmp_path):
    proc = run_cli("models", "pull", "--from", models_dir, "--cache", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    folder = proc.stdout.strip()
    assert run_cli("models", "verify", folder).returncode == 0
    with open(os.path.join(folder, "ppocr_keys_v1.txt"), "a") as handle:
        handle.write("extra\n")
    assert "checksum mismatch" in _one_line_error(run_cli("models", "verify", folder))


def test_draw_renders_cjk_text(tmp_path):
    """The drawing puts real glyphs (not empty boxes) for Chinese text when a CJK font is on the system."""
    from PIL import Image, ImageDraw, ImageFont

    from edge_ocr.draw import draw_result, find_font
    from edge_ocr.results import OCRLine

    font = find_font()
    assert font is not None
    cjk = ImageFont.truetype(font, 32)

    def glyph(char: str) -> np.ndarray:  # pixels, not bounding boxes: Noto CJK's missing-glyph box fills the em too
        canvas = Image.new("L", (40, 40))
        ImageDraw.Draw(canvas).text((0, 0), char, font=cjk, fill=255)
        return np.asarray(canvas)

    assert not np.array_equal(glyph("中"), glyph("\U000effff"))  # setup.sh installs CJK fonts: real glyphs
    image = np.full((100, 200, 3), 200, np.uint8)
    box = [[10, 10], [150, 10], [150, 60], [10, 60]]
    drawn = draw_result(image, [OCRLine(box, "中文识别", 0.9)])
    missing = draw_result(image, [OCRLine(box, "\U000effff" * 4, 0.9)])  # four missing-glyph boxes
    assert drawn.shape == (100, 400, 3)
    assert (drawn[:, 200:] < 100).sum() > 50  # text was drawn on the right half
    assert not np.array_equal(drawn[:, 200:], missing[:, 200:])  # and it is the glyphs, not tofu
