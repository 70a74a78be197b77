"""Reading inference programs (``inference.pdmodel``) without running them: inputs and quantizable layers."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Ops that PTQ turns into int8. conv2d_transpose is left out on purpose: Paddle Lite's x86 runtime has no int8
# kernel for it, and the ARM bundle and its x86 twin must come from the same quantized model.
DEFAULT_OP_TYPES = ("conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2")
_WEIGHT_SLOTS = {"conv2d": "Filter", "depthwise_conv2d": "Filter", "conv2d_transpose": "Filter",
                 "mul": "Y", "matmul": "Y", "matmul_v2": "Y"}


def _framework_pb2():
    try:
        from paddle.base.proto import framework_pb2
    except ImportError:  # paddle < 2.5
        from paddle.fluid.proto import framework_pb2
    return framework_pb2


def load_program_desc(model_dir: str):
    program = _framework_pb2().ProgramDesc()
    with open(os.path.join(model_dir, "inference.pdmodel"), "rb") as handle:
        program.ParseFromString(handle.read())
    return program


def input_spec(model_dir: str) -> dict:
    """Name, shape (-1 for dynamic), dtype and layout of a model's input."""
    block = load_program_desc(model_dir).blocks[0]
    feed = next(op for op in block.ops if op.type == "feed")
    name = next(arg.arguments[0] for arg in feed.outputs if arg.parameter == "Out")
    var = next(v for v in block.vars if v.name == name)
    return {"name": name, "shape": list(var.type.lod_tensor.tensor.dims), "dtype": "float32", "layout": "NCHW"}


@dataclass(frozen=True)
class Layer:
    weight: str  # the weight tensor's name: what ``skip_layers`` takes
    op_type: str
    shape: tuple[int, ...]
    index: int  # position among the program's ops


def quantizable_layers(model_dir: str, op_types=DEFAULT_OP_TYPES) -> list[Layer]:
    """Ops PTQ would quantize, in program order, with their (persistable) weight tensors."""
    block = load_program_desc(model_dir).blocks[0]
    variables = {v.name: v for v in block.vars}
    layers = []
    for index, op in enumerate(block.ops):
        slot = _WEIGHT_SLOTS.get(op.type)
        if op.type not in op_types or slot is None:
            continue
        names = [a for arg in op.inputs if arg.parameter == slot for a in arg.arguments]
        if not names or names[0] not in variables or not variables[names[0]].persistable:
            continue
        var = variables[names[0]]
        layers.append(Layer(names[0], op.type, tuple(var.type.lod_tensor.tensor.dims), index))
    return layers


def op_counts(model_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in load_program_desc(model_dir).blocks[0].ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    return counts
