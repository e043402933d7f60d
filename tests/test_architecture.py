"""The rooms of crystopo and the direction of the flow, read from the source.

descriptors -> tda -> multilayer.network -> (multilayer.tracking | multilayer.learn) ->
multilayer.app -> multilayer (the re-exporting facade).  A module may import from its own
room and from rooms below it, never from a room above or beside it; no module imports a
private (underscore) name from another module; the module import graph has no cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {"descriptors": 0, "tda": 1, "multilayer.network": 2, "multilayer.tracking": 3,
        "multilayer.learn": 3, "multilayer.app": 4, "multilayer": 5}


def _modules():
    for pkg in ("descriptors", "tda", "multilayer"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            yield ".".join(parts), path, is_pkg


def _room(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "multilayer" and len(parts) > 1 and f"multilayer.{parts[1]}" in RANK:
        return f"multilayer.{parts[1]}"
    return parts[0]


def _imports(module: str, path: Path, is_pkg: bool):
    """(imported module, imported names, line) for every import statement, at any depth."""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[:len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module
            yield target, [a.name for a in node.names], node.lineno


MODULES = {m: (p, k) for m, p, k in _modules()}


def _own(target):
    return target.split(".")[0] in ("descriptors", "tda", "multilayer")


def _resolve(target, names):
    """The project modules an import reaches (``from pkg import submodule`` included)."""
    out = [target] if target in MODULES else []
    out += [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
    return out


def test_rooms_exist():
    for room in ("multilayer.network", "multilayer.tracking", "multilayer.learn", "multilayer.app"):
        assert room in MODULES, f"missing room {room}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    path, is_pkg = MODULES[module]
    room = _room(module)
    bad = []
    for target, names, line in _imports(module, path, is_pkg):
        if not target or not _own(target):
            continue
        for reached in _resolve(target, names) or [target]:
            other = _room(reached)
            if other == room:
                continue
            if RANK[other] > RANK[room] or (RANK[other] == RANK[room]):
                bad.append(f"{path.name}:{line} imports {reached} ({other} is not below {room})")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        # a private module (``tda._geometry``) is its package's kernel library: its names are
        # shared inside the package; any other module's private names stay its own
        # (a private submodule imported by name from its own package is the same case)
        private = [n for n in private if f"{target}.{n}" not in MODULES]
        if private and target != module and not (target.rsplit(".", 1)[-1].startswith("_")
                                                 and _room(target) == room):
            bad.append(f"{path.name}:{line} imports private {private} from {target}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    g = nx.DiGraph()
    for module, (path, is_pkg) in MODULES.items():
        if is_pkg:              # package facades re-export; the cycle check is on modules
            continue
        for target, names, _ in _imports(module, path, is_pkg):
            if target and _own(target):
                for reached in _resolve(target, names):
                    if reached != module and not MODULES[reached][1]:
                        g.add_edge(module, reached)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_checker_catches_an_upward_import(tmp_path):
    """The checker is not vacuous: an upward import and a private import are reported."""
    src = tmp_path / "bad.py"
    src.write_text("from ..app.pipeline import analyze\nfrom .leiden_core import _secret\n")
    found = list(_imports("multilayer.network.bad", src, False))
    assert ("multilayer.app.pipeline", ["analyze"], 1) in found
    assert RANK[_room("multilayer.app.pipeline")] > RANK[_room("multilayer.network.bad")]
    assert found[1][1] == ["_secret"]
