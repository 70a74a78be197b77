"""Charset bundles (export/charset.py): the recognizer's CTC head sliced to a character subset, without retraining."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edge_ocr.errors import EdgeOCRError
from edge_ocr.host.export.charset import apply_charset, charset_characters, static_inference_model
from edge_ocr.rec import load_charset
from tests.conftest import run_cli, word_crops


def _head_outputs(model_dir: str, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the logits that feed the softmax, the softmax) of an inference model on ``batch``."""
    with static_inference_model(model_dir) as (_, exe, program, feeds, fetches):
        softmax = next(op for op in program.global_block().ops if op.type == "softmax")
        return tuple(exe.run(program, feed={feeds[0]: batch}, fetch_list=[softmax.input("X")[0], fetches[0]]))


def _batch(shared: str, count: int = 8):
    from edge_ocr.config import RecParams
    from edge_ocr.rec import TextRecognizer

    recognizer = TextRecognizer.__new__(TextRecognizer)
    recognizer.params = RecParams()
    return next(iter(recognizer.batches(word_crops(shared, count))))


def _kept_columns(full_dictionary: str, sliced_dictionary: str) -> list[int]:
    full, sliced = load_charset(full_dictionary), load_charset(sliced_dictionary)
    return [0] + [full.index(c) for c in sliced[1:-1]] + [len(full) - 1]  # blank, characters, space


@pytest.fixture(scope="module")
def latin_models(models_dir, tmp_path_factory) -> tuple[str, dict]:
    return apply_charset(models_dir, "latin", str(tmp_path_factory.mktemp("charset") / "latin"))


def test_charsets(models_dir, tmp_path):
    dictionary = load_charset(os.path.join(models_dir, "ppocr_keys_v1.txt"))[1:-1]
    latin = charset_characters("latin", dictionary)
    assert len(latin) == 94 and set("AZaz09$%") <= set(latin) and latin == [c for c in dictionary if c in latin]
    assert set(charset_characters("digits", dictionary)) == set("0123456789.,:-/+%")
    mine = tmp_path / "mine.txt"
    mine.write_text("中\n国\n7\n", encoding="utf-8")
    assert charset_characters(str(mine), dictionary) == [c for c in dictionary if c in "中国7"]
    mine.write_text("中\n\u00e6\u0416\n", encoding="utf-8")
    with pytest.raises(EdgeOCRError, match="one character per line"):
        charset_characters(str(mine), dictionary)
    mine.write_text("中\n\u0416\n", encoding="utf-8")
    with pytest.raises(EdgeOCRError, match="does not know"):
        charset_characters(str(mine), dictionary)
    with pytest.raises(EdgeOCRError, match="latin, digits or a file"):
        charset_characters("klingon", dictionary)


def test_sliced_fp32_logits_equal_the_full_models_at_the_kept_columns(latin_models, models_dir, shared):
    from edge_ocr.models import resolve_models
    from edge_ocr.rec import ctc_greedy_decode

    folder, entry = latin_models
    assert (entry["name"], entry["characters"], entry["classes"], entry["source_classes"]) == ("latin", 94, 96, 6625)
    assert sorted(entry["sliced"]) == ["linear_3.b_0[axis 0]", "linear_3.w_0[axis 1]"]
    paths = resolve_models(models_dir)
    ids, batch = _batch(shared)
    full_logits, full_probs = _head_outputs(paths.rec, batch)
    logits, probs = _head_outputs(os.path.join(folder, "rec"), batch)
    keep = _kept_columns(paths.dictionary, os.path.join(folder, "charset_keys.txt"))
    assert logits.shape[-1] == 96 and np.array_equal(logits, full_logits[..., keep])
    full_texts = [t for t, _ in ctc_greedy_decode(full_probs, load_charset(paths.dictionary))]
    texts = [t for t, _ in ctc_greedy_decode(probs, load_charset(os.path.join(folder, "charset_keys.txt")))]
    assert texts == full_texts and all(t.isascii() for t in full_texts)  # Latin words: the same best path


def test_quantized_recognizer_slices_with_its_per_channel_scales(quantized, shared, tmp_path):
    folder, entry = apply_charset(quantized, "digits", str(tmp_path / "digits"))
    assert any(name.startswith("channel_scale") for name in entry["sliced"]), entry["sliced"]
    ids, batch = _batch(shared)
    full_logits, _ = _head_outputs(os.path.join(quantized, "rec"), batch)
    logits, _ = _head_outputs(os.path.join(folder, "rec"), batch)
    keep = _kept_columns(os.path.join(quantized, "ppocr_keys_v1.txt"), os.path.join(folder, "charset_keys.txt"))
    np.testing.assert_allclose(logits, full_logits[..., keep], rtol=1e-5, atol=1e-5)


def test_an_unknown_op_before_the_softmax_is_refused(tmp_path):
    import paddle

    from edge_ocr.host.export.charset import slice_recognizer

    paddle.enable_static()
    try:
        program = paddle.static.Program()
        with paddle.static.program_guard(program, paddle.static.Program()):
            x = paddle.static.data("x", [None, 4, 8], "float32")
            logits = paddle.static.nn.fc(x, 10, num_flatten_dims=2)
            out = paddle.nn.functional.softmax(paddle.nn.functional.relu(logits))
            exe = paddle.static.Executor(paddle.CPUPlace())
            exe.run(paddle.static.default_startup_program())
            paddle.static.save_inference_model(str(tmp_path / "m" / "inference"), [x], [out], exe, program=program)
    finally:
        paddle.disable_static()
    with pytest.raises(EdgeOCRError, match="unexpected op relu"):
        slice_recognizer(str(tmp_path / "m"), str(tmp_path / "out"), [0, 1, 2])


def test_latin_bundle_manifest_runtime_and_eval(models_dir, pipeline, shared, tmp_path):
    from edge_ocr import OCRPipeline
    from edge_ocr.bundle import load_bundle
    from edge_ocr.evaluation.runner import evaluate_recognition

    out = tmp_path / "latin-x86"
    proc = run_cli("export", "--models", models_dir, "--target", "x86", "--no-cls", "--charset", "latin",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "charset latin (94 characters)" in proc.stdout
    bundle = load_bundle(str(out))
    assert bundle.manifest["charset"]["name"] == "latin" and bundle.manifest["charset"]["classes"] == 96
    assert bundle.manifest["dictionary"] == {"file": "charset_keys.txt", "characters": 94, "classes": 96}
    crops = word_crops(shared, 8)
    latin = OCRPipeline.from_bundle(str(out))
    assert [t for t, _ in latin.recognizer(crops)] == [t for t, _ in pipeline.recognizer(crops)]
    labels = tmp_path / "mixed.txt"  # one Latin word, one line the charset cannot read
    folder = os.path.join(shared, "data", "ic15_rec", "test")
    labels.write_text(f"{folder}/word_8.png\tFree\n{folder}/word_6.png\t免费\n", encoding="utf-8")
    scores = evaluate_recognition(latin, str(labels), progress=False)
    assert scores["samples"] == 2 and scores["out_of_charset"] == 1 and scores["accuracy"] == 0.5


def test_verify_measures_rec_sureness_on_the_full_models_softmax(latin_models, models_dir, img11, tmp_path):
    """A charset bundle's reference is its source cut to the charset, whose softmax renormalizes over the kept
    classes; verify measures the reference's sureness on the source's full softmax when it is given."""
    from edge_ocr.host.export import api
    from edge_ocr.host.export.bundle import export_bundle

    bundle = str(tmp_path / "latin-x86")  # what export --charset latin writes, from the cut models verify runs
    export_bundle(latin_models[0], bundle, target="x86", include_cls=False, extra={"charset": latin_models[1]})
    plain = api.verify(bundle, latin_models[0], [img11]).data
    assert plain["passed"] and plain["rec_sureness"] == {"fp32": "the charset's classes only"}
    full = api.verify(bundle, latin_models[0], [img11], charset_sources=[f"fp32={models_dir}"])
    assert full.passed and full.data["rec_sureness"]["fp32"].startswith("the full softmax of")
    with pytest.raises(EdgeOCRError, match="SIDE=MODELS_DIR"):
        api.verify(bundle, latin_models[0], [img11], charset_sources=["fp32"])
    with pytest.raises(EdgeOCRError, match="references are fp32"):
        api.verify(bundle, latin_models[0], [img11], charset_sources={"expected": models_dir})
    proc = run_cli("verify", bundle, "--against", latin_models[0], "--samples", img11, "--charset-source", "fp32")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == \
        ["edge-ocr: error: charset source 'fp32': give SIDE=MODELS_DIR, SIDE expected or fp32"], proc.stderr


def test_sureness_scaled_by_the_kept_mass():
    """A frame where the full model believed a removed character: sure of a kept class after renormalizing, unsure
    on the full softmax."""
    from edge_ocr.host.export.verify import SURE_GAP, compare_lines

    charset = ["blank", "a", "b"]
    theirs = np.array([[[0.05, 0.90, 0.05]]], np.float32)  # renormalized: "a" at 0.9
    mine = np.array([[[0.05, 0.05, 0.90]]], np.float32)    # the bundle reads "b"
    assert compare_lines(theirs, mine, charset)["sure_changes"] == 1
    removed = compare_lines(theirs, mine, charset, kept_mass=np.array([[0.2]], np.float32))  # 80 % on removed
    assert removed["changed_lines"] == 1 and removed["sure_changes"] == 0
    assert removed["largest_gap_of_a_change"] == pytest.approx(0.17) and 0.17 < SURE_GAP
