"""Losses on toy tensors, checked against values computed by hand."""

import math

import numpy as np
import paddle
import pytest

from edge_ocr.host.quantize.train import losses


def t(values, dtype="float32"):
    return paddle.to_tensor(np.array(values, dtype=dtype))


def test_balanced_bce_keeps_three_hardest_negatives_per_positive():
    pred = t([[0.9, 0.2, 0.8, 0.1, 0.3, 0.05]])
    gt = t([[1, 0, 0, 0, 0, 0]])
    mask = t([[1, 1, 1, 1, 1, 1]])
    # 1 positive -> 3 hardest negatives: 0.8, 0.3, 0.2
    expected = (-math.log(0.9) - math.log(0.2) - math.log(0.7) - math.log(0.8)) / 4
    assert float(losses.balanced_bce(pred, gt, mask)) == pytest.approx(expected, rel=1e-5)


def test_masked_l1_and_dice():
    pred, gt, mask = t([[0.5, 1.0, 0.0]]), t([[1.0, 1.0, 1.0]]), t([[1, 1, 0]])
    assert float(losses.masked_l1(pred, gt, mask)) == pytest.approx(0.25)
    # intersection 1.5, union (1.5) + (2) -> 1 - 3/3.5
    assert float(losses.dice_loss(pred, gt, mask)) == pytest.approx(1 - 3 / 3.5, rel=1e-5)


def test_db_loss_weights():
    maps = {"shrink": t([[0.5, 0.5]]), "threshold": t([[0.2, 0.4]]), "binary": t([[1.0, 0.0]])}
    labels = {"shrink_map": t([[1, 0]]), "shrink_mask": t([[1, 1]]), "threshold_map": t([[0.3, 0.4]]),
              "threshold_mask": t([[1, 1]])}
    out = losses.db_loss(maps, labels)
    bce = math.log(2)
    assert float(out["shrink"]) == pytest.approx(bce, rel=1e-5)
    assert float(out["threshold"]) == pytest.approx(0.05, rel=1e-4)
    assert float(out["binary"]) == pytest.approx(0.0, abs=1e-5)
    assert float(out["loss"]) == pytest.approx(5 * bce + 10 * 0.05, rel=1e-4)


def test_ctc_loss_of_a_certain_prediction_is_near_zero_and_grows_when_wrong():
    good = np.full((1, 4, 3), -10.0, np.float32)
    for step, cls in enumerate([1, 0, 2, 0]):  # "a", blank, "b", blank
        good[0, step, cls] = 10.0
    labels, lengths = t([[1, 2]], "int32"), t([2], "int64")
    assert float(losses.ctc_loss(t(good), labels, lengths)) < 1e-3
    wrong = good[:, :, [2, 1, 0]]
    assert float(losses.ctc_loss(t(wrong), labels, lengths)) > 10


def test_center_loss_by_hand():
    logits = t([[[0.0, 5.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 5.0]]])  # classes 1, blank, 2
    features = t([[[1.0, 0.0], [9.0, 9.0], [0.0, 3.0]]])
    centers = t([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    # step 0: |(1,0)-(1,1)|^2 = 1; step 2: |(0,3)-(0,1)|^2 = 4; blank skipped -> mean 2.5
    assert float(losses.center_loss(features, logits, centers)) == pytest.approx(2.5)


def test_dml_is_symmetric_kl():
    a, b = t([[0.0, 0.0]]), t([[math.log(3.0), 0.0]])  # softmax (0.5, 0.5) and (0.75, 0.25)
    kl_ab = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    kl_ba = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert float(losses.dml_loss(a, b)) == pytest.approx((kl_ab + kl_ba) / 2, rel=1e-5)
    assert float(losses.dml_loss(a, a)) == pytest.approx(0.0, abs=1e-7)


def test_feature_distance_and_map_terms():
    assert float(losses.feature_distance(t([[1.0, 2.0]]), t([[3.0, 2.0]]))) == pytest.approx(2.0)
    same = t([[0.2, 0.9]])
    assert float(losses.map_dml_loss(same, same)) == pytest.approx(0.0, abs=1e-6)
    # symmetric Bernoulli KL of 0.5 and 0.75, by hand: (0.143841 + 0.130812) / 2
    assert float(losses.map_dml_loss(t([[0.5]]), t([[0.75]]))) == pytest.approx(0.137327, abs=1e-5)
    student = t([[0.6, 0.4]])
    # the teacher's map is binarised at 0.3: teachers on the same side of it give one loss, the other side another
    binarised = float(losses.map_distillation_loss(student, t([[0.99, 0.01]])))
    assert float(losses.map_distillation_loss(student, t([[0.35, 0.25]]))) == pytest.approx(binarised, abs=1e-6)
    assert float(losses.map_distillation_loss(student, t([[0.25, 0.35]]))) > binarised + 0.1
    assert float(losses.map_distillation_loss(t([[0.99, 0.01]]), t([[0.9, 0.1]]))) < 0.05


def test_soft_map_loss_follows_the_teacher_probabilities():
    teacher = t([[0.0, 0.8, 0.6, 0.0]])
    assert float(losses.soft_map_loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-7)
    near, far = t([[0.0, 0.7, 0.6, 0.0]]), t([[0.0, 0.2, 0.1, 0.0]])
    assert 0 < float(losses.soft_map_loss(near, teacher)) < float(losses.soft_map_loss(far, teacher))


def test_fast_log_softmax_gives_paddles_values_and_gradients():
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    x = np.random.default_rng(0).normal(0, 8, (2, 5, 300)).astype("float32")
    ours, theirs = paddle.to_tensor(x, stop_gradient=False), paddle.to_tensor(x, stop_gradient=False)
    weights = paddle.to_tensor(np.random.default_rng(1).uniform(size=x.shape).astype("float32"))
    (losses.log_softmax(ours, axis=2) * weights).sum().backward()
    (F.log_softmax(theirs, axis=2) * weights).sum().backward()
    assert np.abs(losses.log_softmax(ours, axis=2).numpy() - F.log_softmax(theirs, axis=2).numpy()).max() < 1e-4
    assert np.abs(ours.grad.numpy() - theirs.grad.numpy()).max() < 1e-4
