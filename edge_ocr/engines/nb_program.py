"""The program and parameters of a Paddle Lite 2.13 ``.nb`` file, read and verified with the standard library alone
(the runtime never needs flatbuffers' package).

A ``.nb`` file (meta_version 2) is a 26-byte header, the program as a flatbuffer (``ProgramDesc`` of
``lite/model_parser/flatbuffers/framework.fbs``), then the parameters: a small header and one record per parameter,
each a ``ParamDesc`` flatbuffer (``param.fbs``). The format is described once, in ``nb_format.json`` beside this
file, which the C++ core reads too (through the generated ``android_demo/cpp/src/nb_format_generated.h``).

Paddle Lite reads all of it without a flatbuffers verifier: a damaged offset, a missing required field or a
parameter whose dims disagree with its data is a SIGSEGV or an abort. ``verify_nb`` proves, before Paddle Lite sees
a file, that every table, vtable, vector and string offset lies inside its buffer and is aligned, strings are
NUL-terminated UTF-8, required fields are present, enums are in range, counts lie within the limits, keyed vectors
are sorted (Paddle Lite binary-searches them), every op has a plausible kernel for its type, every variable an op
names is declared, and every parameter is a declared persistable variable whose dims times its element size is its
data length, with nothing after the last one. ``read_program`` gives the program as nested ``(field index, value)``
tuples in schema order (``export.nb_compact`` writes it back); ``kernel_types`` lists the kernel of each op.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field

FORMAT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nb_format.json")
with open(FORMAT_PATH, encoding="utf-8") as _handle:
    FORMAT = json.load(_handle)

HEADER = struct.Struct("<H16sQ")  # format version, opt version (NUL-padded), program bytes
SUPPORTED_FORMAT = FORMAT["header"]["meta_versions"][-1]
LIMITS = FORMAT["limits"]
ENUMS = FORMAT["enums"]
_ENUM_VALUES = {name: frozenset(values.values()) for name, values in ENUMS.items()}
_SCALAR_FORMATS = {"bool": "?", "uint8": "B", "int8": "b", "int16": "h", "int32": "i", "float32": "f", "int64": "q"}
SCALAR_SIZES = {_SCALAR_FORMATS[name]: size for name, size in FORMAT["scalars"].items()}
KERNEL_KEY = re.compile(r"([a-z][a-z0-9_]*)/([A-Za-z0-9_]+)/([0-9]{1,2})/([0-9]{1,2})/([0-9]{1,2})")
OP_TYPE = re.compile(r"[a-z][a-z0-9_]*")


class NbFormatError(ValueError):
    """Not a .nb file this runtime can vouch for; the message says where and why."""


# ------------------------------------------------------------------------------------------------ the schema


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # as in nb_format.json: a scalar, "string", "[T]", a table name or "union"
    kind: str  # "scalar", "string", "table", "scalars", "strings", "tables" or "union"
    sub: object  # the scalar's struct format, the table's name, or the union's table names
    required: bool = False
    key: bool = False
    sorted_by_key: bool = False
    enum: str | None = None


def _field(entry: dict) -> Field:
    kind_of_type = entry["type"]
    if kind_of_type == "union":
        kind, sub = "union", tuple(entry["union"])
    elif kind_of_type == "string":
        kind, sub = "string", None
    elif kind_of_type.startswith("["):
        inner = kind_of_type[1:-1]
        if inner == "string":
            kind, sub = "strings", None
        elif inner in _SCALAR_FORMATS:
            kind, sub = "scalars", _SCALAR_FORMATS[inner]
        else:
            kind, sub = "tables", inner
    elif kind_of_type in _SCALAR_FORMATS:
        kind, sub = "scalar", _SCALAR_FORMATS[kind_of_type]
    else:
        kind, sub = "table", kind_of_type
    return Field(entry["name"], kind_of_type, kind, sub, bool(entry.get("required")), bool(entry.get("key")),
                 bool(entry.get("sorted_by_key")), entry.get("enum"))


TABLES: dict[str, tuple[Field, ...]] = {name: tuple(_field(e) for e in fields)
                                        for name, fields in FORMAT["tables"].items()}
FIELD_INDEX: dict[str, dict[str, int]] = {name: {f.name: i for i, f in enumerate(fields)}
                                          for name, fields in TABLES.items()}


def _check_schema() -> None:
    """The tables must form a DAG (so a verified walk is bounded by the schema's depth) and name only known tables."""
    state: dict[str, int] = {}

    def visit(name: str, path: tuple) -> None:
        if name not in TABLES:
            raise RuntimeError(f"nb_format.json: unknown table {name} (from {' > '.join(path)})")
        if state.get(name) == 1:
            raise RuntimeError(f"nb_format.json: tables form a cycle: {' > '.join(path + (name,))}")
        if state.get(name) == 2:
            return
        state[name] = 1
        for f in TABLES[name]:
            for child in (f.sub if f.kind == "union" else (f.sub,) if f.kind in ("table", "tables") else ()):
                visit(child, path + (name,))
        state[name] = 2

    for root in FORMAT["roots"].values():
        visit(root, ())


_check_schema()

# The program schema as (field name, kind, sub-schema or scalar format) lists in vtable order, the shape
# export.nb_compact writes from.
_LEGACY: dict[str, list] = {}


def schema(table: str) -> list:
    if table not in _LEGACY:
        _LEGACY[table] = entries = []
        for f in TABLES[table]:
            if f.kind in ("table", "tables"):
                entries.append((f.name, f.kind, schema(f.sub)))
            elif f.kind == "union":
                entries.append((f.name, f.kind, tuple(schema(t) for t in f.sub)))
            else:
                entries.append((f.name, f.kind, f.sub))
    return _LEGACY[table]


PROGRAM = schema("ProgramDesc")
BLOCK = schema("BlockDesc")
OP_DESC = schema("OpDesc")
ATTR = schema("Attr")
ARGUMENT = schema("OpVar")
VAR_DESC = schema("VarDesc")
_TABLE_OF_SCHEMA = {id(entries): name for name, entries in _LEGACY.items()}


def field_index(entries: list, name: str) -> int:
    return [entry[0] for entry in entries].index(name)


# ------------------------------------------------------------------------------------------------ flatbuffers


_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_HH = struct.Struct("<HH").unpack_from
# Per table, per field: (index, field, label, unpack of a scalar or None, scalar width, allowed enum values or None).
_PLAN = {name: [(index, f, f"{name}.{f.name}", struct.Struct("<" + f.sub).unpack_from if f.kind == "scalar" else None,
                 SCALAR_SIZES.get(f.sub, 0) if f.kind == "scalar" else 0, _ENUM_VALUES.get(f.enum))
                for index, f in enumerate(fields)] for name, fields in TABLES.items()}


class FlatVerifier:
    """Reads flatbuffer tables of the schema, refusing anything a flatbuffers Verifier would refuse.

    Tables are read once per (position, table) and shared, so a file whose references fan out (compacted programs
    share tables on purpose) costs its size, not the size of its expansion; ``max_references`` bounds the rest.
    """

    def __init__(self, data, what: str = "program") -> None:
        self.data = data
        self.size = len(data)
        self.what = what
        self.references = 0
        self._memo: dict = {}

    def fail(self, message: str) -> None:
        raise NbFormatError(f"{self.what}: {message}")

    def _span(self, pos: int, size: int, align: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.size:
            self.fail(f"{what} at {pos} ({size} bytes) lies outside the {self.size}-byte buffer")
        if align > 1 and pos % align:
            self.fail(f"{what} at {pos} is not {align}-byte aligned")

    def _u32(self, pos: int) -> int:
        return _U32(self.data, pos)[0]

    def _offset(self, pos: int, what: str) -> int:
        if pos < 0 or pos + 4 > self.size or pos % 4:
            self._span(pos, 4, 4, what)
        relative = _U32(self.data, pos)[0]
        if relative == 0:
            self.fail(f"{what} at {pos} is a null offset")
        return pos + relative  # _span of the target checks it

    def _count(self) -> None:
        self.references += 1
        if self.references > LIMITS["max_references"]:
            self.fail(f"more than {LIMITS['max_references']} references")

    def root(self, table: str) -> tuple:
        return self.table(self._offset(0, "root offset"), table)

    def table(self, pos: int, name: str, depth: int = 0) -> tuple:
        """A table as a tuple of (field index, value) for the fields present, values read recursively."""
        self._count()
        memo_key = (pos, name)
        memo = self._memo.get(memo_key)
        if memo is not None:
            return memo
        if depth > LIMITS["max_table_depth"]:
            self.fail(f"tables nested deeper than {LIMITS['max_table_depth']}")
        data, size = self.data, self.size
        self._span(pos, 4, 4, f"{name} table")
        vtable = pos - _I32(data, pos)[0]
        self._span(vtable, 4, 2, f"{name} vtable")
        vtable_size, object_size = _HH(data, vtable)
        if vtable_size < 4 or vtable_size % 2 or object_size < 4:
            self.fail(f"{name} vtable at {vtable} has sizes {vtable_size}/{object_size}")
        self._span(vtable, vtable_size, 2, f"{name} vtable")
        self._span(pos, object_size, 4, f"{name} table")
        slots = (vtable_size - 4) // 2
        fields = []
        previous = None
        for index, f, what, unpack, width, enum in _PLAN[name]:
            offset = _U16(data, vtable + 4 + 2 * index)[0] if index < slots else 0
            if offset == 0:
                if f.required:
                    self.fail(f"{what} is missing")
                previous = None
                continue
            at = pos + offset
            if unpack is not None:  # a scalar
                if offset + width > object_size:
                    self.fail(f"{what} lies outside its table")
                if at + width > size or at % width:
                    self._span(at, width, width, what)
                value = unpack(data, at)[0]
                if enum is not None and value not in enum:
                    self.fail(f"{what} is {value}, not a {f.enum}")
            else:
                if offset + 4 > object_size:
                    self.fail(f"{what} lies outside its table")
                target = self._offset(at, what)
                value = self._value(f, target, what, depth, previous)
            previous = value
            fields.append((index, value))
        result = tuple(fields)
        self._memo[memo_key] = result
        return result

    def _value(self, f: Field, target: int, what: str, depth: int, union_type) -> object:
        if f.kind == "string":
            return self.string(target, what)
        if f.kind == "table":
            return self.table(target, f.sub, depth + 1)
        if f.kind == "union":
            if not isinstance(union_type, int) or not 1 <= union_type <= len(f.sub):
                self.fail(f"{what} has union type {union_type}")
            return self.table(target, f.sub[union_type - 1], depth + 1)
        elem = SCALAR_SIZES[f.sub] if f.kind == "scalars" else 4
        start, count = self.vector(target, elem, what)
        if f.kind == "scalars":
            if f.sub in "bB":  # byte data (parameter weights): a view, never a copy
                return self.data[start : start + count]
            return struct.unpack_from(f"<{count}{f.sub}", self.data, start)
        if f.kind == "strings":
            return tuple(self.string(self._offset(start + 4 * k, what), what) for k in range(count))
        items = tuple(self.table(self._offset(start + 4 * k, what), f.sub, depth + 1) for k in range(count))
        if f.sorted_by_key:
            self._check_sorted(f.sub, items, what)
        return items

    def vector(self, pos: int, elem: int, what: str) -> tuple[int, int]:
        self._count()
        if pos < 0 or pos + 4 > self.size or pos % 4:
            self._span(pos, 4, 4, f"{what} vector")
        count = _U32(self.data, pos)[0]
        if count > LIMITS["max_vector_length"]:
            self.fail(f"{what} has {count} elements (limit {LIMITS['max_vector_length']})")
        if pos + 4 + count * elem > self.size:
            self._span(pos + 4, count * elem, min(elem, 4), f"{what} elements")
        return pos + 4, count

    def string(self, pos: int, what: str) -> str:
        memo_key = (pos, "")
        if memo_key in self._memo:
            self._count()
            return self._memo[memo_key]
        start, length = self.vector(pos, 1, what)
        if length > LIMITS["max_string_bytes"]:
            self.fail(f"{what} is a string of {length} bytes (limit {LIMITS['max_string_bytes']})")
        self._span(start, length + 1, 1, f"{what} string")
        raw = bytes(self.data[start : start + length + 1])
        if raw[-1] != 0 or 0 in raw[:-1]:
            self.fail(f"{what} string at {pos} is not NUL-terminated or holds a NUL")
        try:
            text = raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what} string at {pos} is not UTF-8")
        self._memo[memo_key] = text
        return text

    def _check_sorted(self, table: str, items: tuple, what: str) -> None:
        key = next(i for i, f in enumerate(TABLES[table]) if f.key)
        keys = [dict(item)[key].encode() for item in items]
        for before, after in zip(keys, keys[1:]):
            if not before < after:
                self.fail(f"{what} is not sorted by {TABLES[table][key].name} ({before!r} before {after!r}): "
                          "Paddle Lite's binary search would miss entries")


class ProgramReader:
    """``ProgramReader(program).table(root, PROGRAM)``: the verified program, as ``export.nb_compact`` reads it."""

    def __init__(self, data) -> None:
        self._verifier = FlatVerifier(data)

    def table(self, pos: int, entries: list) -> tuple:
        return self._verifier.table(pos, _TABLE_OF_SCHEMA[id(entries)])


# ------------------------------------------------------------------------------------------------ the .nb file


@dataclass
class NbParam:
    name: str
    data_type: str
    dims: tuple
    nbytes: int


@dataclass
class NbSummary:
    meta_version: int
    opt_version: str
    program: tuple
    params: list[NbParam] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)  # one per op of block 0, in program order
    input_dims: tuple = ()  # the feed op's output variable's dims (-1: any)


def _opt_version(raw: bytes) -> str:
    text = raw.split(b"\x00", 1)[0]
    prefix = FORMAT["header"]["opt_version_prefix"].encode()
    if b"\x00" not in raw or not text.startswith(prefix) or not all(32 < c < 127 for c in text):
        raise NbFormatError("not a Paddle Lite naive-buffer (.nb) model (no opt version in its header)")
    return text.decode("ascii")


def split_nb(data) -> tuple[int, bytes, bytes, bytes]:
    """(format version, opt version field, program bytes, weights bytes) of a .nb file's bytes."""
    header = FORMAT["header"]
    if len(data) < HEADER.size:
        raise NbFormatError(f"{len(data)} bytes, too small to be a Paddle Lite model")
    version, opt_version, size = HEADER.unpack_from(data)
    _opt_version(opt_version)
    if version not in header["meta_versions"]:
        supported = ", ".join(map(str, header["meta_versions"]))
        raise NbFormatError(f"naive-buffer format {version} is not one this runtime loads ({supported}); convert it "
                            "again with opt 2.13")
    if size < 8 or size > LIMITS["max_topology_bytes"] or HEADER.size + size > len(data):
        raise NbFormatError(f"truncated or damaged Paddle Lite model (a program of {size} bytes at offset "
                            f"{HEADER.size}, the file has {len(data)})")
    return version, opt_version, data[HEADER.size : HEADER.size + size], data[HEADER.size + size :]


def read_program(data) -> tuple:
    """The verified program of a .nb file's bytes, as nested (field, value) tuples."""
    _, _, program, _ = split_nb(data)
    return FlatVerifier(program).root("ProgramDesc")


def kernel_types(data) -> list[str]:
    """The kernel of every op (``conv2d/int8_out/4/2/1``: op/alias/target/precision/layout), in program order."""
    return verify_nb(data).kernels


def verify_nb(data) -> NbSummary:
    """Verify a whole .nb file's bytes against nb_format.json; raise ``NbFormatError`` saying what is wrong."""
    if len(data) > LIMITS["max_file_bytes"]:
        raise NbFormatError(f"{len(data)} bytes, more than the {LIMITS['max_file_bytes']} a model may have")
    view = memoryview(data) if not isinstance(data, memoryview) else data
    version, opt_version, program_bytes, _ = split_nb(view)
    try:
        program = FlatVerifier(program_bytes).root("ProgramDesc")
        summary = NbSummary(version, _opt_version(opt_version), program)
        param_vars = _check_program(summary)
    except NbFormatError as exc:
        raise NbFormatError(f"damaged Paddle Lite model ({exc})") from None
    _check_params(view, HEADER.size + len(program_bytes), param_vars, summary)
    return summary


def _get(table: str, fields: tuple, name: str, default=None):
    index = FIELD_INDEX[table][name]
    for i, value in fields:
        if i == index:
            return value
    return default


def _check_program(summary: NbSummary) -> dict[str, int]:
    """The program's meaning: blocks, declared variables, ops and their kernels. Returns the parameter variables of
    block 0 (name -> its VarDesc type)."""
    blocks = _get("ProgramDesc", summary.program, "blocks")
    if not 1 <= len(blocks) <= LIMITS["max_blocks"]:
        raise NbFormatError(f"program: {len(blocks)} blocks (1 to {LIMITS['max_blocks']})")
    declared: list[dict[str, tuple]] = []
    parents: list[int] = []
    for number, block in enumerate(blocks):
        if _get("BlockDesc", block, "idx", 0) != number:
            raise NbFormatError(f"program: block {number} says it is block {_get('BlockDesc', block, 'idx', 0)}")
        parent = _get("BlockDesc", block, "parent_idx", 0)
        if not (parent in (-1, 0) if number == 0 else 0 <= parent < len(blocks) and parent != number):
            raise NbFormatError(f"program: block {number} has parent {parent}")
        forward = _get("BlockDesc", block, "forward_block_idx", -1)
        if not -1 <= forward < len(blocks):
            raise NbFormatError(f"program: block {number} has forward block {forward}")
        parents.append(parent)
        variables = _get("BlockDesc", block, "vars")
        if len(variables) > LIMITS["max_vars_per_block"]:
            raise NbFormatError(f"program: block {number} has {len(variables)} variables")
        names: dict[str, tuple] = {}
        for var in variables:
            name = _get("VarDesc", var, "name")
            if not name or name in names:
                raise NbFormatError(f"program: block {number} declares variable {name!r} twice or without a name")
            names[name] = var
        declared.append(names)
    for number in range(len(blocks)):  # parents form a tree rooted at block 0
        seen, at = set(), number
        while at > 0:
            if at in seen:
                raise NbFormatError(f"program: block {number}'s parents loop")
            seen.add(at)
            at = parents[at]
    for number, block in enumerate(blocks):
        visible = set(declared[number])
        at = number
        while at > 0:
            at = parents[at]
            visible |= set(declared[at])
        ops = _get("BlockDesc", block, "ops")
        if len(ops) > LIMITS["max_ops_per_block"]:
            raise NbFormatError(f"program: block {number} has {len(ops)} ops")
        for index, op in enumerate(ops):
            kernel = _check_op(op, index, number, visible, len(blocks))
            if number == 0:
                summary.kernels.append(kernel)
    main = declared[0]
    not_params = {ENUMS["VarType"][name] for name in FORMAT["program"]["not_params"]}
    param_type = ENUMS["VarType"][FORMAT["program"]["param_var_type"]]
    params = {}
    for name, var in main.items():
        var_type = _get("VarType", _get("VarDesc", var, "type"), "type", 0)
        if _get("VarDesc", var, "persistable", False) and var_type not in not_params:
            if var_type != param_type:
                raise NbFormatError(f"program: persistable variable {name!r} has type {var_type}")
            params[name] = var
    summary.input_dims = _feed_dims(blocks[0], main)
    return params


def _check_op(op: tuple, index: int, block: int, visible: set, blocks: int) -> str:
    op_type = _get("OpDesc", op, "type")
    where = f"program: op {index} ({op_type!r}) of block {block}"
    if len(op_type) > LIMITS["max_op_type_bytes"] or not OP_TYPE.fullmatch(op_type):
        raise NbFormatError(f"{where}: not an op type")
    for side in ("inputs", "outputs"):
        for var in _get("OpDesc", op, side):
            arguments = _get("OpVar", var, "arguments", ())
            if len(arguments) > LIMITS["max_arguments"]:
                raise NbFormatError(f"{where}: {len(arguments)} arguments")
            for argument in arguments:
                if argument not in visible:
                    raise NbFormatError(f"{where}: {side[:-1]} {argument!r} is not a declared variable")
    attrs = _get("OpDesc", op, "attrs")
    if len(attrs) > LIMITS["max_attrs_per_op"]:
        raise NbFormatError(f"{where}: {len(attrs)} attributes")
    kernel = None
    attr_types = {value: name for name, value in ENUMS["AttrType"].items()}
    for attr in attrs:
        name, attr_type = _get("Attr", attr, "name"), attr_types[_get("Attr", attr, "type", 0)]
        value_field = FORMAT["attr_value_field"].get(attr_type)
        if value_field and _get("Attr", attr, value_field) is None:
            raise NbFormatError(f"{where}: attribute {name!r} of type {attr_type} has no value")
        if attr_type == "BLOCK" and not 0 <= _get("Attr", attr, "block_idx", 0) < blocks:
            raise NbFormatError(f"{where}: attribute {name!r} names block {_get('Attr', attr, 'block_idx', 0)}")
        if attr_type == "BLOCKS" and not all(0 <= b < blocks for b in _get("Attr", attr, "blocks_idx")):
            raise NbFormatError(f"{where}: attribute {name!r} names a block that does not exist")
        if name == FORMAT["program"]["kernel_attr"]:
            if attr_type != "STRING":
                raise NbFormatError(f"{where}: its kernel attribute is not a string")
            kernel = _get("Attr", attr, "s")
    if kernel is None:
        raise NbFormatError(f"{where}: no kernel")
    match = KERNEL_KEY.fullmatch(kernel)
    if not match or match.group(1) != op_type:
        raise NbFormatError(f"{where}: kernel {kernel!r} is not one for this op")
    for value, enum in zip(match.groups()[2:], ("TargetType", "PrecisionType", "DataLayoutType")):
        if int(value) not in _ENUM_VALUES[enum]:
            raise NbFormatError(f"{where}: kernel {kernel!r} names {enum} {value}, which does not exist")
    return kernel


def _feed_dims(block: tuple, variables: dict) -> tuple:
    for op in _get("BlockDesc", block, "ops"):
        if _get("OpDesc", op, "type") == "feed":
            for var in _get("OpDesc", op, "outputs"):
                for name in _get("OpVar", var, "arguments", ()):
                    lod = _get("VarType", _get("VarDesc", variables[name], "type"), "lod_tensor")
                    if lod is not None:
                        return tuple(_get("TensorDesc", _get("LoDTensorDesc", lod, "tensor"), "dims", ()))
    return ()


def _check_params(data: memoryview, pos: int, param_vars: dict, summary: NbSummary) -> None:
    header = FORMAT["header"]
    length = len(data)

    def need(count: int, what: str) -> None:
        if pos + count > length:
            raise NbFormatError(f"truncated or damaged Paddle Lite model ({what} needs {count} bytes at offset {pos}, "
                                f"the file has {length})")

    def damaged(message: str) -> NbFormatError:
        return NbFormatError(f"damaged Paddle Lite model ({message})")

    need(4, "params version")
    params_version, meta_size = struct.unpack_from("<HH", data, pos)
    if params_version not in header["params_versions"]:
        raise damaged(f"params version {params_version}, expected {header['params_versions'][0]}")
    if meta_size > LIMITS["max_params_meta_bytes"]:
        raise damaged(f"params meta of {meta_size} bytes")
    pos += 4
    need(meta_size + 2, "params meta")
    pos += meta_size
    (header_size,) = struct.unpack_from("<H", data, pos)
    pos += 2
    if header_size != header["params_header_bytes"]:
        raise damaged(f"params header of {header_size} bytes, expected {header['params_header_bytes']}")
    need(header_size, "params header")
    count, largest = struct.unpack_from("<HI", data, pos)
    pos += header_size
    element_bytes = {ENUMS["VarType"][name]: size for name, size in FORMAT["param_element_bytes"].items()}
    type_names = {value: name for name, value in ENUMS["VarType"].items()}
    seen: set[str] = set()
    biggest = 0
    for index in range(count):
        need(8, f"param {index} sizes")
        total, offset = struct.unpack_from("<II", data, pos)
        if offset != header["param_record_offset"] or total < offset + 8:
            raise damaged(f"param {index}: size {total}, offset {offset}")
        pos += 4 + offset
        size = total - offset
        need(size, f"param {index}")
        verifier = FlatVerifier(data[pos : pos + size], f"param {index}")
        try:
            param = verifier.root("ParamDesc")
        except NbFormatError as exc:
            raise damaged(str(exc)) from None
        pos += size
        name = _get("ParamDesc", param, "name")
        if name in seen or name not in param_vars:
            why = "stored twice" if name in seen else "not a parameter of the program"
            raise damaged(f"param {index} {name!r} is {why}")
        seen.add(name)
        tensor = _get("ParamDesc", param, "variable")
        dims = tuple(_get("ParamTensorDesc", tensor, "dim"))
        data_type = _get("ParamTensorDesc", tensor, "data_type", 0)
        nbytes = len(_get("ParamTensorDesc", tensor, "data"))
        if data_type not in element_bytes:
            raise damaged(f"param {name!r} has data type {type_names.get(data_type, data_type)}")
        if len(dims) > LIMITS["max_param_rank"] or not all(1 <= d <= LIMITS["max_param_dim"] for d in dims):
            raise damaged(f"param {name!r} has dims {list(dims)}")
        elements = 1
        for d in dims:
            elements *= d
        if elements * element_bytes[data_type] != nbytes:
            raise damaged(f"param {name!r}: dims {list(dims)} of {type_names[data_type]} need "
                          f"{elements * element_bytes[data_type]} bytes, it holds {nbytes}")
        biggest = max(biggest, nbytes)
        summary.params.append(NbParam(name, type_names[data_type], dims, nbytes))
    missing = sorted(set(param_vars) - seen)
    if missing:
        raise damaged(f"{len(missing)} parameters of the program are not stored, {missing[0]!r} first "
                      f"({count} stored)")
    if largest != biggest:
        raise damaged(f"params header says the largest param has {largest} bytes, it has {biggest}")
    if pos != length:
        raise damaged(f"{length - pos} bytes after the last of its {count} params")
