"""The import layers, checked: the contracts of ``[tool.importlinter]`` in pyproject.toml, run by
``lint-imports``, and what a contract cannot say.

The layers, bottom up (see docs/architecture.md): ``policy`` → ``compile`` → ``snapshot`` /
``events`` → ``engine`` → ``adapters`` → ``preview`` → ``view`` → ``runner`` → ``face`` → the sinks
(``telemetry``, ``notify``, ``runbooks``, ``audit``) → ``cli``. The contracts state them: the core
layered within and importing nothing above it nor a heavy or I/O library, RE2 by the label
patterns alone, the previews below the runner and the sinks, the view (the values the API
answers) below the runner and pure, the face above the runner (its readout too), the sinks never importing the
runner nor the command line, nothing importing what wires it, and no import circle. grimp reads
every import from the source, one inside a function or under ``if TYPE_CHECKING`` too: a lazy
import still ties the layers together, and a circle through one still makes the modules one unit.
Each contract is shown to fail on an import planted in a copy of the source.

What a contract cannot say stays here, read with :mod:`ast`: that numpy and RE2 are imported
by the core only inside functions (a contract sees whether a module imports them, not where),
and that the core never imports ``urllib.request`` (a contract sees ``urllib`` whole, and the
core uses ``urllib.parse``).
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("killswitch/policy", "killswitch/compile", "killswitch/engine", "killswitch/snapshot.py",
        "killswitch/orders.py", "killswitch/order_statuses.py", "killswitch/events.py")
LAZY_IN_CORE = ("numpy", "re2")
NEVER_IN_CORE = ("urllib.request",)
CONTRACTS = {c["id"]: c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
             ["contracts"]}

# one import per contract that breaks it (a module of its own, or a line added to one), each
# named in the contract's report: {contract: (file, source, what the report names)}
PLANTED = {
    "core-layers": ("killswitch/policy/zz_upward.py", "from killswitch.engine import evaluate\n",
                    "killswitch.policy.zz_upward -> killswitch.engine.evaluate"),
    "core-above": ("killswitch/engine/zz_above.py",
                   "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from killswitch.state import store\n",
                   "killswitch.engine.zz_above -> killswitch.state.store"),
    "core-libraries": ("killswitch/engine/zz_lib.py", "def f():\n    import ccxt\n",
                       "killswitch.engine.zz_lib -> ccxt"),
    "re2-patterns": ("killswitch/runner/zz_re2.py", "import re2\n", "killswitch.runner.zz_re2 -> re2"),
    "patterns-leaf": ("killswitch/policy/zz_silences.py", "from killswitch import silences\n",
                      "killswitch.policy.zz_silences -> killswitch.silences"),
    "preview-below": ("killswitch/preview/zz_state.py", "from killswitch.state import store\n",
                      "killswitch.preview.zz_state -> killswitch.state.store"),
    "preview-io": ("killswitch/preview/zz_io.py", "import sqlite3\n", "killswitch.preview.zz_io -> sqlite3"),
    "sinks": ("killswitch/notify/zz_runner.py", "from killswitch.runner.tick import loop\n",
              "killswitch.notify.zz_runner -> killswitch.runner.tick.loop"),
    "wiring": ("killswitch/notify/zz_wiring.py", "import killswitch.process.shard\n",
               "killswitch.notify.zz_wiring -> killswitch.process.shard"),
    "drift-compare": ("killswitch/drift/compare.py", "import subprocess\n", "killswitch.drift.compare -> subprocess"),
    "facts-below": ("killswitch/facts/zz_screen.py", "from killswitch.render import status\n",
                    "killswitch.facts.zz_screen -> killswitch.render.status"),
    "wiring-render": ("killswitch/state/zz_render.py", "import killswitch.client\n",
                      "killswitch.state.zz_render -> killswitch.client"),
    "client-room": ("killswitch/client/documents.py", "from killswitch.client import transport\n",
                    "killswitch.client.documents -> killswitch.client.transport"),
    "watch-enforce": ("killswitch/runner/watch/enforce/legs.py", "from killswitch.runner.watch.enforce import orders\n",
                      "killswitch.runner.watch.enforce.legs -> killswitch.runner.watch.enforce.orders"),
    "venue-packages": ("adapters/ccxt_exchange/zz_venue.py", "import adapters.venues.okx.dialect\n",
                       "adapters.ccxt_exchange.zz_venue -> adapters.venues.okx.dialect"),
    "venue-dialects": ("adapters/venues/okx/dialect/stream.py", "import adapters.simulated.engine\n",
                       "adapters.venues.okx.dialect.stream -> adapters.simulated.engine"),
    # (the lock, the runner's bottom room, reaching up to the store calls, which import none of the
    # runner: no circle)
    "runner-rooms": ("killswitch/runner/lock/zz_up.py", "from killswitch.runner import storeio\n",
                     "killswitch.runner.lock.zz_up -> killswitch.runner.storeio"),
    # (the runner's lock reaching up to the face's view of it: the face sits above the runner)
    "face-above": ("killswitch/runner/lock/zz_face.py", "from killswitch.face.console import chart_svg\n",
                   "killswitch.runner.lock.zz_face -> killswitch.face.console.chart_svg"),
    # (an operator's command naming the readout for a type: the reads people see stand above the runner)
    "readout-above": ("killswitch/runner/operator/zz_readout.py",
                      "from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from killswitch.face.readout import readout\n",
                      "killswitch.runner.operator.zz_readout -> killswitch.face.readout.readout"),
    # (the tick naming the firm link: a runner's link to the firm plugs in from above, into its slot)
    "firmlink-above": ("killswitch/runner/tick/zz_firm.py", "from killswitch.firmlink import firm\n",
                       "killswitch.runner.tick.zz_firm -> killswitch.firmlink.firm"),
    # (the values the operations answer opening a file: the client reads them without I/O)
    "view-pure": ("killswitch/view/zz_io.py", "import sqlite3\n", "killswitch.view.zz_io -> sqlite3"),
    # (in adapters: the imports planted in killswitch above make circles of their own there)
    # (the report names the one import of the two whose removal breaks the circle)
    "no-circles": ("adapters/zz_circle_a.py", "from . import zz_circle_b\n", "-> .zz_circle_"),
}
EXTRA = {"adapters/zz_circle_b.py": "from . import zz_circle_a\n"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` (the test extra installs it beside this Python) on the source under ``root``."""
    exe = Path(sys.executable).parent / "lint-imports"
    assert exe.exists(), f"{exe} is missing: make venv installs it (import-linter, in the test extra)"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_hold():
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in r.stdout, r.stdout


def test_every_contract_fails_on_an_import_that_breaks_it(tmp_path):
    assert set(PLANTED) == set(CONTRACTS), "each contract has its planted import"
    assert all(len(name) <= 64 for name in CONTRACTS.values()), "a longer name is wrapped in the report"
    for part in ("killswitch", "adapters"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for path, source, _ in PLANTED.values():
        with open(tmp_path / path, "a") as f:
            f.write(source)
    for path, source in EXTRA.items():
        (tmp_path / path).write_text(source)
    r = lint_imports(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"Contracts: 0 kept, {len(CONTRACTS)} broken." in r.stdout, r.stdout
    report = r.stdout.split("Broken contracts", 1)[1]
    names = sorted(((report.index("\n" + name + "\n"), cid) for cid, name in CONTRACTS.items()))
    for (start, cid), (end, _) in zip(names, names[1:] + [(len(report), "")]):
        assert PLANTED[cid][2] in report[start:end], f"{cid}: {PLANTED[cid][2]} not named:\n{report[start:end]}"


@functools.cache
def core_imports() -> list[tuple[str, str, bool]]:
    """Every import of the core: (file:line, module, inside a function)."""
    out = []
    for part in CORE:
        p = ROOT / part
        for path in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            out += [(f"{path.relative_to(ROOT)}:{line}", mod, lazy)
                    for line, mod, lazy in imports_of(path.read_text(), str(path))]
    return out


def imports_of(source: str, name: str) -> list[tuple[int, str, bool]]:
    """Every import in ``source``: (line, module, inside a function)."""
    tree = ast.parse(source, name)
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, id(node) in in_function) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out += [(node.lineno, f"{node.module}.{a.name}", id(node) in in_function) for a in node.names]
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("library", LAZY_IN_CORE)
def test_the_core_imports_numpy_and_re2_only_inside_functions(library):
    # pure computation, so the core may use them; but only inside the functions that compute with
    # them — numpy: a large scope's risk scores, its positions near liquidation, and the function a
    # runner warms it with; re2: the functions that compile a label pattern —, so that loading the
    # core (ksctl validate of policies alone) never pays their import
    found = [(where, lazy) for where, mod, lazy in core_imports() if _within(mod, (library,))]
    assert found and all(lazy for _, lazy in found), [w for w, lazy in found if not lazy]


def test_the_core_never_imports_urllib_request():
    found = [f"{where}: {mod}" for where, mod, _ in core_imports() if _within(mod, NEVER_IN_CORE)]
    assert not found, "the pure core reads outside the process (hand the lookup in):\n" + "\n".join(found)


def test_the_checks_see_an_import_at_the_top_inside_a_function_and_by_from():
    src = "import numpy\nfrom urllib.request import urlopen\ndef f():\n    import re2\n"
    assert imports_of(src, "x.py") == [(1, "numpy", False), (2, "urllib.request.urlopen", False), (4, "re2", True)]
