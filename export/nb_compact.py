"""Smaller ``.nb`` program descriptions: the same program, each distinct table, vector and string stored once.

A Paddle Lite 2.13 ``.nb`` file is a 26-byte header (format version, opt version, program size), the program as a
flatbuffer (``lite/model_parser/flatbuffers/framework.fbs``), then the weights. opt writes every op's attributes as
fresh tables: a quantized model's 85-135 ops repeat ``strides = [1, 1]``, ``data_format = "NCHW"`` and the like
thousands of times, and the program is 0.2-0.25 MB per model, as much as the classifier's int8 weights.

Flatbuffers lets any number of references point at one table. ``compact_nb`` reads the program and writes it again
with identical tables, vectors and strings shared, field for field the same values in the same order (a reader
cannot tell the difference), and leaves the weights' bytes as they were. The runtime is Paddle Lite's own loader;
``tests/test_export.py`` runs compacted models on the ARM runtime and compares them bit for bit.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<H16sQ")  # format version, opt version (NUL-padded), program bytes
SUPPORTED_FORMAT = 2  # Paddle Lite 2.10-2.13

# The schema, as (field name, kind, sub-schema or scalar format), in vtable order. Kinds: "scalar", "string",
# "table", "strings", "tables", "scalars". Enums are int32.
_TENSOR = [("data_type", "scalar", "i"), ("dims", "scalars", "q")]
_LOD_TENSOR = [("tensor", "table", _TENSOR), ("lod_level", "scalar", "i")]
_VAR_TYPE = [("type", "scalar", "i"), ("selected_rows", "table", _TENSOR), ("lod_tensor", "table", _LOD_TENSOR),
             ("tensor_array", "table", _LOD_TENSOR), ("reader", "table", [("lod_tensor", "tables", _LOD_TENSOR)]),
             ("tuple", "table", [("element_type", "scalars", "i")])]
_VAR_DESC = [("name", "string", None), ("type", "table", _VAR_TYPE), ("persistable", "scalar", "?"),
             ("need_check_feed", "scalar", "?")]
_ARGUMENT = [("parameter", "string", None), ("arguments", "strings", None)]
_ATTR = [("name", "string", None), ("type", "scalar", "i"), ("i", "scalar", "i"), ("f", "scalar", "f"),
         ("s", "string", None), ("ints", "scalars", "i"), ("floats", "scalars", "f"), ("strings", "strings", None),
         ("b", "scalar", "?"), ("bools", "scalars", "?"), ("block_idx", "scalar", "i"), ("l", "scalar", "q"),
         ("blocks_idx", "scalars", "i"), ("longs", "scalars", "q")]
_OP_DESC = [("type", "string", None), ("inputs", "tables", _ARGUMENT), ("outputs", "tables", _ARGUMENT),
            ("attrs", "tables", _ATTR), ("is_target", "scalar", "?")]
_BLOCK = [("idx", "scalar", "i"), ("parent_idx", "scalar", "i"), ("vars", "tables", _VAR_DESC),
          ("ops", "tables", _OP_DESC), ("forward_block_idx", "scalar", "i")]
_COMPATIBLE_INFO = [("version", "string", None), ("type", "scalar", "i")]
_OP_COMPATIBLE_MAP = [("pair", "tables", [("op_name", "string", None), ("compatible_info", "table", _COMPATIBLE_INFO)]),
                      ("default_required_version", "string", None)]
PROGRAM = [("blocks", "tables", _BLOCK), ("version", "table", [("version", "scalar", "q")]),
           ("op_compatible_map", "table", _OP_COMPATIBLE_MAP)]

_SIZES = {"i": 4, "f": 4, "?": 1, "q": 8}

# Calibration ranges PaddleSlim writes on every quantized op (``out_threshold``, ``Input0_threshold``, ...). opt turns
# them into the ``*_scale`` attributes the kernels use; the runtime never reads them (measured: the ARM runtime
# computes bit for bit the same without them on the quantized det, cls and rec). An op's own parameters that end
# the same way (``hard_swish_threshold``: the runtime crashes without it) do not match.
CALIBRATION_THRESHOLD = re.compile(r"(out|[A-Z][A-Za-z]*[0-9]+)_threshold")


class NbFormatError(ValueError):
    """Not a .nb file this module knows how to rewrite."""


# ------------------------------------------------------------------------------------------------ reading


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def _u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.data, pos)[0]

    def _field(self, table: int, index: int) -> int | None:
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        size = struct.unpack_from("<H", self.data, vtable)[0]
        if 4 + 2 * index >= size:
            return None
        offset = struct.unpack_from("<H", self.data, vtable + 4 + 2 * index)[0]
        return table + offset if offset else None

    def _deref(self, pos: int) -> int:
        return pos + self._u32(pos)

    def _vector(self, pos: int) -> tuple[int, int]:
        start = self._deref(pos)
        return start + 4, self._u32(start)

    def _string(self, pos: int) -> str:
        start, length = self._vector(pos)
        return self.data[start : start + length].decode("utf-8")

    def table(self, pos: int, schema: list) -> tuple:
        """A table as a tuple of (field index, value) for the fields present, values read recursively."""
        fields = []
        for index, (_, kind, sub) in enumerate(schema):
            at = self._field(pos, index)
            if at is None:
                continue
            if kind == "scalar":
                value = struct.unpack_from("<" + sub, self.data, at)[0]
            elif kind == "string":
                value = self._string(at)
            elif kind == "table":
                value = self.table(self._deref(at), sub)
            else:
                start, count = self._vector(at)
                if kind == "scalars":
                    value = struct.unpack_from(f"<{count}{sub}", self.data, start)
                elif kind == "strings":
                    value = tuple(self._string(start + 4 * k) for k in range(count))
                else:
                    value = tuple(self.table(self._deref(start + 4 * k), sub) for k in range(count))
            fields.append((index, value))
        return tuple(fields)


# ------------------------------------------------------------------------------------------------ writing


class _Writer:
    """Builds tables bottom-up; every distinct string, vector and table is written once and referenced again."""

    def __init__(self) -> None:
        import flatbuffers

        self.builder = flatbuffers.Builder(1 << 16)
        self.builder.ForceDefaults(True)  # a field present in the input stays present, even at its default
        self.memo: dict = {}

    def _once(self, key, make) -> int:
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    def string(self, text: str, field: tuple = ()) -> int:
        # Strings are shared only between fields of one kind (an attribute name with attribute names, an argument
        # with arguments): Paddle Lite fails to load a weight-only packed model whose variable name is shared
        # between its VarDesc and an op's argument (measured on the packed recognizer).
        return self._once(("s", field, text), lambda: self.builder.CreateString(text))

    def _offsets(self, offsets: list[int]) -> int:
        builder = self.builder
        builder.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            builder.PrependUOffsetTRelative(offset)
        return builder.EndVector()

    def scalars(self, fmt: str, values: tuple) -> int:
        def make() -> int:
            builder = self.builder
            builder.StartVector(_SIZES[fmt], len(values), _SIZES[fmt])
            prepend = {"i": builder.PrependInt32, "f": builder.PrependFloat32, "?": builder.PrependBool,
                       "q": builder.PrependInt64}[fmt]
            for value in reversed(values):
                prepend(value)
            return builder.EndVector()

        # floats compare by their bits: -0.0 and 0.0, or two NaNs, must not be merged or split
        key = tuple(struct.pack("<f", v) for v in values) if fmt == "f" else values
        return self._once(("v", fmt, key), make)

    def table(self, schema: list, fields: tuple) -> int:
        return self._once(("t", id(schema), fields), lambda: self._make_table(schema, fields))

    def _make_table(self, schema: list, fields: tuple) -> int:
        children = {}
        for index, value in fields:  # everything a table points at is written before the table itself
            _, kind, sub = schema[index]
            if kind == "string":
                children[index] = self.string(value, (id(schema), index))
            elif kind == "table":
                children[index] = self.table(sub, value)
            elif kind == "scalars":
                children[index] = self.scalars(sub, value)
            elif kind == "strings":
                field = (id(schema), index)
                children[index] = self._once(("vs", field, value),
                                             lambda v=value, f=field: self._offsets([self.string(s, f) for s in v]))
            elif kind == "tables":
                key = ("vt", id(sub), value)
                children[index] = self._once(key, lambda s=sub, v=value: self._offsets([self.table(s, t) for t in v]))
        builder = self.builder
        builder.StartObject(len(schema))
        for index, value in fields:
            _, kind, sub = schema[index]
            if kind == "scalar":
                slot = {"i": builder.PrependInt32Slot, "f": builder.PrependFloat32Slot, "?": builder.PrependBoolSlot,
                        "q": builder.PrependInt64Slot}[sub]
                slot(index, value, 0)
            else:
                builder.PrependUOffsetTRelativeSlot(index, children[index], 0)
        return builder.EndObject()

    def finish(self, root: int) -> bytes:
        self.builder.Finish(root)
        return bytes(self.builder.Output())


# ------------------------------------------------------------------------------------------------ the .nb file


@dataclass
class CompactResult:
    program_before: int
    program_after: int
    bytes_before: int
    bytes_after: int


def _split(data: bytes) -> tuple[int, bytes, bytes, bytes]:
    if len(data) < HEADER.size:
        raise NbFormatError("shorter than a .nb header")
    version, opt_version, size = HEADER.unpack_from(data)
    if version != SUPPORTED_FORMAT:
        raise NbFormatError(f"format version {version} (this rewrites version {SUPPORTED_FORMAT}, Paddle Lite 2.13)")
    if HEADER.size + size > len(data):
        raise NbFormatError("the program runs past the end of the file")
    return version, opt_version, data[HEADER.size : HEADER.size + size], data[HEADER.size + size :]


def read_program(data: bytes) -> tuple:
    """The program of a .nb file's bytes, as nested (field, value) tuples."""
    _, _, program, _ = _split(data)
    reader = _Reader(program)
    return reader.table(struct.unpack_from("<I", program, 0)[0], PROGRAM)


def _without_calibration(program: tuple) -> tuple:
    """The program without the calibration thresholds of its ops' attributes."""
    attrs, ops, blocks = _index(_OP_DESC, "attrs"), _index(_BLOCK, "ops"), _index(PROGRAM, "blocks")

    def op(fields: tuple) -> tuple:
        return tuple((index, tuple(a for a in value if not CALIBRATION_THRESHOLD.fullmatch(dict(a)[0]))
                      if index == attrs else value) for index, value in fields)

    def block(fields: tuple) -> tuple:
        return tuple((index, tuple(op(o) for o in value) if index == ops else value) for index, value in fields)

    return tuple((index, tuple(block(b) for b in value) if index == blocks else value) for index, value in program)


def _index(schema: list, field: str) -> int:
    return [name for name, *_ in schema].index(field)


def compact_nb_bytes(data: bytes, drop_calibration: bool = True) -> tuple[bytes, CompactResult]:
    """The .nb file ``data`` with its program written with shared tables (and, with ``drop_calibration``, without
    the calibration thresholds the runtime never reads); the weights' bytes unchanged."""
    version, opt_version, program, weights = _split(data)
    fields = _Reader(program).table(struct.unpack_from("<I", program, 0)[0], PROGRAM)
    if drop_calibration:
        fields = _without_calibration(fields)
    writer = _Writer()
    compact = writer.finish(writer.table(PROGRAM, fields))
    if _Reader(compact).table(struct.unpack_from("<I", compact, 0)[0], PROGRAM) != fields:
        raise NbFormatError("the rewritten program reads back differently")  # never ship what we cannot vouch for
    if len(compact) >= len(program):
        compact = program
    out = HEADER.pack(version, opt_version, len(compact)) + compact + weights
    return out, CompactResult(len(program), len(compact), len(data), len(out))


def compact_nb(path: str, drop_calibration: bool = True) -> CompactResult:
    """Rewrite the .nb file at ``path`` in place (atomically) with its program compacted."""
    from edge_ocr.atomic import write_bytes

    with open(path, "rb") as handle:
        data = handle.read()
    out, result = compact_nb_bytes(data, drop_calibration)
    if out != data:
        write_bytes(path, out)
    return result
