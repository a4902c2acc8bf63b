"""What the planner hands an action of a kind of its own module (killswitch/policy/kinds/): its
``plan`` reads the scope's positions and asks for closes through the planning the planner gives
it, and those closes take the path of every close — reduce-only, rounded down to the step, never
above the position, a part below the minimum skipped, the entries of the closed symbol cancelled
first, the larger of two requests for a position kept — under the action's name.

The actions here are hand-written :class:`~killswitch.compile.nodes.ActionNode` nodes put in the
stage of a compiled one-stage policy: the planner's side of the protocol, without a kind in the
catalogue (the kinds' own tests show theirs end to end)."""

from __future__ import annotations

import math
from dataclasses import replace

from killswitch.compile.nodes import ActionNode
from killswitch.engine.planner import PnlHistory, complete, history_for, plan
from killswitch.engine.scope import instances
from tests.unit.engine.test_planner import DECISION, T, book, make_plan, planner_policy
from tests.unit.engine_helpers import MarketRules, order, pos

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def asking(fractions: dict[str, float], *, skip: str = ""):
    """A kind's plan asking for ``fractions`` of the positions of these symbols (and a skip reason)."""
    def plan_fn(params, planning) -> None:
        assert params == "frozen"
        for s, p in planning.positions():
            if p.symbol in fractions:
                planning.close(s, p, fractions[p.symbol], f"ASKED: {p.symbol} fraction={fractions[p.symbol]}")
        if skip:
            planning.skip(skip)
    return plan_fn


def kind_plan(*actions: ActionNode, legs, **snap_kw):
    """The plan of a stage whose actions are ``actions`` (a compiled close_all stage, its actions replaced)."""
    policy = planner_policy("[close_all]")
    now, then = book(legs, **snap_kw)
    stage = replace(policy.stage(1), actions=actions)
    policy = replace(policy, stages=(stage,))
    return make_plan(policy, [now], [then])


def action(fractions, *, kind="halve", closes=True, skip=""):
    return ActionNode(kind=kind, params="frozen", plan=asking(fractions, skip=skip), closes=closes)


def test_a_part_asked_for_is_a_reduce_only_close_rounded_down_to_the_step():
    legs = [(pos(BTC, "long", 3.0, 100.0), 0.0), (pos(ETH, "short", 10.0, 50.0), 0.0)]
    pl = kind_plan(action({BTC: 0.25, ETH: 0.5}), legs=legs, markets={BTC: MarketRules(amount_step=0.1)})
    got = {o.symbol: (o.side, o.amount, o.reduce_only, o.action) for o in pl.orders}
    assert got == {BTC: ("sell", 0.7, True, "halve"),  # 0.75 rounded down to the step of 0.1
                   ETH: ("buy", 5.0, True, "halve")}
    assert {o.reason for o in pl.orders} == {f"ASKED: {BTC} fraction=0.25", f"ASKED: {ETH} fraction=0.5"}


def test_more_than_the_whole_closes_exactly_the_position_and_nothing_asks_for_no_order():
    legs = [(pos(BTC, "long", 2.0), 0.0), (pos(ETH, "long", 4.0), 0.0), (pos("SOL/USDT:USDT", "long", 1.0), 0.0)]
    pl = kind_plan(action({BTC: 3.0, ETH: 0.0, "SOL/USDT:USDT": math.nan}), legs=legs)
    assert [(o.symbol, o.amount, o.reduce_only) for o in pl.orders] == [(BTC, 2.0, True)]


def test_a_part_below_the_minimum_is_skipped_and_the_reason_the_kind_gives_is_kept():
    legs = [(pos(BTC, "long", 1.0), 0.0)]
    pl = kind_plan(action({BTC: 0.1}, skip="NOTHING_ELSE: said by the kind"), legs=legs,
                   markets={BTC: MarketRules(amount_step=0.01, min_amount=0.5)})
    assert pl.orders == ()
    assert pl.skipped == ("NOTHING_ELSE: said by the kind", f"BELOW_MINIMUM: simulated/a/{BTC}/long amount=0.1 min=0.5")


def test_the_entries_of_a_symbol_it_closes_are_cancelled_first():
    orders = [order("o1", BTC, "buy"), order("o2", BTC, "sell", reduce_only=True), order("o3", ETH, "buy")]
    pl = kind_plan(action({BTC: 0.5}), legs=[(pos(BTC, "long", 2.0), 0.0), (pos(ETH, "long", 2.0), 0.0)],
                   orders=orders)
    assert [(c.which, c.order_ids) for c in pl.cancels] == [("entries", ("o1",))]


def test_of_two_requests_for_one_position_the_larger_is_kept():
    legs = [(pos(BTC, "long", 4.0), 0.0)]
    pl = kind_plan(action({BTC: 0.25}), action({BTC: 0.5}, kind="other"), action({BTC: 0.1}), legs=legs)
    assert [(o.amount, o.action) for o in pl.orders] == [(2.0, "other")]


def test_a_kind_action_is_no_directive_and_a_closing_one_lists_the_scores():
    legs = [(pos(BTC, "long", 4.0), 0.0)]
    quiet = kind_plan(action({}, closes=False), legs=legs)
    assert (quiet.orders, quiet.directives) == ((), ())
    policy = planner_policy("[close_all]")
    now, then = book(legs)
    stage = replace(policy.stage(1), actions=(action({BTC: 0.5}),))
    hist = PnlHistory(*history_for(policy))
    [view] = instances(policy, [now])
    pl = plan(policy, stage, view, DECISION, T, hist, scores="all")
    assert pl.scores is not None and [o.amount for o in pl.orders] == [2.0]


def test_after_a_close_all_its_first_wave_sends_no_directive_for_it_and_the_whole_plan_begins_with_it():
    policy = planner_policy("[close_all]")
    legs = [(pos(BTC, "long", 4.0, 100.0), 0.0), (pos(ETH, "long", 2.0, 50.0), 0.0)]
    now, _ = book(legs)
    close_all = policy.stage(1).actions[0]
    stage = replace(policy.stage(1), actions=(close_all, action({BTC: 0.5, ETH: 0.5})))
    [view] = instances(policy, [now])
    head = plan(policy, stage, view, DECISION, T, PnlHistory(*history_for(policy)), first_wave=True)
    assert head.rest is not None and head.directives == ()
    whole = complete(head)
    assert whole.orders[:len(head.orders)] == head.orders
    # the close_all's whole closes are the larger requests: the kind's halves add nothing
    assert [(o.symbol, o.amount, o.action) for o in whole.orders] == [(BTC, 4.0, "close_all"), (ETH, 2.0, "close_all")]
