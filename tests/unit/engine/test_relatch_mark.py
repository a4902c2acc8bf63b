"""A stage entered at the first step after a manual reset (its trigger still fired) continues the
incident that reset ended (issue 81): the reset marks the stage with what it released, the next
step's entry carries the mark, and a quiet step drops it. The mark is saved with the state."""

from __future__ import annotations

from killswitch.engine.stages import approve_reset
from killswitch.engine.state import ResetMark, State
from tests.unit.engine_helpers import SEC, policy_graph, run, snap

SCOPE = "p|simulated/a"


def graph():
    return policy_graph("s: {equity_change: {against: initial_capital}}",
                        'soft: {when: "s <= -2%", on_missing_data: hold}\n'
                        'hard: {when: "s <= -5%", on_missing_data: hold}',
                        "- {level: 1, name: warn, on: [soft], reset: manual}\n"
                        "- {level: 2, name: halt, on: [hard], reset: manual, "
                        "actions: [{lock_trading: {mode: halted}}]}", interval="5s")


def tick(g, state, at_s: int, equity: float):
    evs, state = run(g, [(at_s * SEC, [snap(equity, at_s * SEC, initial_capital=10_000.0)])], state)
    (se,) = evs[0].scopes
    return se.transition, state


def reset(g, state, at_s: int):
    ss = state.scopes[SCOPE]
    transition, why = approve_reset(g.policy("p"), "simulated/a", ss.stage, "alice", at_s * SEC, orders=3,
                                    acked_by=("carol",))
    assert transition is not None, why
    return ss.stage.continues


def test_a_stage_entered_at_the_first_step_after_a_reset_continues_the_incident_it_ended():
    g = graph()
    entered, state = tick(g, None, 0, 9_000.0)
    assert entered.decision_id == "p/simulated/a/L2/e1" and entered.continues is None
    mark = reset(g, state, 1)
    assert mark == ResetMark("p/simulated/a/L2/e1", SEC, ("alice",), 3, ("carol",))
    again, state = tick(g, state, 5, 9_000.0)  # still under water: latched again at once
    assert again.decision_id == "p/simulated/a/L2/e2" and again.continues == mark
    assert state.scopes[SCOPE].stage.continues == mark  # kept while the stage holds
    # saved with the state: a restart (or a standby) reads it back
    back = State.from_json(state.to_json())
    assert back.scopes[SCOPE].stage.continues == mark
    assert mark.doc() == {"incident": "p/simulated/a/L2/e1", "reset_ms": SEC, "by": ["alice"], "orders": 3,
                          "acked_by": ["carol"]}


def test_a_reset_followed_by_a_quiet_step_continues_nothing_later():
    g = graph()
    _, state = tick(g, None, 0, 9_000.0)
    reset(g, state, 1)
    quiet, state = tick(g, state, 5, 10_000.0)  # the trigger stopped: nothing entered, the mark dropped
    assert quiet is None and state.scopes[SCOPE].stage.continues is None
    later, state = tick(g, state, 10, 9_000.0)
    assert later.decision_id == "p/simulated/a/L2/e2" and later.continues is None


def test_an_escalation_from_a_relatched_stage_is_an_incident_of_its_own():
    g = graph()
    _, state = tick(g, None, 0, 9_700.0)  # stage 1 warn
    mark = reset(g, state, 1)
    again, state = tick(g, state, 5, 9_700.0)
    assert again.decision_id == "p/simulated/a/L1/e2" and again.continues == mark
    up, state = tick(g, state, 10, 9_000.0)
    assert up.decision_id == "p/simulated/a/L2/e3" and up.continues is None
    assert state.scopes[SCOPE].stage.continues is None


def test_a_stage_state_saved_before_the_mark_was_kept_reads_none():
    g = graph()
    _, state = tick(g, None, 0, 9_000.0)
    doc = state.to_json()
    assert "continues" not in doc["scopes"][SCOPE]["stage"]  # (written only when there is one)
    assert State.from_json(doc).scopes[SCOPE].stage.continues is None
