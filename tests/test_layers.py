"""The layers of `reproducer`, checked on the source: imports flow one way.

    world < programs < commands, running < pytest_plugin < search < strategies < telling
          < metastable < story, play, wild < cli, bench < the package's face
          (`reproducer/__init__.py`)

A module may import its own subpackage and anything in a lower layer, never a higher layer nor
a peer of its own layer (the applications `story`, `play` and `wild` do not import each other).
Imports inside functions count: a lazy import is still a dependency. No subpackage imports a
private name (`_x`) of another.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT
from tests.test_package_boundaries import imported_names, is_private, module_name

LAYERS: tuple[tuple[str, ...], ...] = (
    ("reproducer.world",),
    ("reproducer.programs",),
    ("reproducer.commands", "reproducer.running"),
    ("reproducer.pytest_plugin",),
    ("reproducer.search",),
    ("reproducer.strategies",),
    ("reproducer.telling",),
    ("reproducer.metastable",),
    ("reproducer.story", "reproducer.play", "reproducer.wild"),
    ("reproducer.cli", "reproducer.bench"),
    ("reproducer", "reproducer.__main__"),
)


def unit_of(module: str) -> tuple[int, str] | None:
    """(layer, unit) of a module of reproducer: the longest prefix in `LAYERS` (the package's
    face, `reproducer`, is only itself)."""
    best: tuple[int, str] | None = None
    for layer, units in enumerate(LAYERS):
        for unit in units:
            inside = module.startswith(unit + ".") and unit != "reproducer"
            if (module == unit or inside) and (
                    best is None or len(unit) > len(best[1])):
                best = (layer, unit)
    return best


def target_module(dotted: str, known: set[str]) -> str:
    """The module an imported dotted name lives in: `a.b.name` is `a.b` unless `a.b.name` is
    itself a module."""
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted


def layer_offences(root: Path) -> list[str]:
    paths = sorted((root / "reproducer").rglob("*.py"))
    modules = {module_name(root, p): p for p in paths}
    known = set(modules)
    found = []
    for module, path in modules.items():
        own = unit_of(module)
        where = path.relative_to(root)
        if own is None:
            found.append(f"{where}: {module} is in no layer; add it to LAYERS")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, dotted in imported_names(tree, module, path.name == "__init__.py"):
            if not dotted.startswith("reproducer"):
                continue
            target = target_module(dotted, known)
            theirs = unit_of(target)
            if theirs is None or theirs[1] == own[1]:
                continue
            if theirs[0] >= own[0]:
                how = "a peer in its layer" if theirs[0] == own[0] else "a higher layer"
                found.append(f"{where}:{line}: {own[1]} imports {dotted}, {how} ({theirs[1]})")
            elif is_private(dotted.removeprefix(theirs[1])):
                found.append(f"{where}:{line}: {dotted} is private to {theirs[1]}")
    return found


def test_every_import_in_reproducer_goes_to_its_own_subpackage_or_a_lower_layer() -> None:
    bad = layer_offences(ROOT)
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_layer_check_reports_upward_sideways_and_private_imports(tmp_path: Path) -> None:
    for folder in ("world", "running", "telling", "story", "play", "cli"):
        (tmp_path / "reproducer" / folder).mkdir(parents=True)
        (tmp_path / "reproducer" / folder / "__init__.py").write_text("")
    (tmp_path / "reproducer" / "__init__.py").write_text("")
    (tmp_path / "reproducer" / "running" / "sim.py").write_text("def _universe(): ...\n")
    (tmp_path / "reproducer" / "telling" / "bad.py").write_text(
        "from reproducer.cli import main\nfrom reproducer.world import x\n"
        "def f():\n    from reproducer.running.sim import _universe\n")
    (tmp_path / "reproducer" / "story" / "bad.py").write_text("import reproducer.play\n")
    (tmp_path / "reproducer" / "orphan.py").write_text("")

    assert layer_offences(tmp_path) == [
        "reproducer/orphan.py: reproducer.orphan is in no layer; add it to LAYERS",
        "reproducer/story/bad.py:1: reproducer.story imports reproducer.play, a peer in its "
        "layer (reproducer.play)",
        "reproducer/telling/bad.py:1: reproducer.telling imports reproducer.cli.main, a higher "
        "layer (reproducer.cli)",
        "reproducer/telling/bad.py:4: reproducer.running.sim._universe is private to "
        "reproducer.running",
    ]
