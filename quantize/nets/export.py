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
        # last batch's shape) and fails on QAT's wrapped layers after training steps. Plain saves keep Paddle's
        # default (SOT): through the AST translator they failed in the test suite with a KeyError naming another
        # network's parameter.
        previous = os.environ.get("ENABLE_FALL_BACK")
        if save is not paddle.jit.save:
            os.environ["ENABLE_FALL_BACK"] = "False"
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
