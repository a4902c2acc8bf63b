"""The ``cancel_losing_entries`` action, a cancel-style kind in a module of its own
(killswitch/policy/kinds/cancel_losing_entries.py), end to end: the policy language takes it (its
short form too; a mistake at its file:line:col with a close match), the compiler keeps its
parameters, a stage entry plans exactly the cancels it asks for — the entries resting on the
symbols in loss, never a reduce-only order, never a symbol in profit, nothing at all when no
position loses or the positions are unknown —, a policy test names it, and a runner's tick against
the simulated venue cancels those orders there and leaves the others resting. Nothing of the
planner, the runner, the policy tests or the catalogue names it: the module is the whole kind."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.cli.schema import schema_text
from killswitch.compile.compiler import compile_documents
from killswitch.compile.nodes import ActionNode
from killswitch.policy.actions import ACTIONS, CLOSING_ACTIONS
from killswitch.policy.load import load_sources, load_text
from killswitch.preview.policytest import run_tests
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import (
    MIN,
    action_policy,
    compile_graph,
    entry_plan,
    only,
    order,
    policy_text,
    pos,
    run,
    snap,
)

BTC, ETH, SOL, XRP = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"


def compiled(action: str):
    return compile_documents(load_text(action_policy(action), "p.yaml"))


def the_action(action: str) -> ActionNode:
    result = compiled(action)
    assert not result.diagnostics, result.diagnostics
    [node] = result.graph.policies[0].stages[0].actions
    assert isinstance(node, ActionNode)
    return node


def test_the_bare_name_and_the_short_form_set_the_side():
    node = the_action("cancel_losing_entries")
    assert (node.kind, node.closes, node.params.side, node.written) == ("cancel_losing_entries", False, None,
                                                                        {"side": "any"})
    assert the_action("{cancel_losing_entries: short}").params.side == "short"
    assert "cancel_losing_entries" not in CLOSING_ACTIONS and not ACTIONS["cancel_losing_entries"].firm


@pytest.mark.parametrize("action, code, message, hint", [
    ("{cancel_losing_entries: {sid: long}}", "KS101",
     'unknown key "sid" in stages[0].actions[0].cancel_losing_entries', 'did you mean "side"?'),
    ("{cancel_losing_entries: longs}", "KS103",
     "stages[0].actions[0].cancel_losing_entries.side: \"longs\" is not allowed; expected 'long', 'short' or 'any'",
     'did you mean "long"?'),
    ("{cancel_losing_entry: long}", "KS101", 'unknown action "cancel_losing_entry" in stages[0].actions[0]',
     'did you mean "cancel_losing_entries"?'),
], ids=["misspelled-key", "misspelled-side", "misspelled-kind"])
def test_a_mistake_is_reported_at_its_line_with_a_close_match(action, code, message, hint):
    err = next(d for d in compiled(action).diagnostics if d.code == code)
    assert err.location().startswith("p.yaml:12:") and err.message == message
    assert err.hint is not None and err.hint.startswith(hint)


# BTC long and SOL short lose, ETH long gains, XRP is not held
POSITIONS = [pos(BTC, "long", 3.0, 100.0, -400.0), pos(ETH, "long", 10.0, 50.0, 120.0),
             pos(SOL, "short", 5.0, 20.0, -30.0)]
ORDERS = [order("btc-bid", BTC, "buy"), order("btc-tp", BTC, "sell", reduce_only=True),
          order("eth-bid", ETH, "buy"),
          order("sol-offer", SOL, "sell"), order("sol-stop", SOL, "buy", reduce_only=True),
          order("xrp-bid", XRP, "buy")]


def entry(action: str, positions=POSITIONS):
    return entry_plan(action, positions, ORDERS, {})


def test_a_stage_entry_cancels_the_entries_resting_on_the_losing_symbols_alone():
    plan = entry("cancel_losing_entries")
    assert [(c.which, c.order_ids, c.reason) for c in plan.cancels] == [
        ("entries", ("btc-bid", "sol-offer"), "CANCEL_ENTRIES")]
    assert plan.cancelled_by == ("cancel_losing_entries",)
    assert plan.orders == () and plan.directives == () and plan.locks == () and plan.skipped == ()


def test_a_side_cancels_the_entries_of_that_sides_losers_alone():
    assert [c.order_ids for c in entry("{cancel_losing_entries: long}").cancels] == [("btc-bid",)]
    assert [c.order_ids for c in entry("{cancel_losing_entries: short}").cancels] == [("sol-offer",)]


def test_with_no_losing_position_it_cancels_nothing_and_says_so():
    """The empty match: a cancel of no symbol named would cancel every entry of the account."""
    winners = [pos(BTC, "long", 3.0, 100.0, 50.0), pos(ETH, "long", 10.0, 50.0, 0.0)]
    plan = entry("cancel_losing_entries", winners)
    assert plan.cancels == () and plan.cancelled_by == ()
    assert plan.skipped == ("NO_LOSING_POSITION: cancel_losing_entries cancelled nothing (side=any)",)
    longs_only = entry("{cancel_losing_entries: short}", POSITIONS[:2])  # BTC long loses; no short is held
    assert longs_only.cancels == () and longs_only.skipped[0].endswith("(side=short)")


def test_while_the_positions_are_unknown_it_asks_nothing_and_cancels_once_they_are_known():
    """Entered on a feed gone quiet (data_age), blind: nothing is cancelled on a guess; the entry's
    cancels are planned again at the first tick that reads the book."""
    text = policy_text("age: data_age", 't: {when: "age >= 30s", on_missing_data: fire}',
                       "- {level: 1, name: cut, on: [t], cooldown: 1h, actions: [cancel_losing_entries]}")
    graph = compile_graph(text, "p.yaml")
    seen = [snap(10_000.0, 0, positions=POSITIONS, orders=ORDERS)]
    evs, _ = run(graph, [(0, seen), (MIN, [snap(None, MIN, ok=False)]), (2 * MIN, seen)])
    entered = only(evs[1])
    assert entered.stage_after == 1 and entered.plan.cancels == ()
    assert entered.plan.skipped[0].startswith("POSITIONS_UNKNOWN")
    later = only(evs[2]).plan  # the entry's cancels planned again, now that the book is read
    assert later is not None and [c.order_ids for c in later.cancels] == [("btc-bid", "sol-offer")]


POLICY_TEST = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: PolicyTest
    metadata: {name: losers}
    spec:
      policy: p
      tests:
        - name: the bids under a losing long go, the others stay
          input:
            equity: "10000 9000"
            positions:
              - {symbol: BTC/USDT:USDT, side: long, contracts: 3, entry: 110, mark: "100"}
              - {symbol: ETH/USDT:USDT, side: long, contracts: 10, entry: 40, mark: "50"}
            open_orders:
              - {id: btc-bid, symbol: BTC/USDT:USDT, side: buy, amount: 1, price: 95}
              - {id: btc-tp, symbol: BTC/USDT:USDT, side: sell, amount: 3, price: 130, reduce_only: true}
              - {id: eth-bid, symbol: ETH/USDT:USDT, side: buy, amount: 1, price: 45}
          expect:
            - {at: 1m, stage: 1, actions: [cancel_losing_entries], cancels: [{which: entries, orders: [btc-bid]}]}
    """)


def test_a_policy_test_names_it_among_the_actions_of_the_tick():
    result = compile_documents(load_sources([("p.yaml", action_policy("cancel_losing_entries")),
                                             ("t.yaml", POLICY_TEST)]))
    assert result.errors == [], [e.message for e in result.errors]
    report = run_tests(result)
    assert (report.failed, report.failures) == (0, [])
    wrong = POLICY_TEST.replace("actions: [cancel_losing_entries]", "actions: [cancel_orders]")
    report = run_tests(compile_documents(load_sources([("p.yaml", action_policy("cancel_losing_entries")),
                                                       ("t.yaml", wrong)])))
    assert report.failed == 1 and "got [cancel_losing_entries]" in report.failures[0].message


RUNNER_POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: losers}
    spec:
      scope: {level: account}
      interval: 5s
      signals:
        chg: {equity_change: {against: baseline, baseline: 100M}}
      triggers:
        down: {when: "chg <= -5%", on_missing_data: hold}
      stages:
        - {level: 1, name: stop-averaging-down, on: [down], cooldown: 1h, actions: [cancel_losing_entries]}
    """)


def test_a_runners_tick_cancels_them_at_the_venue_and_leaves_the_others_resting(tmp_path):
    """The simulated venue's BTC long and SOL short lose, its ETH long is at its entry: the tick
    entering the stage cancels the BTC bid and the SOL offer there; the BTC take-profit, the ETH
    bid and the SOL stop rest on."""
    clock = ManualClock(1_772_456_400_000)
    ex = build("calm", clock)
    for symbol, mark in (("BTCUSDT", 55_000.0), ("ETHUSDT", 3_000.0), ("SOLUSDT", 150.0)):
        ex.set_mark(symbol, mark)  # BTC entered at 60k (long), SOL at 140 (short): both lose
    rest = {
        "btc-bid": ex.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, 50_000.0, time_in_force="GTC"),
        "btc-tp": ex.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC",
                                 reduce_only=True),
        "eth-bid": ex.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC"),
        "sol-offer": ex.place_order("sim-main", "SOLUSDT", "SELL", "LIMIT", 10.0, 170.0, time_in_force="GTC"),
        "sol-stop": ex.place_order("sim-main", "SOLUSDT", "BUY", "LIMIT", 10.0, 130.0, time_in_force="GTC",
                                   reduce_only=True),
    }
    graph = compile_graph(RUNNER_POLICY, "losers.yaml")
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(ex, "sim-main", venue="simulated", timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph, {"simulated/sim-main": adapter}, store,
            lock_path=tmp_path / "lock.json",
                          dry_run=False, clock=clock, confirm_gap_ms=5_000)

    async def tick():
        await runner.start()
        clock.advance(5_000)
        return await runner.tick()

    report = asyncio.run(asyncio.wait_for(tick(), 30))
    [t] = report.transitions
    assert t.transition.to_level == 1
    assert t.plan is not None and t.plan.cancelled_by == ("cancel_losing_entries",)
    resting = {o.order_id for o in ex.open_orders("sim-main")}
    assert {name for name, o in rest.items() if o.order_id in resting} == {"btc-tp", "eth-bid", "sol-stop"}
    assert report.execution.canceled == 2 and report.execution.cancel_failed == []
    assert json.loads((tmp_path / "lock.json").read_text())["locked"] is False  # it cancels; it locks nothing


def test_the_schema_describes_it_from_its_module():
    defs = json.loads(schema_text("policy"))["$defs"]
    assert {"$ref": "#/$defs/CancelLosingEntries"} in defs["Action"]["properties"]["cancel_losing_entries"]["anyOf"]
    assert defs["CancelLosingEntries"]["description"].startswith("Cancel the entry orders (not reduce-only)")
    assert defs["CancelLosingEntries"]["properties"]["side"]["enum"] == ["long", "short", "any"]
