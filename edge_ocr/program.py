"""Reading inference programs (``inference.pdmodel``): their input without running them, their complexity from one
forward pass. Host side: it needs paddle (imported when called), not the runtime engines."""

from __future__ import annotations

import contextlib
import os

# the weight input of each weighted op type
WEIGHT_SLOTS = {"conv2d": "Filter", "depthwise_conv2d": "Filter", "conv2d_transpose": "Filter",
                "mul": "Y", "matmul": "Y", "matmul_v2": "Y"}


@contextlib.contextmanager
def static_mode():
    """Paddle in static-graph mode (PTQ and loading inference programs need it); dygraph mode is restored after."""
    import paddle

    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        yield paddle
    finally:
        if was_dynamic:
            paddle.disable_static()


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


# Attributes Paddle Lite never reads, yet opt copies every attribute of every op into the .nb's program (flatbuffer
# tables cost tens of bytes each: a third of a quantized classifier's .nb). They are Paddle's graph bookkeeping and
# the switches of its oneDNN and cuDNN kernels. Measured on the PP-OCRv2 quantized models: the ARM .nb computes
# bit for bit the same without them (tests/test_export.py), and is 0.05-0.14 MB smaller per model (with the weight
# thresholds below, 0.1-0.14 MB).
UNREAD_BY_LITE = frozenset({
    # graph bookkeeping
    "op_device", "op_role", "op_role_var", "op_namescope", "op_callstack", "with_quant_attr",
    # oneDNN (MKLDNN) kernels and their int8 scales
    "use_mkldnn", "mkldnn_data_type", "use_quantizer", "Scale_in", "Scale_in_eltwise", "Scale_weights",
    "Scale_out", "Scale_x", "Scale_y", "fuse_activation", "fuse_alpha", "fuse_beta", "fuse_brelu",
    "fuse_brelu_threshold", "fuse_relu_before_depthwise_conv", "fuse_residual_connection", "x_data_format",
    "y_data_format",
    # cuDNN kernels
    "use_cudnn", "exhaustive_search", "use_addto", "workspace_size_MB",
})


def write_program_without(model_file: str, out_file: str, attrs: frozenset[str] = UNREAD_BY_LITE,
                          weight_thresholds: bool = True) -> int:
    """Write ``model_file``'s program to ``out_file`` without the op attributes named in ``attrs``; returns how
    many were dropped. The weights are untouched (they live in ``inference.pdiparams``).

    ``weight_thresholds``: also drop PaddleSlim's ``<Slot>0_threshold`` where that input is a weight (``Filter0``,
    ``Y0``): per-channel ranges that opt copies next to the ``<Slot>0_scale`` it derives from the dequantize ops, the
    largest attributes of a quantized model (6,625 floats on the recognizer's head). Activation thresholds stay:
    opt's quantization passes read them."""
    program = _framework_pb2().ProgramDesc()
    with open(model_file, "rb") as handle:
        program.ParseFromString(handle.read())
    dropped = 0
    for block in program.blocks:
        weights = {var.name for var in block.vars if var.persistable}
        for op in block.ops:  # a weight seen through its fake quantize-dequantize op is a weight too
            if op.type.startswith("fake_") and any(a in weights for i in op.inputs if i.parameter == "X"
                                                   for a in i.arguments):
                weights |= {a for o in op.outputs if o.parameter == "Out" for a in o.arguments}
        for op in block.ops:
            unread = set(attrs)
            if weight_thresholds:
                unread |= {f"{slot.parameter}0_threshold" for slot in op.inputs
                           if slot.arguments and slot.arguments[0] in weights}
            kept = [attr for attr in op.attrs if attr.name not in unread]
            dropped += len(op.attrs) - len(kept)
            del op.attrs[:]
            op.attrs.extend(kept)
    with open(out_file, "wb") as handle:
        handle.write(program.SerializeToString())
    return dropped


def input_spec(model_dir: str) -> dict:
    """Name, shape (-1 for dynamic), dtype and layout of a model's input."""
    block = load_program_desc(model_dir).blocks[0]
    feed = next(op for op in block.ops if op.type == "feed")
    name = next(arg.arguments[0] for arg in feed.outputs if arg.parameter == "Out")
    var = next(v for v in block.vars if v.name == name)
    return {"name": name, "shape": list(var.type.lod_tensor.tensor.dims), "dtype": "float32", "layout": "NCHW"}


def complexity(model_dir: str, input_shape: tuple[int, ...]) -> dict:
    """Multiply-accumulates, FLOPs (2 × MACs) and parameters of an inference model at a fixed input shape.

    Shapes come from one real forward pass (Paddle's static executor fetching every weighted op's tensors), so
    dynamic dimensions are resolved exactly. Counted: conv2d, depthwise_conv2d, conv2d_transpose, mul/matmul(_v2),
    and the LSTM (rnn op: 4·H·(I+H) per step and direction); element-wise ops and activations are left out.
    """
    import numpy as np

    with static_mode() as paddle:
        executor = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            program, feeds, _ = paddle.static.load_inference_model(os.path.join(model_dir, "inference"), executor)
            block = program.global_block()
            ops = [op for op in block.ops if op.type in WEIGHT_SLOTS or op.type == "rnn"]
            wanted = ("Input", "Output", "Out", "Y")
            names = sorted({n for op in ops for slot in wanted
                            for n in (op.input(slot) if slot in op.input_names else [])
                            + (op.output(slot) if slot in op.output_names else [])
                            if not block.var(n).persistable})
            values = executor.run(program, feed={feeds[0]: np.zeros(input_shape, np.float32)}, fetch_list=names)
            shapes = {n: v.shape for n, v in zip(names, values) if v is not None}
            params = sum(int(np.prod(block.var(n).shape)) for n in block.vars
                         if block.var(n).persistable and n not in ("feed", "fetch"))
    macs_by_type: dict[str, int] = {}
    for op in ops:
        if op.type in ("conv2d", "depthwise_conv2d"):
            w = block.var(op.input("Filter")[0]).shape
            out = shapes[op.output("Output")[0]]
            macs = int(np.prod(out)) * int(np.prod(w[1:]))
        elif op.type == "conv2d_transpose":
            w = block.var(op.input("Filter")[0]).shape
            x = shapes[op.input("Input")[0]]
            macs = int(np.prod(x)) * int(np.prod(w[1:]))
        elif op.type in ("mul", "matmul", "matmul_v2"):
            y_name = op.input("Y")[0]
            y = block.var(y_name).shape if block.var(y_name).persistable else shapes[y_name]
            out = shapes[op.output("Out")[0]]
            macs = int(np.prod(out)) * int(y[-2])
        elif op.type == "rnn":
            x = shapes[op.input("Input")[0]]  # [T, N, I]
            hidden = op.attr("hidden_size")
            dirs = 2 if op.attr("is_bidirec") else 1
            steps, batch, size = x
            macs = 0
            for _ in range(op.attr("num_layers")):
                macs += steps * batch * dirs * 4 * hidden * (size + hidden)
                size = hidden * dirs
        else:
            continue
        macs_by_type[op.type] = macs_by_type.get(op.type, 0) + macs
    total = sum(macs_by_type.values())
    return {"input_shape": list(input_shape), "macs": total, "flops": 2 * total, "params": params,
            "macs_by_op_type": macs_by_type}
