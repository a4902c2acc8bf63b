"""The ``position_loss`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/position_loss.py): it keeps its place in the language, its node holds its
frozen parameters, it says which of the scope's position aggregates it reads (the engine's one
pass computes only those), and it reads them as the engine's built-in branch did: the same
values and the same reasons. (Its readings over books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.engine.scope import ScopeView
from killswitch.engine.signals import KindInputs
from killswitch.engine.state import State
from killswitch.policy.kinds import position_loss
from killswitch.policy.kinds.position_loss import PositionLossParams
from killswitch.policy.registry import LOSSES, MARGIN_LOSSES, NOTIONAL_LOSSES, PositionAggregates
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import (
    AggregateInputs as Inputs,
    policy_graph,
    pos,
    run,
    signal,
    single_signal_graph,
    snap,
)


def test_it_keeps_its_place_in_the_language_and_reads_the_position_aggregates():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("equity_change") + 1:kinds.index("liquidation_distance")] == ["position_loss"]
    assert (SIGNALS["position_loss"].reads_book, SIGNALS["position_loss"].position_aggregate) == (True, True)


def test_its_node_holds_its_frozen_parameters_and_evaluation():
    [node] = single_signal_graph("{position_loss: {of: notional, aggregate: sum}}", "s >= 5%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is position_loss.evaluate
    assert node.params == PositionLossParams(of="notional", aggregate="sum")


@pytest.mark.parametrize("of, reads", [("equity", {LOSSES}), ("margin", {LOSSES, MARGIN_LOSSES}),
                                       ("notional", {NOTIONAL_LOSSES})])
def test_the_pass_computes_only_the_losses_its_base_reads(of, reads):
    assert set(position_loss.aggregates(PositionLossParams(of, "max"))) == reads


def reading(of: str, aggregate: str, inputs: Inputs):
    return position_loss.evaluate(PositionLossParams(of, aggregate), inputs, 0)  # type: ignore[arg-type]


LOSING = PositionAggregates(max_loss=300.0, sum_loss=500.0, max_margin_loss=0.5, sum_margin_loss=0.75,
                            max_notional_loss=0.1, sum_notional_loss=500.0, sum_entry_notional=25_000.0)


@pytest.mark.parametrize("of, aggregate, inputs, want", [
    pytest.param("equity", "max", Inputs(LOSING), (0.03, None), id="equity_worst_over_equity"),
    pytest.param("equity", "sum", Inputs(LOSING), (0.05, None), id="equity_summed_over_equity"),
    pytest.param("margin", "sum", Inputs(LOSING), (0.75, None), id="margin_ratios_summed"),
    pytest.param("margin", "max", Inputs(PositionAggregates(max_loss=300.0)),
                 (None, "NO_DATA: losing positions report no margin"), id="margin_unreported_by_losers_is_no_data"),
    pytest.param("margin", "max", Inputs(PositionAggregates()), (0.0, None), id="margin_nothing_losing_is_zero"),
    pytest.param("notional", "max", Inputs(LOSING), (0.1, None), id="notional_worst"),
    pytest.param("notional", "sum", Inputs(LOSING), (0.02, None), id="notional_losses_over_entry_notionals"),
    pytest.param("notional", "sum", Inputs(PositionAggregates()), (0.0, None), id="notional_nothing_losing_is_zero"),
    pytest.param("notional", "max", Inputs(PositionAggregates(no_entry_price=("B/USDT", "A/USDT", "B/USDT"))),
                 (None, "NO_DATA: 3 losing position(s) report no entry price (A/USDT, B/USDT)"),
                 id="notional_without_entry_price_names_the_symbols"),
    pytest.param("equity", "max", Inputs(LOSING, equity=None), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_unknown"),
    pytest.param("margin", "max", Inputs(LOSING, equity=0.0), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_zero_is_unknown_even_over_margin"),
    pytest.param("notional", "max", Inputs(LOSING, positions_known=False),
                 (None, "NO_DATA: positions or equity unknown"), id="positions_unknown"),
])
def test_it_reads_the_aggregates_against_its_base(of, aggregate, inputs, want):
    value, reason = want
    assert reading(of, aggregate, inputs) == (value if value is None else pytest.approx(value), reason)


def test_the_scope_signals_share_one_pass_over_the_positions():
    g = policy_graph("a: {position_loss: {of: equity}}\nb: {position_loss: {of: margin, aggregate: sum}}",
                     't: {when: "a >= 5% || b >= 50%", on_missing_data: ignore}',
                     "- {level: 1, name: one, on: [t], actions: [close_all]}")
    signals = g.policy("p").signals
    s = snap(10_000, 0, positions=[pos("A/USDT:USDT", "long", 1, 100, -200, margin=400),
                                   pos("B/USDT:USDT", "short", 1, 100, -100, margin=100)])
    inputs = KindInputs(ScopeView("global", groups=[(s, s.positions)]), State(), signals)
    agg = inputs.position_aggregates()
    assert inputs.position_aggregates() is agg  # made once, on the first signal that asks
    assert (agg.max_loss, agg.sum_margin_loss) == (200.0, 1.5)  # each signal's figures, from the one pass
    evs, _ = run(g, [(0, [s])])
    assert (signal(evs[0], "a").value, signal(evs[0], "b").value) == (pytest.approx(0.02), pytest.approx(1.5))
