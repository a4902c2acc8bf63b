"""What the planner does with the cancels and the lock an action of a kind of its own module asks
for (``ActionPlanning.cancel``, ``ActionPlanning.lock``): the cancels add up with the entries the
closes cancel, one per account, ``all`` winning, and the plan names the actions they came from;
a lock is the action's directive, as written, and a typed :class:`Lock` the runner's lock book
applies; a first wave (a close_all's first leg) carries them whatever else the kind does; a
request the port does not know is refused.

The actions here are hand-written :class:`~killswitch.compile.nodes.ActionNode` nodes in the stage
of a compiled one-stage policy, as in test_action_planning.py: no kind of the catalogue."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from killswitch.compile.nodes import ActionNode
from killswitch.engine.planner import Directive, Lock, PnlHistory, complete, history_for, plan
from killswitch.engine.scope import instances
from killswitch.runner.lock.evaluation import apply_evaluation
from killswitch.runner.lock.lock import LockBook
from tests.unit.engine.test_planner import DECISION, T, book, make_plan
from tests.unit.engine_helpers import order, policy_graph, pos

BTC, ETH, XRP = "BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT"
SCOPE = "simulated/a"


def kind(name: str, plan_fn, *, closes=False, after_closes=False, written=None) -> ActionNode:
    return ActionNode(kind=name, written=written or {}, params="frozen", plan=plan_fn, closes=closes,
                      after_closes=after_closes)


def cancelling(which: str, symbols=()):
    return lambda params, planning: planning.cancel(which, symbols)


def locking(mode: str, ttl_ms=None, cancel=True, revert_growth=False):
    return lambda params, planning: planning.lock(mode, ttl_ms, cancel, revert_growth)


GRAPH = policy_graph("s: {equity_change: {against: baseline, baseline: 10k}}",
                     't: {when: "s <= -5%", on_missing_data: hold}',
                     "- {level: 1, name: act, on: [t], actions: [close_all]}")


def stage_plan(*actions: ActionNode, legs=(), orders=(), first_wave=False):
    policy = GRAPH.policy("p")
    stage = replace(policy.stage(1), actions=tuple(actions))
    policy = replace(policy, stages=(stage,))
    now, then = book(list(legs), orders=list(orders))
    if not first_wave:
        return make_plan(policy, [now], [then])
    [view] = instances(policy, [now])
    return plan(policy, stage, view, DECISION, T, PnlHistory(*history_for(policy)), first_wave=True)


ORDERS = [order("btc-bid", BTC, "buy"), order("btc-tp", BTC, "sell", reduce_only=True), order("eth-bid", ETH, "buy"),
          order("xrp-bid", XRP, "buy"), order("xrp-tp", XRP, "sell", reduce_only=True)]


def test_cancels_asked_add_up_one_per_account_all_winning_and_name_their_actions():
    p = stage_plan(kind("cancel_eth", cancelling("entries", [ETH])), kind("cancel_xrp", cancelling("all", [XRP])),
                   kind("cancel_none", cancelling("entries", ["DOGE/USDT:USDT"])), orders=ORDERS)
    assert [(c.which, c.order_ids, c.reason) for c in p.cancels] == [
        ("all", ("eth-bid", "xrp-bid", "xrp-tp"), "CANCEL_ALL")]
    assert p.cancelled_by == ("cancel_eth", "cancel_xrp")  # the one that matched nothing is not named


def test_a_cancel_of_every_symbol_keeps_the_reduce_only_orders_under_entries():
    p = stage_plan(kind("c", cancelling("entries")), orders=ORDERS)
    assert [c.order_ids for c in p.cancels] == [("btc-bid", "eth-bid", "xrp-bid")]


def test_a_lock_asked_is_the_actions_directive_as_written_and_a_lock_the_runner_applies():
    written = {"mode": "reducing", "ttl": "1m", "enforce": {"revert_growth": True}}
    p = stage_plan(kind("freeze", locking("reducing", 60_000, True, True), written=written))
    assert p.directives == (Directive("freeze", written, SCOPE),)
    assert p.locks == (Lock("freeze", SCOPE, "reducing", 60_000, True, True),)
    ev = SimpleNamespace(now_ms=T, digest="sha256:x", revision=None, scopes=[
        SimpleNamespace(policy="p", scope=SCOPE, transition=None, plan=p, coverage=None)])
    held = apply_evaluation(LockBook(), ev, GRAPH).for_scope(SCOPE, T)
    assert (held.mode, held.expires_ms, held.stage) == ("reducing", T + 60_000, 1)
    assert held.reason.startswith("FREEZE: stage=1 (act) policy=p")
    assert held.details["enforce"] == {"cancel": True, "revert_growth": True}  # not reducing's default: carried
    assert apply_evaluation(LockBook(), ev, GRAPH).for_scope(SCOPE, T + 60_000).mode == "active"


def test_an_entry_planned_again_once_positions_are_known_locks_nothing_twice():
    policy = GRAPH.policy("p")
    stage = replace(policy.stage(1), actions=(kind("freeze", locking("halted")), kind("c", cancelling("all"))))
    now, _ = book([], orders=ORDERS)
    [view] = instances(policy, [now])
    again = plan(policy, stage, view, DECISION, T, PnlHistory(*history_for(policy)), closes_only=True)
    assert again.directives == () and again.locks == ()  # applied with the entry's first plan
    assert [c.which for c in again.cancels] == ["all"]  # the cancels are planned again


def test_a_first_wave_carries_the_cancels_and_lock_of_every_kind_of_the_stage():
    """A close_all's first wave sends the entry's cancels (its rest sends none): a kind that also
    closes, or plans after the closes, has its cancels and lock there, read as the whole plan
    reads them (every position closed in full), and nothing else of it."""
    def after(params, planning):  # cancels the entries of what the closes leave open: nothing, here
        left = [p.symbol for s, p in planning.positions() if planning.closing(s, p) < p.contracts]
        planning.cancel("all", left or [XRP])

    def halve_and_cancel(params, planning):
        planning.skip("HALVED: said once, in the whole plan")
        for s, p in planning.positions():
            planning.close(s, p, 0.5, "HALF")
        planning.cancel("entries", [BTC])
        planning.lock("halted", None, True, True)

    close_all = GRAPH.policy("p").stage(1).actions[0]
    legs = [(pos(BTC, "long", 4.0, 100.0), 0.0), (pos(ETH, "long", 2.0, 50.0), 0.0)]
    actions = (close_all, kind("halve", halve_and_cancel, closes=True), kind("after", after, after_closes=True))
    head = stage_plan(*actions, legs=legs, orders=ORDERS, first_wave=True)
    whole = complete(head)
    assert head.rest is not None and len(head.orders) < len(whole.orders)
    assert head.cancels == whole.cancels and [c.order_ids for c in head.cancels] == [
        ("btc-bid", "xrp-bid", "xrp-tp", "eth-bid")]
    assert head.cancelled_by == whole.cancelled_by == ("halve", "after")
    assert head.locks == whole.locks == (Lock("halve", SCOPE, "halted", None, True, True),)
    assert head.skipped == () and whole.skipped == ("HALVED: said once, in the whole plan",)
    assert whole.orders[:len(head.orders)] == head.orders


@pytest.mark.parametrize("plan_fn, said", [
    (cancelling("some"), "cancel which='some'; entries or all"),
    (locking("frozen"), "lock mode='frozen'; reducing or halted"),
    (locking("halted", 0), "lock ttl_ms=0"),
])
def test_a_request_the_port_does_not_know_is_refused_naming_the_kind(plan_fn, said):
    with pytest.raises(ValueError, match=f"wrong: {said}"):
        stage_plan(kind("wrong", plan_fn), orders=ORDERS)
