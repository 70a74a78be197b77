"""Load the official ``inference.pdiparams`` into a dygraph network, matching by program structure and shape.

The program's persistable tensors are listed in execution order (conv Filter; batch_norm Scale, Bias, Mean,
Variance; a bias added right after a conv or matmul; matmul weights), the network's parameters and buffers in
registration order (which each network file keeps equal to execution order). They are paired one to one; a shape
mismatch, a program tensor left over or a network tensor left without a value is an error naming it.
"""

from __future__ import annotations

import os
import re

import numpy as np

from edge_ocr.errors import EdgeOCRError
from edge_ocr.program import load_program_desc, static_mode

_SLOTS = {"conv2d": ("Filter",), "depthwise_conv2d": ("Filter",), "conv2d_transpose": ("Filter",),
          "batch_norm": ("Scale", "Bias", "Mean", "Variance"), "elementwise_add": ("Y",), "matmul_v2": ("Y",),
          "mul": ("Y",), "rnn": ("WeightList",)}


def program_tensors(model_dir: str) -> list[tuple[str, np.ndarray]]:
    """(name, value) of every parameter in the order the program uses them."""
    block = load_program_desc(model_dir).blocks[0]
    persistable = {v.name for v in block.vars if v.persistable}
    order: list[str] = []
    for op in block.ops:
        for slot in _SLOTS.get(op.type, ()):
            for arg in op.inputs:
                if arg.parameter == slot:
                    order += [n for n in arg.arguments if n in persistable and n not in order]
    with static_mode() as paddle:
        executor = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            paddle.static.load_inference_model(os.path.join(model_dir, "inference"), executor)
            return [(name, np.array(scope.find_var(name).get_tensor())) for name in order]


_LSTM_NAME = re.compile(r"^(.*?)(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def network_tensors(net, skip: tuple[str, ...] = ()) -> list[tuple[str, object]]:
    """The network's parameters and buffers in program order.

    Registration order, with aliases dropped (an ``nn.LSTM`` lists each tensor twice), and each LSTM's tensors
    reordered as the ``rnn`` op's WeightList holds them: every weight (layer, direction, ih before hh), then every
    bias in the same order.
    """
    seen, items = set(), []
    for name, tensor in net.state_dict().items():
        key = getattr(tensor, "name", None) or id(tensor)
        if key in seen or ".cell_fw." in name or ".cell_bw." in name or name.startswith(skip):
            continue
        seen.add(key)
        items.append((name, tensor))
    out, i = [], 0
    while i < len(items):
        match = _LSTM_NAME.match(items[i][0])
        if not match:
            out.append(items[i])
            i += 1
            continue
        j = i
        while j < len(items) and (m := _LSTM_NAME.match(items[j][0])) and m.group(1) == match.group(1):
            j += 1

        def order(item):
            m = _LSTM_NAME.match(item[0])
            return (m.group(2) == "bias", int(m.group(4)), m.group(5) is not None, m.group(3) == "hh")

        out += sorted(items[i:j], key=order)
        i = j
    return out


def import_weights(net, model_dir: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Copy the official weights into ``net``; returns network name -> program name.

    ``skip``: name prefixes of training-only layers that the inference program does not contain.
    """
    import paddle

    source = program_tensors(model_dir)
    targets = network_tensors(net, skip)
    mapping = {}
    for i, (name, tensor) in enumerate(targets):
        if i >= len(source):
            raise EdgeOCRError(f"network tensor {name} {list(tensor.shape)} has no counterpart in {model_dir}")
        src_name, value = source[i]
        if list(value.shape) != list(tensor.shape):
            raise EdgeOCRError(f"network tensor {name} {list(tensor.shape)} does not match program tensor "
                               f"{src_name} {list(value.shape)}")
        tensor.set_value(paddle.to_tensor(value, dtype=tensor.dtype))
        mapping[name] = src_name
    if len(source) > len(targets):
        leftover = ", ".join(n for n, _ in source[len(targets):][:5])
        raise EdgeOCRError(f"program tensors left without a network parameter: {leftover}")
    return mapping
