"""The ``position_count`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/position_count.py): it keeps its place in the language, its node holds
its condition compiled as a close's is, and it judges each position through what the engine hands
it (the facts the engine computes for closes by condition too), unknown when one position cannot
be judged. (Its counting over a book: test_engine_signals.py.)"""

from __future__ import annotations

from dataclasses import dataclass

from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import position_count
from killswitch.policy.positions import compile_condition
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import policy_graph, pos, run, signal, single_signal_graph, snap

WHERE = "loss_on_margin >= 10%"


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("expected_shortfall") + 1:kinds.index("consecutive_losses")] == ["position_count"]
    assert (SIGNALS["position_count"].reads_book, SIGNALS["position_count"].position_aggregate) == (True, False)


def test_its_node_holds_the_condition_compiled_as_a_close_by_condition_holds_it():
    g = policy_graph(f'n: {{position_count: {{side: long, where: "{WHERE}"}}}}',
                     't: {when: "n >= 1", on_missing_data: ignore}',
                     f'- {{level: 1, name: one, on: [t], actions: [{{close_positions: {{where: "{WHERE}"}}}}]}}')
    node, [close] = g.policy("p").signal("n"), g.policy("p").stage(1).actions
    assert isinstance(node, SignalNode) and node.evaluate is position_count.evaluate
    assert node.params == position_count.PositionCountParams(side="long", where=close.params.where)


def test_an_undecidable_position_names_itself_and_the_facts_it_lacks():
    g = single_signal_graph(f'{{position_count: {{where: "{WHERE} || notional >= 1000000"}}}}', "s >= 1")
    book = [pos("A/USDT:USDT", "long", 1, 100, -20, margin=100), pos("F/USDT:USDT", "short", 1, 100, -20),
            pos("G/USDT:USDT", "long", 1, 100, -30)]
    sv = signal(run(g, [(0, [snap(10_000, 0, positions=book)])])[0][0])
    assert (sv.value, sv.reason) == (None, "NO_DATA: 2 position(s) cannot be judged "
                                           "(F/USDT:USDT short: loss_on_margin unknown)")


@dataclass
class Held:
    symbol: str
    side: str


class Inputs:
    """A scope's inputs, written by hand: the verdicts the engine's position facts would give."""

    positions_known = True

    def __init__(self, verdicts: dict[str, object]):
        self.verdicts = verdicts

    def positions(self):
        return [(None, Held(symbol, "long")) for symbol in self.verdicts]

    def holds(self, where, p):
        return self.verdicts[p.symbol]

    def unknown_facts(self, where, p):
        return list(where.reads)


def test_it_counts_the_verdicts_the_inputs_give():
    params = position_count.PositionCountParams(side="long", where=compile_condition(WHERE))
    assert position_count.evaluate(params, Inputs({"A": True, "B": False, "C": True}), 0) == (2.0, None)  # type: ignore[arg-type]
    assert position_count.evaluate(params, Inputs({"A": True, "B": None}), 0) == (  # type: ignore[arg-type]
        None, "NO_DATA: 1 position(s) cannot be judged (B long: loss_on_margin unknown)")
    every_short = position_count.PositionCountParams(side="short", where=None)
    assert position_count.evaluate(every_short, Inputs({"A": True}), 0) == (0.0, None)  # type: ignore[arg-type]
