"""Program analysis for compression: the layers PTQ quantizes and the op counts of an inference model.

Reading a program and its input, and its complexity, are the runtime's (``edge_ocr.program``)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_ocr.program import WEIGHT_SLOTS, load_program_desc

# Ops that PTQ turns into int8. conv2d_transpose is left out on purpose: Paddle Lite's x86 runtime has no int8
# kernel for it, and the ARM bundle and its x86 twin must come from the same quantized model.
DEFAULT_OP_TYPES = ("conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2")


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
        slot = WEIGHT_SLOTS.get(op.type)
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
