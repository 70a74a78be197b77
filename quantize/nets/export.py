"""Save a dygraph network with the official weights as an inference model (``paddle.jit.save``)."""

from __future__ import annotations

import os
import shutil
import tempfile

from edge_ocr.atomic import replace_dir


def save_inference_model(net, out_dir: str, input_shape: list[int | None], save=None) -> str:
    """Write ``out_dir/inference.pdmodel`` and ``.pdiparams`` for ``net`` in eval mode, atomically.

    ``save(net, path_prefix, input_spec=...)`` defaults to ``paddle.jit.save`` (QAT passes its quanter's saver).
    """
    import paddle

    save = save or paddle.jit.save
    net.eval()
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".jit-", dir=parent)
    try:
        spec = [paddle.static.InputSpec(shape=input_shape, dtype="float32", name="x")]
        # QAT's saver goes through the AST translator: under SOT it ignores its input spec (the export keeps the
        # last batch's shape) and fails on QAT's wrapped layers after training steps. Plain saves keep Paddle's default.
        previous = os.environ.get("ENABLE_FALL_BACK")
        if save is not paddle.jit.save:
            os.environ["ENABLE_FALL_BACK"] = "False"
        _forget_failed_traces()
        try:
            save(net, os.path.join(work, "inference"), input_spec=spec)
        finally:
            if previous is None:
                os.environ.pop("ENABLE_FALL_BACK", None)
            else:
                os.environ["ENABLE_FALL_BACK"] = previous
            # QAT's saver decorates forward in place (to_static); a network that goes on training must run eagerly.
            if hasattr(net.forward, "rollback"):
                net.forward.rollback()
        replace_dir(work, out_dir)
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work, ignore_errors=True)
    return out_dir


def _forget_failed_traces() -> None:
    """Drop what earlier, failed dy2static traces left in Paddle's parameter recorder.

    Paddle 2.6 records the parameters a trace touches under ``id(program)`` and pops them only when the trace
    succeeds. A trace that raised (anywhere in the process) leaves its entry behind; once its program is freed, a new
    program can get the same id and this save then pops another network's parameters: ``jit.save`` fails with a
    KeyError naming one of them (seen in the full test suite). Saves are not concurrent, so nothing live is lost.
    """
    from paddle.jit.dy2static.program_translator import ProgramTranslator

    translator = ProgramTranslator.get_instance()
    for recorder in (getattr(translator, "_params_recorder", None), getattr(translator, "_inplace_map", None)):
        if recorder is not None and hasattr(recorder, "params_dict"):
            recorder.params_dict.clear()
