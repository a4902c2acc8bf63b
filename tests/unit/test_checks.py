"""The static checks CI runs, with the project's configuration (pyproject.toml): ruff over the
code, the tests and the benchmarks, and mypy over ``killswitch`` and ``adapters`` (the pure core
with the strict flags). ``make lint`` runs the same two commands; here a failure names the
findings. mypy keeps its cache in ``.mypy_cache``, so a run after the first takes seconds."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


# --- sizes -------------------------------------------------------------------------------------------
# A module of killswitch/ over ~600 lines, or a class over ~300, is where every change lands and
# nobody can hold it in mind: it is split by responsibility, or its docstring gives the reason it
# is not, in a paragraph that starts with "Size:". The bounds carry the "~" as a margin.

MODULE_LINES = 650
CLASS_LINES = 330


def _oversized(root: Path, packages: tuple[str, ...], module_lines: int, class_lines: int) -> list[str]:
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            src = path.read_text()
            tree = ast.parse(src, str(path))
            where = path.relative_to(root)
            lines = src.count("\n")
            if pkg == "killswitch" and lines > module_lines and "Size:" not in (ast.get_docstring(tree) or ""):
                out.append(f"{where}: module of {lines} lines")
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    if size > class_lines and "Size:" not in (ast.get_docstring(node) or ""):
                        out.append(f"{where}:{node.lineno}: class {node.name} of {size} lines")
    return out


def test_no_module_or_class_outgrows_its_bound_without_a_reason():
    found = _oversized(ROOT, ("killswitch", "adapters"), MODULE_LINES, CLASS_LINES)
    assert not found, ("split it by responsibility, or give the reason in its docstring (a paragraph "
                       "starting with \"Size:\"):\n" + "\n".join(found))


def test_the_size_check_finds_a_big_module_and_class_and_takes_a_reason(tmp_path):
    pkg = tmp_path / "killswitch"
    pkg.mkdir()
    body = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(150))  # a 450-line class

    def write(module_doc: str, class_doc: str) -> None:
        (pkg / "big.py").write_text(f'"""{module_doc}"""\n\n\nclass Big:\n    """{class_doc}"""\n\n{body}')

    write("A module.", "A class.")
    found = _oversized(tmp_path, ("killswitch",), 400, CLASS_LINES)
    assert [f.split(": ", 1)[1].rsplit(" of ", 1)[0] for f in found] == ["module", "class Big"], found
    write("A module.\n\nSize: a reason.", "A class.\n\n    Size: a reason.")
    assert _oversized(tmp_path, ("killswitch",), 400, CLASS_LINES) == []
