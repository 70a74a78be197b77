"""Text recognizer: PP-LCNet-style MobileNetV1-enhanced ×0.5 backbone, BiLSTM encoder, CTC head with a middle FC.

Read off the official program (``ch_PP-OCRv2_rec_infer/inference.pdmodel``): a 3×3 stride-2 stem, depthwise
separable blocks (depthwise k×k + BN + hard-swish, optional squeeze-excite, pointwise 1×1 + BN + hard-swish) whose
strides (2, 1) halve only the height, a final 2×2 max pool to height 1, a 2-layer bidirectional LSTM (hidden 64),
then FC 128→96 and FC 96→6625 (CTC classes: blank + 6623 characters + space).
Input 3×32×W; output N×(W/4)×6625 softmax in eval mode, logits (and the backbone features) in training mode.
"""

from __future__ import annotations

import numpy as np
import paddle
from paddle import nn
from paddle.nn import functional as F

from .layers import ConvBN, SqueezeExcite

STEM_CHANNELS = 16
# depthwise kernel, input channels, output channels, stride (h, w), squeeze-excite
BLOCKS = [
    (3, 16, 32, (1, 1), False),
    (3, 32, 64, (1, 1), False),
    (3, 64, 64, (1, 1), False),
    (3, 64, 128, (2, 1), False),
    (3, 128, 128, (1, 1), False),
    (3, 128, 256, (2, 1), False),
    (5, 256, 256, (1, 1), False),
    (5, 256, 256, (1, 1), False),
    (5, 256, 256, (1, 1), False),
    (5, 256, 256, (1, 1), False),
    (5, 256, 256, (1, 1), False),
    (5, 256, 512, (2, 1), True),
    (5, 512, 512, (1, 1), True),
]
LSTM_HIDDEN = 64
MID_CHANNELS = 96
NUM_CLASSES = 6625


class DepthwiseSeparable(nn.Layer):
    def __init__(self, kernel: int, cin: int, cout: int, stride, se: bool):
        super().__init__()
        self.depthwise = ConvBN(cin, cin, kernel, stride=stride, groups=cin, act="hardswish")
        self.se = SqueezeExcite(cin, slope=1.0 / 6.0) if se else None
        self.pointwise = ConvBN(cin, cout, 1, act="hardswish")

    def forward(self, x):
        x = self.depthwise(x)
        if self.se is not None:
            x = self.se(x)
        return self.pointwise(x)


class RecBackbone(nn.Layer):
    def __init__(self):
        super().__init__()
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2, act="hardswish")
        self.blocks = nn.Sequential(*[DepthwiseSeparable(*cfg) for cfg in BLOCKS])
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)
        self.out_channels = BLOCKS[-1][2]

    def forward(self, x):
        return self.pool(self.blocks(self.stem(x)))


def zero_states(sequence, layers: int, directions: int, hidden: int):
    """The LSTM's zero initial (h, c), each ``layers·directions × N × hidden``, N taken from ``sequence`` (N × T × C).

    Left to itself, ``nn.LSTM`` exported from Paddle 2.6 builds these with ``fill_constant`` ops whose shape comes from
    0-d tensors, which Paddle Lite cannot run (it aborts in ``fill_constant``'s InferShape). In a static program they
    are built the way the official PP-OCRv2 program builds them, with ``fill_constant_batch_size_like``.
    """
    shape = [layers * directions, -1, hidden]
    if paddle.in_dynamic_mode():
        batch = sequence.shape[0]
        return tuple(paddle.zeros([shape[0], batch, hidden], dtype=sequence.dtype) for _ in range(2))
    from paddle.base.layer_helper import LayerHelper

    helper = LayerHelper("fill_constant_batch_size_like")
    states = []
    for _ in range(2):
        out = helper.create_variable_for_type_inference(dtype=sequence.dtype)
        helper.append_op(type="fill_constant_batch_size_like", inputs={"Input": sequence}, outputs={"Out": out},
                         attrs={"shape": shape, "dtype": out.dtype, "value": 0.0, "input_dim_idx": 0,
                                "output_dim_idx": 1})
        out.stop_gradient = True
        states.append(out)
    return tuple(states)


class RecCRNN(nn.Layer):
    """``lstm_input_rank``: when set, the first LSTM layer's input projection (2 directions × 4·64 × 512 weights, two
    thirds of the FP32 LSTM) is factored through a shared rank-r Linear outside the ``rnn`` op, which int8 kernels
    can hold (Paddle Lite has no int8 ``rnn``); the ``rnn`` op then keeps only 2 × 256 × r of it in FP32. See
    ``factor_lstm_input``."""

    def __init__(self, num_classes: int = NUM_CLASSES, lstm_input_rank: int | None = None):
        super().__init__()
        self.backbone = RecBackbone()
        channels = self.backbone.out_channels
        self.lstm_input = nn.Linear(channels, lstm_input_rank, bias_attr=False) if lstm_input_rank else None
        self.lstm = nn.LSTM(lstm_input_rank or channels, LSTM_HIDDEN, num_layers=2, direction="bidirect")
        self.fc_mid = nn.Linear(2 * LSTM_HIDDEN, MID_CHANNELS)
        self.fc = nn.Linear(MID_CHANNELS, num_classes)

    def forward(self, x, return_features: bool = False):
        features = self.backbone(x)  # N x C x 1 x W/4
        logits, mid = self.head(features)
        out = logits if self.training else F.softmax(logits, axis=2)
        return (out, features, mid) if return_features else out

    def head(self, features):
        """Backbone features (N × C × 1 × T) → CTC logits (N × T × classes) and the mid features."""
        sequence = paddle.transpose(paddle.squeeze(features, axis=2), [0, 2, 1])  # N x T x C
        if self.lstm_input is not None:
            sequence = self.lstm_input(sequence)  # N x T x r
        states = zero_states(sequence, self.lstm.num_layers, self.lstm.num_directions, self.lstm.hidden_size)
        encoded, _ = self.lstm(sequence, states)
        mid = self.fc_mid(encoded)  # the features enhanced CTC pulls towards class centres
        return self.fc(mid), mid


def feature_moment(feature_batches) -> np.ndarray:
    """E[x xᵀ] of the LSTM's input vectors x (the backbone's C features at each time step) over batches of backbone
    features (N × C × 1 × T arrays): what ``factor_lstm_input`` weighs the truncation error by."""
    moment, count = None, 0
    for features in feature_batches:
        x = np.asarray(features)[:, :, 0, :].transpose(0, 2, 1).reshape(-1, features.shape[1]).astype(np.float64)
        moment = x.T @ x if moment is None else moment + x.T @ x
        count += len(x)
    if moment is None:
        raise ValueError("feature_moment: no batches")
    return moment / count


def lstm_input_moment(net: RecCRNN, batches) -> np.ndarray:
    """``feature_moment`` of ``net``'s backbone on ``batches`` of N × 3 × 32 × W images."""
    net.eval()
    with paddle.no_grad():
        return feature_moment(net.backbone(paddle.to_tensor(batch)).numpy() for batch in batches)


def factor_lstm_input(net: RecCRNN, rank: int, input_moment: np.ndarray | None = None) -> RecCRNN:
    """A copy of ``net`` whose first LSTM layer's input projection is factored to ``rank``.

    Both directions' input weights, stacked (512 × 512), are W. Without ``input_moment`` W is truncated by plain SVD:
    ``U S Vᵀ``, the shared Linear holds ``√S Vᵀ`` (the square roots balance the two factors' ranges for int8) and each
    direction's ``rnn`` input weights the matching rows of ``U √S``. With ``input_moment`` M = E[x xᵀ] of the inputs
    the LSTM really sees (``lstm_input_moment``), the truncation minimises the error of the gate pre-activations
    E‖(W − Ŵ) x‖² instead: with M = L Lᵀ, Ŵ = [W L]ᵣ L⁻¹ (the SVD of W L, truncated; the shared Linear holds
    ``√S Vᵀ L⁻¹``). Exact at rank 512 either way (up to rounding); below it, the truncated singular values of W (or
    of W L) are the error.
    """
    if net.lstm_input is not None:
        raise ValueError("the network's LSTM input is already factored")
    factored = RecCRNN(net.fc.weight.shape[1], lstm_input_rank=rank)
    # parameters and buffers once each (a state_dict lists every LSTM tensor under two names)
    state = {k: v.numpy() for k, v in [*net.named_parameters(), *net.named_buffers()] if v.persistable}
    forward, backward = state.pop("lstm.weight_ih_l0"), state.pop("lstm.weight_ih_l0_reverse")
    stacked = np.concatenate([forward, backward]).astype(np.float64)  # 2·4H × C
    if input_moment is None:
        whiten = unwhiten = np.eye(stacked.shape[1])
    else:
        moment = np.asarray(input_moment, np.float64)
        jitter = 1e-6 * np.trace(moment) / len(moment)  # dead channels would make M singular
        whiten = np.linalg.cholesky(moment + jitter * np.eye(len(moment)))  # L
        unwhiten = np.linalg.inv(whiten)
    u, s, vt = np.linalg.svd(stacked @ whiten, full_matrices=False)
    root = np.sqrt(s[:rank])
    left = u[:, :rank] * root  # 2·4H × r
    state["lstm_input.weight"] = ((root[:, None] * vt[:rank]) @ unwhiten).T.astype(np.float32)  # C × r (in × out)
    state["lstm.weight_ih_l0"] = left[: forward.shape[0]].astype(np.float32)
    state["lstm.weight_ih_l0_reverse"] = left[forward.shape[0] :].astype(np.float32)
    target = {k: v for k, v in [*factored.named_parameters(), *factored.named_buffers()] if v.persistable}
    for name, value in state.items():
        if name in target:
            target[name].set_value(value)
    missing = [name for name in target if name not in state]
    if missing:
        raise ValueError(f"factor_lstm_input: no value for {', '.join(missing)}")
    return factored
