"""The layer order of docs/ARCHITECTURE.md, enforced over every import (issue 13 item 3).

Every ``import`` statement of every module under src/orderarchive is parsed: at module level,
inside functions and inside ``if TYPE_CHECKING:`` blocks. Each module belongs to one layer (the
table below, which ARCHITECTURE.md shows); an import may only go down the layer order, or stay
within its layer. The runtime import graph (TYPE_CHECKING blocks excluded, imports inside
functions included) has no cycle. ``from . import name`` of a name defined in the package's
``__init__`` is an edge to that ``__init__``.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import orderarchive

SRC = Path(orderarchive.__file__).parent
PACKAGE = "orderarchive"

# Lowest first. The same table is in docs/ARCHITECTURE.md ("Layers").
LAYERS = ("base", "log", "documents", "citations", "recipe", "cli")
BASE = {"errors", "canonical", "_display", "userfiles"}
RECIPE = {"archive", "index", "status", "history", "verified", "releaselog", "proofs", "copies",
          "citing", "publish", "remote", "witnessing", "site",
          "textindex"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name below ``orderarchive`` (the package itself: recipe)."""
    parts = module.split(".")
    assert parts[0] == PACKAGE, module
    if len(parts) == 1:
        return "recipe"          # orderarchive/__init__.py: the public facade over the recipes
    head = parts[1]
    if head in ("log", "documents", "citations", "cli"):
        return head
    if head == "__main__":
        return "cli"
    if head in BASE:
        return "base"
    if head in RECIPE:
        return "recipe"
    raise AssertionError(f"{module}: no layer; add it to the table here and in ARCHITECTURE.md")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [PACKAGE, *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, under TYPE_CHECKING, line) for each import of an orderarchive module."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, bool, int]] = []

    def resolve(node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        base = package.split(".")
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.append((alias.name, typing_only, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node)
            if target.split(".")[0] == PACKAGE:
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    # a submodule imported by name is an edge to it; any other name is an
                    # edge to the module (or package __init__) that defines it
                    found.append((sub if sub in MODULES else target, typing_only, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return found


@functools.cache
def _graph() -> dict[str, list[tuple[str, bool, int]]]:
    return {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for module, imports in _graph().items():
        rank = LAYERS.index(layer_of(module))
        for target, _typing, line in sorted(set(imports)):
            assert target in MODULES, f"{module}:{line} imports unknown {target}"
            if LAYERS.index(layer_of(target)) > rank:
                wrong.append(f"{module}:{line} ({layer_of(module)}) imports {target} "
                             f"({layer_of(target)})")
    assert not wrong, "imports going up the layers:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = {module: sorted({t for t, typing_only, _ in imports
                             if not typing_only and t != module})
             for module, imports in _graph().items()}
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    cycles: list[str] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                walk(nxt, path)
        path.pop()
        state[node] = 2

    for module in graph:
        if module not in state:
            walk(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_command_modules_share_only_the_common_module() -> None:
    # cli/: each command module imports cli/_common.py (and _discover), never the group in
    # cli/__init__.py nor another command module's privates.
    shared = {"orderarchive.cli._common", "orderarchive.cli._discover"}
    wrong = []
    for module, imports in _graph().items():
        if not module.startswith("orderarchive.cli.") or module in shared:
            continue
        wrong += [f"{module}:{line} imports {target}" for target, _t, line in imports
                  if (target == "orderarchive.cli" or target.startswith("orderarchive.cli."))
                  and target not in shared]
    assert not wrong, "\n".join(wrong)
    common = {t for t, _t, _l in _graph()["orderarchive.cli._common"]}
    assert not {t for t in common if t.startswith("orderarchive.cli")} - shared


def test_the_table_is_the_one_in_architecture_md() -> None:
    text = (SRC.parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    assert " < ".join(LAYERS) in text
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1].strip("`") in LAYERS:
            rows[cells[1].strip("`")] = cells[2]
    assert sorted(rows) == sorted(LAYERS)
    for module in MODULES:
        layer = layer_of(module)
        parts = module.split(".")
        if len(parts) == 1:
            name = "`__init__`"
        elif parts[1] in ("log", "documents", "citations", "cli"):
            name = f"`{parts[1]}/`"
        else:
            name = f"`{parts[1]}`"
        assert name in rows[layer], f"{module}: {name} is not in the {layer} row"


def test_the_checker_sees_an_upward_and_a_cyclic_import(tmp_path: Path) -> None:
    # the parser itself: an import inside a function and one under TYPE_CHECKING are both seen
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from .archive import Archive\n"
                     "def f():\n    from . import cli\n    from ..errors import X\n")
    found = _imports("orderarchive.log.probe", probe)
    assert ("orderarchive.log.archive", True, 3) in found
    assert ("orderarchive.log", False, 5) in found    # `cli` is no module of orderarchive.log
    assert ("orderarchive.errors", False, 6) in found


def test_offline_checks_load_no_recipe_module() -> None:
    # verify-evidence and verify-proof need only the file and the public key: the modules
    # holding those checks load nothing of the recipe layer (nor the CLI).
    import subprocess
    import sys

    code = ("import sys, orderarchive.citations.cite, orderarchive.log.tlogproof; "
            "print(' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    loaded = {m for m in out.stdout.split() if m.startswith(f"{PACKAGE}.")}
    above = sorted(m for m in loaded if LAYERS.index(layer_of(m)) >= LAYERS.index("recipe"))
    assert above == []
