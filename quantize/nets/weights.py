"""Load the official ``inference.pdiparams`` into a dygraph network, matching by program structure and shape.

The program's persistable tensors are listed in execution order (conv Filter; batch_norm Scale, Bias, Mean,
Variance; a bias added right after a conv or matmul; matmul weights), the network's parameters and buffers in
registration order (which each network file keeps equal to execution order). They are paired one to one; a shape
mismatch, a program tensor left over or a network tensor left without a value is an error naming it.
"""

from __future__ import annotations

import os

import numpy as np

from edge_ocr.errors import EdgeOCRError

from ..program import load_program_desc

_SLOTS = {"conv2d": ("Filter",), "depthwise_conv2d": ("Filter",), "conv2d_transpose": ("Filter",),
          "batch_norm": ("Scale", "Bias", "Mean", "Variance"), "elementwise_add": ("Y",), "matmul_v2": ("Y",),
          "mul": ("Y",), "rnn": ("WeightList",)}


def program_tensors(model_dir: str) -> list[tuple[str, np.ndarray]]:
    """(name, value) of every parameter in the order the program uses them."""
    from ..ptq import static_mode

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


def import_weights(net, model_dir: str) -> dict[str, str]:
    """Copy the official weights into ``net``; returns network name -> program name."""
    import paddle

    source = program_tensors(model_dir)
    targets = list(net.state_dict().items())
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
