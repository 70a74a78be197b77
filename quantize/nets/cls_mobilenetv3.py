"""Text-direction classifier: MobileNetV3-small ×0.35 backbone and a 2-class head (ch_ppocr_mobile_v2.0_cls).

Every width, kernel, stride, activation and SE choice below was read off the official inference program
(``ch_ppocr_mobile_v2.0_cls_infer/inference.pdmodel``): strides (2, 1) halve the height only, as text lines are wide.
Input 3×48×192, output the softmax over ("0", "180") in eval mode, the logits in training mode.
"""

from __future__ import annotations

import paddle
from paddle import nn
from paddle.nn import functional as F

from .layers import ConvBN, SqueezeExcite

# kernel, expanded channels, output channels, squeeze-excite, activation, stride (h, w)
BLOCKS = [
    (3, 8, 8, True, "relu", (2, 1)),
    (3, 24, 8, False, "relu", (2, 1)),
    (3, 32, 8, False, "relu", (1, 1)),
    (5, 32, 16, True, "hardswish", (2, 1)),
    (5, 88, 16, True, "hardswish", (1, 1)),
    (5, 88, 16, True, "hardswish", (1, 1)),
    (5, 40, 16, True, "hardswish", (1, 1)),
    (5, 48, 16, True, "hardswish", (1, 1)),
    (5, 104, 32, True, "hardswish", (2, 1)),
    (5, 200, 32, True, "hardswish", (1, 1)),
    (5, 200, 32, True, "hardswish", (1, 1)),
]
STEM_CHANNELS = 8
LAST_CHANNELS = 200
NUM_CLASSES = 2


class InvertedResidual(nn.Layer):
    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, se: bool, act: str, stride):
        super().__init__()
        self.residual = cin == cout and tuple(stride) == (1, 1)
        self.expand = ConvBN(cin, expanded, 1, act=act)
        self.depthwise = ConvBN(expanded, expanded, kernel, stride=stride, groups=expanded, act=act)
        self.se = SqueezeExcite(expanded, slope=0.2) if se else None
        self.project = ConvBN(expanded, cout, 1)

    def forward(self, x):
        y = self.depthwise(self.expand(x))
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class ClsMobileNetV3(nn.Layer):
    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2, act="hardswish")
        blocks, cin = [], STEM_CHANNELS
        for kernel, expanded, cout, se, act, stride in BLOCKS:
            blocks.append(InvertedResidual(cin, kernel, expanded, cout, se, act, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.last = ConvBN(cin, LAST_CHANNELS, 1, act="hardswish")
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)
        self.head_pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(LAST_CHANNELS, num_classes)

    def forward(self, x):
        x = self.pool(self.last(self.blocks(self.stem(x))))
        # reshape, not flatten: paddle_lite_opt 2.13 segfaults on flatten_contiguous_range after the adaptive pool
        logits = self.fc(paddle.reshape(self.head_pool(x), [-1, LAST_CHANNELS]))
        return logits if self.training else F.softmax(logits, axis=1)
