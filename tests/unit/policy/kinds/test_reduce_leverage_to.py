"""The ``reduce_leverage_to`` action, a kind in a module of its own
(killswitch/policy/kinds/reduce_leverage_to.py) found by the kinds package, end to end: the policy
language takes it (its short form too; mistakes at their file:line:col with a close match), the
compiler keeps its parameters, and a tick that enters its stage plans the reduce-only closes that
bring the scope's leverage down to the target — one fraction of every position (or of one side),
rounded down to the step, never above the position — and plans nothing, saying why, when the
leverage cannot be told or is within the target."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from killswitch.cli.schema import schema_text
from killswitch.compile.compiler import compile_documents
from killswitch.compile.nodes import ActionNode
from killswitch.policy.actions import CLOSING_ACTIONS
from killswitch.policy.kinds import reduce_leverage_to
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import MarketRules, action_policy, compile_graph, entry_plan, order, pos

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def the_action(action: str) -> ActionNode:
    [node] = compile_graph(action_policy(action), "p.yaml", clean=True).policies[0].stages[0].actions
    assert isinstance(node, ActionNode)
    return node


def test_the_compiled_node_keeps_the_target_and_the_side():
    node = the_action("{reduce_leverage_to: {leverage: 2.5, side: short}}")
    assert (node.kind, node.closes, node.params.leverage, node.params.side) == ("reduce_leverage_to", True, 2.5,
                                                                               "short")
    assert the_action("{reduce_leverage_to: 3}").params == reduce_leverage_to.ReduceLeverageToParams(3.0, None)


@pytest.mark.parametrize("action, code, message, hint", [
    ("{reduce_leverage_to: {leverge: 3}}", "KS101", 'unknown key "leverge" in stages[0].actions[0].reduce_leverage_to',
     'did you mean "leverage"?'),
    ("{reduce_leverage_to: 0}", "KS103", "stages[0].actions[0].reduce_leverage_to.leverage: expected greater than 0",
     "it must be above 0"),
    ("{reduce_leverge_to: 3}", "KS101", 'unknown action "reduce_leverge_to" in stages[0].actions[0]',
     'did you mean "reduce_leverage_to"?'),
], ids=["misspelled-key", "zero", "misspelled-kind"])
def test_a_mistake_is_reported_at_its_position_with_a_close_match(action, code, message, hint):
    diagnostics = compile_documents(load_text(action_policy(action), "p.yaml")).diagnostics
    err = next(d for d in diagnostics if d.code == code)
    assert err.location().startswith("p.yaml:12:") and err.message.startswith(message)
    if hint is not None:
        assert err.hint is not None and err.hint.startswith(hint)


MARKETS = {BTC: MarketRules(amount_step=0.1), ETH: MarketRules(amount_step=1.0)}
# gross notional 800 (BTC 300 long, ETH 500 short) over 9,000 of equity at the entry: leverage 0.0889
POSITIONS = [pos(BTC, "long", 3.0, 100.0, -400.0), pos(ETH, "short", 10.0, 50.0, -300.0)]
ORDERS = [order("o1", BTC, "buy"), order("o2", ETH, "sell", reduce_only=True)]


def entry(action: str):
    return entry_plan(action, POSITIONS, ORDERS, MARKETS)


def test_a_stage_entry_cuts_every_position_by_the_fraction_that_reaches_the_target():
    plan = entry("{reduce_leverage_to: 0.05}")  # 450 of 800 allowed: 43.75% of each cut
    reason = "REDUCE_LEVERAGE_TO: leverage=0.09 target=0.05 fraction=43.75%"
    assert [(o.symbol, o.side, o.amount, o.reduce_only, o.action, o.reason) for o in plan.orders] == [
        (ETH, "buy", 4.0, True, "reduce_leverage_to", reason),  # 4.375 down to the step of 1
        (BTC, "sell", 1.3, True, "reduce_leverage_to", reason),  # 1.3125 down to 0.1's
    ]
    held = {p.symbol: p.contracts for p in POSITIONS}
    assert all(o.amount <= held[o.symbol] for o in plan.orders)
    # what is left: ETH 6 x 50 + BTC 1.7 x 100 = 470, above 450 by less than a step of each position
    assert 450.0 < (10 - 4.0) * 50.0 + (3.0 - 1.3) * 100.0 < 450.0 + 1.0 * 50.0 + 0.1 * 100.0
    assert [(c.which, c.order_ids) for c in plan.cancels] == [("entries", ("o1",))]  # the reduce-only one stays
    assert plan.skipped == ()


def test_one_side_is_closed_whole_and_the_plan_says_the_target_is_not_reached():
    plan = entry("{reduce_leverage_to: {leverage: 0.05, side: long}}")  # cutting 350 of the 300 of longs
    assert [(o.symbol, o.amount, o.reduce_only) for o in plan.orders] == [(BTC, 3.0, True)]
    assert plan.skipped == ("LEVERAGE_ABOVE_TARGET: closing every long leaves leverage=0.06 above target=0.05",)


def test_at_or_below_the_target_nothing_is_cut_and_the_plan_says_so():
    plan = entry("{reduce_leverage_to: 0.1}")
    assert plan.orders == () and plan.cancels == ()
    assert plan.skipped == ("LEVERAGE_WITHIN: reduce_leverage_to cut nothing; leverage=0.09 target=0.1",)


class Planning:
    """A hand-made ActionPlanning: the scope's equity and positions, and what was asked of it."""

    def __init__(self, equity: Optional[float], positions: list, known: bool = True):
        self.equity, self.positions_known, self._positions = equity, known, positions
        self.closes: list[tuple[Any, float]] = []
        self.skipped: list[str] = []

    def positions(self):
        return [(None, p) for p in self._positions]

    def close(self, snapshot, position, fraction, reason):
        self.closes.append((position.symbol, fraction))

    def skip(self, reason):
        self.skipped.append(reason)


@pytest.mark.parametrize("equity, shown", [(None, "unknown"), (0.0, "0"), (-50.0, "-50")])
def test_a_leverage_that_cannot_be_told_cuts_nothing_and_says_why(equity, shown):
    planning = Planning(equity, POSITIONS)
    reduce_leverage_to.plan(reduce_leverage_to.ReduceLeverageToParams(3.0, None), planning)
    assert planning.closes == []
    assert planning.skipped == [f"EQUITY_UNKNOWN: reduce_leverage_to skipped; the scope's equity is {shown}, so its "
                                "leverage cannot be told"]


def test_unknown_positions_are_left_to_the_planner_which_plans_them_once_known():
    planning = Planning(9_000.0, [], known=False)
    reduce_leverage_to.plan(reduce_leverage_to.ReduceLeverageToParams(0.01, None), planning)
    assert planning.closes == [] and planning.skipped == []  # never read as a book within its target


def test_a_side_with_no_position_cuts_nothing_and_says_the_target_is_not_reached():
    planning = Planning(1_000.0, POSITIONS)
    reduce_leverage_to.plan(reduce_leverage_to.ReduceLeverageToParams(0.5, None), planning)
    assert planning.closes == [(BTC, 0.375), (ETH, 0.375)]  # 300 of 800 cut: 500 left on 1,000
    only_longs = Planning(1_000.0, [p for p in POSITIONS if p.side == "short"])
    reduce_leverage_to.plan(reduce_leverage_to.ReduceLeverageToParams(0.1, "long"), only_longs)
    assert only_longs.closes == []
    assert only_longs.skipped == ["LEVERAGE_ABOVE_TARGET: closing every long leaves leverage=0.50 above target=0.1"]


def test_it_is_a_closing_action_of_the_catalogue_described_by_the_schema():
    assert "reduce_leverage_to" in CLOSING_ACTIONS
    defs = json.loads(schema_text("policy"))["$defs"]
    assert {"$ref": "#/$defs/ReduceLeverageTo"} in defs["Action"]["properties"]["reduce_leverage_to"]["anyOf"]
    assert defs["ReduceLeverageTo"]["required"] == ["leverage"]
    assert defs["ReduceLeverageTo"]["properties"]["leverage"]["exclusiveMinimum"] == 0
