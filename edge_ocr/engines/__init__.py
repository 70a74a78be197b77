"""Engine selection: ``.nb`` files run on Paddle Lite, inference-model folders on Paddle Inference.

Asking for the Lite engine with an inference-model folder converts it once with ``opt`` for this machine's
target and caches the ``.nb`` (keyed by the model's sha256), which is how an x86 host checks Lite numerics.
``lite-qemu`` runs ARM ``.nb`` models on an x86 host: Paddle Lite's aarch64 library under qemu-aarch64.
"""

from __future__ import annotations

import os

from ..errors import ModelError
from .base import Engine, inference_files

ENGINES = ("auto", "paddle", "lite", "lite-qemu")


def create_engine(
    model: str,
    kind: str = "auto",
    threads: int = 2,
    power_mode: str | None = None,
    cache_dir: str | None = None,
) -> Engine:
    """Create an engine for ``model`` (an ``.nb`` file or an inference-model folder)."""
    if kind not in ENGINES:
        raise ModelError(f"unknown engine {kind!r}; choose from {', '.join(ENGINES)}")
    is_nb = model.endswith(".nb")
    if kind == "auto":
        kind = "lite" if is_nb else "paddle"
    if kind == "paddle":
        if is_nb:
            raise ModelError(f"{model} is a Paddle Lite model: use --engine lite")
        from .paddle_inference import PaddleInferenceEngine

        return PaddleInferenceEngine(model, threads=threads)
    from .lite import LiteEngine, runtime_target

    runtime = "qemu" if kind == "lite-qemu" else "auto"
    if not is_nb:
        model = _cached_nb(model, "arm" if runtime == "qemu" else runtime_target(), cache_dir)
    return LiteEngine(model, threads=threads, power_mode=power_mode, runtime=runtime)


def _converter_digest() -> str:
    """The converting code's own digest: a .nb cached by an older converter is not reused after it changes."""
    import hashlib

    from .. import program
    from . import lite

    digest = hashlib.sha256()
    for module in (lite, program):
        with open(module.__file__, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:8]


def _cached_nb(model_dir: str, target: str, cache_dir: str | None) -> str:
    from ..models import default_cache_dir, sha256_file
    from .lite import convert_to_nb, runtime_version

    graph, params = inference_files(model_dir)
    key = sha256_file(graph)[:12] + sha256_file(params)[:12] + _converter_digest()
    out = os.path.join(cache_dir or default_cache_dir(), "nb", f"{key}-{target}-{runtime_version()}.nb")
    if not os.path.isfile(out):
        convert_to_nb(model_dir, out, target=target)
    return out


__all__ = ["Engine", "ENGINES", "create_engine"]
