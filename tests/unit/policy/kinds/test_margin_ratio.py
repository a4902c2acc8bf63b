"""The ``margin_ratio`` signal (killswitch/policy/kinds/margin_ratio.py): the maintenance margin of
the scope's positions summed, over its equity, read from the engine's column of the field
(``SignalInputs.position_column``); unknown — never calm — while any position's venue does not
report it, so the trigger's ``on_missing_data`` decides."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from adapters.simulated.views import money
from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import margin_ratio
from killswitch.policy.signals import SIGNALS
from killswitch.snapshot import PositionList, with_positions
from tests.unit.engine_helpers import failed, pos, run, signal, single_signal_graph, snap, trig

UNKNOWN = "NO_DATA: positions or equity unknown"


def held(symbol: str, mm: Optional[float], side: str = "long", strategy: Optional[str] = None):
    return pos(symbol, side, 1.0, 100.0, strategy=strategy).model_copy(update={"maintenance_margin": mm})


@dataclass
class Inputs:
    """A scope's inputs to the kind, by hand: what the engine's KindInputs would give."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    equity: Optional[float] = 10_000.0
    positions_known: bool = True

    def position_column(self, name: str) -> list[Any]:
        return self.columns[name]


def book(*margins: Optional[float]) -> Inputs:
    return Inputs({"maintenance_margin": list(margins), "symbol": [f"S{i}/USDT:USDT" for i in range(len(margins))]})


def test_it_is_a_kind_of_its_own_module_appended_to_the_language():
    kind = SIGNALS["margin_ratio"]
    assert kind.evaluate is not None and kind.reads_book and not kind.position_aggregate and not kind.firm
    assert kind.model.bounds == (0.0, None)
    [node] = single_signal_graph("margin_ratio", "s >= 80%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is margin_ratio.evaluate and node.params is None


@pytest.mark.parametrize("inputs, want", [
    pytest.param(book(120.0, 30.0, 50.0), (0.02, None), id="summed_over_equity"),
    pytest.param(book(), (0.0, None), id="no_positions_no_margin"),
    pytest.param(book(0.0, 0.0), (0.0, None), id="reported_zero_is_zero"),
    pytest.param(book(100.0, None, 3.0, None),
                 (None, "NO_DATA: maintenance margin unknown for 2 of 4 positions (S1/USDT:USDT, S3/USDT:USDT): "
                        "the venue does not report it"), id="one_unreported_is_unknown_never_a_smaller_ratio"),
    pytest.param(book(None, None, None, None, 1.0),
                 (None, "NO_DATA: maintenance margin unknown for 4 of 5 positions (S0/USDT:USDT, S1/USDT:USDT, "
                        "S2/USDT:USDT and 1 more): the venue does not report it"), id="names_three"),
    pytest.param(Inputs(book(1.0).columns, equity=None), (None, UNKNOWN), id="equity_unknown"),
    pytest.param(Inputs(book(1.0).columns, equity=0.0), (None, UNKNOWN), id="equity_not_positive"),
    pytest.param(Inputs(book(1.0).columns, positions_known=False), (None, UNKNOWN), id="positions_unknown"),
])
def test_it_reads_the_maintenance_margins_over_the_equity(inputs, want):
    value, reason = margin_ratio.evaluate(None, inputs, 0)  # type: ignore[arg-type]
    assert (value if value is None else pytest.approx(value), reason) == (
        want[0] if want[0] is None else pytest.approx(want[0]), want[1])


def test_through_the_engine_per_scope_from_the_columns_or_the_models_alike():
    g = single_signal_graph("margin_ratio", "s >= 80%", on_missing="fire")
    ps = [held("A/USDT:USDT", 4_000.0), held("B/USDT:USDT", 4_500.0, "short")]
    for snapshot in (snap(10_000, 0, positions=ps), with_positions(snap(10_000, 0), PositionList.of(ps))):
        [ev], _ = run(g, [(0, [snapshot])])
        assert signal(ev).value == pytest.approx(0.85) and trig(ev).firing
    global_g = single_signal_graph("margin_ratio", "s >= 80%", on_missing="fire", scope="{level: global}")
    two = [with_positions(snap(10_000, 0, account="a"), PositionList.of(ps[:1])),
           snap(10_000, 0, account="b", positions=ps[1:])]
    [ev], _ = run(global_g, [(0, two)])
    assert signal(ev).value == pytest.approx(8_500 / 20_000) and not trig(ev).firing


def test_a_position_without_its_maintenance_margin_is_blind_and_on_missing_data_decides():
    ps = [held("A/USDT:USDT", 10.0), held("B/USDT:USDT", None)]
    for rule, firing in (("fire", True), ("ignore", False)):
        g = single_signal_graph("margin_ratio", "s >= 80%", on_missing=rule)
        [ev], _ = run(g, [(0, [snap(10_000, 0, positions=ps)])])
        s = signal(ev)
        assert s.value is None and s.reason.startswith("NO_DATA: maintenance margin unknown for 1 of 2 positions")
        assert trig(ev).condition is None and trig(ev).firing is firing
    g = single_signal_graph("margin_ratio", "s >= 80%", on_missing="fire")
    evs, _ = run(g, [(0, [snap(10_000, 0, positions=ps[:1])]), (60_000, [failed(60_000)])])
    assert signal(evs[0]).value == pytest.approx(0.001)
    assert (signal(evs[1]).value, signal(evs[1]).reason) == (None, UNKNOWN) and trig(evs[1]).firing


def test_a_strategy_scope_reads_its_own_positions_margins():
    g = single_signal_graph("margin_ratio", "s >= 80%", scope="{level: strategy, strategies: [alpha, beta]}")
    ps = [held("A/USDT:USDT", 1_000.0, strategy="alpha"), held("B/USDT:USDT", None, strategy="beta"),
          held("C/USDT:USDT", 500.0, strategy="alpha")]
    [ev], _ = run(g, [(0, [snap(10_000, 0, positions=ps)])])
    assert signal(ev, scope="alpha").value == pytest.approx(0.15)
    assert signal(ev, scope="beta").value is None


def test_over_the_simulators_positions_the_venues_maintenance_margin_over_equity():
    clock = ManualClock(1_772_456_400_000)
    eng = SimExchange(clock, markets=[MarketSpec("BTCUSDT", "BTC", maint_margin_rate=0.004),
                                      MarketSpec("ETHUSDT", "ETH", price_tick=0.01, maint_margin_rate=0.005)],
                      accounts=[AccountSpec("a", "k", "s", wallet=20_000.0)],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    eng.set_mark("BTCUSDT", 60_000.0)
    eng.set_mark("ETHUSDT", 3_000.0)
    eng.open_position("a", "BTCUSDT", "long", 0.5, 59_000.0)
    eng.open_position("a", "ETHUSDT", "short", 4.0, 3_100.0)
    s = asyncio.run(SimulatedAdapter(eng, "a").snapshot())
    views = eng.positions("a", at=s.ts_event)
    want = sum(money(v.maint_margin) for v in views) / s.equity
    assert want == pytest.approx((30_000 * 0.004 + 12_000 * 0.005) / s.equity)
    g = single_signal_graph("margin_ratio", "s >= 80%")
    [ev], _ = run(g, [(0, [s])])
    assert signal(ev).value == pytest.approx(want)
    assert [p.maintenance_margin for p in s.positions] == [money(v.maint_margin) for v in views]
