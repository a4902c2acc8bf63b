"""The ``liquidation_distance`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/liquidation_distance.py): it keeps its place in the language, it reads
the nearest liquidation from the scope's position aggregates (the engine's one pass computes it
only when a signal reads it), with the reasons the engine's built-in branch gave. (Its readings
over books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import liquidation_distance
from killswitch.policy.registry import LIQUIDATION, PositionAggregates
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import AggregateInputs as Inputs, pos, run, signal, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language_and_reads_the_position_aggregates():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("position_loss") + 1:kinds.index("gross_exposure")] == ["liquidation_distance"]
    assert SIGNALS["liquidation_distance"].position_aggregate
    assert tuple(liquidation_distance.aggregates(None)) == (LIQUIDATION,)


def test_its_node_holds_its_evaluation_and_no_parameters():
    [node] = single_signal_graph("liquidation_distance", "s <= 5%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is liquidation_distance.evaluate and node.params is None


@pytest.mark.parametrize("inputs, want", [
    pytest.param(Inputs(PositionAggregates(min_liq=0.04)), (0.04, None), id="the_nearest"),
    pytest.param(Inputs(PositionAggregates()), (None, "NO_DATA: no position reports a liquidation price"),
                 id="none_reported_is_no_data"),
    pytest.param(Inputs(PositionAggregates(min_liq=0.04), equity=-5.0), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_not_positive_is_unknown_as_before"),
    pytest.param(Inputs(PositionAggregates(min_liq=0.04), positions_known=False),
                 (None, "NO_DATA: positions or equity unknown"), id="positions_unknown"),
])
def test_it_reads_the_nearest_liquidation(inputs, want):
    assert liquidation_distance.evaluate(None, inputs, 0) == want  # type: ignore[arg-type]


def test_through_the_engine_the_nearest_position_of_the_book():
    g = single_signal_graph("liquidation_distance", "s <= 5%")
    book = [pos("A/USDT:USDT", "long", 1, 100, liq=80), pos("B/USDT:USDT", "short", 1, 200, liq=210),
            pos("C/USDT:USDT", "long", 1, 50)]
    assert signal(run(g, [(0, [snap(10_000, 0, positions=book)])])[0][0]).value == pytest.approx(0.05)
