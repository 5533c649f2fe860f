"""The second act's room sits below the story, the play server, telling and the CLI: it imports
fake_dns and fake_lb by their public names and nothing from those layers (lazy imports count)."""

from __future__ import annotations

import ast

from tests.test_package_boundaries import ROOT, imported_names, module_name

FORBIDDEN = ("reproducer.telling", "reproducer.cli", "reproducer.story", "reproducer.play")


def test_the_metastable_room_imports_no_application_telling_or_cli_module() -> None:
    bad = []
    for path in sorted((ROOT / "reproducer" / "metastable").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, dotted in imported_names(tree, module_name(ROOT, path),
                                           path.name == "__init__.py"):
            if dotted.startswith(FORBIDDEN):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {dotted}")

    assert bad == []
