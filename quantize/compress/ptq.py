"""Post-training static quantization with PaddleSlim, in one call.

    quantize_ptq("ch_PP-OCRv2_det_infer", det_calibration("train_label.txt"), "out/det")

The model is an inference-model folder, the calibration data a sequence of float32 batches preprocessed as at
inference (``quantize.compress.calibration``); the output is an inference-model folder with fake-quant ops that Paddle
Lite's ``opt`` turns into int8 kernels. It is written to a temporary folder and renamed into place when complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

from edge_ocr.atomic import replace_dir
from edge_ocr.engines.base import inference_files
from edge_ocr.errors import EdgeOCRError
from edge_ocr.program import input_spec, static_mode

from .program import DEFAULT_OP_TYPES, quantizable_layers

log = logging.getLogger(__name__)

ALGORITHMS = ("KL", "hist", "mse", "avg", "abs_max")


def _data_loader(paddle, batches: Sequence[np.ndarray], feed_name: str, rank: int):
    """A static-graph ``paddle.io.DataLoader`` over ready-made batches (each item is already a batch)."""

    class Batches(paddle.io.Dataset):
        def __getitem__(self, index):
            return (np.ascontiguousarray(batches[index], dtype=np.float32),)

        def __len__(self):
            return len(batches)

    with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
        feed = paddle.static.data(name=feed_name, shape=[-1] * rank, dtype="float32")
    return paddle.io.DataLoader(Batches(), feed_list=[feed], places=paddle.CPUPlace(), batch_size=None,
                                return_list=False)


def quantize_ptq(
    model_dir: str,
    calibration_data: Sequence[np.ndarray],
    out_dir: str,
    *,
    algo: str = "KL",
    batch_nums: int | None = None,
    per_channel: bool = True,
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
    skip_layers: Sequence[str] = (),
    hist_percent: float = 0.9999,
    bias_correction: bool = False,
) -> str:
    """Quantize ``model_dir`` (inference model) with PaddleSlim's ``quant_post_static`` into ``out_dir``.

    ``calibration_data``: float32 NCHW batches; ``batch_nums`` limits how many are used; ``per_channel``: per-channel
    weight scales; ``op_types``: which ops to quantize; ``skip_layers``: weight names of layers kept in FP32.
    """
    if algo not in ALGORITHMS:
        raise EdgeOCRError(f"unknown PTQ algorithm {algo!r}; choose from {', '.join(ALGORITHMS)}")
    batches = list(calibration_data)[: batch_nums or None]
    if not batches:
        raise EdgeOCRError("no calibration data")
    inference_files(model_dir)
    known = {layer.weight for layer in quantizable_layers(model_dir, tuple(op_types))}
    unknown = [name for name in skip_layers if name not in known]
    if unknown:
        raise EdgeOCRError(f"skip_layers names no quantizable layer of {model_dir}: {', '.join(unknown[:5])}")
    spec = input_spec(model_dir)
    for batch in batches:
        if batch.ndim != len(spec["shape"]) or batch.dtype != np.float32:
            raise EdgeOCRError(f"calibration batch of shape {batch.shape} / {batch.dtype} does not fit input "
                               f"{spec['name']} {spec['shape']} float32")

    from paddleslim.quant import quant_post_static

    out_dir = os.path.abspath(out_dir)
    os.makedirs(os.path.dirname(out_dir), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".ptq-", dir=os.path.dirname(out_dir))
    try:
        with static_mode() as paddle:
            executor = paddle.static.Executor(paddle.CPUPlace())
            quant_post_static(
                executor=executor, model_dir=model_dir, quantize_model_path=work,
                data_loader=_data_loader(paddle, batches, spec["name"], len(spec["shape"])),
                model_filename="inference.pdmodel", params_filename="inference.pdiparams",
                save_model_filename="inference.pdmodel", save_params_filename="inference.pdiparams",
                batch_nums=len(batches), algo=algo, hist_percent=hist_percent, bias_correction=bias_correction,
                quantizable_op_type=list(op_types),
                weight_quantize_type="channel_wise_abs_max" if per_channel else "abs_max",
                onnx_format=False, skip_tensor_list=list(skip_layers) or None,
            )
        settings = {"algo": algo, "batches": len(batches), "per_channel": per_channel, "op_types": list(op_types),
                    "skip_layers": list(skip_layers), "hist_percent": hist_percent, "bias_correction": bias_correction,
                    "source": os.path.abspath(model_dir)}
        with open(os.path.join(work, "ptq.json"), "w") as handle:
            json.dump(settings, handle, indent=1)
        replace_dir(work, out_dir)
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work, ignore_errors=True)
    return out_dir
