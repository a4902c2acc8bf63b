"""The import layers, checked: what the pure core may import, and no import circles anywhere.

The layers, bottom up (see ARCHITECTURE.md): ``policy`` → ``compile`` → ``snapshot`` / ``events``
→ ``engine`` → ``adapters`` → ``preview`` → ``runner`` → the sinks (``telemetry``, ``notify``,
``runbooks``, ``audit``) → ``cli``. The pure core (policy, compile, engine, snapshot, events)
imports nothing above it and none of the heavy or I/O libraries (numpy and RE2, pure
computation, only inside functions); the previews (plan, replay,
diff, policy tests) import only the core and the adapters, and do no I/O; the sinks never import
the runner nor the command line. Every
import counts, also one inside a function or under ``if TYPE_CHECKING``: a lazy import still
ties the layers together, and a circle through one still makes the modules one unit.

The graph is read from the source with :mod:`ast` (nothing is imported), so a violation is
named with its file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("killswitch", "adapters")

CORE = ("killswitch.policy", "killswitch.compile", "killswitch.engine", "killswitch.snapshot", "killswitch.orders",
        "killswitch.events")
ABOVE_CORE = ("killswitch.preview", "killswitch.runner", "adapters", "killswitch.telemetry", "killswitch.notify",
              "killswitch.runbooks", "killswitch.audit", "killswitch.cli", "killswitch.render", "killswitch.state",
              "killswitch.bootstrap")
HEAVY = ("ccxt", "apprise", "opentelemetry", "aiohttp", "psycopg", "jinja2", "numpy", "re2")
# C libraries doing pure computation (numpy's arrays, RE2's label patterns): the core may import
# them inside a function, never when it is loaded
LAZY_IN_CORE = ("numpy", "re2")
# modules whose use reads or writes outside the process: the core is handed what they would give
IO = ("zoneinfo", "socket", "subprocess", "urllib.request", "http", "sqlite3", "shutil", "tempfile")
SINKS = ("killswitch.telemetry", "killswitch.notify", "killswitch.runbooks", "killswitch.audit")
PREVIEW = ("killswitch.preview",)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # what it names: a module of ours, or a third-party top-level name
    path: Path
    line: int
    lazy: bool = False  # inside a function: importing the module does not import it

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(mods: dict[str, Path]) -> list[Import]:
    out = []
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # ``from pkg import name`` names a module when ``pkg.name`` is one
                names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix for a in node.names]
            else:
                continue
            for name in names:
                target = name
                while target not in mods and "." in target:  # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target in mods or target.split(".")[0] not in PACKAGES:
                    out.append(Import(mod, target if target in mods else name.split(".")[0], path, node.lineno,
                                      id(node) in in_function))
    return list(dict.fromkeys(out))  # one line naming several things of one module: once


MODS = _modules()
IMPORTS = _imports(MODS)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_pure_core_imports_nothing_above_it_and_no_heavy_library():
    bad = [str(i) for i in IMPORTS if _within(i.source, CORE) and (_within(i.target, ABOVE_CORE) or i.target in HEAVY)
           and not (i.lazy and i.target in LAZY_IN_CORE)]
    assert not bad, "the pure core reaches up the layers:\n" + "\n".join(bad)


@pytest.mark.parametrize("library", LAZY_IN_CORE)
def test_the_core_imports_numpy_and_re2_only_inside_functions(library):
    # pure computation, so the core may use them; but only inside the functions that compute with
    # them — numpy: a large scope's risk scores, its positions near liquidation, and the function a
    # runner warms it with; re2: the functions that compile a label pattern —, so that loading the
    # core (ksctl validate of policies alone) never pays their import
    lazy = [i for i in IMPORTS if _within(i.source, CORE) and i.target == library]
    assert lazy and all(i.lazy for i in lazy), [str(i) for i in lazy if not i.lazy]


def test_re2_is_imported_by_the_label_patterns_alone():
    """Every pattern a person writes is compiled in one place, anchored and bounded there."""
    where = {i.source for i in IMPORTS if i.target == "re2"}
    assert where == {"killswitch.policy.patterns"}, where


def test_the_pure_core_imports_no_module_that_reads_outside_the_process():
    bad = [str(i) for i in IMPORTS if _within(i.source, CORE) and _within(i.target, IO)]
    assert not bad, "the pure core does I/O (hand the lookup in, as templates and zones are):\n" + "\n".join(bad)


def test_the_previews_import_only_the_core_and_the_adapters():
    """A preview runs the engine over snapshots handed in: the renderers and the command line sit
    above it, and it is no part of the runner, the state or the sinks."""
    allowed = CORE + PREVIEW + ("adapters",)
    bad = [str(i) for i in IMPORTS if _within(i.source, PREVIEW) and i.target.split(".")[0] in PACKAGES
           and not _within(i.target, allowed)]
    assert not bad, "a preview reaches above the core and the adapters:\n" + "\n".join(bad)


def test_the_previews_import_no_module_that_reads_outside_the_process():
    bad = [str(i) for i in IMPORTS if _within(i.source, PREVIEW) and (_within(i.target, IO) or i.target in HEAVY)]
    assert not bad, "a preview does I/O (the command line reads the files and hands the lines in):\n" + "\n".join(bad)


def test_the_sinks_never_import_the_runner():
    bad = [str(i) for i in IMPORTS if _within(i.source, SINKS) and _within(i.target, ("killswitch.runner",))]
    assert not bad, "a sink imports the runner (sinks get events and a narrow context):\n" + "\n".join(bad)


def test_the_sinks_never_import_the_command_line():
    """The command line is the top layer: a sink that reached into it would print or parse options
    from inside the runner's process."""
    bad = [str(i) for i in IMPORTS if _within(i.source, SINKS) and _within(i.target, ("killswitch.cli",))]
    assert not bad, "a sink imports the command line:\n" + "\n".join(bad)


def test_the_runner_never_imports_what_wires_it():
    """The bootstrap and the daemon build the runner from options; the runner, the state and the
    adapters never reach back up to them or to the command line."""
    below = ("killswitch.runner", "killswitch.state", "adapters")
    above = ("killswitch.bootstrap", "killswitch.daemon", "killswitch.cli", "killswitch.render", "killswitch.client")
    bad = [str(i) for i in IMPORTS if _within(i.source, below) and _within(i.target, above)]
    assert not bad, "a module below the bootstrap imports what wires it:\n" + "\n".join(bad)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _edges(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODS}
    for i in imports:
        if i.target in MODS and i.target != i.source:
            # a package's __init__ importing its own submodules is how a package re-exports: the
            # submodule importing the package back is the circle, and that one is counted
            if i.source.startswith(i.target + ".") and MODS[i.target].name == "__init__.py":
                continue
            edges[i.source].add(i.target)
    return edges


def test_there_is_no_import_circle():
    circles = _circles(_edges(IMPORTS))
    where = []
    for c in circles:
        members = set(c)
        where += [f"  {i}" for i in IMPORTS if i.source in members and i.target in members]
    assert not circles, "modules that import each other:\n" + "\n".join(where)


@pytest.mark.parametrize("edges, circles", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles(edges, circles):
    assert _circles(edges) == circles


def test_the_checks_see_an_import_inside_a_function_and_under_type_checking(tmp_path):
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..runner.loop import Runner\n"
           "def f():\n    import ccxt\n")
    mods = {"killswitch.engine.fake": tmp_path / "fake.py", "killswitch.runner.loop": tmp_path / "loop.py"}
    (tmp_path / "fake.py").write_text(src)
    (tmp_path / "loop.py").write_text("")
    found = {(i.source, i.target) for i in _imports(mods)}
    assert ("killswitch.engine.fake", "killswitch.runner.loop") in found
    assert ("killswitch.engine.fake", "ccxt") in found
