"""A few training steps lower the loss on a tiny set; resume restores the state."""

import csv
import json
import os
import shutil

import numpy as np
import pytest

from edge_ocr.host.quantize.train.rec import RecTrainConfig, train_rec
from tests.conftest import label_subset, run_as_nb, sure_decisions_changed, word_crops


@pytest.fixture(scope="module")
def tiny(shared, tmp_path_factory):
    return label_subset(shared, "ic15_rec", "rec_gt_train.txt", 4, tmp_path_factory.mktemp("tiny") / "train.txt")


def _losses(out):
    with open(os.path.join(out, "metrics.csv")) as handle:
        return [float(r["loss"]) for r in csv.DictReader(handle) if r["loss"]]


@pytest.mark.train
def test_rec_steps_lower_the_loss_and_export(models_dir, tiny, tmp_path):
    out = str(tmp_path / "run")
    config = RecTrainConfig(steps=6, batch_size=4, lr=5e-4, warmup_steps=1, eval_every=3, enhanced_ctc=True)
    best = train_rec(models_dir, tiny, tiny, out, config, progress=False)
    history = _losses(out)
    assert len(history) == 6 and min(history[-2:]) < history[0]
    assert best["accuracy"] >= 0 and os.path.isfile(os.path.join(out, "best", "inference.pdmodel"))
    assert os.path.isfile(os.path.join(out, "curve.png"))


@pytest.mark.train
def test_udml_and_resume(models_dir, tiny, tmp_path):
    out = str(tmp_path / "run")
    config = RecTrainConfig(steps=2, batch_size=4, warmup_steps=1, eval_every=2, distill="udml")
    train_rec(models_dir, tiny, tiny, out, config, progress=False)
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 2
    assert os.path.isfile(os.path.join(out, "student1.pdparams"))
    before = _losses(out)
    # a copy of the run whose checkpointed student weights are zeroed: resuming it must start from those weights
    zeroed = str(tmp_path / "zeroed")
    shutil.copytree(out, zeroed)
    _zero_weights(os.path.join(zeroed, "student0.pdparams"))
    config.steps = 4
    for folder in (out, zeroed):
        train_rec(models_dir, tiny, tiny, folder, config, resume=True, progress=False)
        assert json.load(open(os.path.join(folder, "checkpoint.json")))["step"] == 4
        assert len(_losses(folder)) == 4 and _losses(folder)[:2] == before  # 2 steps, then 2 more, appended
    # a resume that ignored the checkpoint (official weights again) would train both copies alike
    assert abs(_losses(zeroed)[2] - _losses(out)[2]) > 0.1 * abs(_losses(out)[2])


def _zero_weights(path: str) -> None:
    import paddle

    state = paddle.load(path)
    paddle.save({name: paddle.zeros_like(value) if "weight" in name else value for name, value in state.items()},
                path)


@pytest.mark.train
def test_rec_distillation_only_learns_the_teacher_not_the_labels(models_dir, tiny, tmp_path):
    """label_weight 0 drops CTC on the labels: the loss is the same whatever the labels say, and zero while the
    student still is the teacher; without a teacher it is refused."""
    wrong = tmp_path / "wrong.txt"  # the same crops, every label wrong
    wrong.write_text("".join(line.split("\t")[0] + "\tzzzz\n" for line in open(tiny, encoding="utf-8")))
    first = {}
    for name, labels, weight in (("distill", tiny, 0.0), ("distill-wrong", str(wrong), 0.0), ("both", tiny, 1.0)):
        out = str(tmp_path / name)
        config = RecTrainConfig(steps=1, batch_size=4, eval_every=1, lr=1e-9, distill="teacher", label_weight=weight)
        train_rec(models_dir, labels, labels, out, config, progress=False)
        first[name] = _losses(out)[0]
    assert first["distill"] == pytest.approx(first["distill-wrong"], abs=1e-6)
    # the student starts as the teacher (BN frozen): nothing to distil yet. Comparing the student's logits with the
    # softmax the teacher's forward returns in eval mode, as QAT did before 2026-11-27, gave 10.4 here
    assert 0 <= first["distill"] < 1e-3 < first["both"]
    with pytest.raises(ValueError, match="needs a teacher"):
        train_rec(models_dir, tiny, tiny, str(tmp_path / "none"), RecTrainConfig(steps=1, label_weight=0.0),
                  progress=False)


@pytest.fixture(scope="module")
def tiny_det(shared, tmp_path_factory):
    return label_subset(shared, "icdar2015", "train_label.txt", 3, tmp_path_factory.mktemp("tiny_det") / "train.txt")


@pytest.mark.train
def test_det_cml_copy_paste_steps_and_resume(models_dir, tiny_det, tmp_path):
    from edge_ocr.host.quantize.train.det import DetTrainConfig, train_det

    out = str(tmp_path / "det")
    config = DetTrainConfig(steps=2, batch_size=1, size=320, eval_every=2, distill="cml", copy_paste=True)
    best = train_det(models_dir, tiny_det, tiny_det, out, config, progress=False)
    assert 0 <= best["hmean"] <= 1
    assert len(_losses(out)) == 2 and all(loss > 0 for loss in _losses(out))
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 2
    assert os.path.isfile(os.path.join(out, "student1.pdparams")) and os.path.isfile(os.path.join(out, "curve.png"))
    config.steps = 3
    train_det(models_dir, tiny_det, tiny_det, out, config, resume=True, progress=False)
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 3 and len(_losses(out)) == 3


@pytest.mark.train
def test_det_mimic_learns_the_teacher_not_the_labels(models_dir, tiny_det, tmp_path):
    """mimic drops the ground-truth loss: the official weights already reproduce the teacher, so their first loss is
    far below 'teacher' mode's (ground truth + teacher) on the same batch."""
    from edge_ocr.host.quantize.train.det import DetTrainConfig, train_det

    first = {}
    for distill in ("mimic", "teacher"):
        out = str(tmp_path / distill)
        config = DetTrainConfig(steps=1, batch_size=1, size=320, eval_every=1, lr=1e-9, distill=distill)
        train_det(models_dir, tiny_det, tiny_det, out, config, progress=False)
        first[distill] = _losses(out)[0]
        # an FP32 run's starting weights are its first "best": a stage that never beats them hands those on
        assert os.path.isfile(os.path.join(out, "best", "inference.pdmodel"))
        assert os.path.isfile(os.path.join(out, "best.pdparams"))
    assert 0 < first["mimic"] < first["teacher"]


def test_det_augment_keeps_polygons_with_the_image():
    import numpy as np

    from edge_ocr.host.quantize.train.det import augment

    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 50:150] = 255
    boxes = [{"points": [[50, 40], [150, 40], [150, 60], [50, 60]], "transcription": "TEXT"}]
    out, moved = augment(image, boxes, 128, np.random.default_rng(3))
    assert out.shape == (128, 128, 3)
    pts = np.array(moved[0]["points"])
    cx, cy = pts.mean(axis=0).round().astype(int)
    if 0 <= cx < 128 and 0 <= cy < 128:
        assert out[cy, cx].mean() > 150  # the box still covers the bright text region


@pytest.mark.train
def test_rec_qat_steps_and_an_export_arm_runs(models_dir, tiny, tmp_path, pipeline, shared,
                                              emulated_runtime):
    from edge_ocr.engines.lite import convert_to_nb, inspect_nb
    from edge_ocr.host.quantize.compress.program import op_counts

    out = str(tmp_path / "qat")
    os.makedirs(os.path.join(out, "best"))
    open(os.path.join(out, "best", "from-an-earlier-run"), "w").close()
    # with the LSTM's input projection factored to rank 128 (distilled a step first): it trains and ships in int8
    config = RecTrainConfig(steps=2, batch_size=4, warmup_steps=1, eval_every=2, qat=True, lr=1e-5,
                            keep_fp32_first=16, lstm_input_rank=128, lstm_distill_steps=1)
    best = train_rec(models_dir, tiny, tiny, out, config, progress=False)
    assert not os.path.exists(os.path.join(out, "best", "from-an-earlier-run"))  # a fresh run drops a stale best
    # a QAT run's start has no scales: "best" only when a trained step beat the official weights
    assert os.path.isdir(os.path.join(out, "best")) == bool(best["step"])
    final = os.path.join(out, "final")  # always exported
    counts = op_counts(final)
    assert counts["matmul_v2"] == 3 and counts["fake_channel_wise_quantize_dequantize_abs_max"] == 33 - 16 + 1
    nb = convert_to_nb(final, str(tmp_path / "rec.nb"), target="arm")
    assert inspect_nb(nb).precision == "int8"
    # and the int8 ARM .nb runs on Paddle Lite's aarch64 library (emulated) like its fake-quant program
    _, batch = next(iter(pipeline.recognizer.batches(word_crops(shared, 2))))
    arm, program = run_as_nb(final, batch, "arm", str(tmp_path))
    assert arm.shape == program.shape and np.isfinite(arm).all()
    sure, changed = sure_decisions_changed(program, arm)  # int8 roundings differ by CPU; sure frames must not
    assert sure > 0.5 * program[..., 0].size and changed == 0, (sure, changed)
    full_program = program
    # a charset bundle of a QAT recognizer: the weight quant-dequant op's per-channel scales are sliced with the
    # weights (opt refuses 6625 scales for 11 channels)
    from edge_ocr.host.export.charset import slice_recognizer

    sliced = slice_recognizer(final, str(tmp_path / "sliced"), list(range(11)))
    assert any(entry.endswith(".scale_0[axis 0]") for entry in sliced["sliced"])
    arm, program = run_as_nb(str(tmp_path / "sliced"), batch, "arm", str(tmp_path / "sliced-nb"))
    assert arm.shape[-1] == program.shape[-1] == 11 and np.isfinite(arm).all()
    # the sliced network computes the full one's logits for the kept classes (same runtime, so tight)
    kept = full_program[..., :11]
    np.testing.assert_allclose(kept / kept.sum(-1, keepdims=True), program, atol=1e-3)


@pytest.mark.train
def test_det_qat_with_teacher_exports_between_steps(models_dir, tiny_det, tmp_path, emulated_runtime, shared):
    """Exporting a QAT detector after training steps and evaluations (best checkpoints) once broke in Paddle's
    SOT translator; the exported model keeps a dynamic input and its fake-quant ops."""
    from edge_ocr.host.quantize.compress.program import op_counts
    from edge_ocr.host.quantize.train.det import DetTrainConfig, train_det
    from edge_ocr.program import input_spec

    out = str(tmp_path / "det-qat")
    config = DetTrainConfig(steps=3, batch_size=1, size=320, eval_every=1, distill="teacher", qat=True)
    train_det(models_dir, tiny_det, tiny_det, out, config, progress=False)
    final = os.path.join(out, "final")
    assert input_spec(final)["shape"] == [-1, 3, -1, -1]
    assert any("quantize" in op for op in op_counts(final))
    # a real photo, as the detector preprocesses it (random noise gives a map of zeros that any kernel matches)
    import cv2

    from edge_ocr.config import DetParams
    from edge_ocr.det import preprocess_det

    image = cv2.imread(os.path.join(shared, "data", "icdar2015", "ch4_test_images", "img_11.jpg"))
    # img_11's text at native scale (the whole photo shrunk to 320 leaves text too small for the FP32 detector too)
    x = preprocess_det(image[0:320, 300:620], DetParams(limit_side_len=320))
    arm, program = run_as_nb(final, x, "arm", str(tmp_path))  # int8 det on the ARM runtime, emulated
    assert arm.shape == program.shape and np.isfinite(arm).all()
    # the text/background decision at the threshold, where the reference is sure of it. int8 roundings differ by
    # CPU and a DB map is steep at text edges, so a few sure pixels may flip (measured on Intel AVX-512: 4 of 102,356);
    # a real kernel or scale error flips whole regions
    sure = np.abs(program - 0.3) >= 0.2
    text = program[sure] > 0.3
    assert text.mean() > 0.005 and sure.mean() > 0.5, (text.mean(), sure.mean())
    flipped = ((arm[sure] > 0.3) != text).mean()
    assert flipped < 1e-3, flipped
    assert abs((arm > 0.3).mean() - (program > 0.3).mean()) < 0.05 * (program > 0.3).mean()


@pytest.mark.train
def test_cls_training_steps_export_and_resume(models_dir, tiny, tmp_path):
    from edge_ocr.engines import create_engine
    from edge_ocr.host.quantize.train.cls import ClsData, ClsTrainConfig, train_cls

    data = ClsData(tiny)
    assert len(data.images) == 8 and data.labels == [0, 1] * 4  # each crop upright and rotated 180°
    assert data.images[0].shape == (3, 48, 192)
    out = str(tmp_path / "cls")
    config = ClsTrainConfig(steps=3, batch_size=8, lr=1e-4, warmup_steps=1, eval_every=3)
    best = train_cls(models_dir, tiny, tiny, out, config, progress=False)
    assert 0 <= best["accuracy"] <= 1 and len(_losses(out)) == 3
    probs = create_engine(os.path.join(out, "final"), "paddle", threads=1).run(np.stack(data.images[:2]))
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    config.steps = 4
    train_cls(models_dir, tiny, tiny, out, config, resume=True, progress=False)
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 4


@pytest.mark.train
def test_rec_training_with_augmented_batches(models_dir, tiny, tmp_path):
    from edge_ocr.host.quantize.train.rec import RecData

    data = RecData(tiny, ["blank"] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 320,
                   keep_crops=True)
    rng = np.random.default_rng(0)
    plain, _, _ = data.batch([0, 1])
    augmented, _, _ = data.batch([0, 1], rng)
    assert augmented.shape == plain.shape and not np.allclose(augmented.numpy(), plain.numpy())
    out = str(tmp_path / "aug")
    config = RecTrainConfig(steps=2, batch_size=4, warmup_steps=1, eval_every=2, augment=True)
    train_rec(models_dir, tiny, tiny, out, config, progress=False)
    assert len(_losses(out)) == 2
