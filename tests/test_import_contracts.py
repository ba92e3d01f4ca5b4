"""The import contracts (`lint-imports`, [tool.importlinter] in pyproject.toml) pass on the
tree as it is, and fail, naming the contract, when a backwards import is added to a copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's packages and its pyproject.toml."""
    copy = tmp_path_factory.mktemp("tree")
    for package in ("blog", "config", "generation"):
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def test_the_contracts_hold_on_the_tree():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "backwards", "contract"),
    [
        ("blog/models.py", "import generation.models", "blog is a leaf"),
        (
            "generation/runs/service.py",
            "from generation.pipeline import runner",
            "the enqueue half (runs) loads nothing of the execution half",
        ),
        (
            "generation/research/text.py",
            "from django.contrib import admin",
            "research is pure fetching and search",
        ),
        (
            "generation/runs/lifecycle.py",
            "from generation.scheduling import service",
            "layers run one way",
        ),
    ],
)
def test_a_backwards_import_breaks_its_contract(tree, module, backwards, contract):
    path = tree / module
    original = path.read_text()
    path.write_text(f"{original}\n{backwards}  # added by the test\n")
    try:
        result = lint_imports(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
    assert backwards.split()[1] in result.stdout  # the offending import is named
