"""The ``open_orders`` signal, a kind in a module of its own (killswitch/policy/kinds/open_orders.py),
end to end: the policy language takes it (errors at their positions), the compiler types its
comparisons and bounds and keeps its parameters, the engine evaluates it and a trigger fires on it,
the coverage counts it among the book's signals and the JSON schema describes it."""

from __future__ import annotations

import json

import pytest

from killswitch.cli.schema import schema_text
from killswitch.compile.compiler import compile_documents
from killswitch.compile.nodes import SignalNode
from killswitch.engine.coverage import BOOK_KINDS
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import (
    MIN,
    failed,
    only,
    order,
    policy_text,
    run,
    signal,
    single_signal_graph,
    snap,
    trig,
)

ONE_STAGE = "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}"


def compile_signal(sig: str, when: str = "s >= 3"):
    text = policy_text(f"s: {sig}", f't: {{when: "{when}", on_missing_data: fire}}', ONE_STAGE)
    return compile_documents(load_text(text, "p.yaml"))


def test_the_compiled_node_keeps_what_the_kind_built_of_its_parameters():
    [node] = compile_signal("{open_orders: {which: entries}}").graph.policies[0].signals
    assert isinstance(node, SignalNode) and node.kind == "open_orders"
    assert node.params.entries_only is True
    assert node.written == {"which": "entries"}


def test_the_bare_kind_name_counts_every_order():
    [node] = compile_signal("open_orders").graph.policies[0].signals
    assert node.params.entries_only is False


@pytest.mark.parametrize("sig, when, code, line_col, message", [
    ("{open_orders: {which: resting}}", "s >= 3", "KS103", (8, 30),
     "signals.s.open_orders.which: \"resting\" is not allowed; expected 'entries' or 'all'"),
    ("{open_orders: {wich: all}}", "s >= 3", "KS101", (8, 23), 'unknown key "wich" in signals.s.open_orders'),
    ("{open_orders: {}}", "s >= 10%", "KS121", (10, 21), 'trigger "t": cannot compare a number with a ratio'),
    ("{open_orders: {}}", "s < 0", "KS212", (10, 20),
     'trigger "t": s < 0 can never hold; s (open_orders) reports values of at least 0'),
], ids=["unknown-which", "misspelled-key", "ratio-threshold", "below-its-bound"])
def test_a_mistake_is_reported_at_its_position(sig, when, code, line_col, message):
    result = compile_signal(sig, when)
    [err] = result.diagnostics
    assert (err.code, (err.pos.line, err.pos.col), err.message) == (code, line_col, message)


BOOK = [order("o1"), order("o2", "ETH/USDT:USDT", "sell"), order("o3", side="sell", reduce_only=True)]


@pytest.mark.parametrize("which, expected", [("all", 3.0), ("entries", 2.0)])
def test_counts_the_open_orders_of_the_scope(which, expected):
    evs, _ = run(single_signal_graph(f"{{open_orders: {{which: {which}}}}}", "s >= 3"), [(0, [snap(orders=BOOK)])])
    sv = signal(evs[0])
    assert (sv.value, sv.reason) == (expected, None)
    assert trig(evs[0]).firing is (expected >= 3)


def test_a_trigger_on_it_enters_the_stage_when_orders_pile_up():
    g = single_signal_graph("{open_orders: {}}", "s >= 3")
    evs, _ = run(g, [(0, [snap(0, orders=BOOK[:2])]), (MIN, [snap(ts=MIN, orders=BOOK)])])
    assert [trig(ev).firing for ev in evs] == [False, True]
    assert (only(evs[0]).stage_after, only(evs[1]).stage_after) == (0, 1)


def test_a_global_scope_sums_its_accounts():
    g = single_signal_graph("{open_orders: {}}", "s >= 3", scope="{level: global}")
    evs, _ = run(g, [(0, [snap(account="a", orders=BOOK[:2]), snap(account="b", orders=BOOK[2:])])])
    assert signal(evs[0]).value == 3.0


def test_a_symbol_scoped_instance_counts_only_its_orders():
    g = single_signal_graph("{open_orders: {}}", "s >= 3", scope="{level: symbol, symbols: [BTC/USDT:USDT]}")
    evs, _ = run(g, [(0, [snap(orders=BOOK)])])
    assert signal(evs[0], scope=only(evs[0]).scope).value == 2.0  # o1 and o3, not ETH's o2


def test_unknown_when_an_account_was_not_fetched_and_the_missing_data_rule_decides():
    evs, _ = run(single_signal_graph("{open_orders: {}}", "s >= 3", on_missing="fire"), [(0, [failed(0)])])
    sv = signal(evs[0])
    assert sv.value is None and sv.reason == "NO_DATA: open orders unknown (an account's fetch failed)"
    assert trig(evs[0]).firing is True


def test_coverage_counts_it_among_the_book_signals():
    assert "open_orders" in BOOK_KINDS


def test_the_schema_describes_it_from_its_module():
    defs = json.loads(schema_text("policy"))["$defs"]
    assert defs["Signal"]["properties"]["open_orders"]["anyOf"][0] == {"$ref": "#/$defs/OpenOrders"}
    assert defs["OpenOrders"]["description"].startswith("Number of open orders the scope owns")
    assert defs["OpenOrders"]["properties"]["which"]["enum"] == ["entries", "all"]
