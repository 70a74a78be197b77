"""The one interface every inference engine implements: a float32 NCHW batch in, the first output out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Engine(Protocol):
    name: str  # "paddle" or "lite"
    model_path: str

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one NCHW float32 batch and return the model's (single) output as a new array."""
        ...
