"""The ``close_side`` action, a built-in kind moved into a module of its own
(killswitch/policy/kinds/close_side.py): it keeps its place in the language and its short form,
its node holds its frozen parameters and planning, it picks the side from the attribution the
planner hands it (saying why it closes nothing when attribution names no single side), and its
closes take the planner's path — reduce-only, the whole position, a position below the venue's
minimum a residual, the entries of its symbol cancelled first. (Its choice of side against
bleeding books: test_engine_planner.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.nodes import ActionNode
from killswitch.policy.actions import ACTIONS, CLOSING_ACTIONS
from killswitch.policy.kinds import close_side
from tests.unit.engine_helpers import MIN, MarketRules, compile_graph, only, order, policy_text, pos, run, snap

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def cut_policy(action: str) -> str:
    """A policy whose one stage, entered when equity is 5% below 10k, holds ``action``."""
    return policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       f"- {{level: 1, name: cut, on: [t], actions: [{action}]}}")


def the_action(action: str) -> ActionNode:
    [node] = compile_graph(cut_policy(action), "p.yaml", clean=True).policies[0].stages[0].actions
    assert isinstance(node, ActionNode)
    return node


def test_it_keeps_its_place_in_the_language_and_closes():
    kinds = list(ACTIONS)
    assert kinds[kinds.index("reduce_top_risk") + 1:kinds.index("close_positions")] == ["close_side"]
    assert "close_side" in CLOSING_ACTIONS and ACTIONS["close_side"].short == "side"


def test_the_short_form_names_the_side():
    node = the_action("{close_side: losing}")
    assert (node.kind, node.params, node.written) == (
        "close_side", close_side.CloseSideParams(side="losing", on_unknown_side="skip"),
        {"side": "losing", "on_unknown_side": "skip"})


class Planning:
    """A stage entry, written by hand: an attribution, two positions, and what the kind asks."""

    equity, positions_known = 10_000.0, True

    def __init__(self, attribution: str):
        self.attribution = attribution
        self.closes: list[tuple[str, float, str]] = []
        self.skipped: list[str] = []

    def positions(self):
        return [("a", pos(BTC, "long")), ("a", pos(ETH, "short"))]

    def close(self, snapshot, position, fraction, reason):
        self.closes.append((position.symbol, fraction, reason))

    def skip(self, reason):
        self.skipped.append(reason)


@pytest.mark.parametrize("side, on_unknown, attribution, closes, skipped", [
    pytest.param("losing", "skip", "SHORT", [(ETH, 1.0, "CLOSE_SIDE: side=short attribution=SHORT")], [],
                 id="losing_is_the_side_attribution_names"),
    pytest.param("long", "skip", "SHORT", [(BTC, 1.0, "CLOSE_SIDE: side=long attribution=SHORT")], [],
                 id="a_named_side_whatever_attribution_says"),
    pytest.param("losing", "skip", "MIXED", [], ["ATTRIBUTION_MIXED: close_side skipped; no single losing side"],
                 id="mixed_skips_and_says_so"),
    pytest.param("losing", "skip", "UNKNOWN", [],
                 ["ATTRIBUTION_UNKNOWN: close_side skipped; nothing declined over the reference window"],
                 id="unknown_skips_and_says_so"),
    pytest.param("losing", "both", "MIXED", [(BTC, 1.0, "CLOSE_SIDE: side=long attribution=MIXED"),
                                             (ETH, 1.0, "CLOSE_SIDE: side=short attribution=MIXED")], [],
                 id="both_closes_both_sides_when_no_side_is_named"),
])
def test_it_asks_for_whole_closes_of_the_side(side, on_unknown, attribution, closes, skipped):
    planning = Planning(attribution)
    close_side.plan(close_side.CloseSideParams(side, on_unknown), planning)  # type: ignore[arg-type]
    assert (planning.closes, planning.skipped) == (closes, skipped)


MARKETS = {BTC: MarketRules(amount_step=0.1), SOL: MarketRules(amount_step=0.1, min_amount=1.0)}
POSITIONS = [pos(BTC, "long", 3.0, 100.0, -400.0), pos(ETH, "short", 10.0, 50.0, -300.0),
             pos(SOL, "long", 0.5, 20.0)]
ORDERS = [order("o1", BTC, "buy"), order("o2", BTC, "sell", reduce_only=True), order("o3", ETH, "sell")]


def test_its_closes_take_the_planner_path():
    graph = compile_graph(cut_policy("{close_side: long}"), "p.yaml")
    ticks = [(0, [snap(10_000.0, 0, positions=POSITIONS, orders=ORDERS, markets=MARKETS)]),
             (MIN, [snap(9_000.0, MIN, positions=POSITIONS, orders=ORDERS, markets=MARKETS)])]
    evs, _ = run(graph, ticks)
    plan = only(evs[1]).plan
    assert plan is not None
    assert [(o.symbol, o.side, o.amount, o.reduce_only, o.action) for o in plan.orders] == [
        (BTC, "sell", 3.0, True, "close_side")]
    # SOL's 0.5 is below the venue's minimum of 1: no order, a residual
    assert [(r.symbol, r.amount) for r in plan.residuals] == [(SOL, 0.5)]
    # the entry order of the long being closed goes first; its reduce-only stop and ETH's entry stay
    assert [(c.which, c.order_ids) for c in plan.cancels] == [("entries", ("o1",))]
