"""``heartbeat_age {source, grace}``: a fresh start is not a silence.

Without a grace a source never heard from has no value, so a trigger with ``on_missing_data: fire``
fires at the first tick of a fresh runner, before any bot could beat (the example policy did).
With ``grace: G`` the source reads 0s for G from the first tick that evaluated the signal; past it
with still no beat it is missing and the trigger fires."""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile import nodes as n
from killswitch.compile.compiler import compile_documents
from killswitch.engine.state import State, record_heartbeat
from killswitch.policy.load import load_text
from tests.conftest import POLICIES
from tests.unit.engine_helpers import MIN, SEC, compile_graph, only, run, signal, single_signal_graph, snap, trig

GRACE = "{heartbeat_age: {source: bot-a, grace: 10m}}"


def ticks(*times_ms):
    return [(t, [snap(10_000, t)]) for t in times_ms]


def test_grace_compiles_to_milliseconds_and_is_absent_unless_written():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire")
    [node] = g.policies[0].signals
    assert isinstance(node, n.SignalNode) and node.params.grace_ms == 600_000 and node.params.source == "bot-a"
    [plain] = single_signal_graph("{heartbeat_age: {source: bot-a}}", "s > 300s").policies[0].signals
    assert plain.params.grace_ms is None


def test_a_fresh_start_does_not_fire_within_the_grace():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    evs, _ = run(g, ticks(*range(0, 10 * MIN, 30 * SEC)))
    assert all(signal(e).value == 0.0 for e in evs), [signal(e) for e in evs]
    assert not any(trig(e).firing for e in evs)
    assert only(evs[-1]).stage_after == 0


def test_silence_past_the_grace_fires():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    evs, _ = run(g, ticks(0, 10 * MIN - 1, 10 * MIN))
    assert only(evs[1]).stage_after == 0
    sv = signal(evs[2])
    assert sv.value is None and sv.reason == "NO_HEARTBEAT: source=bot-a grace=600s passed without a first beat"
    assert trig(evs[2]).firing and only(evs[2]).stage_after == 1


def test_without_grace_a_source_never_heard_from_fires_at_the_first_tick():
    g = single_signal_graph("{heartbeat_age: {source: bot-a}}", "s > 300s", on_missing="fire", interval="5s")
    evs, _ = run(g, ticks(0))
    assert signal(evs[0]).reason == "NO_HEARTBEAT: source=bot-a" and only(evs[0]).stage_after == 1


def test_after_the_first_beat_the_age_counts_from_the_beat_and_silence_fires():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    evs, state = run(g, ticks(0, MIN))
    record_heartbeat(state, "bot-a", 2 * MIN)
    evs, state = run(g, ticks(3 * MIN, 7 * MIN), state)
    assert [signal(e).value for e in evs] == [60.0, 300.0] and only(evs[-1]).stage_after == 0
    evs, state = run(g, ticks(7 * MIN + SEC), state)
    assert signal(evs[0]).value == 301.0 and only(evs[0]).stage_after == 1


def test_a_restart_does_not_grant_a_silent_source_a_new_grace():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    _, state = run(g, ticks(0, 5 * MIN))
    restored = State.from_json(state.to_json())  # saved by the runner, loaded by the next one
    evs, _ = run(g, ticks(10 * MIN), restored)
    assert signal(evs[0]).value is None and only(evs[0]).stage_after == 1


def test_another_source_starts_its_own_grace():
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    _, state = run(g, ticks(0, 9 * MIN))
    moved = single_signal_graph(GRACE.replace("bot-a", "bot-b"), "s > 300s", on_missing="fire", interval="5s")
    evs, _ = run(moved, ticks(11 * MIN), state)
    assert signal(evs[0]).value == 0.0 and only(evs[0]).stage_after == 0


def test_the_example_policy_gives_a_fresh_runner_its_grace_then_fires():
    text = (POLICIES / "dead-mans-switch.yaml").read_text()
    g = compile_graph(text, "dead-mans-switch.yaml")
    # (an account that declares strategy-a: without one the policy selects nothing, test_strategy_unmatched)
    evs, _ = run(g, [(t, [snap(ts=t, strategies=["strategy-a"])]) for t in range(0, 10 * MIN, 5 * SEC)])
    assert all(only(e).stage_after == 0 for e in evs), "the first ticks of a fresh runner latch nothing"
    evs, _ = run(g, [(t, [snap(ts=t, strategies=["strategy-a"])]) for t in range(0, 10 * MIN + 5 * SEC, 5 * SEC)])
    assert only(evs[-1]).stage_after == 1, "a bot never heard from within the grace is silent"


def test_a_typo_of_grace_is_an_error_at_its_line_and_column_with_the_fix():
    text = textwrap.dedent("""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: p}
        spec:
          scope: {level: account}
          signals:
            hb: {heartbeat_age: {source: bot-a, grase: 10m}}
          triggers:
            silent: {when: hb > 300s, on_missing_data: fire}
          stages:
            - {level: 1, name: halt, on: [silent], actions: [{lock_trading: {mode: halted}}]}
        """)
    result = compile_documents(load_text(text, "p.yaml"))
    [d] = [d for d in result.diagnostics if d.is_error]
    assert (d.code, d.location()) == ("KS101", "p.yaml:7:41"), d
    assert 'unknown key "grase"' in d.message and 'did you mean "grace"?' in (d.hint or "")


@pytest.mark.parametrize("grace", ["0s", "-5m", "soon"])
def test_a_grace_that_is_not_a_positive_duration_is_an_error(grace):
    text = (POLICIES / "dead-mans-switch.yaml").read_text().replace("grace: 10m", f"grace: {grace}")
    result = compile_documents(load_text(text, "dead-mans-switch.yaml"))
    assert result.graph is None and any(d.is_error for d in result.diagnostics)


# The example policy as it was before grace existed: its graph digest is pinned (a policy that
# does not write the new key keeps the digest it had, so no runner sees a policy change).
BEFORE_GRACE = (POLICIES / "dead-mans-switch.yaml").read_text().replace(", grace: 10m", "")


def test_a_policy_without_grace_keeps_its_digest():
    g = compile_graph(BEFORE_GRACE, "dead-mans-switch.yaml")
    assert g.digest == "sha256:49747ae3ba8816a091ef980caf50019bb613c3d0270616f97b0b305ba85a8280"
