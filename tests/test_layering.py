"""The packages stand in layers: edge_ocr (the device runtime) at the bottom, export on it, quantize on both, and
quantize's rooms in the order nets -> train -> compress. Checked from the source (``ast``), lazy imports included.

The folders quantize/ and export/ are imported as ``edge_ocr.host.quantize`` and ``edge_ocr.host.export`` (their one
import root, as installed); "edge_ocr" below means the runtime, i.e. edge_ocr without edge_ocr.host."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# folder -> the import name of its package
PACKAGES = {"edge_ocr": "edge_ocr", "export": "edge_ocr.host.export", "quantize": "edge_ocr.host.quantize"}
Q, E = PACKAGES["quantize"], PACKAGES["export"]

# (importer, imported): a module under the first may never import one under the second
FORBIDDEN = [
    ("edge_ocr", E),
    ("edge_ocr", Q),
    (E, Q),
    (f"{Q}.nets", f"{Q}.train"),
    (f"{Q}.nets", f"{Q}.compress"),
    (f"{Q}.train", f"{Q}.compress"),
]


def _modules() -> dict[str, tuple[str, bool]]:
    """Module name -> (file, is_package) for every module of the three packages."""
    found = {}
    for package, import_name in PACKAGES.items():
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            for name in files:
                if not name.endswith(".py"):
                    continue
                parts = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].split(os.sep)
                parts = import_name.split(".") + parts[1:]
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts = parts[:-1]
                found[".".join(parts)] = (os.path.join(folder, name), is_package)
    return found


def _within(name: str, prefix: str) -> bool:
    if prefix == "edge_ocr" and _within(name, "edge_ocr.host"):
        return False  # the runtime layer
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
    assert "edge_ocr.errors" in graph[f"{Q}.nets.weights"]  # absolute, at the top
    assert f"{Q}.nets.pruned" in graph[f"{Q}.train.det"]  # relative from a parent, inside a function
    assert f"{Q}.train.losses" in graph[f"{Q}.train.det"]  # ``from . import losses``
    assert f"{Q}.compress.ptq" in graph[f"{Q}.compress.cli"]
    assert f"{E}.bundle" in graph[f"{Q}.compress.recipes"]  # the host root, absolute


def test_no_layer_imports_a_higher_one():
    assert layering_violations(import_graph()) == []


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_checks_catch_what_they_forbid():
    graph = {"edge_ocr.a": {f"{Q}.x"}, f"{Q}.nets.b": {f"{Q}.compress.c"}, f"{E}.d": {"edge_ocr.a"},
             f"{Q}.compress.c": {f"{Q}.nets.b"}, f"{Q}.compress.e": {f"{E}.d"}}
    assert layering_violations(graph) == [f"edge_ocr.a imports {Q}.x", f"{Q}.nets.b imports {Q}.compress.c"]
    assert cycles(graph) == [[f"{Q}.compress.c", f"{Q}.nets.b"]]


def checkout_name_imports(paths: list[str]) -> list[str]:
    """Imports of ``quantize`` or ``export`` as top-level packages (the checkout's folder names, which an installed
    edge-ocr does not have): every module reaches them through ``edge_ocr.host``."""
    found = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{os.path.relpath(path, ROOT)}:{node.lineno} {name}" for name in names
                      if name.split(".")[0] in ("quantize", "export")]
    return found


def test_nothing_imports_the_folders_by_their_checkout_names(tmp_path):
    import subprocess

    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    paths = [os.path.join(ROOT, p) for p in listed.stdout.split()]
    assert len(paths) > 100
    assert checkout_name_imports(paths) == []
    bad = tmp_path / "bad.py"
    bad.write_text("import quantize.nets\nfrom export.api import export\nfrom .export import x\n")
    assert [line.split(" ", 1)[1] for line in checkout_name_imports([str(bad)])] == ["quantize.nets", "export.api"]
