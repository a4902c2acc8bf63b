"""engine/removed.py: which instances the running graph no longer produces, and what a prune does with them."""

from __future__ import annotations

import pytest

from killswitch.engine.removed import (
    POLICY_REMOVED,
    SCOPE_REMOVED,
    Declared,
    producible,
    prune,
    removed,
    reset_needs,
)
from killswitch.engine.state import Removal, State
from tests.unit.engine_helpers import compile_graph, guard_policy

ACCOUNTS = (Declared("binanceusdm", "main", {"book": "futures"}), Declared("binanceusdm", "hedge", {"book": "hedge"}),
            Declared("okx", "main", {"book": "futures"}))


def policy_text(scope: str, name: str = "guard", approvals: int = 2) -> str:
    return guard_policy(name, scope=scope, approvals=approvals)


def graph(*texts: str):
    return compile_graph("---\n".join(texts))


@pytest.mark.parametrize("scope, keys", [
    ("{level: global}", {"global"}),
    ("{level: global, venues: [kraken]}", set()),
    ("{level: venue}", {"binanceusdm", "okx"}),
    ("{level: venue, accounts: {match_labels: {book: hedge}}}", {"binanceusdm"}),
    ("{level: account, venues: [binanceusdm]}", {"binanceusdm/main", "binanceusdm/hedge"}),
    ("{level: account, accounts: {names: [main]}}", {"binanceusdm/main", "okx/main"}),
    ("{level: strategy, strategies: [bot-a, bot-b]}", {"bot-a", "bot-b"}),
    ("{level: symbol, symbols: [BTC/USDT:USDT]}", {"BTC/USDT:USDT"}),
    ("{level: strategy}", None),  # dynamic: whatever positions hold
    ("{level: symbol, strategies: [bot-a]}", None),
])
def test_the_keys_a_scope_can_produce_over_the_declared_accounts(scope, keys):
    node = graph(policy_text(scope)).policies[0]
    got = producible(node, ACCOUNTS)
    assert (None if got is None else set(got)) == keys


def test_an_account_whose_labels_are_unknown_is_taken_as_selected():
    node = graph(policy_text("{level: account, accounts: {match_labels: {book: futures}}}")).policies[0]
    accounts = (Declared("binanceusdm", "main", {"book": "futures"}), Declared("okx", "main", None))
    assert producible(node, accounts) == {"binanceusdm/main", "okx/main"}


def state_with(*keys_levels: tuple[str, int]) -> State:
    st = State()
    for key, level in keys_levels:
        policy, _, scope = key.partition("|")
        st.scope(policy, scope).stage.level = level
    return st


def test_a_prune_drops_armed_instances_keeps_latched_ones_and_leaves_dynamic_ones():
    old = graph(policy_text("{level: venue}"), policy_text("{level: strategy}", "bots"),
                policy_text("{level: global}", "gone", approvals=3))
    new = graph(policy_text("{level: venue, venues: [okx]}"), policy_text("{level: strategy}", "bots"))
    st = state_with(("guard|binanceusdm", 0), ("guard|okx", 0), ("bots|whatever", 0), ("gone|global", 1),
                    ("guard|kraken", 1))
    st.unmatched["gone"] = 1
    assert {k: v[0] for k, v in removed(new, st, ACCOUNTS).items()} == {
        "guard|binanceusdm": SCOPE_REMOVED, "gone|global": POLICY_REMOVED, "guard|kraken": SCOPE_REMOVED}
    pruned = prune(new, st, ACCOUNTS, 1000, before=old)
    assert pruned.dropped == ("guard|binanceusdm",)
    assert pruned.kept == (("gone|global", 1), ("guard|kraken", 1))
    assert set(st.scopes) == {"guard|okx", "bots|whatever", "gone|global", "guard|kraken"}
    assert st.unmatched == {}
    gone = st.scopes["gone|global"].removed
    assert gone == Removal(1000, POLICY_REMOVED, "policy gone is no longer in the running policies", "halt", True, 3)
    assert reset_needs(gone) == 3
    assert pruned.rows() == [
        {"policy": "guard", "scope": "binanceusdm", "stage": 0, "dropped": True},
        {"policy": "gone", "scope": "global", "stage": 1, "dropped": False},
        {"policy": "guard", "scope": "kraken", "stage": 1, "dropped": False}]
    # saved and read back as it is
    again = State.from_json(st.to_json())
    assert again.scopes["gone|global"].removed == gone and again.scopes["guard|okx"].removed is None
    # a reload taken back: live again, its mark cleared
    back = prune(old, again, ACCOUNTS, 2000)
    assert back.restored == ("gone|global",) and again.scopes["gone|global"].removed is None
    # the log line names each instance as every other view does, never by its internal key
    # (walk 12, issue 65, L8: "kept until reset: bot-a-guard|binanceusdm/sim-hedge at stage 1")
    assert pruned.text() == ("dropped guard binanceusdm; kept until reset: gone global at stage 1, "
                             "guard kraken at stage 1")
    assert back.text().endswith("; live again: gone global") and "|" not in pruned.text() + back.text()


def test_a_removed_instance_whose_stage_is_not_known_asks_two_approvers():
    new = graph(policy_text("{level: venue}"))
    st = state_with(("gone|global", 2))
    prune(new, st, ACCOUNTS, 1000)  # no graph that ran it: its stage is not known
    r = st.scopes["gone|global"].removed
    assert r is not None and r.stage_name is None and r.approvals is None and reset_needs(r) == 2
