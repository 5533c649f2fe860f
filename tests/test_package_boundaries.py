"""The import rules between the three packages, checked on the source.

- fake_dns is a DNS server: it imports neither fake_lb nor reproducer;
- fake_lb is load balancers in front of a DNS name: it does not import reproducer;
- no package imports another package's private module (a dotted path with a component that
  starts with `_`, other than `__init__` and `__main__`), nor a private name from it: what one
  package needs of another is public there, in its `__init__` and `__all__`;
- `reproducer.search` has no import cycle: its rooms import one way.

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fake_dns", "fake_lb", "reproducer")
# who may not import whom
FORBIDDEN = {"fake_dns": {"fake_lb", "reproducer"}, "fake_lb": {"reproducer"}, "reproducer": set()}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything the module imports; `from a import b` yields `a.b`,
    since b may be a submodule or a name, and either way it must not be private."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"


def is_private(dotted: str) -> bool:
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
               for part in dotted.split(".")[1:])


def offences(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Every import that breaks a rule, as `path:line: what`."""
    found = []
    for own in packages:
        for path in sorted((root / own).rglob("*.py")):
            module = module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            where = path.relative_to(root)
            for line, dotted in imported_names(tree, module, path.name == "__init__.py"):
                top = dotted.split(".")[0]
                if top not in packages or top == own:
                    continue
                if top in FORBIDDEN[own]:
                    found.append(f"{where}:{line}: {own} must not import {top} ({dotted})")
                elif is_private(dotted):
                    found.append(f"{where}:{line}: {dotted} is private to {top}; make what "
                                 f"{own} needs public in {top}/__init__.py")
    return found


def test_no_package_imports_what_the_boundaries_forbid() -> None:
    bad = offences(ROOT)
    assert not bad, "imports across the package boundaries:\n" + "\n".join(bad)


def test_the_check_reports_every_forbidden_or_private_import_with_its_file_and_line(
        tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "fake_dns" / "_zone.py").write_text("from fake_dns import _records\n")
    (tmp_path / "fake_dns" / "bad.py").write_text("import json\n\ndef f():\n"
                                                  "    import reproducer.world\n")
    (tmp_path / "fake_lb" / "bad.py").write_text("from fake_dns import DNSClient, _wire\n"
                                                 "from reproducer import Config\n")
    (tmp_path / "reproducer" / "sub").mkdir()
    (tmp_path / "reproducer" / "sub" / "bad.py").write_text(
        "from fake_dns._journal import read_journal\nimport fake_lb.__main__\n"
        "from fake_lb import __version__\nfrom .. import _own_private\n")

    assert offences(tmp_path) == [
        "fake_dns/bad.py:4: fake_dns must not import reproducer (reproducer.world)",
        "fake_lb/bad.py:1: fake_dns._wire is private to fake_dns; make what fake_lb needs "
        "public in fake_dns/__init__.py",
        "fake_lb/bad.py:2: fake_lb must not import reproducer (reproducer.Config)",
        "reproducer/sub/bad.py:1: fake_dns._journal.read_journal is private to fake_dns; make "
        "what reproducer needs public in fake_dns/__init__.py",
    ]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Every module of `package` (a dotted name under `root`) and the modules of `package` it
    imports, imports inside functions included. `from a import b` is an edge to `a.b` when that
    is a module, else to `a`; a package is its `__init__`."""
    base = root.joinpath(*package.split("."))
    paths = {module_name(root, path): path for path in sorted(base.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for _, dotted in imported_names(tree, module, path.name == "__init__.py"):
            while dotted and dotted not in paths:
                dotted = dotted.rpartition(".")[0]
            if dotted and dotted != module:
                edges.add(dotted)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: each strongly connected component of more than one module,
    sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def cycles_in(root: Path, packages: Iterable[str]) -> list[str]:
    """One line per import cycle inside each of `packages`."""
    return [f"{package}: {' <-> '.join(cycle)}" for package in packages
            for cycle in cycles(import_graph(root, package))]


def test_no_package_has_an_import_cycle_counting_imports_inside_functions() -> None:
    bad = cycles_in(ROOT, PACKAGES)
    assert not bad, "import cycles:\n" + "\n".join(bad)


def test_the_cycle_check_finds_a_cycle_closed_by_an_import_inside_a_function(
        tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "room").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.top import run\n")
    (package / "top.py").write_text("from pkg.room import low\n\ndef run():\n    pass\n")
    (package / "room" / "__init__.py").write_text("")
    (package / "room" / "low.py").write_text("import json\n\ndef f():\n"
                                             "    from pkg.top import run\n")
    (package / "room" / "side.py").write_text("from . import low\n")

    assert import_graph(tmp_path, "pkg") == {
        "pkg": {"pkg.top"}, "pkg.top": {"pkg.room.low"}, "pkg.room": set(),
        "pkg.room.low": {"pkg.top"}, "pkg.room.side": {"pkg.room.low"}}
    assert cycles_in(tmp_path, ["pkg"]) == ["pkg: pkg.room.low <-> pkg.top"]
