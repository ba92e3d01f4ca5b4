"""The layout of generation/ shows its architecture (ARCHITECTURE.md): small packages, each
saying in its `__init__` what it owns and what it may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GENERATION = Path(__file__).resolve().parent.parent / "generation"
# Django finds commands only as modules of this one directory, and migrations are numbered.
FLAT_BY_DJANGO = {GENERATION / "management" / "commands", GENERATION / "migrations"}
PACKAGES = sorted(
    path.parent
    for path in GENERATION.rglob("__init__.py")
    if "__pycache__" not in path.parts and path.parent not in FLAT_BY_DJANGO
)
LAYERS = ["runs", "operations", "execution", "pipeline", "research", "scheduling", "admin"]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: str(p.relative_to(GENERATION.parent)))
def test_no_package_root_holds_more_than_15_modules(package):
    assert len(list(package.glob("*.py"))) <= 15


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_says_what_it_owns_and_what_it_may_import(name):
    docstring = ast.get_docstring(ast.parse((GENERATION / name / "__init__.py").read_text()))
    assert docstring and "may import" in docstring.lower()
