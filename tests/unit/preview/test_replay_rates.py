"""Order rates in a replay: a replay has no adapter to ask, so a tick may carry the rates it ran
with, and a venue it does not name gets its ccxt dialect's rate, looked up by the venue's name."""

from __future__ import annotations

import io
import json

import pytest

from killswitch.preview.plan import plan_ticks
from killswitch.preview.replay import read_ticks
from killswitch.sources import read_sources
from tests.conftest import POLICIES
from tests.unit.engine_helpers import compile_graph

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"


def spacing(rates):
    """The gaps between the first stage entry's orders (ms), replaying the crash with ``rates`` on
    every tick (None: the recording as it is, which names no rates)."""
    lines = RECORDING.read_text().splitlines()
    if rates is not None:
        lines = [json.dumps({**json.loads(line), "rates": rates}) for line in lines]
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    result = plan_ticks(graph, read_ticks(io.StringIO("\n".join(lines))))
    orders = next(c.plan.orders for c in result.changes if c.plan is not None and c.plan.orders)
    return [b.not_before_ms - a.not_before_ms for a, b in zip(orders, orders[1:])]


@pytest.mark.parametrize("rates, gap", [
    pytest.param(None, 50, id="no_rates_recorded_binanceusdm_dialect_20_per_s"),
    pytest.param({"binanceusdm": 4}, 250, id="the_recorded_rate_wins"),
    pytest.param({"okx": 4}, 50, id="a_rate_of_another_venue_leaves_the_dialect_rate"),
])
def test_replay_spaces_orders_by_the_recorded_rates_else_the_dialects(rates, gap):
    gaps = spacing(rates)
    assert gaps and set(gaps) == {gap}


def test_read_ticks_keeps_a_ticks_rates():
    [tick] = read_ticks(io.StringIO('{"now": 1, "snapshots": [], "rates": {"okx": 12}}\n'))
    assert tick.rates == {"okx": 12.0}
