"""Shared test helpers: the repository root, golden files, and tools that CI must have."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files; review the diff")


@pytest.fixture
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it, or fail when KS_REQUIRE_ALL=1 (as in CI)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("KS_REQUIRE_ALL") == "1":
            pytest.fail(f"{name} is required (KS_REQUIRE_ALL=1) but not installed")
        pytest.skip(f"{name} not installed")
    return path


def check_golden(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        if not update and os.environ.get("KS_REQUIRE_ALL") == "1":
            pytest.fail(f"golden file {path} is missing; run pytest --update-goldens and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    expected = path.read_text()
    assert actual == expected, f"{path} differs; rerun with --update-goldens and review the diff"
