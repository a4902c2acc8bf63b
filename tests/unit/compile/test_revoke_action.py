"""The ``revoke_trading`` action in the language: its node, its directive, and the stages it may sit on."""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import MIN, only, policy_graph, policy_text, run, snap


def _stage(actions: str, reset: str = "manual") -> str:
    return f"- {{level: 1, name: stop, on: [t], reset: {reset}, approvals: 2, actions: {actions}}}"


def _graph(actions: str, scope: str = "{level: account}"):
    return policy_graph("s: {equity_change: {against: baseline, baseline: 10k}}",
                        't: {when: "s <= -5%", on_missing_data: hold}', _stage(actions), scope=scope)


@pytest.mark.parametrize("written", ["revoke_trading", "{revoke_trading: {}}"])
def test_revoke_trading_asks_the_runner_to_revoke(written):
    """Its kind's plan asks for a revoke, what the runner and the checks read (never its name)."""
    [action] = _graph(f"[{written}]").policy("p").stage(1).actions
    got = action.asks
    assert action.kind == "revoke_trading" and got.revokes and got.directed
    assert not (got.cancels or got.locks or got.countdowns or got.notices or got.runbooks or got.closes_all)


def test_revoke_trading_takes_no_parameter():
    """The venue's method is the account's (the Accounts document), not the policy's: a typo'd
    or invented parameter is an error, never ignored."""
    text = policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       _stage("[{revoke_trading: {method: frozen}}]"))
    result = compile_documents(load_text(textwrap.dedent(text), "p.yaml"))
    assert result.graph is None and any(d.is_error and "method" in d.message for d in result.diagnostics)


def test_revoke_trading_on_an_auto_reset_stage_is_ks250_at_the_action():
    text = policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       "- {level: 1, name: stop, on: [t], actions: [close_all, revoke_trading]}")
    result = compile_documents(load_text(textwrap.dedent(text), "p.yaml"))
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "KS250" and "reset: manual" in (diag.hint or "")
    line = textwrap.dedent(text).splitlines()[diag.pos.line - 1]
    assert line[diag.pos.col - 1:].startswith("revoke_trading")


def test_a_stage_entry_plans_revoke_trading_as_a_directive_of_its_scope():
    graph = _graph("[close_all, revoke_trading]")
    evs, _ = run(graph, [(0, [snap(10_000.0, 0)]), (MIN, [snap(9_000.0, MIN)])])
    plan = only(evs[1]).plan
    assert plan is not None
    assert [(d.kind, d.params, d.scope) for d in plan.directives] == [("revoke_trading", {}, "simulated/a")]


def test_the_runbook_of_a_revoking_stage_says_when_the_revoke_holds_and_what_restores_it():
    from killswitch.runbooks.render import render_runbook
    from killswitch.runbooks.sample import sample_incident
    from killswitch.runbooks.templates import Templates
    from tests.conftest import ROOT

    graph = _graph("[{lock_trading: {mode: halted}}, revoke_trading]")
    incident = sample_incident(graph.policy("p"), 1, digest=graph.digest, revision=None)
    md = render_runbook(incident, Templates.load(ROOT / "runbooks")).markdown
    assert "**The bots' keys are revoked at the venue** (`revoke_trading`)" in md
    assert "`TRADING <account>: revoked (read back)`" in md and "`revoke_failed` page" in md
    plain = render_runbook(sample_incident(_graph("[{lock_trading: {mode: halted}}]").policy("p"), 1,
                                           digest=graph.digest, revision=None), Templates.load(ROOT / "runbooks"))
    assert "revoked at the venue" not in plain.markdown
