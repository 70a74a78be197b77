"""The PP-OCRv2 pipeline on real images, on both engines."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from edge_ocr import OCRPipeline
from edge_ocr.errors import ModelError

EXPECTED_IMG11 = ["BEWARE OF", "MAINTENANCE", "VEHICLES"]


def test_img11_paddle_inference(pipeline, img11):
    result = pipeline.ocr_file(img11)
    assert result.error is None
    assert [line.text for line in result.lines] == EXPECTED_IMG11
    for line in result.lines:
        assert len(line.box) == 4 and 0.5 <= line.score <= 1
    assert json.loads(json.dumps(result.to_dict()))["lines"][0]["text"] == "BEWARE OF"


def test_lite_engine_from_inference_models_matches(models_dir, img11, pipeline, cache_dir, monkeypatch):
    monkeypatch.setenv("EDGE_OCR_CACHE", cache_dir)  # converted here, not read from an older run's cache
    lite = OCRPipeline.from_models(models_dir, engine="lite")
    assert len([name for name in os.listdir(os.path.join(cache_dir, "nb")) if name.endswith(".nb")]) >= 3
    ours = pipeline.ocr_file(img11)
    theirs = lite.ocr_file(img11)
    assert [line.text for line in theirs.lines] == [line.text for line in ours.lines]
    for a, b in zip(ours.lines, theirs.lines):
        assert np.abs(np.array(a.box) - np.array(b.box)).max() <= 2


def _bundle_with(x86_bundle: str, dest: str, **changes) -> str:
    """A copy of the bundle whose manifest sets ``section__field=value`` parameters (the files' sha256 still hold)."""
    import shutil

    shutil.copytree(x86_bundle, dest)
    manifest_path = os.path.join(dest, "manifest.json")
    manifest = json.load(open(manifest_path, encoding="utf-8"))
    for key, value in changes.items():
        section, name = key.split("__")
        manifest["params"][section][name] = value
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    return dest


def test_bundle_pipeline_reads_params_from_manifest(x86_bundle, img11, tmp_path):
    """The manifest's defaults read img_11; non-default values in it must change what the pipeline does (a
    pipeline that ignored the manifest would read the same three lines every time)."""
    bundle_pipeline = OCRPipeline.from_bundle(x86_bundle)
    assert [line.text for line in bundle_pipeline.ocr_file(img11).lines] == EXPECTED_IMG11
    assert bundle_pipeline.params.det.limit_side_len == 960

    picky = OCRPipeline.from_bundle(_bundle_with(x86_bundle, str(tmp_path / "picky"), rec__drop_score=0.999))
    assert picky.params.rec.drop_score == 0.999
    assert len(picky.ocr_file(img11).lines) < len(EXPECTED_IMG11)  # lines read below 0.999 are dropped

    tiny = OCRPipeline.from_bundle(_bundle_with(x86_bundle, str(tmp_path / "tiny"), det__limit_side_len=64,
                                                det__limit_type="max"))
    assert tiny.params.det.limit_side_len == 64
    assert [line.text for line in tiny.ocr_file(img11).lines] != EXPECTED_IMG11  # a 64 px det input finds no words

    strict = OCRPipeline.from_bundle(_bundle_with(x86_bundle, str(tmp_path / "strict"), det__box_thresh=0.99))
    assert len(strict.detect(cv2.imread(img11))[0]) < len(bundle_pipeline.detect(cv2.imread(img11))[0])


def test_detection_is_before_drop_score(pipeline, img11):
    image = cv2.imread(img11)
    boxes, scores = pipeline.detect(image)
    assert len(boxes) >= 3 and all(0.6 <= s <= 1 for s in scores)


def test_no_cls_and_upside_down_text(models_dir, img11, pipeline):
    image = cv2.imread(img11)
    flipped = cv2.rotate(image, cv2.ROTATE_180)
    with_cls = [line.text for line in pipeline(flipped)]
    assert {"VEHICLES", "BEWARE OF"} <= set(with_cls)  # the classifier turned the crops back
    no_cls = OCRPipeline.from_models(models_dir, use_cls=False)
    assert no_cls.classifier is None
    assert not {"VEHICLES", "BEWARE OF"} & {line.text for line in no_cls(flipped)}
    assert [line.text for line in no_cls(image)] == EXPECTED_IMG11


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 400, 3), (400, 5, 3), (32, 32, 3)])
def test_degenerate_images_run(pipeline, shape):
    assert pipeline(np.full(shape, 255, np.uint8)) == []


def test_gray_and_rgba_inputs_read_text(pipeline, img11, tmp_path):
    image = cv2.imread(img11)
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    assert "VEHICLES" in [line.text for line in pipeline.ocr_file(str(gray)).lines]
    assert [line.text for line in pipeline.ocr_file(str(rgba)).lines] == EXPECTED_IMG11


def test_huge_jpeg_boxes_are_in_original_pixels(pipeline, img11, tmp_path):
    # img_11 scaled up 10x: 12800 x 7200 (92 MP) is above the 64 MP limit, so it is decoded at 1/2 size.
    big = cv2.resize(cv2.imread(img11), None, fx=10, fy=10, interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big)
    del big
    result = pipeline.ocr_file(str(path))
    small = pipeline.ocr_file(img11)
    texts = [line.text for line in result.lines]
    assert "MAINTENANCE" in texts
    a = np.array(next(line.box for line in result.lines if line.text == "MAINTENANCE"))
    b = np.array(next(line.box for line in small.lines if line.text == "MAINTENANCE"))
    assert np.abs(a - 10 * b).max() < 40  # same place in original pixels


def test_dictionary_size_mismatch_is_a_clear_error(models_dir, tmp_path, img11):
    from tests.conftest import copy_models

    folder = copy_models(models_dir, str(tmp_path / "m"))
    keys = os.path.join(folder, "ppocr_keys_v1.txt")
    lines = open(keys, encoding="utf-8").read().splitlines()
    with open(keys, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines[:100]) + "\n")
    broken = OCRPipeline.from_models(folder)
    with pytest.raises(ModelError, match="dictionary has 102 classes .* outputs 6625"):
        broken.ocr_file(img11)


def test_import_and_lite_path_without_paddle(x86_bundle, img11):
    code = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("paddle", "paddleslim") or name.startswith(("paddle.", "paddleslim.")):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import edge_ocr, edge_ocr.cli
from edge_ocr import OCRPipeline
lines = OCRPipeline.from_bundle({x86_bundle!r}).ocr_file({img11!r}).lines
assert "paddle" not in sys.modules
print("|".join(l.text for l in lines))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "BEWARE OF|MAINTENANCE|VEHICLES" in out.stdout


def test_paddle_engine_without_paddle_says_so(models_dir):
    code = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "paddle" or name.startswith("paddle."):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
from edge_ocr.engines import create_engine
from edge_ocr.errors import ModelError
try:
    create_engine({os.path.join(models_dir, "ch_PP-OCRv2_det_infer")!r}, "paddle")
except ModelError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "needs paddlepaddle" in out.stdout
