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
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


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
        from ..train.lstm_distill import distill_head

        losses = distill_head(net, factored, train_images, steps)
        log.info("rec: factored head distilled for %d steps (KL %.4f → %.4f)", steps, losses[0], losses[-1])
    return save_inference_model(factored, out_dir, [None, 3, 32, None])
