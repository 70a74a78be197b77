"""Losses of PP-OCRv2 training: DB, CTC and enhanced CTC, and the mutual-learning / distillation terms.

All take and return paddle tensors; shapes: det maps N×H×W (or N×1×H×W), rec logits N×T×C.
"""

from __future__ import annotations

import paddle
from paddle.nn import functional as F

EPS = 1e-6


def log_softmax(x, axis: int = -1):
    """``F.log_softmax``, computed as x − max − log Σ exp(x − max): the same numbers, and on Paddle 2.6's CPU
    kernels about 60× faster over the recognizer's 6,625 classes (a 64×80×6625 batch: 28 s forward + 29 s backward
    against 0.44 s + 0.29 s), which made every recognizer training step take minutes."""
    shifted = x - x.max(axis=axis, keepdim=True).detach()
    return shifted - paddle.log(paddle.exp(shifted).sum(axis=axis, keepdim=True))


def _flat(x):
    return x.squeeze(1) if x.ndim == 4 else x


def balanced_bce(pred, gt, mask, negative_ratio: float = 3.0):
    """BCE with online hard negative mining: every positive and at most ``negative_ratio`` × as many hardest
    negatives."""
    pred, gt, mask = _flat(pred), _flat(gt), _flat(mask)
    positive = gt * mask
    negative = (1 - gt) * mask
    positive_count = int(positive.sum())
    negative_count = min(int(negative.sum()), int(positive_count * negative_ratio))
    loss = F.binary_cross_entropy(pred.clip(EPS, 1 - EPS), gt, reduction="none")
    positive_loss = (loss * positive).sum()
    negative_loss = (loss * negative).flatten()
    if negative_count > 0:
        negative_loss = paddle.topk(negative_loss, negative_count)[0].sum()
    else:
        negative_loss = negative_loss.sum() * 0
    return (positive_loss + negative_loss) / (positive_count + negative_count + EPS)


def masked_l1(pred, gt, mask):
    pred, gt, mask = _flat(pred), _flat(gt), _flat(mask)
    return (paddle.abs(pred - gt) * mask).sum() / (mask.sum() + EPS)


def dice_loss(pred, gt, mask):
    pred, gt, mask = _flat(pred), _flat(gt), _flat(mask)
    intersection = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + EPS
    return 1 - 2.0 * intersection / union


def db_loss(maps: dict, labels: dict, alpha: float = 5.0, beta: float = 10.0) -> dict:
    """DB: alpha × balanced BCE (shrink) + beta × L1 (threshold, inside the border) + dice (binary)."""
    shrink = balanced_bce(maps["shrink"], labels["shrink_map"], labels["shrink_mask"])
    threshold = masked_l1(maps["threshold"], labels["threshold_map"], labels["threshold_mask"])
    binary = dice_loss(maps["binary"], labels["shrink_map"], labels["shrink_mask"])
    total = alpha * shrink + beta * threshold + binary
    return {"loss": total, "shrink": shrink, "threshold": threshold, "binary": binary}


def ctc_loss(logits, labels, label_lengths):
    """CTC over N×T×C logits (blank = 0); labels N×L padded; mean over the batch of per-sample losses."""
    n, t, _ = logits.shape
    log_probs = log_softmax(logits, axis=2).transpose([1, 0, 2])
    input_lengths = paddle.full([n], t, dtype="int64")
    loss = F.ctc_loss(log_probs, labels.astype("int32"), input_lengths, label_lengths.astype("int64"), blank=0,
                      reduction="none")
    return loss.mean()


def center_loss(features, logits, centers):
    """Squared distance of each time step's feature to the centre of its predicted class (enhanced CTC).

    features N×T×D (the head's input), logits N×T×C, centers C×D; blank steps (class 0) are left out.
    """
    predicted = logits.argmax(axis=2).flatten()
    feats = features.reshape([-1, features.shape[-1]])
    keep = predicted != 0
    if int(keep.sum()) == 0:
        return feats.sum() * 0
    chosen = paddle.gather(centers, predicted[keep])
    return ((feats[keep] - chosen) ** 2).sum(axis=1).mean()


def enhanced_ctc_loss(logits, features, labels, label_lengths, centers, center_weight: float = 0.05):
    return ctc_loss(logits, labels, label_lengths) + center_weight * center_loss(features, logits, centers)


def dml_loss(logits_a, logits_b, axis: int = -1):
    """Deep mutual learning: symmetric KL divergence between two models' softmax outputs, averaged."""
    log_a, log_b = log_softmax(logits_a, axis=axis), log_softmax(logits_b, axis=axis)
    p_a, p_b = log_a.exp(), log_b.exp()
    kl_ab = (p_a * (log_a - log_b)).sum(axis=axis).mean()
    kl_ba = (p_b * (log_b - log_a)).sum(axis=axis).mean()
    return (kl_ab + kl_ba) / 2


def feature_distance(features_a, features_b):
    """Mean squared (L2) distance between two models' features of the same shape."""
    return ((features_a - features_b) ** 2).mean()


def map_distillation_loss(student_shrink, teacher_shrink, thresh: float = 0.3):
    """CML's teacher term: the teacher's probability map, binarised at ``thresh``, as the student's DB target."""
    target = (teacher_shrink > thresh).astype("float32").detach()
    mask = paddle.ones_like(target)
    return balanced_bce(student_shrink, target, mask) + dice_loss(student_shrink, target, mask)


def soft_map_loss(student_shrink, teacher_shrink, weight: float = 10.0):
    """The teacher's probability map itself as a soft target: L1 where either map sees text, plus a small global L1."""
    teacher_shrink = teacher_shrink.detach()
    diff = (student_shrink - teacher_shrink).abs()
    text = ((student_shrink > 0.1) | (teacher_shrink > 0.1)).astype("float32")
    return weight * ((diff * text).sum() / (text.sum() + 1.0) + diff.mean())


def map_dml_loss(shrink_a, shrink_b):
    """CML's student-student term: symmetric KL between two Bernoulli probability maps."""
    a, b = shrink_a.clip(EPS, 1 - EPS), shrink_b.clip(EPS, 1 - EPS)
    kl_ab = a * (a / b).log() + (1 - a) * ((1 - a) / (1 - b)).log()
    kl_ba = b * (b / a).log() + (1 - b) * ((1 - b) / (1 - a)).log()
    return ((kl_ab + kl_ba) / 2).mean()
