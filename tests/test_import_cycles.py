"""No import cycles in tnddm/: the graph of module-level imports between tnddm modules is acyclic.

Every module under tnddm/ is parsed with ast (nothing is imported). An edge a -> b means that
executing module a imports tnddm module b:
- `import tnddm.x.y` and `from tnddm.x import y` (absolute or relative) give an edge to the module
  they name: `from P import name` points to the submodule P.name when that file exists, else to P
  (whose __init__ then provides the name);
- only statements executed when the module is imported count: the module body, class bodies and
  if / try / with blocks at module level. Imports inside functions (and lambdas) do not count: they
  run on the first call, after every module has finished importing, so they cannot see a
  half-initialised module; the rule is that no tnddm module imports another inside a function to
  dodge a cycle, which the mps tests below check for tnddm/mps. `if TYPE_CHECKING:` blocks do not
  run and do not count.
- the implicit import of a parent package (importing tnddm.mps.base first runs tnddm/__init__ and
  tnddm/mps/__init__) is not an edge: every module would otherwise be on a cycle with its
  package's __init__, which imports it.
A cycle fails the test and is printed as a -> b -> ... -> a. The negative control writes a
deliberately cyclic pair of modules to a temporary package and checks the same code finds it.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tnddm"


def module_files(root: Path) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of the package at root."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.Module):
    """Import / ImportFrom nodes executed at import time (not inside functions or TYPE_CHECKING blocks)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path) -> dict[str, set[str]]:
    """{module: set of package modules it imports at module level} (see the module docstring)."""
    files = module_files(root)
    top = root.name
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        for node in module_level_imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                targets = []
                for alias in node.names:
                    sub = f"{src}.{alias.name}"
                    targets.append(sub if sub in files else src)
            for t in targets:
                if t == top or t.startswith(top + "."):
                    while t not in files and "." in t:  # e.g. `import tnddm.x.attr`: the module that exists
                        t = t.rpartition(".")[0]
                    if t in files and t != name:
                        graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the directed graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_tnddm_has_no_import_cycles():
    graph = import_graph(ROOT)
    assert len(graph) > 50 and "tnddm.mps.base" in graph  # the walk found the package
    assert "tnddm.mps.base" in graph["tnddm.mps.dense"]  # and resolves relative imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in tnddm/: " + " -> ".join(cycle)


def test_mps_imports_nothing_from_tnddm_inside_functions():
    """tnddm/mps dodges no cycle by a function-level import of another tnddm module."""
    late = []
    for name, path in module_files(ROOT / "mps").items():
        tree = ast.parse(path.read_text())
        top_level = set(map(id, module_level_imports(tree)))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top_level and (
                    node.level or (node.module or "").startswith("tnddm")):
                late.append(f"{name}:{node.lineno}")
    assert not late, f"function-level tnddm imports in tnddm/mps: {late}"


def test_a_cycle_is_found_negative_control(tmp_path):
    pkg = tmp_path / "tnddm"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (pkg / "sub" / "b.py").write_text("import numpy as np\nfrom tnddm.sub import c\n")
    (pkg / "sub" / "c.py").write_text("def late():\n    from . import d\n")  # inside a function: no edge
    (pkg / "sub" / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    assert find_cycle(import_graph(pkg)) is None
    (pkg / "sub" / "c.py").write_text("class C:\n    from .a import f\n")  # a class body runs at import
    cycle = find_cycle(import_graph(pkg))
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"tnddm.sub.a", "tnddm.sub.b", "tnddm.sub.c"}, cycle
