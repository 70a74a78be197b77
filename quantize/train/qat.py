"""Quantization-aware training with PaddleSlim's dygraph QAT: fake-quant layers in the network while it trains.

``quantize_aware(net)`` inserts them (per-channel int8 weights, moving-average int8 activations, optionally PACT
clipping of activations); ``save_qat_model`` exports an inference model with the fake-quant ops that Paddle Lite's
``opt`` turns into int8 kernels (``edge-ocr export --quantized``).
"""

from __future__ import annotations

QAT_CONFIG = {
    "weight_quantize_type": "channel_wise_abs_max",
    "activation_quantize_type": "moving_average_abs_max",
    "weight_bits": 8,
    "activation_bits": 8,
    "quantizable_layer_type": ["Conv2D", "Linear"],
    "moving_rate": 0.9,
    "onnx_format": False,
}


def quantize_aware(net, pact: bool = False, config: dict | None = None, keep_fp32_first: int = 0):
    """Insert fake-quant layers into ``net`` in place; returns the quanter (needed to export).

    ``keep_fp32_first``: the first N conv/linear layers (registration order = the official program's order, so
    the same layers as PTQ's ``--keep-fp32-first``) stay FP32, as the recognizer's stem needs.
    """
    import paddle
    from paddleslim import QAT

    weighted = [layer for layer in net.sublayers() if isinstance(layer, (paddle.nn.Conv2D, paddle.nn.Linear))]
    for layer in weighted[:keep_fp32_first]:
        layer.skip_quant = True  # honoured by Paddle's ImperativeQuantAware

    settings = {**QAT_CONFIG, **(config or {})}
    if pact:

        class PACT(paddle.nn.Layer):
            """Learned clipping of activations before quantization (PACT)."""

            def __init__(self):
                super().__init__()
                self.alpha = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(20.0))

            def forward(self, x):
                return x - paddle.nn.functional.relu(x - self.alpha) + paddle.nn.functional.relu(-self.alpha - x)

        settings["act_preprocess_type"] = None
        quanter = QAT(config=settings, act_preprocess=PACT)
    else:
        quanter = QAT(config=settings)
    quanter.quantize(net)
    return quanter


def save_qat_model(quanter, net, out_dir: str, input_shape: list[int | None]) -> str:
    """Export the QAT network (eval mode) with its fake-quant ops, atomically."""
    from ..nets.export import save_inference_model

    return save_inference_model(net, out_dir, input_shape, save=quanter.save_quantized_model)
