"""Nothing the runner's loop runs calls the state store itself, checked from the source.

A store call made on the loop holds it for as long as the store takes to answer: a paused
PostgreSQL server then stops ``/readyz``, ``/v1/status`` and ``/metrics`` with it. The runner's
coroutines reach the store through its store thread (``await self.io(self.store.fn, ...)``,
which names the method without calling it), and sync code the loop runs (a sink) through the
sink context's reads and writes (:class:`~killswitch.runner.sinks.context.StoreReads`), which
wait on that thread a bounded time. Read with :mod:`ast` (nothing imported): a coroutine that
calls ``<...>.store.<method>(...)`` is named with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from killswitch.state.store import StateStore

ROOT = Path(__file__).resolve().parents[3]
METHODS = {n for n in dir(StateStore) if not n.startswith("_")}


def _store_calls_in_coroutines(source: str) -> list[tuple[int, str]]:
    """(line, call) of every call of a state store method on something named ``store`` (an
    attribute or a name) inside an ``async def``, a lambda's body excepted (it runs where it is
    handed: the store thread)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_async: bool) -> None:
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_async = isinstance(node, ast.AsyncFunctionDef)
        if in_async and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in METHODS:
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
            if name in ("store", "_store"):
                found.append((node.lineno, ast.unparse(node.func)))
        for child in ast.iter_child_nodes(node):
            visit(child, in_async)

    visit(ast.parse(source), False)
    return found


def test_the_runners_coroutines_reach_the_store_through_its_store_thread_only():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {call}(...)"
                 for path in sorted((ROOT / "killswitch" / "runner").rglob("*.py"))
                 for line, call in _store_calls_in_coroutines(path.read_text())]
    assert offenders == [], "store calls on the runner's loop (await self.io(self.store.fn, ...) instead):\n" + \
        "\n".join(offenders)


def test_the_check_names_a_direct_call_and_passes_one_through_the_store_thread():
    source = """
class Part:
    async def bad(self):
        return self.store.journal(limit=1)

    async def good(self):
        return await self.io(self.store.journal, 1), await self.io(lambda: self.store.lease())

    def sync_elsewhere(self):
        return self.store.lease()
"""
    assert _store_calls_in_coroutines(source) == [(4, "self.store.journal")]
