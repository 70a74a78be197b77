"""Distilling a factored recognizer's LSTM from the official recognizer, backbone frozen.

``factor_lstm_input`` truncates the first LSTM layer's input projection; what the truncation cut is recovered here
by matching the official recognizer's per-frame CTC distributions (KL) on train crops. Only the shared Linear and
the ``rnn`` weights train; the backbone is the official one, so its features are computed once and cached (and give
the truncation's weighting too), and each step runs only the head: a few hundred steps take minutes on a CPU.
"""

from __future__ import annotations

import random

import numpy as np
from tqdm import tqdm


def backbone_features(net, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """``net``'s backbone features (N × C × 1 × T) of N × 3 × 32 × W images."""
    import paddle

    net.eval()
    with paddle.no_grad():
        return np.concatenate([net.backbone(paddle.to_tensor(images[i : i + batch_size])).numpy()
                               for i in tqdm(range(0, len(images), batch_size), desc="rec features", leave=False)])


def distill_head(teacher, student, features: np.ndarray, steps: int, lr: float = 5e-4, batch_size: int = 32,
                 seed: int = 0) -> list[float]:
    """Train ``student``'s factored LSTM (the shared Linear and the ``rnn`` weights; backbone and FCs frozen, as
    the teacher's) to match ``teacher``'s CTC distributions on cached backbone ``features`` (``backbone_features``):
    KL(teacher ‖ student) per frame. Returns the loss of each step."""
    import paddle

    from .losses import log_softmax

    paddle.seed(seed)
    rng = random.Random(seed)
    teacher.eval()  # its targets are made per batch: all at once would take 6.6 GB (3,000 crops × 80 × 6,625)
    params = [p for name, p in student.named_parameters() if name.startswith(("lstm_input.", "lstm."))]
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=max(steps, 1))
    optimizer = paddle.optimizer.Adam(schedule, parameters=params,
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    student.train()
    order, losses = list(range(len(features))), []
    for step in tqdm(range(steps), desc="distill rec head"):
        if step % max(1, len(order) // batch_size) == 0:
            rng.shuffle(order)
        start = (step * batch_size) % max(1, len(order) - batch_size + 1)
        ids = order[start : start + batch_size]
        batch = paddle.to_tensor(features[ids])
        with paddle.no_grad():
            target = log_softmax(teacher.head(batch)[0], axis=-1)
        logits, _ = student.head(batch)
        loss = (paddle.exp(target) * (target - log_softmax(logits, axis=-1))).sum(axis=-1).mean()
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
        losses.append(float(loss))
    student.eval()
    return losses


def factored_and_distilled(net, rank: int, features: np.ndarray, steps: int, seed: int = 0):
    """A copy of ``net`` with its LSTM input factored to ``rank``, the truncation weighted by the LSTM inputs in
    ``features`` (``backbone_features`` of train crops), then ``steps`` of ``distill_head`` from ``net`` on them."""
    from ..nets.rec_lcnet_crnn import factor_lstm_input, feature_moment

    factored = factor_lstm_input(net, rank, feature_moment(features[i : i + 256]
                                                           for i in range(0, len(features), 256)))
    if steps:
        distill_head(net, factored, features, steps, seed=seed)
    return factored
