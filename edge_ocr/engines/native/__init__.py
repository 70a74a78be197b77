"""Paddle Lite on ARM Linux without a Python wheel: the ``edge_ocr_lite`` C ABI library, loaded with ctypes.

PyPI's ``paddlelite`` has x86-64 wheels only, and Paddle Lite's ARM Linux releases ship C++ libraries only. So on
ARM, ``LiteEngine`` runs ``.nb`` models through ``libedge_ocr_lite.so``, a small C ABI over Paddle Lite's C++ light
API (``edge_ocr_lite.h`` / ``edge_ocr_lite.cc`` beside this file, built by ``scripts/build_native.sh``). It is found
through ``$EDGE_OCR_LITE_LIB`` or beside this file. No compiler runs at import time and nothing new is imported.
``emulated.py`` runs the same library on x86 hosts under qemu-aarch64.
"""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from ...errors import ModelError

LIB_ENV = "EDGE_OCR_LITE_LIB"
LIB_NAME = "libedge_ocr_lite.so"
ABI_VERSION = 1  # EOL_ABI_VERSION in edge_ocr_lite.h
MAX_DIMS = 8
HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_HINT = ("build it with 'bash scripts/build_native.sh PADDLE_LITE_DIR' (g++, cmake and Paddle Lite's ARM Linux "
              f"library; README 'Running on ARM Linux'), or point ${LIB_ENV} at it")
# Paddle Lite's PowerMode values (paddle_place.h).
POWER_MODES = {"LITE_POWER_HIGH": 0, "LITE_POWER_LOW": 1, "LITE_POWER_FULL": 2, "LITE_POWER_NO_BIND": 3}

_lock = threading.Lock()
_library: ctypes.CDLL | None = None


def library_path() -> str:
    """Where ``libedge_ocr_lite.so`` is: ``$EDGE_OCR_LITE_LIB`` when set, else beside this file."""
    path = os.environ.get(LIB_ENV) or os.path.join(HERE, LIB_NAME)
    if not os.path.isfile(path):
        where = f"${LIB_ENV}={path}" if os.environ.get(LIB_ENV) else path
        raise ModelError(f"the native Paddle Lite library is missing ({where}): {BUILD_HINT}")
    return path


def load_library() -> ctypes.CDLL:
    """Load the library once, declare its functions and check its ABI version."""
    global _library
    with _lock:
        if _library is not None:
            return _library
        path = library_path()
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise ModelError(f"cannot load {path}: {exc}; {BUILD_HINT}") from exc
        p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)
        i64 = ctypes.POINTER(ctypes.c_int64)
        signatures = {
            "eol_abi_version": (i, []),
            "eol_last_error": (ctypes.c_char_p, []),
            "eol_create_from_file": (p, [ctypes.c_char_p, i, i]),
            "eol_create_from_buffer": (p, [ctypes.c_void_p, ctypes.c_size_t, i, i]),
            "eol_destroy": (None, [p]),
            "eol_runtime_version": (ctypes.c_char_p, [p]),
            "eol_set_input": (i, [p, i, f, i64, i]),
            "eol_run": (i, [p]),
            "eol_output_shape": (i, [p, i, i64, i]),
            "eol_copy_output": (i, [p, i, f, ctypes.c_int64]),
        }
        for name, (restype, argtypes) in signatures.items():
            func = getattr(lib, name)
            func.restype, func.argtypes = restype, argtypes
        if lib.eol_abi_version() != ABI_VERSION:
            raise ModelError(f"{path} implements ABI {lib.eol_abi_version()}, edge_ocr needs {ABI_VERSION}: rebuild it")
        _library = lib
        return lib


def power_mode_value(power_mode: str | None) -> int:
    if power_mode is None:
        return 0
    if power_mode not in POWER_MODES:
        raise ModelError(f"unknown power mode {power_mode!r}; choose from {', '.join(POWER_MODES)}")
    return POWER_MODES[power_mode]


class NativePredictor:
    """One Paddle Lite predictor through the C ABI: float32 NCHW in, the first output out."""

    def __init__(self, nb_path: str, threads: int = 2, power_mode: str | None = None) -> None:
        self._lib = load_library()
        handle = self._lib.eol_create_from_file(os.fsencode(nb_path), int(threads), power_mode_value(power_mode))
        if not handle:
            raise ModelError(f"cannot load {nb_path}: {self._error()}")
        self._handle = handle
        self.runtime_version = self._lib.eol_runtime_version(handle).decode("utf-8", "replace")

    def _error(self) -> str:
        return (self._lib.eol_last_error() or b"unknown error").decode("utf-8", "replace")

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        shape = (ctypes.c_int64 * batch.ndim)(*batch.shape)
        data = batch.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if self._lib.eol_set_input(self._handle, 0, data, shape, batch.ndim) or self._lib.eol_run(self._handle):
            raise ModelError(f"Paddle Lite failed: {self._error()}")
        dims = (ctypes.c_int64 * MAX_DIMS)()
        ndim = self._lib.eol_output_shape(self._handle, 0, dims, MAX_DIMS)
        if ndim < 0:
            raise ModelError(f"Paddle Lite failed: {self._error()}")
        out = np.empty(tuple(dims[:ndim]), dtype=np.float32)
        if self._lib.eol_copy_output(self._handle, 0, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size):
            raise ModelError(f"Paddle Lite failed: {self._error()}")
        return out

    def close(self) -> None:
        if getattr(self, "_handle", None):
            self._lib.eol_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
