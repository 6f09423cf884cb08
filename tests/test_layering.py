"""Package layering: the model-side packages never reach into data generation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vmc

ROOT = Path(vmc.__file__).parent
#: Packages that plain networks and renderers live in, and the modules they must not import.
FORBIDDEN = ("vmc.data", "vmc.motion.procedural")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", ["lwg", "render", "body"])
def test_model_packages_do_not_import_data_generation(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.startswith(FORBIDDEN))
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
