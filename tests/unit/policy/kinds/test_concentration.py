"""The ``concentration`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/concentration.py): it keeps its place in the language, its node holds
its frozen parameters, and it reads the notionals per symbol or per base asset from the scope's
position aggregates — which the engine's one pass sums only when a signal of the scope reads a
concentration, as the pass always decided from the kinds the policy reads. (Its readings over
books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.engine.scope import ScopeView
from killswitch.engine.signals import KindInputs
from killswitch.engine.state import State
from killswitch.policy.kinds import concentration
from killswitch.policy.kinds.concentration import ConcentrationParams
from killswitch.policy.registry import GROSS, GROUPS, PositionAggregates
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import AggregateInputs as Inputs, policy_graph, pos, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("leverage") + 1:kinds.index("realized_volatility")] == ["concentration"]
    assert SIGNALS["concentration"].position_aggregate
    assert set(concentration.aggregates(ConcentrationParams("symbol"))) == {GROSS, GROUPS}


def test_its_node_holds_its_frozen_parameters_and_evaluation():
    [node] = single_signal_graph("concentration", "s >= 50%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is concentration.evaluate
    assert node.params == ConcentrationParams(by="base_asset")


def aggregates_of(signals_yaml: str, when: str) -> PositionAggregates:
    g = policy_graph(signals_yaml, f't: {{when: "{when}", on_missing_data: ignore}}',
                     "- {level: 1, name: one, on: [t], actions: [close_all]}")
    s = snap(10_000, 0, positions=[pos("BTC/USDT:USDT", "long", 1, 6_000), pos("BTC/USDC:USDC", "short", 1, 3_000),
                                   pos("ETH/USDT:USDT", "long", 1, 1_000)])
    inputs = KindInputs(ScopeView("global", groups=[(s, s.positions)]), State(), g.policy("p").signals)
    return inputs.position_aggregates()


def test_the_pass_sums_the_groups_only_when_a_concentration_is_read():
    alone = aggregates_of("gross: gross_exposure", "gross >= 300%")
    assert (alone.gross, alone.by_symbol, alone.by_base) == (10_000.0, None, None)
    read = aggregates_of("gross: gross_exposure\nc: {concentration: {by: symbol}}", "gross >= 300% || c >= 50%")
    assert read.by_base == {"BTC": 9_000.0, "ETH": 1_000.0} and read.by_symbol is not None
    assert read.gross == 10_000.0


GROUPED = PositionAggregates(gross=10_000.0, by_symbol={"BTC/USDT:USDT": 6_000.0, "BTC/USDC:USDC": 3_000.0,
                                                         "ETH/USDT:USDT": 1_000.0},
                             by_base={"BTC": 9_000.0, "ETH": 1_000.0})


@pytest.mark.parametrize("by, inputs, want", [
    pytest.param("symbol", Inputs(GROUPED), (0.6, None), id="by_symbol"),
    pytest.param("base_asset", Inputs(GROUPED), (0.9, None), id="by_base_asset"),
    pytest.param("symbol", Inputs(PositionAggregates(gross=0.0, by_symbol={}, by_base={})), (0.0, None),
                 id="no_exposure_is_zero"),
    pytest.param("symbol", Inputs(GROUPED, equity=0.0), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_zero_is_unknown_as_before"),
    pytest.param("base_asset", Inputs(GROUPED, positions_known=False), (None, "NO_DATA: positions or equity unknown"),
                 id="positions_unknown"),
])
def test_it_reads_the_largest_group_over_the_gross_notional(by, inputs, want):
    value, reason = want
    got = concentration.evaluate(ConcentrationParams(by), inputs, 0)  # type: ignore[arg-type]
    assert got == (value if value is None else pytest.approx(value), reason)
