"""The ``data_age`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/data_age.py): it keeps its place in the language, its node holds its
evaluation, and it reads each account's age from what the engine hands it — the oldest account
of the scope, unknown while one has never answered. (Frozen feeds: test_engine_freshness.py.)"""

from __future__ import annotations

from killswitch.compile.nodes import SignalNode
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import MIN, failed, run, signal, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("consecutive_losses") + 1:kinds.index("api_error_rate")] == ["data_age"]
    assert (SIGNALS["data_age"].reads_book, SIGNALS["data_age"].firm) == (False, True)


def test_its_node_holds_its_evaluation():
    [node] = single_signal_graph("data_age", "s > 1m").policies[0].signals
    assert isinstance(node, SignalNode) and (node.kind, node.params) == ("data_age", None)


def test_a_scope_is_as_old_as_its_oldest_account():
    g = single_signal_graph("data_age", "s > 1m", scope="{level: global}")
    evs, _ = run(g, [(0, [snap(account="a"), snap(account="b")]),
                     (2 * MIN, [snap(ts=2 * MIN, account="a"), failed(2 * MIN, account="b")])])
    assert [signal(ev).value for ev in evs] == [0.0, 120.0]


def test_unknown_while_an_account_has_never_answered():
    g = single_signal_graph("data_age", "s > 1m", scope="{level: global}")
    evs, _ = run(g, [(0, [snap(account="a"), failed(0, account="b")])])
    sv = signal(evs[0])
    assert (sv.value, sv.reason) == (None, "NO_DATA: no good snapshot yet from simulated/b")
