"""The ``gross_exposure`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/gross_exposure.py): it keeps its place in the language and its
parameters' model, the one ``net_exposure`` shares (one definition in the schema), and it reads
the gross notional from the scope's position aggregates over the equity, unknown as before while
the positions or the equity are. (Its readings over books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import gross_exposure
from killswitch.policy.registry import GROSS, PositionAggregates
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import AggregateInputs as Inputs, failed, pos, run, signal, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language_and_shares_its_model_with_net_exposure():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("liquidation_distance") + 1:kinds.index("net_exposure")] == ["gross_exposure"]
    assert SIGNALS["gross_exposure"].model is SIGNALS["net_exposure"].model
    assert SIGNALS["gross_exposure"].position_aggregate and tuple(gross_exposure.KIND.aggregates(None)) == (GROSS,)


def test_its_node_holds_its_evaluation_and_no_parameters():
    [node] = single_signal_graph("gross_exposure", "s >= 300%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is gross_exposure.KIND.evaluate and node.params is None


@pytest.mark.parametrize("inputs, want", [
    pytest.param(Inputs(PositionAggregates(gross=25_000.0, net=-5_000.0)), (2.5, None), id="gross_over_equity"),
    pytest.param(Inputs(PositionAggregates()), (0.0, None), id="flat_book_is_zero"),
    pytest.param(Inputs(PositionAggregates(gross=1.0), equity=None), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_unknown"),
    pytest.param(Inputs(PositionAggregates(gross=1.0), equity=0.0), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_zero"),
])
def test_it_reads_the_gross_notional_over_the_equity(inputs, want):
    assert gross_exposure.KIND.evaluate(None, inputs, 0) == want  # type: ignore[arg-type]


def test_through_the_engine_longs_and_shorts_alike_and_unknown_on_a_failed_fetch():
    g = single_signal_graph("gross_exposure", "s >= 300%")
    book = [pos("A/USDT:USDT", "long", 10, 1_000), pos("B/USDT:USDT", "short", 5, 1_000)]
    evs, _ = run(g, [(0, [snap(10_000, 0, positions=book)]), (60_000, [failed(60_000)])])
    assert signal(evs[0]).value == pytest.approx(1.5)
    assert (signal(evs[1]).value, signal(evs[1]).reason) == (None, "NO_DATA: positions or equity unknown")
