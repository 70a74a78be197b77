"""The synthetic Chinese + English + digits generator (quantize/train/synth_text.py): same seed, same bytes; labels
that say exactly what was drawn and where."""

from __future__ import annotations

import filecmp
import os

import numpy as np
import pytest

from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.labels import read_det_labels, read_rec_labels
from edge_ocr.host.quantize.train import synth_text
from edge_ocr.host.quantize.train.synth_text import SynthSizes, default_sources, generate_synth
from tests.conftest import run_cli

TINY = SynthSizes(rec_train=4, rec_dev=6, e2e_train=2, e2e_dev=3)


def _generate(out, seed: int = 0) -> str:
    sources = default_sources()
    sources.background_count = 3  # three photos to paint the text out of: seconds, not minutes
    generate_synth(str(out), TINY, seed=seed, sources=sources, progress=False)
    return str(out)


@pytest.fixture(scope="module")
def tiny_synth(shared, tmp_path_factory) -> str:
    return _generate(tmp_path_factory.mktemp("synth") / "a")


def _files(root: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
                  if f != "synth.json")  # synth.json records the time taken


def test_same_seed_same_bytes_other_seed_other_data(tiny_synth, tmp_path):
    again = _generate(tmp_path / "b")
    names = _files(tiny_synth)
    assert names == _files(again) and len(names) == 4 + sum(TINY.__dict__.values())
    _, mismatch, errors = filecmp.cmpfiles(tiny_synth, again, names, shallow=False)
    assert not mismatch and not errors
    other = _generate(tmp_path / "c", seed=1)
    assert not filecmp.cmp(os.path.join(tiny_synth, "rec_dev.txt"), os.path.join(other, "rec_dev.txt"), False)


def test_labels_are_dictionary_text_inside_the_image(tiny_synth, models_dir):
    import cv2

    with open(os.path.join(models_dir, "ppocr_keys_v1.txt"), encoding="utf-8") as handle:
        dictionary = {line.rstrip("\n") for line in handle}
    for split, count in (("rec_train", TINY.rec_train), ("rec_dev", TINY.rec_dev)):
        samples = read_rec_labels(os.path.join(tiny_synth, f"{split}.txt"))
        assert len(samples) == count
        for sample in samples:
            assert sample.text.strip() and set(sample.text) <= dictionary | {" "}, sample.text
            assert " " not in sample.text or split == "rec_train"  # phrases with spaces: train splits only
            crop = cv2.imread(sample.image)
            assert crop is not None and crop.shape[0] >= 16 and crop.shape[1] >= crop.shape[0] // 2
    for split, count in (("e2e_train", TINY.e2e_train), ("e2e_dev", TINY.e2e_dev)):
        samples = read_det_labels(os.path.join(tiny_synth, f"{split}.txt"))
        assert len(samples) == count
        for sample in samples:
            height, width = cv2.imread(sample.image).shape[:2]
            assert sample.boxes
            for box in sample.boxes:
                assert box.text.strip() and set(box.text) <= dictionary | {" "}
                assert " " not in box.text or split == "e2e_train"
                points = np.array(box.points)
                assert points.shape == (4, 2) and (points >= 0).all()
                assert (points[:, 0] <= width).all() and (points[:, 1] <= height).all()


def test_every_drawn_pixel_lies_in_a_labelled_box(monkeypatch):
    """On a flat background with no blur or noise, every pixel the text changed is inside its line's box."""
    import cv2

    monkeypatch.setattr(synth_text, "_degrade", lambda image, rng, blur, noise: image)
    monkeypatch.setattr(synth_text, "_background",
                        lambda rng, backgrounds, width, height, **_: np.full((height, width, 3), 128, np.uint8))
    sources = default_sources()
    with open(sources.dictionary, encoding="utf-8") as handle:
        dictionary = [line.rstrip("\n") for line in handle]
    sampler = synth_text.TextSampler(dictionary, synth_text.english_words(sources.english_labels, set(dictionary)))
    renderer = synth_text.SynthRenderer(sampler, synth_text.find_cjk_fonts(), [])
    for seed in range(3):
        image, labels = renderer.scene(np.random.default_rng(seed))
        inside = np.zeros(image.shape[:2], np.uint8)
        for label in labels:
            cv2.fillPoly(inside, [np.round(np.array(label["points"])).astype(np.int32)], 1)
        inside = cv2.dilate(inside, np.ones((3, 3), np.uint8))  # the box's rounding
        drawn = (np.abs(image.astype(int) - 128).max(axis=2) > 8)
        assert labels and drawn.any() and not (drawn & (inside == 0)).any()


def test_a_rendered_line_keeps_its_ink_inside_its_box():
    font = synth_text.find_cjk_fonts()[0]
    line = synth_text.render_line("汉字Text 2024-05-01", font, 32)
    ys, xs = np.nonzero(line.mask)
    (x0, y0), (x1, y1) = line.box[0], line.box[2]
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_missing_font_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(synth_text, "NOTO_CJK_DIRS", ())
    monkeypatch.setattr(synth_text.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(OSError("no fc-list")))
    with pytest.raises(EdgeOCRError, match="fonts-noto-cjk"):
        synth_text.find_cjk_fonts()


def test_common_characters_come_from_gb2312_level1():
    common = synth_text.gb2312_level1()
    assert len(common) == 3755 and common[0] == "啊" and "的" in common and "龘" not in common


def test_synth_cli(tmp_path):
    proc = run_cli("synth", "--out", str(tmp_path / "s"), "--rec-train", "1", "--rec-dev", "1", "--e2e-train", "0",
                   "--e2e-dev", "1", "--backgrounds", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rec 1 train / 1 dev crops" in proc.stdout
    assert len(read_det_labels(str(tmp_path / "s" / "e2e_dev.txt"))) == 1


def test_train_phrases_have_spaces_and_leave_other_lines_alone(models_dir):
    """Phrases are drawn before anything else, and only when asked for: with none, a seed gives the lines it gave
    before phrases existed (the dev splits, and the reports scored on them, stay comparable)."""
    with open(os.path.join(models_dir, "ppocr_keys_v1.txt"), encoding="utf-8") as handle:
        dictionary = [line.rstrip("\n") for line in handle]
    words = ["Beijing", "china", "LINE", "exit", "Street"]
    plain = synth_text.TextSampler(dictionary, words)
    no_phrases = synth_text.TextSampler(dictionary, words, phrases=0.0)
    only_phrases = synth_text.TextSampler(dictionary, words, phrases=1.0)
    for index in range(40):
        assert plain.sample(np.random.default_rng(index)) == no_phrases.sample(np.random.default_rng(index))
        phrase = only_phrases.sample(np.random.default_rng(index))
        assert " " in phrase and phrase == phrase.strip() and "  " not in phrase, phrase
