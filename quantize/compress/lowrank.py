"""The recognizer with its first LSTM layer's input projection factored to rank r, as an FP32 inference model that
PTQ then quantizes: the factor outside the ``rnn`` op ships in int8 (Paddle Lite has no int8 ``rnn``).

1. The truncation is weighted by E[x xᵀ] of the LSTM's inputs on train crops
   (``quantize.nets.rec_lcnet_crnn.factor_lstm_input``), so it keeps what those inputs use of the projection.
2. Optionally, the factored LSTM (the shared Linear and the ``rnn`` weights) is then distilled from the official
   recognizer's outputs on train crops. The backbone is not touched, so its features are computed once and cached:
   each step runs only the head, and a few hundred steps take minutes on a CPU.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)


def _backbone_features(net, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    import paddle

    net.eval()
    with paddle.no_grad():
        return np.concatenate([net.backbone(paddle.to_tensor(images[i : i + batch_size])).numpy()
                               for i in tqdm(range(0, len(images), batch_size), desc="rec features", leave=False)])


def distill_head(teacher, student, images: np.ndarray, steps: int, lr: float = 5e-4, batch_size: int = 32,
                 seed: int = 0) -> list[float]:
    """Train ``student``'s factored LSTM (the shared Linear and the ``rnn`` weights; backbone and FCs frozen, as
    the teacher's) to match ``teacher``'s CTC distributions on ``images`` (N × 3 × 32 × W): KL(teacher ‖ student)
    per frame. Returns the loss of each step."""
    import paddle

    from ..train.losses import log_softmax

    paddle.seed(seed)
    rng = random.Random(seed)
    features = _backbone_features(teacher, images)  # the teacher's targets are made per batch: all of them at
    teacher.eval()  # once would take 6.6 GB (3,000 crops × 80 frames × 6,625 classes)
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


def factored_recognizer(models_dir: str, calibration: Sequence[np.ndarray], rank: int, out_dir: str,
                        train_images: np.ndarray | None = None, steps: int = 0) -> str:
    """Export the official recognizer factored to ``rank``: the truncation weighted by the LSTM inputs of
    ``train_images`` (else of ``calibration``'s N×3×32×W batches), then ``steps`` of head distillation on them."""
    from ..nets.export import save_inference_model
    from ..nets.rec_lcnet_crnn import factor_lstm_input, lstm_input_moment
    from ..nets.registry import load_official

    net = load_official("rec", models_dir)
    batches = calibration if train_images is None else [train_images[i : i + 32]
                                                       for i in range(0, len(train_images), 32)]
    factored = factor_lstm_input(net, rank, lstm_input_moment(net, batches))
    log.info("rec: LSTM input projection factored to rank %d", rank)
    if steps and train_images is not None:
        losses = distill_head(net, factored, train_images, steps)
        log.info("rec: factored head distilled for %d steps (KL %.4f → %.4f)", steps, losses[0], losses[-1])
    return save_inference_model(factored, out_dir, [None, 3, 32, None])
