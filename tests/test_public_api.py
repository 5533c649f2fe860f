"""The public API: what a user imports is declared in `__all__`, and the README, the
documentation pages and the example enactor import nothing private."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import reproducer
from tests.helpers.markdown import Block, blocks, doc_pages

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fake_dns", "fake_lb", "reproducer")
PUBLIC_MODULES = {"fake_dns", "fake_lb", "reproducer", "reproducer.strategies",
                  "reproducer.pytest_plugin", "fake_dns.testing"}

# What writing, running and exploring an enactor needs (docs/how-to/your-enactor.md).
FOR_AN_ENACTOR = {"Action", "Query", "SendUpdate", "ReadNewestPlan", "ListPlans", "DeletePlans",
                  "Sleep", "Result", "LookupResult", "UpdateOutcome", "PlanRead", "PlanList",
                  "Done", "Layout", "Plan", "Target", "LockValue", "Worker", "EnactorSettings",
                  "Variant", "Config", "Simulation", "run_memory", "run_async", "AsyncRun",
                  "ReplayChoices", "RandomChoices", "ChoiceSource", "RunResult", "Step",
                  "Violation", "explore", "Exploration", "load_replay", "save_replay"}


def test_every_public_name_of_each_package_is_importable_and_declared_once() -> None:
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = list(module.__all__)
        assert names == sorted(set(names), key=names.index), f"{package}: duplicates"
        for name in names:
            assert not name.startswith("_"), f"{package}.{name} is private"
            assert hasattr(module, name), f"{package}.__all__ names {name}, which is missing"


def test_everything_needed_to_write_run_and_explore_an_enactor_is_public() -> None:
    assert set(reproducer.__all__) >= FOR_AN_ENACTOR, FOR_AN_ENACTOR - set(reproducer.__all__)


def test_search_and_report_internals_are_not_public() -> None:
    assert not {"Marker", "TrafficPoint", "FollowWorkers", "minimise", "Run", "State"} & set(
        reproducer.__all__)


def _imports(source: str) -> list[tuple[str, str | None]]:
    """(module, name) for every import in `source`; name None for `import module`."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def _private_imports(source: str) -> list[str]:
    bad = []
    for module, name in _imports(source):
        if module.split(".")[0] not in PACKAGES:
            continue
        if module not in PUBLIC_MODULES:
            bad.append(f"{module} (not a public module)")
        elif name is not None and name not in getattr(importlib.import_module(module),
                                                      "__all__", ()):
            bad.append(f"{name} from {module} (not in its __all__)")
    return bad


def _python_blocks() -> list[Block]:
    return [b for page in doc_pages() for b in blocks(page) if b.kind == "python"]


def test_the_pages_have_python_examples_to_check() -> None:
    assert len(_python_blocks()) >= 5


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda b: b.where)
def test_the_python_on_the_pages_imports_only_public_names(block: Block) -> None:
    assert _private_imports(block.text) == [], block.where


def test_the_example_enactor_imports_only_public_names() -> None:
    source = (ROOT / "tests" / "helpers" / "example_enactor.py").read_text()
    assert _private_imports(source) == []


def test_the_private_import_check_catches_a_private_import() -> None:
    assert _private_imports("from reproducer.running.core import Run\n"
                            "from reproducer import minimise\n") == [
        "reproducer.running.core (not a public module)",
        "minimise from reproducer (not in its __all__)"]
