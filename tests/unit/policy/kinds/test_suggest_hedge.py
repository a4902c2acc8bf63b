"""The ``suggest_hedge`` action, a built-in kind moved into a module of its own
(killswitch/policy/kinds/suggest_hedge.py): it keeps its place in the language, its node holds its
frozen parameters and planning, and the planner plans it after every close of the stage
(``after_closes``), so it nets what the closes leave open wherever it stands among the actions,
once a stage — the hedges it suggests are reported in the plan and never sent. (Its netting over
hedge books: test_engine_planner.py.)"""

from __future__ import annotations

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.compile.nodes import ActionNode
from killswitch.policy.actions import ACTIONS, CLOSING_ACTIONS
from killswitch.policy.kinds import suggest_hedge
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import MIN, compile_graph, only, policy_text, pos, run, snap

BTC, ETH, ETH_USDC = "BTC/USDT:USDT", "ETH/USDT:USDT", "ETH/USDC:USDC"


def cut_policy(actions: str) -> str:
    """A policy whose one stage, entered when equity is 5% below 10k, holds ``actions``."""
    return policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       f"- {{level: 1, name: cut, on: [t], actions: {actions}}}")


def test_it_keeps_its_place_in_the_language_and_closes_nothing():
    kinds = list(ACTIONS)
    assert kinds[kinds.index("notify") + 1:kinds.index("runbook")] == ["suggest_hedge"]
    assert "suggest_hedge" not in CLOSING_ACTIONS and ACTIONS["suggest_hedge"].after_closes


def test_its_node_holds_the_threshold_and_plans_after_the_closes():
    result = compile_documents(load_text(cut_policy("[{suggest_hedge: {threshold: 25k}}]"), "p.yaml"))
    [node] = result.graph.policies[0].stages[0].actions
    assert isinstance(node, ActionNode) and (node.params, node.closes, node.after_closes) == (
        suggest_hedge.SuggestHedgeParams(threshold=25_000.0), False, True)


class Planning:
    """A stage entry, written by hand: three positions, what the closes took of each, and the
    hedges the kind suggests."""

    equity, positions_known, attribution = 100_000.0, True, "UNKNOWN"

    def __init__(self, closing: dict[str, float]):
        self.taken = closing
        self.hedges: list[tuple[str, str, float, str]] = []

    def positions(self):
        return [("a", pos(BTC, "long", 2.0, 25_000.0)), ("a", pos(ETH, "long", 10.0, 2_000.0)),
                ("a", pos(ETH_USDC, "short", 5.0, 2_000.0))]

    def closing(self, snapshot, position):
        return self.taken.get(position.symbol, 0.0)

    @staticmethod
    def base_asset(symbol):
        return symbol.split("/")[0]

    def suggest_hedge(self, base, side, notional, reason):
        self.hedges.append((base, side, notional, reason))


@pytest.mark.parametrize("threshold, closing, hedges", [
    pytest.param(5_000.0, {}, [("BTC", "sell", 50_000.0, "NET_EXPOSURE: base=BTC net=+50000 threshold=5000"),
                               ("ETH", "sell", 10_000.0, "NET_EXPOSURE: base=ETH net=+10000 threshold=5000")],
                 id="each_base_netted_across_its_quotes"),
    pytest.param(10_000.0, {}, [("BTC", "sell", 50_000.0, "NET_EXPOSURE: base=BTC net=+50000 threshold=10000")],
                 id="at_the_threshold_is_not_above_it"),
    pytest.param(5_000.0, {BTC: 1.5, ETH: 10.0},
                 [("BTC", "sell", 12_500.0, "NET_EXPOSURE: base=BTC net=+12500 threshold=5000"),
                  ("ETH", "buy", 10_000.0, "NET_EXPOSURE: base=ETH net=-10000 threshold=5000")],
                 id="what_the_closes_take_is_not_hedged"),
])
def test_it_suggests_a_hedge_for_each_base_left_above_the_threshold(threshold, closing, hedges):
    planning = Planning(closing)
    suggest_hedge.plan(suggest_hedge.SuggestHedgeParams(threshold), planning)  # type: ignore[arg-type]
    assert planning.hedges == hedges


POSITIONS = [pos(BTC, "long", 2.0, 25_000.0), pos(ETH, "long", 10.0, 2_000.0), pos(ETH_USDC, "short", 5.0, 2_000.0)]


def entry(actions: str):
    evs, _ = run(compile_graph(cut_policy(actions), "p.yaml"), [(0, [snap(10_000.0, 0, positions=POSITIONS)]),
                         (MIN, [snap(9_000.0, MIN, positions=POSITIONS)])])
    plan = only(evs[1]).plan
    assert plan is not None
    return plan


@pytest.mark.parametrize("actions", [
    "[{suggest_hedge: {threshold: 5k}}, {close_positions: {symbols: [BTC/USDT:USDT]}}]",
    "[{close_positions: {symbols: [BTC/USDT:USDT]}}, {suggest_hedge: {threshold: 5k}}]",
], ids=["listed_before_the_close", "listed_after_the_close"])
def test_it_nets_what_every_close_of_the_stage_leaves_wherever_it_stands(actions):
    plan = entry(actions)
    assert [(o.symbol, o.action) for o in plan.orders] == [(BTC, "close_positions")]  # the hedge is never sent
    assert [(h.base, h.side, h.notional) for h in plan.hedges] == [("ETH", "sell", 10_000.0)]


def test_a_stage_with_two_suggests_once_from_the_last():
    plan = entry("[{suggest_hedge: {threshold: 5k}}, {suggest_hedge: {threshold: 20k}}]")
    assert [(h.base, h.notional, h.reason) for h in plan.hedges] == [
        ("BTC", 50_000.0, "NET_EXPOSURE: base=BTC net=+50000 threshold=20000")]
