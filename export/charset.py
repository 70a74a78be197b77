"""Charset bundles: the recognizer's CTC head cut down to the blank, a chosen set of characters and the space.

PP-OCRv2's recognizer ends in ``matmul_v2(features, W[96, 6625]) + b[6625] -> softmax``. Keeping only some output
columns of ``W`` and ``b`` (and of whatever per-channel quantization scales sit between the matmul and the softmax)
gives a model whose logits equal the full model's logits at those columns, so its best path is the full model's
best path restricted to the kept characters; the rest of the network is untouched. This runs on the inference model,
before ``paddle_lite_opt``: the new dictionary goes into the bundle and the manifest records the charset.

Charsets: ``latin`` (the printable ASCII characters of the dictionary), ``digits`` (0-9 and a few separators), or
a file with one character per line.
"""

from __future__ import annotations

import logging
import os
import shutil
import string
from contextlib import contextmanager

import numpy as np

from edge_ocr.errors import EdgeOCRError
from edge_ocr.models import resolve_models, sha256_file
from edge_ocr.rec import load_charset

log = logging.getLogger(__name__)

CHARSETS = ("latin", "digits")
DIGITS = "0123456789.,:-/+%"
# ops that may lie between the classifier's matmul and the softmax: elementwise bias add and the dequantize ops of
# PaddleSlim's PTQ/QAT programs (their per-channel scales have one value per class)
HEAD_OPS = {"elementwise_add", "matmul_v2", "matmul", "mul", "fake_channel_wise_dequantize_max_abs",
            "fake_dequantize_max_abs", "fake_channel_wise_quantize_dequantize_abs_max",
            "fake_quantize_dequantize_abs_max", "fake_quantize_dequantize_moving_average_abs_max",
            "dequantize_linear", "quantize_linear"}


def charset_characters(charset: str, dictionary: list[str]) -> list[str]:
    """The characters to keep, in dictionary order: ``latin``, ``digits`` or a file (one character per line)."""
    if charset == "latin":
        wanted = set(string.printable) - set(string.whitespace)
    elif charset == "digits":
        wanted = set(DIGITS)
    elif os.path.isfile(charset):
        with open(charset, encoding="utf-8") as handle:
            wanted = {line.rstrip("\r\n") for line in handle if line.rstrip("\r\n")}
        bad = sorted(c for c in wanted if len(c) != 1)
        if bad:
            raise EdgeOCRError(f"{charset}: one character per line, not {bad[0]!r}")
        missing = sorted(wanted - set(dictionary))
        if missing:
            raise EdgeOCRError(f"{charset}: {len(missing)} character(s) the recognizer does not know: "
                               f"{''.join(missing[:20])!r}")
    else:
        raise EdgeOCRError(f"--charset is {', '.join(CHARSETS)} or a file of characters, not {charset!r}")
    kept = [c for c in dictionary if c in wanted]
    if not kept:
        raise EdgeOCRError(f"charset {charset}: none of its characters are in the dictionary")
    return kept


def _head(block, classes: int) -> tuple[list, list[tuple[str, int]]]:
    """The ops from the last classifier matmul to the softmax, and the (parameter, axis) pairs of size ``classes``
    they read; an op that is not a plain FC/bias/dequantize op, or an ambiguous parameter, is refused."""
    producers = {name: op for op in block.ops for name in op.output_arg_names}
    softmax = [op for op in block.ops if op.type == "softmax"]
    if len(softmax) != 1:
        raise EdgeOCRError(f"the recognizer has {len(softmax)} softmax ops; expected one at its CTC head")
    ops, params, frontier = [softmax[0]], [], list(softmax[0].input_arg_names)
    while frontier:
        name = frontier.pop()
        var = block.var(name)
        if var.persistable or name not in producers:
            continue
        op = producers[name]
        if op.type not in HEAD_OPS:
            raise EdgeOCRError(f"cannot slice the recognizer's head: unexpected op {op.type} before its softmax")
        if op in ops:
            continue
        ops.append(op)
        # persistable outputs too: a QAT weight quant-dequant op writes its per-channel scales (read by opt)
        outputs = [arg for arg in op.output_arg_names if block.var(arg).persistable]
        for arg in [*op.input_arg_names, *outputs]:
            source = block.var(arg)
            shape = list(source.shape)
            if source.persistable:
                axes = [i for i, d in enumerate(shape) if d == classes]
                if len(axes) > 1:
                    raise EdgeOCRError(f"cannot slice {arg} {shape}: more than one axis of {classes}")
                if axes and (arg, axes[0]) not in params:
                    params.append((arg, axes[0]))
            elif shape and shape[-1] == classes:  # still on the class axis: follow it back
                frontier.append(arg)
    if not any(op.type in ("matmul_v2", "matmul", "mul") for op in ops):
        raise EdgeOCRError("cannot slice the recognizer's head: no matmul feeds its softmax")
    return ops, params


@contextmanager
def static_inference_model(model_dir: str):
    """(scope, executor, program, feed names, fetch vars) of ``model_dir``/inference.*, loaded in a scope of its own
    in static mode (left on exit)."""
    import paddle

    paddle.enable_static()
    try:
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            exe = paddle.static.Executor(paddle.CPUPlace())
            program, feeds, fetches = paddle.static.load_inference_model(os.path.join(model_dir, "inference"), exe)
            yield scope, exe, program, feeds, fetches
    finally:
        paddle.disable_static()


def slice_recognizer(model_dir: str, out_dir: str, keep: list[int]) -> dict:
    """Write ``out_dir``/inference.pdmodel + .pdiparams: ``model_dir``'s recognizer with only the output classes
    ``keep`` (indices into its softmax, blank first). Returns what was sliced."""
    import paddle

    with static_inference_model(model_dir) as (scope, exe, program, feeds, fetches):
        block = program.global_block()
        classes = int(fetches[0].shape[-1])
        if max(keep) >= classes or keep[0] != 0:
            raise EdgeOCRError(f"class indices must start with the blank (0) and stay below {classes}")
        ops, params = _head(block, classes)
        index = np.asarray(keep)
        for name, axis in params:
            tensor = scope.find_var(name).get_tensor()
            tensor.set(np.ascontiguousarray(np.take(np.array(tensor), index, axis=axis)), exe.place)
            shape = list(block.var(name).shape)
            shape[axis] = len(keep)
            block.var(name).desc.set_shape(shape)
        for var in block.vars.values():  # the class axis of every activation downstream of the matmul
            if not var.persistable and var.desc.shape() and var.desc.shape()[-1] == classes:
                var.desc.set_shape(var.desc.shape()[:-1] + [len(keep)])
        os.makedirs(out_dir, exist_ok=True)
        feed_vars = [block.var(name) for name in feeds]
        # a fresh name counter: the fetch op saving adds is named alike in every call, so the bytes do not depend
        # on what the process sliced before
        with paddle.utils.unique_name.guard():
            paddle.static.save_inference_model(os.path.join(out_dir, "inference"), feed_vars, fetches, exe,
                                               program=program)
    return {"classes_before": classes, "classes_after": len(keep), "ops": [op.type for op in ops],
            "sliced": [f"{name}[axis {axis}]" for name, axis in params]}


def apply_charset(models_dir: str, charset: str, out_dir: str, use_space_char: bool = True) -> tuple[str, dict]:
    """A model folder in ``out_dir`` (det and cls copied, rec sliced, the new dictionary) that reads only ``charset``;
    returns (folder, the manifest's ``charset`` entry)."""
    paths = resolve_models(models_dir)
    dictionary = load_charset(paths.dictionary, use_space_char)[1:]  # without the blank
    characters = charset_characters(charset, dictionary[:-1] if use_space_char else dictionary)
    position = {c: i + 1 for i, c in enumerate(dictionary)}  # class index = dictionary line + 1
    keep = [0] + [position[c] for c in characters] + ([len(dictionary)] if use_space_char else [])
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    for role in ("det", "cls"):
        source = getattr(paths, role)
        if source:
            shutil.copytree(source, os.path.join(out_dir, role))
    sliced = slice_recognizer(paths.rec, os.path.join(out_dir, "rec"), keep)
    dict_name = "charset_keys.txt"
    with open(os.path.join(out_dir, dict_name), "w", encoding="utf-8") as handle:
        handle.write("".join(c + "\n" for c in characters))
    entry = {"name": os.path.basename(charset) if os.path.isfile(charset) else charset,
             "characters": len(characters), "space": use_space_char, "classes": len(keep),
             "source_classes": sliced["classes_before"], "source_dictionary_sha256": sha256_file(paths.dictionary),
             "sliced": sliced["sliced"]}
    log.info("charset %s: %d of %d classes kept (%s)", entry["name"], len(keep), sliced["classes_before"],
             ", ".join(sliced["sliced"]))
    return out_dir, entry
