"""Weight-only int16/int8 for the layers a quantized model leaves in FP32, with the simulation kept exact.

The recognizer's first layers stay FP32 because int8 *activations* there cost accuracy; their weights need not be
FP32 (nor those of a classifier kept FP32). ``paddle_lite_opt --quant_model=true --quant_type=QUANT_INT16`` (or
``INT8``) stores FP32 ``conv2d`` filters and matmul weights as 16-bit (8-bit) integers with one scale per output
channel (abs-max / 32767, or / 127) and Paddle Lite turns them back into FP32 when it loads the model, so the layer
still computes in FP32: 2 (3) bytes less per weight. On the recognizer's 16 FP32 layers int8 saves 0.41 MB but costs
2.1 points of IC15 word accuracy (measured: the stem is why those layers stay FP32); int16 saves 0.26 MB.

The rounding is real, so it must be in what is scored and verified: ``snap_fp32_weights`` puts those filters on the
same per-channel integer grid in the inference model first. opt's pass then reproduces them (it folds batch norm into
the filter first, which scales each output channel and so keeps the grid), and Paddle Inference scores the very
weights the ARM bundle computes with (tests/test_quantize.py runs both on the ARM runtime). One of the FP32
classifier's convs is an exception: opt rewrites it into a filter whose grid differs (0.021 at most on a class
probability, measured). opt also stores the biases that way, one scale per element, which is exact.
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np

from edge_ocr.errors import EdgeOCRError
from edge_ocr.program import load_program_desc

log = logging.getLogger(__name__)

# what opt's weight-only pass rounds and the light runtime can restore, and the axis that has one scale per index:
# conv filters per output channel, matmul weights ([in, out], fused by opt into ``fc``) per output column. Depthwise
# filters and the rnn op's weights are left as they are: opt skips them.
SNAPPED_OPS = {"conv2d": ("Filter", 0), "mul": ("Y", 1), "matmul": ("Y", 1), "matmul_v2": ("Y", 1)}
_DEQUANT_OPS = ("fake_channel_wise_dequantize_max_abs", "fake_dequantize_max_abs", "dequantize_linear")


def fp32_weights(model_dir: str) -> dict[str, int]:
    """The persistable weights of ``model_dir`` that opt's weight-only pass will store as integers, with the axis of
    their scales: FP32 in the quantized model, i.e. not produced by a quant-dequant op (QAT) and not dequantized
    after their op (old-style PTQ programs)."""
    block = load_program_desc(model_dir).blocks[0]
    persistable = {v.name for v in block.vars if v.persistable}
    consumers: dict[str, list[str]] = {}
    for op in block.ops:
        for arg in op.inputs:
            for name in arg.arguments:
                consumers.setdefault(name, []).append(op.type)
    dims = {v.name: list(v.type.lod_tensor.tensor.dims) for v in block.vars}
    filters = {}
    for op in block.ops:
        if op.type not in SNAPPED_OPS:
            continue
        slot, axis = SNAPPED_OPS[op.type]
        names = [a for arg in op.inputs if arg.parameter == slot for a in arg.arguments]
        outputs = [a for arg in op.outputs for a in arg.arguments]
        if not names or names[0] not in persistable:
            continue
        if any(t in _DEQUANT_OPS for out in outputs for t in consumers.get(out, [])):
            continue  # an int8 layer in the old PTQ format: its output is dequantized
        transposed = any(a.name in ("trans_y", "transpose_Y") and a.b for a in op.attrs)
        if axis == 1 and (len(dims[names[0]]) != 2 or transposed):
            raise EdgeOCRError(f"{op.type} weight {names[0]} {dims[names[0]]}: weight-only quantization expects "
                               "[in, out]")
        filters[names[0]] = axis
    return filters


def snap_to_grid(weight: np.ndarray, axis: int = 0, bits: int = 8) -> np.ndarray:
    """``weight`` rounded to ``bits``-bit integers with one abs-max scale per index of ``axis`` (0: conv output
    channels, 1: the output columns of an [in, out] matmul weight), as FP32."""
    top = np.float32((1 << (bits - 1)) - 1)
    moved = np.moveaxis(weight, axis, 0)
    flat = moved.reshape(len(moved), -1).astype(np.float32)
    scale = np.abs(flat).max(axis=1, keepdims=True) / top
    safe = np.where(scale > 0, scale, np.float32(1))
    snapped = np.where(scale > 0, np.clip(np.round(flat / safe), -top, top) * safe, 0).astype(np.float32)
    return np.moveaxis(snapped.reshape(moved.shape), 0, axis)


def snap_fp32_weights(model_dir: str, out_dir: str, bits: int = 8, only: list[str] | None = None) -> dict:
    """Write ``model_dir`` to ``out_dir`` with its FP32 weights (``fp32_weights``; ``only`` these, if given) on the
    integer grid of ``snap_to_grid`` (``bits`` 8 or 16).

    Returns the manifest's account: the filters snapped, their weight count and the largest change. With no FP32
    filter the folder is copied unchanged and ``layers`` is 0 (weight-only quantization would only add bias scales)."""
    import paddle

    from .charset import static_inference_model

    filters = fp32_weights(model_dir)
    if only is not None:
        filters = {name: axis for name, axis in filters.items() if name in only}
    if os.path.abspath(model_dir) != os.path.abspath(out_dir):
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        shutil.copytree(model_dir, out_dir)
    if not filters:
        return {"layers": 0, "bits": bits, "weights": 0}
    weights, largest = 0, 0.0
    with static_inference_model(model_dir) as (scope, exe, program, feeds, fetches):
        block = program.global_block()
        for name, axis in filters.items():
            tensor = scope.find_var(name).get_tensor()
            value = np.array(tensor)
            snapped = snap_to_grid(value, axis, bits)
            moved, change = np.moveaxis(value, axis, 0), np.moveaxis(np.abs(snapped - value), axis, 0)
            scale = np.abs(moved.reshape(len(moved), -1)).max(axis=1)
            largest = max(largest, float((change.reshape(len(moved), -1).max(axis=1)
                                          / np.where(scale > 0, scale, 1)).max()))
            tensor.set(np.ascontiguousarray(snapped), exe.place)
            weights += value.size
        if largest > 0.5 / ((1 << (bits - 1)) - 1) + 1e-6:
            raise EdgeOCRError(f"snapping moved a weight by {largest:.4f} of its channel's range (> half a step)")
        work = out_dir.rstrip("/") + ".snap"
        if os.path.isdir(work):
            shutil.rmtree(work)
        paddle.static.save_inference_model(os.path.join(work, "inference"), [block.var(n) for n in feeds], fetches,
                                           exe, program=program)
    for name in os.listdir(work):
        os.replace(os.path.join(work, name), os.path.join(out_dir, name))
    shutil.rmtree(work)
    log.info("weight-only int%d: %d FP32 weights (%d values) of %s on that grid", bits, len(filters), weights,
             model_dir)
    return {"layers": len(filters), "bits": bits, "weights": weights, "bytes_saved": (32 - bits) // 8 * weights,
            "largest_change_of_range": round(largest, 6)}


def snap_models(models_dir: str, out_dir: str, bits: int = 8) -> tuple[str, dict]:
    """A model folder in ``out_dir``: ``models_dir``'s det, cls and rec with ``snap_fp32_weights`` applied, and its
    other files. Returns (folder, {role: what ``snap_fp32_weights`` reported}); a role with ``layers`` 0 has no FP32
    filter and gains nothing from weight-only quantization."""
    from edge_ocr.models import resolve_models

    paths = resolve_models(models_dir)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    for name in os.listdir(models_dir):  # the dictionary and whatever else sits beside the models
        if os.path.isfile(os.path.join(models_dir, name)):
            shutil.copy2(os.path.join(models_dir, name), out_dir)
    done = {}
    for role in ("det", "cls", "rec"):
        source = getattr(paths, role)
        if source:
            done[role] = snap_fp32_weights(source, os.path.join(out_dir, os.path.basename(os.path.normpath(source))),
                                           bits)
    return out_dir, done
