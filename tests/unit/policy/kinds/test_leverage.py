"""The ``leverage`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/leverage.py): it keeps its place in the language and its plain-number
type, and it reads the gross notional from the scope's position aggregates over the equity (the
figure ``gross_exposure`` reads, from the same one pass), unknown as before while the positions
or the equity are. (Its readings over books: test_engine_signals.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.policy.expr import ValueType
from killswitch.policy.kinds import leverage
from killswitch.policy.registry import GROSS, PositionAggregates
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


def test_it_keeps_its_place_in_the_language_and_reads_as_a_plain_number():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("net_exposure") + 1:kinds.index("concentration")] == ["leverage"]
    assert SIGNALS["leverage"].model.value_type is ValueType.NUMBER
    assert SIGNALS["leverage"].position_aggregate and tuple(leverage.KIND.aggregates(None)) == (GROSS,)


def test_its_node_holds_its_evaluation_and_no_parameters():
    [node] = single_signal_graph("leverage", "s >= 3").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is leverage.KIND.evaluate and node.params is None


@pytest.mark.parametrize("inputs, want", [
    pytest.param(Inputs(PositionAggregates(gross=28_000.0)), (2.8, None), id="gross_over_equity"),
    pytest.param(Inputs(PositionAggregates()), (0.0, None), id="flat_book_is_zero"),
    pytest.param(Inputs(PositionAggregates(gross=1.0), equity=None), (None, "NO_DATA: positions or equity unknown"),
                 id="equity_unknown"),
    pytest.param(Inputs(PositionAggregates(gross=1.0), positions_known=False),
                 (None, "NO_DATA: positions or equity unknown"), id="positions_unknown"),
])
def test_it_reads_the_gross_notional_over_the_equity(inputs, want):
    assert leverage.KIND.evaluate(None, inputs, 0) == want  # type: ignore[arg-type]


def test_it_reads_the_figure_gross_exposure_reads():
    g = policy_graph("lev: leverage\ngross: gross_exposure", 't: {when: "lev >= 3 || gross >= 300%", '
                     'on_missing_data: ignore}', "- {level: 1, name: one, on: [t], actions: [close_all]}")
    book = [pos("A/USDT:USDT", "long", 10, 1_000), pos("B/USDT:USDT", "short", 8, 1_000)]
    ev = run(g, [(0, [snap(10_000, 0, positions=book)])])[0][0]
    assert signal(ev, "lev").value == signal(ev, "gross").value == pytest.approx(1.8)
