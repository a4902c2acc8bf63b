"""The static checks CI runs, with the project's configuration (pyproject.toml): ruff over the
code, the tests and the benchmarks, and mypy over ``killswitch`` and ``adapters`` (the pure core
with the strict flags). ``make lint`` runs the same two commands; here a failure names the
findings. mypy keeps its cache in ``.mypy_cache``, so a run after the first takes seconds."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, require_module


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    require_module("ruff")
    r = _run("ruff", "check", "killswitch", "adapters", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_finds_nothing():
    require_module("mypy")
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout, r.stdout
