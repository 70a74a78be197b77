"""The program of a Paddle Lite 2.13 ``.nb`` file, read with the standard library alone (the runtime never needs
flatbuffers' package): the 26-byte header, then the program as a flatbuffer (``lite/model_parser/flatbuffers/
framework.fbs``), then the weights. ``read_program`` gives it as nested ``(field index, value)`` tuples in schema
order; ``kernel_types`` lists the kernel opt chose for each op. ``export.nb_compact`` writes it back.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("<H16sQ")  # format version, opt version (NUL-padded), program bytes
SUPPORTED_FORMAT = 2  # Paddle Lite 2.10-2.13

# The schema, as (field name, kind, sub-schema or scalar format), in vtable order. Kinds: "scalar", "string",
# "table", "strings", "tables", "scalars". Enums are int32.
TENSOR = [("data_type", "scalar", "i"), ("dims", "scalars", "q")]
LOD_TENSOR = [("tensor", "table", TENSOR), ("lod_level", "scalar", "i")]
VAR_TYPE = [("type", "scalar", "i"), ("selected_rows", "table", TENSOR), ("lod_tensor", "table", LOD_TENSOR),
             ("tensor_array", "table", LOD_TENSOR), ("reader", "table", [("lod_tensor", "tables", LOD_TENSOR)]),
             ("tuple", "table", [("element_type", "scalars", "i")])]
VAR_DESC = [("name", "string", None), ("type", "table", VAR_TYPE), ("persistable", "scalar", "?"),
             ("need_check_feed", "scalar", "?")]
ARGUMENT = [("parameter", "string", None), ("arguments", "strings", None)]
ATTR = [("name", "string", None), ("type", "scalar", "i"), ("i", "scalar", "i"), ("f", "scalar", "f"),
         ("s", "string", None), ("ints", "scalars", "i"), ("floats", "scalars", "f"), ("strings", "strings", None),
         ("b", "scalar", "?"), ("bools", "scalars", "?"), ("block_idx", "scalar", "i"), ("l", "scalar", "q"),
         ("blocks_idx", "scalars", "i"), ("longs", "scalars", "q")]
OP_DESC = [("type", "string", None), ("inputs", "tables", ARGUMENT), ("outputs", "tables", ARGUMENT),
            ("attrs", "tables", ATTR), ("is_target", "scalar", "?")]
BLOCK = [("idx", "scalar", "i"), ("parent_idx", "scalar", "i"), ("vars", "tables", VAR_DESC),
          ("ops", "tables", OP_DESC), ("forward_block_idx", "scalar", "i")]
COMPATIBLE_INFO = [("version", "string", None), ("type", "scalar", "i")]
OP_COMPATIBLE_MAP = [("pair", "tables", [("op_name", "string", None), ("compatible_info", "table", COMPATIBLE_INFO)]),
                      ("default_required_version", "string", None)]
PROGRAM = [("blocks", "tables", BLOCK), ("version", "table", [("version", "scalar", "q")]),
           ("op_compatible_map", "table", OP_COMPATIBLE_MAP)]

SCALAR_SIZES = {"i": 4, "f": 4, "?": 1, "q": 8}


class NbFormatError(ValueError):
    """Not a .nb file whose program this module can read."""


# ------------------------------------------------------------------------------------------------ reading


class ProgramReader:
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


def split_nb(data: bytes) -> tuple[int, bytes, bytes, bytes]:
    """(format version, opt version field, program bytes, weights bytes) of a .nb file's bytes."""
    if len(data) < HEADER.size:
        raise NbFormatError("shorter than a .nb header")
    version, opt_version, size = HEADER.unpack_from(data)
    if version != SUPPORTED_FORMAT:
        raise NbFormatError(f"format version {version} (this reads version {SUPPORTED_FORMAT}, Paddle Lite 2.10-2.13)")
    if HEADER.size + size > len(data):
        raise NbFormatError("the program runs past the end of the file")
    return version, opt_version, data[HEADER.size : HEADER.size + size], data[HEADER.size + size :]


def read_program(data: bytes) -> tuple:
    """The program of a .nb file's bytes, as nested (field, value) tuples."""
    _, _, program, _ = split_nb(data)
    return ProgramReader(program).table(struct.unpack_from("<I", program, 0)[0], PROGRAM)


def kernel_types(data: bytes) -> list[str]:
    """The kernel of every op (``conv2d/int8_out/4/2/1``: op/alias/target/precision/layout), in program order."""
    program = read_program(data)
    blocks, ops, attrs = (field_index(PROGRAM, "blocks"), field_index(BLOCK, "ops"), field_index(OP_DESC, "attrs"))
    name, text = field_index(ATTR, "name"), field_index(ATTR, "s")
    found = []
    for block in dict(program).get(blocks, ()):
        for op in dict(block).get(ops, ()):
            for attr in dict(op).get(attrs, ()):
                fields = dict(attr)
                if fields.get(name) == "__@kernel_type_attr@__" and text in fields:
                    found.append(fields[text])
    return found


def field_index(schema: list, field: str) -> int:
    return [entry[0] for entry in schema].index(field)
