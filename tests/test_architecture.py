"""Imports flow one way (DESIGN §2): app → collectors, app → scoring; never back or across."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "collectors": {"app", "scoring", "simulator"},
    "scoring": {"app", "collectors", "simulator"},
    "simulator": {"app", "scoring"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_pure_packages_do_not_import_upwards(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): bad
        for path in (ROOT / package).rglob("*.py")
        if (bad := imported_packages(path) & FORBIDDEN[package])
    }
    assert offenders == {}


def test_the_rule_is_not_vacuous() -> None:
    assert "app" in imported_packages(ROOT / "app" / "cli" / "main.py")
    assert any((ROOT / pkg).rglob("*.py") for pkg in FORBIDDEN)
