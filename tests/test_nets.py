"""Dygraph networks with the official weights: import, parity with the inference model, export."""

import os

import numpy as np
import pytest

from edge_ocr.engines import create_engine
from edge_ocr.errors import EdgeOCRError


@pytest.fixture(scope="module")
def cls_batch(shared):
    from edge_ocr.host.quantize.compress.calibration import cls_calibration

    return cls_calibration(os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt"), limit=12)[0]


def test_cls_network_reproduces_the_official_model(models_dir, cls_batch, tmp_path):
    import paddle

    from edge_ocr.host.quantize.nets.cls_mobilenetv3 import ClsMobileNetV3
    from edge_ocr.host.quantize.nets.export import save_inference_model
    from edge_ocr.host.quantize.nets.weights import import_weights

    official = os.path.join(models_dir, "ch_ppocr_mobile_v2.0_cls_infer")
    net = ClsMobileNetV3()
    mapping = import_weights(net, official)
    assert len(mapping) == len(net.state_dict())
    net.eval()
    reference = create_engine(official, "paddle").run(cls_batch)
    ours = net(paddle.to_tensor(cls_batch)).numpy()
    assert np.abs(reference - ours).max() < 1e-4
    exported = save_inference_model(net, str(tmp_path / "cls"), [None, 3, 48, 192])
    again = create_engine(exported, "paddle").run(cls_batch)
    assert np.abs(reference - again).max() < 1e-4


def test_weight_import_names_mismatches(models_dir):
    from edge_ocr.host.quantize.nets.cls_mobilenetv3 import ClsMobileNetV3
    from edge_ocr.host.quantize.nets.weights import import_weights

    with pytest.raises(EdgeOCRError, match="does not match program tensor|left without"):
        import_weights(ClsMobileNetV3(num_classes=3), os.path.join(models_dir, "ch_ppocr_mobile_v2.0_cls_infer"))
    with pytest.raises(EdgeOCRError, match="does not match program tensor"):
        import_weights(ClsMobileNetV3(), os.path.join(models_dir, "ch_PP-OCRv2_rec_infer"))


def test_rec_network_reproduces_the_official_model(models_dir, shared, tmp_path):
    import paddle

    from edge_ocr.host.quantize.compress.calibration import rec_calibration
    from edge_ocr.host.quantize.nets.export import save_inference_model
    from edge_ocr.host.quantize.nets.rec_lcnet_crnn import RecCRNN
    from edge_ocr.host.quantize.nets.weights import import_weights

    official = os.path.join(models_dir, "ch_PP-OCRv2_rec_infer")
    net = RecCRNN()
    import_weights(net, official)
    net.eval()
    batches = rec_calibration(os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt"), limit=12)
    reference = create_engine(official, "paddle")
    for batch in batches:
        assert np.abs(reference.run(batch) - net(paddle.to_tensor(batch)).numpy()).max() < 1e-4
    exported = save_inference_model(net, str(tmp_path / "rec"), [None, 3, 32, None])
    assert np.abs(reference.run(batches[0]) - create_engine(exported, "paddle").run(batches[0])).max() < 1e-4


@pytest.mark.slow
def test_det_network_and_nets_export_round_trip(models_dir, test_images, tmp_path):
    import cv2
    import paddle

    from edge_ocr import OCRPipeline
    from edge_ocr.config import DetParams
    from edge_ocr.det import preprocess_det
    from edge_ocr.host.quantize.nets.registry import load_official
    from edge_ocr.models import resolve_models
    from tests.conftest import run_as_nb, run_cli

    net = load_official("det", models_dir)
    net.eval()
    x = preprocess_det(cv2.imread(os.path.join(test_images, "img_11.jpg")), DetParams())
    official = create_engine(os.path.join(models_dir, "ch_PP-OCRv2_det_infer"), "paddle").run(x)
    assert np.abs(official - net(paddle.to_tensor(x)).numpy()).max() < 1e-4
    net.train()
    maps = net(paddle.to_tensor(x))
    assert set(maps) == {"shrink", "threshold", "binary"} and maps["binary"].shape == [1, 1, 544, 960]

    out = tmp_path / "exported"
    proc = run_cli("nets", "export", "--init", models_dir, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(os.listdir(out)) == sorted(os.listdir(models_dir))
    ours, theirs = OCRPipeline.from_models(str(out)), OCRPipeline.from_models(models_dir)
    for name in ("img_11.jpg", "img_13.jpg", "img_108.jpg"):
        path = os.path.join(test_images, name)
        assert [line.text for line in ours.ocr_file(path).lines] == [line.text for line in theirs.ocr_file(path).lines]
    # what nets export writes runs on Paddle Lite: opt converts all three (cls once segfaulted opt) and rec runs
    # (its LSTM's zero states once aborted Paddle Lite in fill_constant)
    lite = OCRPipeline.from_models(str(out), engine="lite")
    texts = [line.text for line in lite.ocr_file(os.path.join(test_images, "img_11.jpg")).lines]
    assert texts == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    for role, shape in (("rec", (2, 3, 32, 320)), ("cls", (2, 3, 48, 192))):
        folder = str(out / os.path.basename(getattr(resolve_models(models_dir), role)))
        batch = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        nb_out, program_out = run_as_nb(folder, batch, "x86", str(tmp_path))
        dygraph = load_official(role, models_dir)
        dygraph.eval()
        assert np.abs(program_out - dygraph(paddle.to_tensor(batch)).numpy()).max() < 1e-5, role
        assert np.abs(nb_out - program_out).max() < 1e-4, role


def test_opt_failures_give_opts_reason():
    from edge_ocr.engines.lite import _opt_reason

    crashed = _opt_reason("Loading topology data\n1. Model is successfully loaded!\n", -11)
    assert "crashed (SIGSEGV)" in crashed and "Model is successfully loaded" in crashed
    fatal = ("1. Model is successfully loaded!\n"
             "[F 11/26 13:50:01 fill_constant_op.cc:44 InferShapeImpl] no valid out_shape")
    assert _opt_reason(fatal, -6).endswith("no valid out_shape")


def test_lstm_input_factored_exactly_at_full_rank_and_runs_on_arm(models_dir, tmp_path, emulated_runtime):
    import paddle

    from edge_ocr.host.quantize.nets.export import save_inference_model
    from edge_ocr.host.quantize.nets.rec_lcnet_crnn import factor_lstm_input
    from edge_ocr.host.quantize.nets.registry import load_official
    from tests.conftest import run_as_nb

    net = load_official("rec", models_dir)
    net.eval()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 160)).astype("float32")
    reference = net(paddle.to_tensor(x)).numpy()
    exact = factor_lstm_input(net, 512)
    exact.eval()
    assert np.abs(exact(paddle.to_tensor(x)).numpy() - reference).max() < 1e-5  # SVD at full rank: the same network
    small = factor_lstm_input(net, 128)
    small.eval()
    assert small.lstm.weight_ih_l0.shape == [256, 128] and small.lstm_input.weight.shape == [512, 128]
    # the factored network exports, and Paddle Lite's ARM runtime runs it: Linear (matmul) + rnn with 128 inputs
    saved = save_inference_model(small, str(tmp_path / "rec"), [None, 3, 32, None])
    arm, program = run_as_nb(saved, x, "arm", str(tmp_path))
    assert np.abs(program - small(paddle.to_tensor(x)).numpy()).max() < 1e-5
    assert np.abs(arm - program).max() < 1e-4


def test_lstm_input_factored_by_its_inputs_loses_less_than_plain_svd(models_dir, shared):
    """The moment-weighted truncation minimises the gate pre-activations' error on the inputs it was measured on:
    exact at full rank, and at rank 128 it errs less than plain SVD on those inputs (and on the rec output)."""
    import paddle

    from edge_ocr.cls import resize_norm_padded
    from edge_ocr.host.quantize.nets.rec_lcnet_crnn import factor_lstm_input, lstm_input_moment
    from edge_ocr.host.quantize.nets.registry import load_official
    from tests.conftest import word_crops

    net = load_official("rec", models_dir)
    net.eval()
    batch = np.stack([resize_norm_padded(crop, 32, 320) for crop in word_crops(shared, 16)])
    moment = lstm_input_moment(net, [batch])
    assert np.allclose(moment, moment.T) and np.linalg.eigvalsh(moment).min() > -1e-6
    with paddle.no_grad():
        features = net.backbone(paddle.to_tensor(batch)).numpy()[:, :, 0, :].transpose(0, 2, 1).reshape(-1, 512)
        reference = net(paddle.to_tensor(batch)).numpy()
        stacked = np.concatenate([net.lstm.weight_ih_l0.numpy(), net.lstm.weight_ih_l0_reverse.numpy()])
        gates = features @ stacked.T

        def gate_error(factored) -> float:
            mine = factored.lstm_input(paddle.to_tensor(features)).numpy() @ np.concatenate(
                [factored.lstm.weight_ih_l0.numpy(), factored.lstm.weight_ih_l0_reverse.numpy()]).T
            return float(np.square(mine - gates).mean())

        exact = factor_lstm_input(net, 512, moment)
        exact.eval()
        assert np.abs(exact(paddle.to_tensor(batch)).numpy() - reference).max() < 1e-4
        plain, weighted = factor_lstm_input(net, 128), factor_lstm_input(net, 128, moment)
        plain.eval()
        weighted.eval()
        assert gate_error(weighted) < 0.5 * gate_error(plain)
        out_error = {name: float(np.abs(f(paddle.to_tensor(batch)).numpy() - reference).mean())
                     for name, f in (("plain", plain), ("weighted", weighted))}
        assert out_error["weighted"] < out_error["plain"]


def test_export_survives_a_failed_trace_whose_program_id_is_reused(tmp_path, monkeypatch):
    """Paddle records a trace's parameters under id(program) and never pops them when the trace raises; a later
    program at the same address then picked up the dead trace's parameters and jit.save failed with a KeyError
    (CI, test_udml_and_resume). Every program is given one id here, as address reuse does by chance."""
    import paddle
    from paddle.jit.dy2static import program_translator

    from edge_ocr.host.quantize.nets.export import save_inference_model

    class FailsWhileTraced(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.bn = paddle.nn.BatchNorm2D(3)

        def forward(self, x):
            self.bn(x)
            raise ValueError("the trace fails after touching a parameter")

    monkeypatch.setattr(program_translator, "_program_hash", lambda program: 1)
    spec = [paddle.static.InputSpec([1, 3, 8, 8], "float32")]
    with pytest.raises(ValueError):
        paddle.jit.save(FailsWhileTraced(), str(tmp_path / "bad" / "m"), input_spec=spec)
    recorder = program_translator.ProgramTranslator.get_instance()._params_recorder
    assert recorder.params_dict, "Paddle no longer leaves a failed trace's parameters behind"
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4))
    out = save_inference_model(net, str(tmp_path / "good"), [1, 3, 8, 8])
    assert os.path.isfile(os.path.join(out, "inference.pdmodel"))
