"""A venue is one folder (``adapters/venues/<venue>/``): the registries find it, nothing names it.

A venue package added to a copy of the adapters, with no other file touched (its ``__init__``
leaving its module names and simulator id to the registry's defaults), is in every
registry — the dialects (and the order raw answers are read in), the simulator's REST faces,
its stream faces and its accounts — and in the compiler's generated list of the ids with a
dialect; a package whose data disagrees with its modules, or that leaves a field out, is refused
by name; and the ccxt adapter's registry loads no simulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adapters.registry import venues

ROOT = Path(__file__).resolve().parents[3]
LAST = max(p.ORDER for p in venues()) + 1  # the made-up venue's place: after every real one
TAKEN = venues()[0].ORDER  # a place a real venue holds

INIT = '''"""A made-up venue (no ccxt id of its name), added as a folder."""

ORDER = {order}
CCXT_IDS = {ids}
STREAM_FACE = "face.stream"
'''
DIALECT = '''
from ...ccxt_exchange.dialects.base import Dialect
from ...ccxt_exchange.dialects.limits import Limits


class ZzFuturesDialect(Dialect):
    pass


DIALECTS = (ZzFuturesDialect(id="zzfutures", limits=Limits(3.0)),)
'''
FACE = '''
PREFIXES = ("/zz/api/v1/",)


async def handle(server, request):
    raise NotImplementedError


def sim_account(server, account, **fields):
    return ("zzfutures", account)
'''
STREAM_FACE = '''
class ZzStream:
    def __init__(self, server, **options):
        self.options = options

    def add_routes(self, app):
        pass

    async def start(self):
        pass

    async def stop(self):
        pass


def stream_face(server, **options):
    return ZzStream(server, **options)
'''
PROBE = '''
import json, sys
from adapters.ccxt_exchange.dialects import DIALECTS, KNOWN_RAW_FIELDS, dialect_for
dialects_alone = not any(m.startswith(("adapters.simulated", "aiohttp")) for m in sys.modules)
from adapters.simulated.faces import FACES
from adapters.simulated.venues import VENUES, sim_account
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from adapters.simulated.http import SimServer
from killswitch.dialect_tables import tables
server = SimServer(build("calm", ManualClock(0)), venue_streams={"zzfutures": {"tick_s": 0.5}})
print(json.dumps({
    "dialects": list(DIALECTS), "rate": dialect_for("zzfutures").limits.orders,
    "raw_fields": [type(d).__name__ for d in KNOWN_RAW_FIELDS.shapes], "dialects_alone": dialects_alone,
    "face": FACES.get("/zz/api/v1/") is not None, "sim_venues": list(VENUES),
    "account": list(sim_account(None, "a", "zzfutures")), "stream": server.zzfutures_stream.options,
    "compiler": "zzfutures" in tables()["DIALECT_VENUES"]}))
'''


def _copy_with_venue(tmp_path: Path, folder: str, init: str) -> Path:
    shutil.copytree(ROOT / "adapters", tmp_path / "adapters", ignore=shutil.ignore_patterns("__pycache__"))
    pkg = tmp_path / "adapters" / "venues" / folder
    (pkg / "face").mkdir(parents=True)  # a face split into a room (face/), a one-module dialect
    (pkg / "__init__.py").write_text(init)
    for name, text in (("dialect", DIALECT), ("face/__init__", FACE), ("face/stream", STREAM_FACE)):
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    return tmp_path


def _probe(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_new_venue_folder_is_in_every_registry_and_nothing_else_is_edited(tmp_path):
    root = _copy_with_venue(tmp_path, "zzfutures", INIT.format(order=LAST, ids='("zzfutures",)'))
    r = _probe(root)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    from adapters.ccxt_exchange.dialects import DIALECTS, KNOWN_RAW_FIELDS

    assert got["dialects"] == [*DIALECTS, "zzfutures"]
    assert got["rate"] == 3.0
    # raw answers are read in registry order, the new venue's fields last (its ORDER)
    assert got["raw_fields"] == [*(type(d).__name__ for d in KNOWN_RAW_FIELDS.shapes), "ZzFuturesDialect"]
    assert got["dialects_alone"], "reading the dialects loaded the simulator"
    assert got["face"] and got["sim_venues"][-1] == "zzfutures"
    assert got["account"] == ["zzfutures", "a"] and got["stream"] == {"tick_s": 0.5}
    assert got["compiler"], "the compiler would not see the new venue's dialect"


@pytest.mark.parametrize("init, said", [
    (INIT.format(order=LAST, ids='("zzfutures", "zzspot")') + 'SIM_ID = "zzfutures"\n',  # two ids: it names one
     "adapters/venues/zz: CCXT_IDS ('zzfutures', 'zzspot') but its dialects are ('zzfutures',)"),
    (INIT.format(order=TAKEN, ids='("zzfutures",)'), "two venue packages declare the same ORDER"),
    (INIT.format(order=LAST, ids='("zzfutures",)').replace('CCXT_IDS = ("zzfutures",)\n', ""),
     "adapters.venues.zz does not declare CCXT_IDS"),
    (INIT.format(order=LAST, ids='("zzfutures", "zzspot")'), "adapters.venues.zz does not declare SIM_ID"),
])
def test_a_venue_folder_whose_data_is_wrong_is_refused_by_name(tmp_path, init, said):
    r = _probe(_copy_with_venue(tmp_path, "zz", init))
    assert r.returncode != 0 and said in r.stderr, r.stderr


def test_the_registries_order_is_the_packages_and_every_package_declares_its_fields():
    from adapters.registry import FIELDS, HOME, folder_names

    # every folder holding a package is a venue, in the order of its ORDER (each its own)
    folders = {p.parent.name for p in HOME.glob("*/__init__.py")}
    assert folders and set(folder_names()) == folders
    found = venues()
    assert [p.__name__.rsplit(".", 1)[1] for p in found] == sorted(folders, key=lambda v: {
        p.__name__.rsplit(".", 1)[1]: p.ORDER for p in found}[v])
    assert [p.ORDER for p in found] == sorted({p.ORDER for p in found})
    assert all(hasattr(p, f) for p in found for f in FIELDS)


def test_every_venue_fixture_is_in_its_readme_which_says_whether_it_is_verbatim():
    from adapters.registry import HOME, folder_names

    for venue in folder_names():
        fixtures = HOME / venue / "fixtures"
        # the README's table of its files; its row of the exchanges table is under a heading of its own
        readme, _, exchanges_row = (fixtures / "README.md").read_text().partition("\n## In the exchanges table\n")
        files = {p.name for p in fixtures.glob("*.json")}
        rows = {line.split("`")[1]: line for line in readme.splitlines() if line.startswith("| `")}
        assert files and set(rows) == files, (venue, sorted(files ^ set(rows)))
        verbatim = sum(1 for line in rows.values() if "recording, verbatim" in line)
        assert f"Verbatim recordings: {verbatim} of {len(files)}" in readme, venue
        assert exchanges_row.count("\n| ") >= 2, f"{venue}: its row of docs/exchanges.md (docs/hooks/exchanges.py)"
