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

from edge_ocr.engines.nb_program import (
    ATTR,
    BLOCK,
    HEADER,
    OP_DESC,
    PROGRAM,
    SCALAR_SIZES,
    NbFormatError,
    ProgramReader,
    field_index,
    read_program,
    split_nb,
)

__all__ = ["CompactResult", "NbFormatError", "compact_nb", "compact_nb_bytes", "read_program", "HEADER"]

# Calibration ranges PaddleSlim writes on every quantized op (``out_threshold``, ``Input0_threshold``, ...). opt turns
# them into the ``*_scale`` attributes the kernels use; the runtime never reads them (measured: the ARM runtime
# computes bit for bit the same without them on the quantized det, cls and rec). An op's own parameters that end
# the same way (``hard_swish_threshold``: the runtime crashes without it) do not match.
CALIBRATION_THRESHOLD = re.compile(r"(out|[A-Z][A-Za-z]*[0-9]+)_threshold")


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
            builder.StartVector(SCALAR_SIZES[fmt], len(values), SCALAR_SIZES[fmt])
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


def _without_calibration(program: tuple) -> tuple:
    """The program without the calibration thresholds of its ops' attributes."""
    attrs, ops, blocks = field_index(OP_DESC, "attrs"), field_index(BLOCK, "ops"), field_index(PROGRAM, "blocks")
    name = field_index(ATTR, "name")

    def op(fields: tuple) -> tuple:
        return tuple((index, tuple(a for a in value if not CALIBRATION_THRESHOLD.fullmatch(dict(a)[name]))
                      if index == attrs else value) for index, value in fields)

    def block(fields: tuple) -> tuple:
        return tuple((index, tuple(op(o) for o in value) if index == ops else value) for index, value in fields)

    return tuple((index, tuple(block(b) for b in value) if index == blocks else value) for index, value in program)



def compact_nb_bytes(data: bytes, drop_calibration: bool = True) -> tuple[bytes, CompactResult]:
    """The .nb file ``data`` with its program written with shared tables (and, with ``drop_calibration``, without
    the calibration thresholds the runtime never reads); the weights' bytes unchanged."""
    version, opt_version, program, weights = split_nb(data)
    fields = ProgramReader(program).table(struct.unpack_from("<I", program, 0)[0], PROGRAM)
    if drop_calibration:
        fields = _without_calibration(fields)
    writer = _Writer()
    compact = writer.finish(writer.table(PROGRAM, fields))
    if ProgramReader(compact).table(struct.unpack_from("<I", compact, 0)[0], PROGRAM) != fields:
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
