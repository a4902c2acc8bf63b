"""The ``reduce_all_by`` action, a kind in a module of its own (killswitch/policy/kinds/reduce_all_by.py),
end to end: the policy language takes it (its short form too; mistakes at their file:line:col
with a close match), the compiler keeps its parameters, and a tick that enters its stage plans
exactly the reduce-only closes it asks for — each a fraction of its position rounded down to the
step, never above the position, a part below the minimum skipped — with the entries of the cut
symbols cancelled first; the catalogue counts it among the closing actions and the JSON schema
describes it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.cli.schema import schema_text
from killswitch.compile.compiler import compile_documents
from killswitch.compile.nodes import ActionNode
from killswitch.policy.actions import CLOSING_ACTIONS
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import MarketRules, action_policy, entry_plan, order, pos

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def compiled(action: str):
    return compile_documents(load_text(action_policy(action), "p.yaml"))


def the_action(action: str) -> ActionNode:
    result = compiled(action)
    assert not result.diagnostics, result.diagnostics
    [node] = result.graph.policies[0].stages[0].actions
    assert isinstance(node, ActionNode)
    return node


def test_the_compiled_node_keeps_the_fraction_and_the_side():
    node = the_action("{reduce_all_by: {fraction: 50%, side: long}}")
    assert (node.kind, node.closes, node.params.fraction, node.params.side) == ("reduce_all_by", True, 0.5, "long")
    assert node.written == {"fraction": "50%", "side": "long"}


def test_the_short_form_sets_the_fraction_of_both_sides():
    node = the_action("{reduce_all_by: 25%}")
    assert (node.params.fraction, node.params.side) == (0.25, None)


@pytest.mark.parametrize("action, code, line_col, message, hint", [
    ("{reduce_all_by: {fracton: 25%}}", "KS101", (12, 65),
     'unknown key "fracton" in stages[0].actions[0].reduce_all_by', 'did you mean "fraction"?'),
    ("{reduce_all_by: {fraction: 25%, side: longs}}", "KS103", (12, 86),
     "stages[0].actions[0].reduce_all_by.side: \"longs\" is not allowed; expected 'long', 'short' or 'any'",
     'did you mean "long"?'),
    ("{reduce_all_by: 150%}", "KS111", (12, 64),
     "stages[0].actions[0].reduce_all_by.fraction: fraction must be above 0% and at most 100%", "write a percentage"),
    ("{reduce_al_by: 25%}", "KS101", (12, 49), 'unknown action "reduce_al_by" in stages[0].actions[0]',
     'did you mean "reduce_all_by"?'),
], ids=["misspelled-key", "misspelled-side", "above-the-whole", "misspelled-kind"])
def test_a_mistake_is_reported_at_its_position_with_a_close_match(action, code, line_col, message, hint):
    diagnostics = compiled(action).diagnostics
    err = next(d for d in diagnostics if d.code == code)
    assert (err.location(), err.message) == ("p.yaml:%d:%d" % line_col, message)
    assert err.hint is not None and err.hint.startswith(hint)


def test_ksctl_validate_shows_a_misspelled_key_at_its_file_line_and_column(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(action_policy("{reduce_all_by: {fracton: 25%}}"))
    r = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert r.exit_code == 1
    [line] = [x for x in r.output.splitlines() if "KS101" in x]
    assert line.startswith(f"{path}:12:65") and 'unknown key "fracton"' in line
    assert 'did you mean "fraction"?' in r.output


MARKETS = {BTC: MarketRules(amount_step=0.1), ETH: MarketRules(amount_step=1.0),
           SOL: MarketRules(amount_step=0.1, min_amount=0.1)}
POSITIONS = [pos(BTC, "long", 3.0, 100.0, -400.0), pos(ETH, "short", 10.0, 50.0, -300.0),
             pos(SOL, "long", 0.2, 20.0)]
ORDERS = [order("o1", BTC, "buy"), order("o2", BTC, "sell", reduce_only=True), order("o3", "XRP/USDT:USDT", "buy")]


def entry(action: str):
    return entry_plan(action, POSITIONS, ORDERS, MARKETS)


def test_a_stage_entry_cuts_every_position_by_the_fraction_reduce_only_and_rounded_down():
    plan = entry("{reduce_all_by: 25%}")
    held = {p.symbol: p.contracts for p in POSITIONS}
    got = [(o.symbol, o.side, o.amount, o.reduce_only, o.action, o.reason) for o in plan.orders]
    assert got == [  # the most exposed first (ETH 500 before BTC 300)
        (ETH, "buy", 2.0, True, "reduce_all_by", "REDUCE_ALL_BY: fraction=25%"),  # 2.5 down to the step of 1
        (BTC, "sell", 0.7, True, "reduce_all_by", "REDUCE_ALL_BY: fraction=25%"),  # 0.75 down to 0.1's
    ]
    assert all(o.amount <= held[o.symbol] for o in plan.orders)
    # a quarter of 0.2 SOL is 0.05: below its step, no order, said
    assert plan.skipped == (f"BELOW_MINIMUM: simulated/a/{SOL}/long amount=0 min=0.1",)
    # the entry order of a symbol being cut goes first; the reduce-only one and XRP's stay
    assert [(c.which, c.order_ids) for c in plan.cancels] == [("entries", ("o1",))]
    assert plan.directives == () and plan.residuals == ()


def test_a_side_cuts_that_side_alone_and_the_whole_closes_each_position_in_full():
    longs = entry("{reduce_all_by: {fraction: 100%, side: long}}")
    assert [(o.symbol, o.amount, o.reduce_only) for o in longs.orders] == [(BTC, 3.0, True), (SOL, 0.2, True)]


def test_it_is_a_closing_action_of_the_catalogue():
    assert "reduce_all_by" in CLOSING_ACTIONS


def test_the_schema_describes_it_from_its_module():
    defs = json.loads(schema_text("policy"))["$defs"]
    assert {"$ref": "#/$defs/ReduceAllBy"} in defs["Action"]["properties"]["reduce_all_by"]["anyOf"]
    assert defs["ReduceAllBy"]["description"].startswith("Cut every position of the scope")
    assert defs["ReduceAllBy"]["required"] == ["fraction"]
    assert defs["ReduceAllBy"]["properties"]["side"]["enum"] == ["long", "short", "any"]
