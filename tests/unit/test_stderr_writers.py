"""Who writes to stderr: the command line and the log, nobody else.

Everything the process says on its own goes through :mod:`logging`, where :mod:`killswitch.logs`
puts a timestamp and a level on it, writes JSON on request and scrubs secrets; a bare line on
stderr skips all three. The command line (``killswitch/cli/``) prints its usage and its errors
for a person, and a module run as a command (``python -m``) may print its usage from its
``main``; :mod:`killswitch.logs` itself is the handler that writes the lines.

Read from the source with :mod:`ast` (an import-linter contract speaks of imports, not of calls):
a violation is named with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("killswitch", "adapters")
ALLOWED = ("killswitch/cli/", "killswitch/logs.py")


def _is_stderr(node: ast.AST) -> bool:
    """``sys.stderr``, ``sys.__stderr__``, or ``stderr`` taken from sys by name."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys":
        return node.attr in ("stderr", "__stderr__")
    return isinstance(node, ast.Name) and node.id in ("stderr", "__stderr__")


def _writes_stderr(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name) and f.id == "print":
        return any(k.arg == "file" and _is_stderr(k.value) for k in call.keywords)
    if isinstance(f, ast.Attribute) and f.attr in ("write", "writelines") and _is_stderr(f.value):
        return True
    # click.echo(..., err=True) and click.secho(..., err=True)
    if isinstance(f, ast.Attribute) and f.attr in ("echo", "secho"):
        return any(k.arg == "err" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                   for k in call.keywords)
    return False


def _main_of_a_command(tree: ast.Module) -> set[int]:
    """The line numbers inside ``main`` of a module run as a command (it has an
    ``if __name__ == "__main__":`` block): its usage message is for a person, as the CLI's are."""
    guarded = any(isinstance(n, ast.If) and isinstance(n.test, ast.Compare)
                  and isinstance(n.test.left, ast.Name) and n.test.left.id == "__name__" for n in tree.body)
    if not guarded:
        return set()
    lines: set[int] = set()
    for n in tree.body:
        if isinstance(n, ast.FunctionDef) and n.name == "main":
            lines |= set(range(n.lineno, (n.end_lineno or n.lineno) + 1))
    return lines


def stderr_writes(source: str, name: str) -> list[int]:
    """The lines of ``source`` that write to stderr outside a command's ``main``."""
    tree = ast.parse(source, name)
    usage = _main_of_a_command(tree)
    return sorted({n.lineno for n in ast.walk(tree)
                   if isinstance(n, ast.Call) and _writes_stderr(n) and n.lineno not in usage})


@pytest.mark.slow
def test_no_module_outside_the_command_line_writes_to_stderr_but_through_the_log():
    bad = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(ALLOWED):
                continue
            bad += [f"{rel}:{line}" for line in stderr_writes(path.read_text(), rel)]
    assert not bad, "writes to stderr past the log (use logging.getLogger(...).error):\n" + "\n".join(bad)


def test_the_check_sees_every_way_of_writing_to_stderr():
    src = ("import sys\nfrom sys import stderr\nimport click\n"
           "def f(e):\n"
           "    print('boom', file=sys.stderr)\n"
           "    sys.stderr.write('boom')\n"
           "    print('boom', file=stderr)\n"
           "    click.echo('boom', err=True)\n"
           "    sys.__stderr__.write('boom')\n"
           "    print('fine')\n"
           "    click.echo('fine', err=False)\n")
    assert stderr_writes(src, "fake.py") == [5, 6, 7, 8, 9]


def test_a_commands_usage_in_its_main_is_allowed_and_nothing_else_of_it():
    src = ("import sys\n"
           "def main(argv):\n"
           "    print('usage: python -m x', file=sys.stderr)\n"
           "    return 2\n"
           "def helper():\n"
           "    print('oops', file=sys.stderr)\n"
           "if __name__ == '__main__':\n"
           "    raise SystemExit(main(sys.argv[1:]))\n")
    assert stderr_writes(src, "fake.py") == [6]
    without_guard = src.rsplit("if __name__", 1)[0]
    assert stderr_writes(without_guard, "fake.py") == [3, 6]
