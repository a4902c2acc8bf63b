"""The ``net_exposure`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/net_exposure.py): it keeps its place in the language and the
parameters' model it shares with ``gross_exposure``, and it reads the signed notionals summed
from the scope's position aggregates, their magnitude over the equity, unknown as before while
the positions or the equity are. (Its readings over books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import net_exposure
from killswitch.policy.registry import NET, PositionAggregates
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import AggregateInputs as Inputs, pos, run, signal, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("gross_exposure") + 1:kinds.index("leverage")] == ["net_exposure"]
    assert SIGNALS["net_exposure"].position_aggregate and tuple(net_exposure.KIND.aggregates(None)) == (NET,)


def test_its_node_holds_its_evaluation_and_no_parameters():
    [node] = single_signal_graph("net_exposure", "s >= 300%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is net_exposure.KIND.evaluate and node.params is None


@pytest.mark.parametrize("inputs, want", [
    pytest.param(Inputs(PositionAggregates(gross=30_000.0, net=20_000.0)), (2.0, None), id="net_long"),
    pytest.param(Inputs(PositionAggregates(gross=30_000.0, net=-20_000.0)), (2.0, None), id="net_short_reads_positive"),
    pytest.param(Inputs(PositionAggregates(net=5.0), positions_known=False),
                 (None, "NO_DATA: positions or equity unknown"), id="positions_unknown"),
    pytest.param(Inputs(PositionAggregates(net=5.0), equity=-1.0), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_negative"),
])
def test_it_reads_the_magnitude_of_the_signed_notionals_over_the_equity(inputs, want):
    assert net_exposure.KIND.evaluate(None, inputs, 0) == want  # type: ignore[arg-type]


def test_through_the_engine_shorts_offset_longs():
    g = single_signal_graph("net_exposure", "s >= 300%")
    book = [pos("A/USDT:USDT", "long", 10, 1_000), pos("B/USDT:USDT", "short", 4, 1_000)]
    assert signal(run(g, [(0, [snap(10_000, 0, positions=book)])])[0][0]).value == pytest.approx(0.6)
