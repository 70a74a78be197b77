"""The memory term's input: bytes each op of a ``.nb`` program reads and writes (its activations at the shapes the
runtime reported after the marked run, and its weights as stored), summed over the program."""

from __future__ import annotations

from dataclasses import dataclass

from ...engines.nb_program import field_index, read_program, schema

VAR_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1}  # framework.proto VarType -> bytes
PRECISION_BYTES = {1: 4, 2: 1, 3: 4, 5: 2, 6: 1, 7: 8, 8: 2, 9: 1, 10: 8}  # lite_api::PrecisionType -> bytes
LOD_TENSOR_TYPE = 7
KERNEL_ATTR = "__@kernel_type_attr@__"


@dataclass
class Var:
    name: str
    persistable: bool
    dtype: int
    dims: tuple[int, ...]


@dataclass
class Op:
    type: str
    inputs: list[str]
    outputs: list[str]
    kernel: str = ""  # op/alias/target/precision/layout, e.g. conv2d/int8_out/4/2/1

    @property
    def int8(self) -> bool:
        parts = self.kernel.split("/")
        return len(parts) == 5 and parts[3] == "2"


def _get(table: str, fields: tuple, name: str, default=None):
    index = field_index(schema(table), name)
    for i, value in fields or ():
        if i == index:
            return value
    return default


def read_graph(data: bytes) -> tuple[dict[str, Var], list[Op]]:
    """Block 0's tensor vars and ops (feed and fetch left out)."""
    blocks = _get("ProgramDesc", read_program(data), "blocks", ())
    if not blocks:
        return {}, []
    variables: dict[str, Var] = {}
    for var in _get("BlockDesc", blocks[0], "vars", ()):
        vtype = _get("VarDesc", var, "type")
        if _get("VarType", vtype, "type") != LOD_TENSOR_TYPE:
            continue
        tensor = _get("LoDTensorDesc", _get("VarType", vtype, "lod_tensor"), "tensor")
        name = _get("VarDesc", var, "name", "")
        variables[name] = Var(name, bool(_get("VarDesc", var, "persistable", False)),
                              int(_get("TensorDesc", tensor, "data_type", 5)),
                              tuple(int(d) for d in _get("TensorDesc", tensor, "dims", ())))
    ops = []
    for op in _get("BlockDesc", blocks[0], "ops", ()):
        op_type = _get("OpDesc", op, "type", "")
        if op_type in ("feed", "fetch"):
            continue
        names = {key: [n for arg in _get("OpDesc", op, key, ()) for n in _get("OpVar", arg, "arguments", ())]
                 for key in ("inputs", "outputs")}
        kernel = next((_get("Attr", attr, "s", "") for attr in _get("OpDesc", op, "attrs", ())
                       if _get("Attr", attr, "name") == KERNEL_ATTR), "")
        ops.append(Op(op_type, names["inputs"], names["outputs"], kernel))
    return variables, ops


def activation_names(variables: dict[str, Var], ops: list[Op]) -> list[str]:
    """The non-persistable tensors the ops use: the ones to ask the runtime for."""
    seen: dict[str, None] = {}
    for op in ops:
        for name in op.inputs + op.outputs:
            var = variables.get(name)
            if var is not None and not var.persistable:
                seen[name] = None
    return list(seen)


def bytes_moved(variables: dict[str, Var], ops: list[Op],
                runtime: dict[str, tuple[int, tuple[int, ...]]]) -> tuple[int, int]:
    """(activation bytes, weight bytes) read + written over all ops: activations at the runtime's shapes and
    precisions, weights at their element size (1 byte for the weights of an int8 kernel)."""
    act = weights = 0
    for op in ops:
        for name in dict.fromkeys(op.inputs + op.outputs):
            var = variables.get(name)
            if var is None:
                continue
            if name in runtime:
                precision, dims = runtime[name]
                size = PRECISION_BYTES.get(precision, 4)
            else:
                dims, size = var.dims, VAR_BYTES.get(var.dtype, 4)
            count = 1
            for d in dims:
                count *= max(int(d), 1)
            if var.persistable:
                # an int8 kernel's weights are int8 in memory, though the program declares them float32
                if op.int8 and len(var.dims) >= 2:
                    size = 1
                weights += count * size
            else:
                act += count * size
    return act, weights
