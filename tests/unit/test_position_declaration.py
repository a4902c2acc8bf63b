"""One declaration of a position: ``Position`` in killswitch/snapshot.py, from which the columns,
the adapters' rows and the stream state's legs derive.

- the columns are the fields the declaration marks, in its order, and the names the engine reads
  them by are declared columns;
- a field added to the declaration (here, to a copy of the code, in a process of its own) is on
  the positions of every builder — the ccxt parsing, the stream state, the simulated adapter,
  the position lists and the engine's columns — at its default where the builder does not know
  it, read from the venue's own field where a dialect names it, kept from REST by the stream:
  never an AttributeError where nobody wrote it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from killswitch.engine.columns import Columns
from killswitch.snapshot import COLUMN_FIELDS, COLUMNS, ColumnNames, Position, PositionColumns, PositionList, row_of

from .engine_helpers import pos

ROOT = Path(__file__).resolve().parents[2]


def test_the_columns_are_the_fields_the_declaration_marks_in_its_order():
    fields = list(Position.model_fields)
    assert list(COLUMN_FIELDS) == sorted(COLUMN_FIELDS, key=fields.index)
    assert {"symbol", "side", "position_side", "contracts", "notional", "mark_price", "unrealized_pnl",
            "liquidation_price", "margin"} <= set(COLUMN_FIELDS)
    assert "contract_size" not in COLUMNS
    assert COLUMNS["strategy"] == "strategies"  # the catalog of names reads it every tick, no model made
    named = set(ColumnNames.__annotations__) - {"side_keys"}
    assert named <= set(COLUMNS.values()), named - set(COLUMNS.values())  # a typed name is a declared column
    p = pos("BTC/USDT:USDT", "short", 2.0, 50.0, -3.0, liq=60.0, margin=10.0, position_side="SHORT")
    assert row_of(p) == tuple(getattr(p, f) for f in COLUMN_FIELDS)
    cols = PositionList.of([p]).columns
    assert cols is not None and [cols.column(f) for f in COLUMN_FIELDS] == [[v] for v in row_of(p)]
    assert [Columns([p]).column(f) for f in COLUMN_FIELDS] == [[v] for v in row_of(p)]


def test_columns_given_as_columns_take_their_fields_defaults_and_refuse_a_missing_required_one():
    cols = PositionColumns.of_columns(symbols=["A/USDT:USDT"], sides=["long"], contracts=[1.0], notional=[2.0],
                                      marks=[2.0], upnl=[0.0])
    fields = Position.model_fields
    defaults = {f: fields[f].default for f in COLUMN_FIELDS if not fields[f].is_required()}
    assert {f: cols.column(f) for f in defaults} == {f: [d] for f, d in defaults.items()}
    assert cols.side_keys == ["long"]


# Run in a copy of the code whose Position declares two more fields: a column and a plain field.
PROBE = '''
import asyncio

from adapters.ccxt_exchange import parsing
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS, KnownRawFields, Limits
from adapters.venues.binance.dialect import BinanceDialect
from adapters.ccxt_exchange.streaming.state import StreamState
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from killswitch.engine.columns import Columns
from killswitch.snapshot import COLUMN_FIELDS, Balance, FetchStatus, Position, PositionColumns, PositionList, Snapshot

assert COLUMN_FIELDS[-1] == "probe", COLUMN_FIELDS

def check(ps, cols, probes, notes, where):
    assert [p.probe for p in ps] == probes, (where, [p.probe for p in ps])
    assert [p.probe_note for p in ps] == notes, where
    if cols is not None:
        assert cols.column("probe") == probes and cols.probes == probes, where
    assert Columns(list(ps)).column("probe") == probes, where

# ccxt parsing: no dialect names the field (its default), then one that does (the venue's number)
row = {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 2.0, "contractSize": 1.0, "markPrice": 100.0,
       "notional": 200.0, "unrealizedPnl": 1.0, "info": {"positionSide": "BOTH", "probeAmt": "7.5"}}
parsed = parsing.parse_position(row, lambda s: None, KNOWN_RAW_FIELDS)
check([parsed], PositionList.of([parsed]).columns, [None], [None], "ccxt")
naming = BinanceDialect(id="binanceusdm", limits=Limits(1.0), position_fields={"probe": "probeAmt"})
read = parsing.parse_position(row, lambda s: None, KnownRawFields((naming,)))
check([read], PositionList.of([read]).columns, [7.5], [None], "ccxt, the dialect naming the venue's field")

# the stream state: a leg REST has seen keeps REST's value, one it has not has the default
known = Position(symbol="BTC/USDT:USDT", side="long", position_side="BOTH", contracts=1.0, notional=100.0,
                 entry_price=90.0, mark_price=100.0, unrealized_pnl=10.0, probe=3.25, probe_note="rest")
base = Snapshot(venue="binanceusdm", account="a", market_type="futures", ts_event=1, equity=1000.0,
                balances=[Balance(asset="USDT", free=990.0, total=990.0)], positions=[known],
                fetch=FetchStatus(ok=True))
state = StreamState("USDT")
state.reconcile(base, 1, lambda s: 1.0)
state.apply_position("ETH/USDT:USDT", "BOTH", "short", 2.0, 10.0, 5)
state.apply_mark("ETH/USDT:USDT", 11.0, 5)
snap = state.snapshot(6, 6, lambda s: 1.0)
check(snap.positions, snap.positions.columns, [3.25, None], ["rest", None], "stream")
state.apply_mark("BTC/USDT:USDT", 101.0, 7)  # made again where an update touched it
snap = state.snapshot(8, 8, lambda s: 1.0)
check(snap.positions, snap.positions.columns, [3.25, None], ["rest", None], "stream, patched")

# the simulated adapter: its columns and its models, made on reading
clock = ManualClock(1_772_456_400_000)
eng = SimExchange(clock, markets=[MarketSpec("BTCUSDT", "BTC"), MarketSpec("ETHUSDT", "ETH")],
                  accounts=[AccountSpec("a", "k", "s", wallet=10_000.0)],
                  rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
eng.set_mark("BTCUSDT", 100.0)
eng.set_mark("ETHUSDT", 10.0)
eng.open_position("a", "BTCUSDT", "long", 1.0, 90.0)
eng.open_position("a", "ETHUSDT", "short", 3.0, 11.0)
sim = asyncio.run(SimulatedAdapter(eng, "a").snapshot())
assert sim.fetch.ok, sim.fetch
check(sim.positions, sim.positions.columns, [None, None], [None, None], "simulator")
assert sim.model_dump()["positions"][0]["probe"] is None

# lists and columns made by hand
ps = [known, known.model_copy(update={"probe": None})]
check(ps, PositionColumns([tuple(getattr(p, f) for f in COLUMN_FIELDS) for p in ps]), [3.25, None],
      ["rest", "rest"], "rows")
print("every builder gave the declared field")
'''


def test_a_field_added_to_the_declaration_is_on_the_positions_of_every_builder(tmp_path):
    for package in ("killswitch", "adapters"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    snapshot = tmp_path / "killswitch" / "snapshot.py"
    src = snapshot.read_text()
    anchor = "    leverage: Optional[float] = None\n"
    assert src.count(anchor) == 1
    snapshot.write_text(src.replace(anchor, anchor + '    probe: Annotated[Optional[float], Column("probes")] = None\n'
                                                     "    probe_note: Optional[str] = None\n"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every builder gave the declared field" in done.stdout
