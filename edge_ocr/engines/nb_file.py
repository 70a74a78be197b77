"""Verification of Paddle Lite naive-buffer (``.nb``) files, before Paddle Lite is allowed to read one.

Paddle Lite trusts everything in a ``.nb`` file: a truncated file, a damaged flatbuffer offset or a parameter whose
dims disagree with its data makes it abort or crash the whole process (exit 134 or 139, nothing on stderr) instead
of raising. ``check_nb_file`` reads the file and verifies all of it against the format described in
``nb_format.json`` (``nb_program.verify_nb``; the C++ core's ``nb_verify.cc`` applies the same description):

    uint16 meta_version (2), char[16] opt version (NUL-terminated, "v2.13-rc")
    uint64 program size, then the program (a flatbuffer ProgramDesc: every offset, vtable, vector and string
        inside it, required fields present, enums in range, ops with a kernel for their type, every variable
        an op names declared)
    params: uint16 version (0), uint16 meta size, meta; uint16 header size (6), header {uint16 param count,
        uint32 largest param}; per param: uint32 total size, uint32 offset (4), a ParamDesc flatbuffer (a declared
        persistable variable, dims x element size == data length). The last param ends the file.

It proves that every read Paddle Lite makes stays inside the file and finds what it expects there; it cannot prove
the bytes are the ones opt wrote (a bundle's sha256 does that), nor that every attribute value makes sense to its op
(``nb_probe`` isolates the first load of a file for that).
"""

from __future__ import annotations

import os
import stat

from ..errors import ModelError
from .nb_program import LIMITS, NbFormatError, NbSummary, verify_nb

HEADER_BYTES = 26

_verified: dict[tuple, NbSummary] = {}  # (path, device, inode, size, mtime_ns) -> summary: verify once per process


def check_nb_file(path: str) -> NbSummary:
    """Raise ``ModelError`` unless ``path`` is a regular file holding a complete, consistent .nb model; return what
    was read (opt version, kernels, parameters)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ModelError(f"cannot read Paddle Lite model {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"{path}: not a regular file")
    if info.st_size > LIMITS["max_file_bytes"]:
        raise ModelError(f"{path}: {info.st_size} bytes, more than the {LIMITS['max_file_bytes']} a model may have")
    key = (os.path.abspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    if key in _verified:
        return _verified[key]
    try:
        with open(path, "rb") as handle:
            data = handle.read(LIMITS["max_file_bytes"] + 1)
    except OSError as exc:
        raise ModelError(f"cannot read Paddle Lite model {path}: {exc.strerror}") from exc
    try:
        summary = verify_nb(data)
    except NbFormatError as exc:
        raise ModelError(f"{path}: {exc}") from None
    if len(_verified) > 64:
        _verified.clear()
    _verified[key] = summary
    return summary
