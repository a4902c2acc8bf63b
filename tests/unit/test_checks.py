"""The static checks CI runs, with the project's configuration (pyproject.toml): ruff over the
code, the tests and the benchmarks, and mypy over ``killswitch`` and ``adapters`` (the pure core
with the strict flags). ``make lint`` runs the same two commands; here a failure names the
findings. mypy keeps its cache in ``.mypy_cache``, so a run after the first takes seconds."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_module


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    require_module("ruff")
    r = _run("ruff", "check", "killswitch", "adapters", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
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
# A "Size:" paragraph gives its figure ("about 740 lines"); the reason holds while the code is
# within this share of it: grown or shrunk past it, the figure (and the reason) is read again.
SIZE_NOTE_MARGIN = 0.15
_SIZE_NOTE = re.compile(r"Size:\s+about\s+([\d,]+)\s+lines")


def _size_note(doc: str | None, actual: int, what: str) -> list[str]:
    """What is wrong with ``what``'s Size: note against its ``actual`` size (nothing: none, or it holds)."""
    if not doc or "Size:" not in doc:
        return []
    m = _SIZE_NOTE.search(doc)
    if m is None:
        return [f"{what}: its Size: paragraph gives no figure (\"Size: about N lines ...\")"]
    said = int(m.group(1).replace(",", ""))
    if abs(actual - said) > SIZE_NOTE_MARGIN * said:
        return [f"{what} is {actual} lines; its Size: note says about {said}"]
    return []


def _oversized(root: Path, packages: tuple[str, ...], module_lines: int, class_lines: int) -> list[str]:
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            src = path.read_text()
            tree = ast.parse(src, str(path))
            where = path.relative_to(root)
            lines = src.count("\n")
            doc = ast.get_docstring(tree)
            if pkg == "killswitch" and lines > module_lines and "Size:" not in (doc or ""):
                out.append(f"{where}: module of {lines} lines")
            out += _size_note(doc, lines, f"{where}: module")
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    cdoc = ast.get_docstring(node)
                    if size > class_lines and "Size:" not in (cdoc or ""):
                        out.append(f"{where}:{node.lineno}: class {node.name} of {size} lines")
                    out += _size_note(cdoc, size, f"{where}:{node.lineno}: class {node.name}")
    return out


@pytest.mark.slow
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
    write("A module.\n\nSize: about 460 lines, a reason.", "A class.\n\n    Size: about 450 lines, a reason.")
    assert _oversized(tmp_path, ("killswitch",), 400, CLASS_LINES) == []


def test_a_size_note_whose_figure_no_longer_holds_or_is_missing_is_found(tmp_path):
    pkg = tmp_path / "killswitch"
    pkg.mkdir()
    body = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(150))  # a 450-line class

    def write(module_doc: str, class_doc: str) -> None:
        (pkg / "big.py").write_text(f'"""{module_doc}"""\n\n\nclass Big:\n    """{class_doc}"""\n\n{body}')

    write("A module.\n\nSize: about 1,000 lines, a reason.", "A class.\n\n    Size: because.")
    found = _oversized(tmp_path, ("killswitch",), 400, CLASS_LINES)
    assert len(found) == 2 and "its Size: note says about 1000" in found[0] and "gives no figure" in found[1], found
    write("A module.\n\nSize: about 300 lines, a reason.", "A class.\n\n    Size: about 390 lines, a reason.")
    found = _oversized(tmp_path, ("killswitch",), 400, CLASS_LINES)
    assert [f.split(" is ")[1] for f in found] == ["460 lines; its Size: note says about 300",
                                                  "454 lines; its Size: note says about 390"], found
