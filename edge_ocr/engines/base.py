"""The one interface every inference engine implements: a float32 NCHW batch in, the first output out."""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Engine(Protocol):
    name: str  # "paddle" or "lite"
    model_path: str

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one NCHW float32 batch and return the model's (single) output as a new array."""
        ...


def inference_files(model_dir: str) -> tuple[str, str]:
    """(inference.pdmodel, inference.pdiparams) of an inference-model folder; ``ModelError`` if one is missing."""
    from ..errors import ModelError

    files = (os.path.join(model_dir, "inference.pdmodel"), os.path.join(model_dir, "inference.pdiparams"))
    for path in files:
        if not os.path.isfile(path):
            raise ModelError(f"model folder {model_dir} has no {os.path.basename(path)}")
    return files
