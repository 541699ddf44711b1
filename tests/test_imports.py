"""The import graph of cxkit: no cycles (counting imports inside functions), no private names.

Every module under ``cxkit/`` is parsed with :mod:`ast`; each ``import`` and
``from ... import`` anywhere in it (module level or inside a function, but not
under ``if TYPE_CHECKING:``) is an edge to the cxkit module it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cxkit

PACKAGE = Path(cxkit.__file__).parent
MODULES = {("cxkit" if p.stem == "__init__" else f"cxkit.{p.stem}"): p
           for p in sorted(PACKAGE.glob("*.py"))}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts[: len(parts) - node.level + (1 if module == "cxkit" else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def analyse(modules=MODULES):
    """(edges, private uses) of the given ``{module name: path}`` map."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases: dict[str, str] = {}  # local name -> cxkit module
        for node in _walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in modules:
                        edges[module].add(a.name)
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                if source not in modules and source != "cxkit":
                    continue
                for a in node.names:
                    target = f"{source}.{a.name}" if source == "cxkit" else source
                    if target in modules:
                        edges[module].add(target)
                        if source == "cxkit":
                            aliases[a.asname or a.name] = target
                    elif source in modules:
                        edges[module].add(source)
                    importing_a_module = source == "cxkit" and target in modules
                    if _private(a.name) and not importing_a_module and source != module:
                        private.append(f"{module}: from {source} import {a.name}")
        for node in _walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and _private(node.attr) \
                    and aliases[node.value.id] != module:
                private.append(f"{module}: {node.value.id}.{node.attr} (line {node.lineno})")
        edges[module].discard(module)
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_counting_imports_inside_functions():
    edges, _ = analyse()
    assert cycles(edges) == []


def test_no_module_uses_a_private_name_of_another():
    _, private = analyse()
    assert private == []


def test_the_checks_catch_a_hidden_cycle_and_a_private_import(tmp_path):
    (tmp_path / "a.py").write_text("from cxkit import b\n\ndef f():\n    return b._g()\n")
    (tmp_path / "b.py").write_text("def _g():\n    from cxkit.a import f\n    return f\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from cxkit.a import f\nfrom cxkit.b import _g\n")
    modules = {f"cxkit.{n}": tmp_path / f"{n}.py" for n in "abc"}
    edges, private = analyse(modules)
    assert cycles(edges) == [["cxkit.a", "cxkit.b"]]
    assert edges["cxkit.c"] == {"cxkit.b"}  # type-checking imports do not count
    assert private == ["cxkit.a: b._g (line 4)", "cxkit.c: from cxkit.b import _g"]
