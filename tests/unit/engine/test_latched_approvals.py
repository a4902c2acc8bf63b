"""How a stage resets is fixed when it is entered: a reload that raises a stage's ``approvals:``
(or makes it manual) changes only the stages entered after it, never a latched one, nor the
instance it removed (which keeps the approvals its stage asked for)."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.engine.removed import Declared, prune, reset_needs
from killswitch.engine.stages import approve_reset
from killswitch.engine.state import StageState, State
from killswitch.view.scopes import stage_facts
from tests.unit.engine_helpers import SEC, policy_graph, run, snap


def graph(approvals: int, scope: str = "{level: account}"):
    return policy_graph("s: {equity_change: {against: initial_capital}}",
                        't: {when: "s <= -5%", on_missing_data: hold}',
                        "- {level: 1, name: halt, on: [t], reset: manual, approvals: %d, "
                        "actions: [{lock_trading: {mode: halted}}]}" % approvals, interval="5s", scope=scope)


def latched(g, accounts=("a",)):
    """The state of ``g`` latched at stage 1 on every one of ``accounts``."""
    _, state = run(g, [(0, [snap(9_000.0, 0, account=a, initial_capital=10_000.0) for a in accounts])])
    for a in accounts:
        assert state.scopes[f"p|simulated/{a}"].stage.level == 1
    return state


def test_a_reload_that_raises_the_approvals_keeps_what_the_latched_stage_asked_for():
    state = latched(graph(1))
    more = graph(2)
    ss = state.scopes["p|simulated/a"]
    evs, state = run(more, [(5 * SEC, [snap(10_000.0, 5 * SEC, initial_capital=10_000.0)])], state)
    (se,) = evs[0].scopes
    assert "LATCHED: stage=1 needs a manual reset by 1 approver(s)" in se.refusals
    ss = state.scopes["p|simulated/a"]
    assert stage_facts(more.policy("p"), ss) == ("halt", True, 1)
    transition, why = approve_reset(more.policy("p"), "simulated/a", ss.stage, "alice", 6 * SEC)
    assert transition is not None and why == "MANUAL_RESET: stage=1 approvers=alice"
    # entered after the reload: the new approvals
    evs, state = run(more, [(7 * SEC, [snap(9_000.0, 7 * SEC, initial_capital=10_000.0)])], state)
    ss = state.scopes["p|simulated/a"]
    assert ss.stage.level == 1 and stage_facts(more.policy("p"), ss) == ("halt", True, 2)
    _, why = approve_reset(more.policy("p"), "simulated/a", ss.stage, "alice", 8 * SEC)
    assert why == "APPROVAL_RECORDED: 1/2 approvers=alice"


def test_the_instance_a_reload_removes_keeps_the_approvals_its_stage_asked_for():
    state = latched(graph(1), ("a", "b"))
    narrowed = graph(2, "{level: account, accounts: {names: [simulated/a]}}")
    pruned = prune(narrowed, state, [Declared("simulated", "a", {}), Declared("simulated", "b", {})], SEC,
                   before=graph(1))
    assert pruned.kept == (("p|simulated/b", 1),)
    removal = state.scopes["p|simulated/b"].removed
    assert removal is not None and reset_needs(removal) == 1
    assert stage_facts(narrowed.policy("p"), state.scopes["p|simulated/b"])[2] == 1
    assert stage_facts(narrowed.policy("p"), state.scopes["p|simulated/a"])[2] == 1


def test_what_the_stage_asked_for_is_saved_and_a_state_saved_without_it_reads_the_running_stage():
    state = latched(graph(1))
    again = State.from_json(state.to_json())
    st = again.scopes["p|simulated/a"].stage
    assert (st.manual, st.needs) == (True, 1)
    old = st.to_json()
    del old["manual"], old["needs"]
    before = StageState.from_json(old)
    assert (before.manual, before.needs) == (None, None)
    assert stage_facts(graph(2).policy("p"), SimpleNamespace(stage=before, removed=None)) == ("halt", True, 2)
    _, why = approve_reset(graph(2).policy("p"), "simulated/a", before, "alice", SEC)
    assert why == "APPROVAL_RECORDED: 1/2 approvers=alice"
