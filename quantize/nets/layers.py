"""Building blocks shared by the network files (registration order = the official programs' execution order)."""

from __future__ import annotations

from paddle import nn
from paddle.nn import functional as F


def activation(name: str | None) -> nn.Layer:
    return {"relu": nn.ReLU(), "hardswish": nn.Hardswish(), None: nn.Identity()}[name]


class ConvBN(nn.Layer):
    """Conv (no bias, 'same' padding) + BatchNorm + activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride=1, groups: int = 1, act: str | None = None):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                              bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = activation(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Layer):
    """Channel attention: global average -> 1x1 (÷reduction) -> ReLU -> 1x1 -> hard sigmoid -> scale.

    The hard sigmoid's slope differs between the programs: 0.2 in the classifier, 1/6 in the recognizer.
    """

    def __init__(self, channels: int, slope: float, reduction: int = 4):
        super().__init__()
        self.slope = slope
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.reduce = nn.Conv2D(channels, channels // reduction, 1)
        self.expand = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x):
        attention = F.relu(self.reduce(self.pool(x)))
        return x * F.hardsigmoid(self.expand(attention), slope=self.slope, offset=0.5)
