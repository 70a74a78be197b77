"""Structure check of Paddle Lite naive-buffer (``.nb``) files, before Paddle Lite is allowed to read one.

Paddle Lite trusts the sizes written in a ``.nb`` file: a truncated or damaged file makes it abort the whole
process (``Check failed ... fread``, exit 134) instead of raising. ``check_nb_file`` walks the layout that
``SaveModelNaive`` writes and ``LoadModelNaiveFromFile`` reads (``lite/model_parser/model_parser.cc``,
``lite/model_parser/flatbuffers/io.cc``), using only the file's length and its size fields:

    uint16 meta_version (1 or 2; 0 is the pre-2.7 format this runtime cannot load)
    char[16] opt version, NUL-terminated ("v2.13-rc")
    uint64 topology size, then the topology (a flatbuffer: its root offset must lie inside it)
    params: meta_version 1: the rest of the file (a flatbuffer);
            meta_version 2: uint16 version (0), uint16 meta size, meta; uint16 header size (>= 6),
            header {uint16 param count, uint32 largest tensor}; per param: uint32 total size,
            uint32 offset (>= 4), offset - 4 bytes, total - offset bytes. The last param ends the file.

It proves that every read Paddle Lite makes stays inside the file; it cannot prove the bytes are the ones opt
wrote (a bundle's sha256 does that).
"""

from __future__ import annotations

import os
import stat
import struct

from ..errors import ModelError

HEADER_BYTES = 2 + 16 + 8
SUPPORTED_META_VERSIONS = (1, 2)


class _Reader:
    """Sequential little-endian reads from an open file that refuse to pass its end."""

    def __init__(self, handle, length: int, path: str) -> None:
        self.handle, self.length, self.path, self.pos = handle, length, path, 0

    def need(self, count: int, what: str) -> None:
        if count < 0 or self.pos + count > self.length:
            raise ModelError(
                f"{self.path}: truncated or damaged Paddle Lite model ({what} needs {count} bytes at offset "
                f"{self.pos}, the file has {self.length})"
            )

    def read(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize(fmt)
        self.need(size, what)
        self.handle.seek(self.pos)
        self.pos += size
        return struct.unpack(fmt, self.handle.read(size))

    def skip(self, count: int, what: str) -> None:
        self.need(count, what)
        self.pos += count


def check_nb_file(path: str) -> None:
    """Raise ``ModelError`` unless ``path`` is a regular file with a complete naive-buffer structure."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ModelError(f"cannot read Paddle Lite model {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as handle:
            _check_layout(_Reader(handle, info.st_size, path))
    except OSError as exc:
        raise ModelError(f"cannot read Paddle Lite model {path}: {exc.strerror}") from exc


def _check_layout(reader: _Reader) -> None:
    path = reader.path
    if reader.length < HEADER_BYTES:
        raise ModelError(f"{path}: {reader.length} bytes, too small to be a Paddle Lite model")
    (meta_version,) = reader.read("<H", "meta version")
    (version,) = reader.read("16s", "opt version")
    text = version.split(b"\x00", 1)[0]
    if b"\x00" not in version or not text.startswith(b"v") or not all(32 < c < 127 for c in text):
        raise ModelError(f"{path}: not a Paddle Lite naive-buffer (.nb) model (no opt version in its header)")
    if meta_version not in SUPPORTED_META_VERSIONS:
        raise ModelError(f"{path}: naive-buffer format {meta_version} is not one this runtime loads "
                         f"({', '.join(map(str, SUPPORTED_META_VERSIONS))}); convert it again with opt 2.13")
    (topology_size,) = reader.read("<Q", "topology size")
    start = reader.pos
    reader.need(topology_size, "topology")
    (root,) = reader.read("<I", "topology root offset")
    if topology_size < 8 or root + 4 > topology_size:
        raise ModelError(f"{path}: damaged Paddle Lite model (topology root offset {root} outside its "
                         f"{topology_size} bytes)")
    reader.pos = start + topology_size
    if meta_version == 1:
        reader.need(1, "params")
        return
    (params_version,) = reader.read("<H", "params version")
    if params_version != 0:
        raise ModelError(f"{path}: damaged Paddle Lite model (params version {params_version}, expected 0)")
    (meta_size,) = reader.read("<H", "params meta size")
    reader.skip(meta_size, "params meta")
    (header_size,) = reader.read("<H", "params header size")
    if header_size < 6:
        raise ModelError(f"{path}: damaged Paddle Lite model (params header of {header_size} bytes)")
    header_end = reader.pos + header_size
    count, _largest = reader.read("<HI", "params header")
    reader.pos = header_end
    reader.need(0, "params header")
    for index in range(count):
        total, offset = reader.read("<II", f"param {index} sizes")
        if offset < 4 or total < offset:
            raise ModelError(f"{path}: damaged Paddle Lite model (param {index}: size {total}, offset {offset})")
        reader.skip(total - 4, f"param {index}")
    if reader.pos != reader.length:
        raise ModelError(f"{path}: damaged Paddle Lite model ({reader.length - reader.pos} bytes after the last "
                         f"of its {count} params)")
