"""Policies selecting the same accounts are independent, however their scopes are written: each
keeps its own stage machines (KS206 is retired)."""

from __future__ import annotations

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from tests.unit.compile.scope.test_unmatched import ACCOUNTS, policy

FORMS = ("accounts: {names: [bybit-futures]}", "accounts: {names: [bybit/bybit-futures]}", "venues: [bybit]")


def other(selector: str, name: str = "q") -> str:
    """Policy ``name`` on ``selector`` with another stage at level 1 (halted, not reducing)."""
    return policy(selector).replace("name: p}", f"name: {name}}}").replace(
        "name: reduce-only", "name: halt").replace("mode: reducing", "mode: halted")


def test_a_policy_narrowed_to_an_account_another_policy_watches_compiles_however_it_is_written():
    """The walk's reload: bot-a-guard narrowed to the one account quick-watch watches, with
    another stage at level 1. Each form of the same selection compiles, and each policy keeps
    its own stage 1 in the graph."""
    for p_form in FORMS:
        for q_form in FORMS:
            result = compile_documents(load_sources([("p.yaml", policy(p_form)), ("q.yaml", other(q_form)),
                                                     ("a.yaml", ACCOUNTS)]))
            assert result.errors == [], (p_form, q_form, [x.message for x in result.errors])
            stages = {p.name: p.stages[0].name for p in result.graph.policies}
            assert stages == {"p": "reduce-only", "q": "halt"}
