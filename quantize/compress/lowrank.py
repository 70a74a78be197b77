"""The recognizer with its first LSTM layer's input projection factored to rank r, as an FP32 inference model that
PTQ then quantizes: the factor outside the ``rnn`` op ships in int8 (Paddle Lite has no int8 ``rnn``).

The truncation is weighted by E[x xᵀ] of the LSTM's inputs on train crops (``factor_lstm_input``), then the
factored LSTM is distilled from the official recognizer on the same crops (``quantize.train.lstm_distill``).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def factored_recognizer(models_dir: str, rank: int, out_dir: str, train_images: np.ndarray, steps: int = 0,
                        seed: int = 0) -> str:
    """Export the official recognizer factored to ``rank`` (weighted by ``train_images``, N × 3 × 32 × W, and
    distilled on them for ``steps``) as an inference model in ``out_dir``."""
    from ..nets.export import save_inference_model
    from ..nets.registry import load_official
    from ..train.lstm_distill import backbone_features, factored_and_distilled

    net = load_official("rec", models_dir)
    factored = factored_and_distilled(net, rank, backbone_features(net, train_images), steps, seed)
    log.info("rec: LSTM input projection factored to rank %d, distilled %d steps", rank, steps)
    return save_inference_model(factored, out_dir, [None, 3, 32, None])
