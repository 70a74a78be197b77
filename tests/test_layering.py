"""The packages stand in layers: edge_ocr (the device runtime) at the bottom, export on it, quantize on both, and
quantize's rooms in the order nets -> train -> compress. Checked from the source (``ast``), lazy imports included."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("edge_ocr", "export", "quantize")

# (importer, imported): a module under the first may never import one under the second
FORBIDDEN = [
    ("edge_ocr", "export"),
    ("edge_ocr", "quantize"),
    ("export", "quantize"),
    ("quantize.nets", "quantize.train"),
    ("quantize.nets", "quantize.compress"),
    ("quantize.train", "quantize.compress"),
]


def _modules() -> dict[str, tuple[str, bool]]:
    """Module name -> (file, is_package) for every module of the three packages."""
    found = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            for name in files:
                if not name.endswith(".py"):
                    continue
                parts = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].split(os.sep)
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts = parts[:-1]
                found[".".join(parts)] = (os.path.join(folder, name), is_package)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def import_graph(modules: dict[str, tuple[str, bool]] | None = None) -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports, anywhere in its code (function-level imports too).

    ``from P import n`` counts as importing ``P.n`` when that is a module, else ``P``; imports from outside the three
    packages are left out."""
    modules = _modules() if modules is None else modules

    def known(name: str) -> str | None:  # the module itself, or the closest package of ours holding the name
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        package = module if is_package else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(filter(None, (known(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    target = f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else known(source)
                    if target:
                        targets.add(target)
        targets.discard(module)
        graph[module] = targets
    return graph


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                  for low, high in FORBIDDEN if _within(module, low) and _within(target, high))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a set of modules in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "edge_ocr.errors" in graph["quantize.nets.weights"]  # absolute, at the top
    assert "quantize.nets.pruned" in graph["quantize.train.det"]  # relative from a parent, inside a function
    assert "quantize.train.losses" in graph["quantize.train.det"]  # ``from . import losses``
    assert "quantize.compress.ptq" in graph["quantize.compress.cli"]


def test_no_layer_imports_a_higher_one():
    assert layering_violations(import_graph()) == []


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_checks_catch_what_they_forbid():
    graph = {"edge_ocr.a": {"quantize.x"}, "quantize.nets.b": {"quantize.compress.c"}, "export.d": {"edge_ocr.a"},
             "quantize.compress.c": {"quantize.nets.b"}}
    assert layering_violations(graph) == ["edge_ocr.a imports quantize.x",
                                          "quantize.nets.b imports quantize.compress.c"]
    assert cycles(graph) == [["quantize.compress.c", "quantize.nets.b"]]
