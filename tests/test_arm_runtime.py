"""The ARM runtime: the edge_ocr_lite C ABI over Paddle Lite's real aarch64 library, run here under qemu-aarch64.

Emulated model calls take seconds to a minute, so these tests use few, small inputs: cls and rec on real word crops
(the det map is covered by the end-to-end runs in test_emulated_pi.py and test_verify_arm.py).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from edge_ocr.engines.lite import LiteEngine, check_versions
from edge_ocr.errors import ModelError
from tests.conftest import run_cli, sure_decisions_changed, word_crops


@pytest.fixture(scope="module")
def rec_batch(pipeline, shared):
    """The first recognizer batch built from 3 real word crops, as inference builds it."""
    _, batch = next(iter(pipeline.recognizer.batches(word_crops(shared, 3))))
    return batch


@pytest.fixture(scope="module")
def cls_batch(pipeline, shared):
    _, batch = next(iter(pipeline.classifier.batches(word_crops(shared, 4))))
    return batch


def _paddle(model_dir: str, batch: np.ndarray) -> np.ndarray:
    from edge_ocr.engines.paddle_inference import PaddleInferenceEngine

    return PaddleInferenceEngine(model_dir, threads=1).run(batch)


def test_fp32_arm_bundle_matches_paddle_inference(emulated_runtime, arm_bundle, models_dir, rec_batch, cls_batch):
    from edge_ocr.models import resolve_models

    paths = resolve_models(models_dir)
    for role, batch, source in (("cls", cls_batch, paths.cls), ("rec", rec_batch, paths.rec)):
        engine = LiteEngine(os.path.join(arm_bundle, f"{role}.nb"), threads=1, runtime="qemu")
        arm = engine.run(batch)
        reference = _paddle(source, batch)
        assert arm.shape == reference.shape, role
        assert np.abs(arm - reference).max() < 1e-4, role
        # the same predictor on a smaller batch afterwards gives what a fresh one does
        np.testing.assert_allclose(engine.run(batch[:1]), arm[:1], atol=1e-5)
        engine.close()


def test_int8_arm_bundle_matches_its_quantized_models(emulated_runtime, int8_arm_bundle, quantized, rec_batch,
                                                     cls_batch, pipeline):
    """int8 kernels on ARM round differently from the fake-quant simulation, and the simulation itself rounds
    differently on another x86 vector unit (AVX2 vs AVX-512: one cls crop read 0.648 on ARM, 0.561 in Paddle
    Inference on an Intel host, 0.6 on AMD). So the contract is verify's: every decision the reference was sure of
    (margin >= SURE_GAP) is the same on ARM, and no recognized line changes where the reference was sure."""
    from edge_ocr.host.export.verify import SURE_GAP, compare_lines

    for role, batch in (("cls", cls_batch), ("rec", rec_batch)):
        engine = LiteEngine(os.path.join(int8_arm_bundle, f"{role}.nb"), threads=1, runtime="qemu")
        assert engine.info.precision == "int8"
        arm = engine.run(batch)
        engine.close()
        reference = _paddle(os.path.join(quantized, role), batch)
        assert arm.shape == reference.shape and np.isfinite(arm).all(), role
        # outputs are distributions, not noise: a broken kernel fails here long before the decisions
        np.testing.assert_allclose(arm.sum(-1), 1.0, atol=1e-3, err_msg=role)
        sure, changed = sure_decisions_changed(reference, arm, SURE_GAP)
        assert sure > 0.5 * reference[..., 0].size, (role, "too few sure decisions for the test to mean anything")
        assert changed == 0, (role, f"{changed} of {sure} sure decisions changed")
        if role == "rec":
            lines = compare_lines(reference, arm, pipeline.recognizer.charset)
            assert lines["sure_changes"] == 0, lines


def test_emulated_runtime_reports_its_version_and_warns_once(emulated_runtime, arm_bundle, caplog, monkeypatch):
    from edge_ocr.engines import lite

    monkeypatch.setattr(lite, "_warned", set())  # whatever earlier tests warned, this test sees the first load
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        engine = LiteEngine(os.path.join(arm_bundle, "cls.nb"), threads=1, runtime="qemu")
        assert engine.runtime_version == "044ba5b"  # the commit the runtime in ../shared/arm was built from
        engine.close()
    warnings = [r for r in caplog.records if "is a commit, not a release" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_version_rule():
    assert check_versions("v2.13-rc", "2.13rc0") is None
    assert check_versions("v2.13-rc", "v2.13.1") is None
    assert "is a commit" in check_versions("v2.13-rc", "044ba5b")
    with pytest.raises(ModelError, match="re-export it with the runtime's opt"):
        check_versions("v2.13-rc", "v2.10")


def test_version_mismatch_can_be_forced(monkeypatch):
    monkeypatch.setenv("EDGE_OCR_ALLOW_VERSION_MISMATCH", "1")
    assert "release 2.10" in check_versions("v2.13-rc", "v2.10.0")


def test_wrong_target_bundles_are_refused(emulated_runtime, arm_bundle, x86_bundle):
    with pytest.raises(ModelError, match="built for X86.*emulated ARM runtime runs arm models"):
        LiteEngine(os.path.join(x86_bundle, "cls.nb"), runtime="qemu")
    with pytest.raises(ModelError, match="built for ARM.*export with --target x86"):
        LiteEngine(os.path.join(arm_bundle, "cls.nb"), runtime="wheel")


def test_missing_native_library_says_how_to_build_it(monkeypatch, tmp_path, arm_bundle):
    from edge_ocr.engines import native

    monkeypatch.setenv("EDGE_OCR_LITE_LIB", str(tmp_path / "nowhere.so"))
    monkeypatch.setattr(native, "_library", None)
    with pytest.raises(ModelError, match=r"native Paddle Lite library is missing .*scripts/build_native.sh"):
        LiteEngine(os.path.join(arm_bundle, "cls.nb"), runtime="native")


def test_missing_emulated_runner_says_how_to_build_it(monkeypatch, tmp_path, arm_bundle):
    monkeypatch.setenv("EDGE_OCR_LITE_RUNNER", str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=r"emulated ARM runtime is missing .*build_native.sh --cross"):
        LiteEngine(os.path.join(arm_bundle, "cls.nb"), runtime="qemu")


def test_cli_refuses_an_arm_bundle_on_the_x86_runtime_in_one_line(arm_bundle, img11):
    proc = run_cli("predict", "--bundle", arm_bundle, img11)
    assert proc.returncode != 0
    assert "built for ARM" in proc.stderr and "Traceback" not in proc.stderr
