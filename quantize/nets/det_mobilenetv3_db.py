"""Text detector: DB with a MobileNetV3-large ×0.5 backbone (no squeeze-excite), DBFPN neck and DB head (k = 50).

Read off the official program (``ch_PP-OCRv2_det_infer/inference.pdmodel``): a 3×3 stride-2 stem (8 channels,
hard-swish), 15 inverted-residual blocks, a last 1×1 conv to 480 channels; the neck takes the stride-4/8/16/32 maps
(16, 24, 56, 480 channels), projects each to 96 with a 1×1 conv (coarsest first, as the program runs them), adds
them top-down with ×2 nearest upsampling, smooths each with a 3×3 conv to 24 channels, upsamples to stride 4 and
concatenates (96 channels); the head is 3×3 conv + BN + ReLU, two stride-2 transposed convs and a sigmoid.
The inference program holds only the probability (shrink) branch; the threshold branch exists for training and is
initialised fresh (``TRAIN_ONLY``). Eval output: N×1×H×W probability map; training: shrink, threshold and binary maps.
"""

from __future__ import annotations

import paddle
from paddle import nn
from paddle.nn import functional as F

from .layers import ConvBN

STEM_CHANNELS = 8
# kernel, expanded channels, output channels, activation, stride
BLOCKS = [
    (3, 8, 8, "relu", 1),
    (3, 32, 16, "relu", 2),
    (3, 40, 16, "relu", 1),  # -> C2, stride 4
    (5, 40, 24, "relu", 2),
    (5, 64, 24, "relu", 1),
    (5, 64, 24, "relu", 1),  # -> C3, stride 8
    (3, 120, 40, "hardswish", 2),
    (3, 104, 40, "hardswish", 1),
    (3, 96, 40, "hardswish", 1),
    (3, 96, 40, "hardswish", 1),
    (3, 240, 56, "hardswish", 1),
    (3, 336, 56, "hardswish", 1),  # -> C4, stride 16
    (5, 336, 80, "hardswish", 2),
    (5, 480, 80, "hardswish", 1),
    (5, 480, 80, "hardswish", 1),
]
STAGE_ENDS = (2, 5, 11)  # block indices whose outputs feed the neck (C2, C3, C4); C5 is the last conv
LAST_CHANNELS = 480
NECK_CHANNELS = 96
DB_K = 50
TRAIN_ONLY = ("head.thresh.",)  # not in the inference program


class InvertedResidual(nn.Layer):
    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, act: str, stride: int):
        super().__init__()
        self.residual = cin == cout and stride == 1
        self.expand = ConvBN(cin, expanded, 1, act=act)
        self.depthwise = ConvBN(expanded, expanded, kernel, stride=stride, groups=expanded, act=act)
        self.project = ConvBN(expanded, cout, 1)

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class Backbone(nn.Layer):
    def __init__(self):
        super().__init__()
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2, act="hardswish")
        blocks, cin = [], STEM_CHANNELS
        for kernel, expanded, cout, act, stride in BLOCKS:
            blocks.append(InvertedResidual(cin, kernel, expanded, cout, act, stride))
            cin = cout
        self.blocks = nn.LayerList(blocks)
        self.last = ConvBN(cin, LAST_CHANNELS, 1, act="hardswish")
        self.out_channels = [BLOCKS[i][2] for i in STAGE_ENDS] + [LAST_CHANNELS]

    def forward(self, x):
        x = self.stem(x)
        stages = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in STAGE_ENDS:
                stages.append(x)
        stages.append(self.last(x))
        return stages  # C2, C3, C4, C5


class DBFPN(nn.Layer):
    def __init__(self, in_channels: list[int], out_channels: int = NECK_CHANNELS):
        super().__init__()
        # Registered coarsest first: the order the program runs (and stores) them.
        self.in5, self.in4, self.in3, self.in2 = (nn.Conv2D(c, out_channels, 1, bias_attr=False)
                                                  for c in reversed(in_channels))
        self.p5, self.p4, self.p3, self.p2 = (nn.Conv2D(out_channels, out_channels // 4, 3, padding=1,
                                                        bias_attr=False) for _ in range(4))

    def forward(self, stages):
        c2, c3, c4, c5 = stages
        in5, in4, in3, in2 = self.in5(c5), self.in4(c4), self.in3(c3), self.in2(c2)
        out4 = in4 + F.upsample(in5, scale_factor=2, mode="nearest")
        out3 = in3 + F.upsample(out4, scale_factor=2, mode="nearest")
        out2 = in2 + F.upsample(out3, scale_factor=2, mode="nearest")
        p5 = F.upsample(self.p5(in5), scale_factor=8, mode="nearest")
        p4 = F.upsample(self.p4(out4), scale_factor=4, mode="nearest")
        p3 = F.upsample(self.p3(out3), scale_factor=2, mode="nearest")
        return paddle.concat([p5, p4, p3, self.p2(out2)], axis=1)


class DBBranch(nn.Layer):
    """3x3 conv + BN + ReLU, transposed conv ×2 + BN + ReLU, transposed conv ×2 to one channel, sigmoid."""

    def __init__(self, cin: int):
        super().__init__()
        self.conv = nn.Conv2D(cin, cin // 4, 3, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(cin // 4)
        self.up1 = nn.Conv2DTranspose(cin // 4, cin // 4, 2, stride=2)
        self.bn2 = nn.BatchNorm2D(cin // 4)
        self.up2 = nn.Conv2DTranspose(cin // 4, 1, 2, stride=2)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv(x)))
        x = F.relu(self.bn2(self.up1(x)))
        return F.sigmoid(self.up2(x))


class DBHead(nn.Layer):
    def __init__(self, cin: int = NECK_CHANNELS, k: int = DB_K):
        super().__init__()
        self.k = k
        self.binarize = DBBranch(cin)
        self.thresh = DBBranch(cin)

    def forward(self, x):
        shrink = self.binarize(x)
        if not self.training:
            return shrink
        threshold = self.thresh(x)
        binary = paddle.reciprocal(1 + paddle.exp(-self.k * (shrink - threshold)))
        return {"shrink": shrink, "threshold": threshold, "binary": binary}


class DBDetector(nn.Layer):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.neck = DBFPN(self.backbone.out_channels)
        self.head = DBHead()

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))
