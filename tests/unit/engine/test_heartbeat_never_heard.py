"""A source never heard, within its grace, reads as never heard, not as a beat just heard.

Within ``grace`` a ``heartbeat_age`` signal is compared as 0s (not silent yet); the status says
NEVER HEARD. The trigger rows (``/v1/triggers``, the console) and the runbook's *What fired* say
"never heard", when its silence is counted from and when the trigger fires; an unknown value in
the runbook says why it is unknown, as the incident card does."""

from __future__ import annotations

from killswitch.face.console.model import _trigger
from killswitch.render.runbook import fallback_markdown
from killswitch.runbooks.incident import assemble
from killswitch.view.triggers import trigger_statuses
from tests.unit.engine_helpers import MIN, run, signal, single_signal_graph, snap

GRACE = "{heartbeat_age: {source: bot-a, grace: 10m}}"
T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z


def _evaluated(*times):
    g = single_signal_graph(GRACE, "s > 300s", on_missing="fire", interval="5s")
    evs, state = run(g, [(t, [snap(10_000, t)]) for t in times])
    return g, evs, state


def test_the_reading_within_the_grace_notes_never_heard_and_when_the_grace_ends():
    _, evs, _ = _evaluated(T0, T0 + 3 * MIN)
    sv = signal(evs[-1])
    assert sv.value == 0.0
    assert sv.reason == ("NEVER_HEARD: source=bot-a silent since 2026-03-02T13:00:00Z (the first tick that "
                         "read it); grace until 2026-03-02T13:10:00Z, then NO_HEARTBEAT")


def test_the_trigger_row_reads_never_heard_with_when_it_fires():
    g, evs, state = _evaluated(T0, T0 + 3 * MIN)
    [row] = trigger_statuses(lambda name: g.policy(name), state, evs[-1])
    [check] = row.checks
    assert check.value_text == "never heard" and check.breached is False
    assert check.reason is not None and "silent since 2026-03-02T13:00:00Z" in check.reason
    assert check.reason.endswith("grace until 2026-03-02T13:10:00Z, then NO_HEARTBEAT: "
                                 "the trigger fires then (on_missing_data: fire)")
    [shown] = _trigger(row, T0 + 3 * MIN)["checks"]
    assert shown["value"] == "never heard"
    assert shown["verdict"] == f"not breached ({check.reason})"


def test_a_source_that_beat_reads_its_age_without_a_note():
    from killswitch.engine.state import record_heartbeat
    g, _, state = _evaluated(T0)
    record_heartbeat(state, "bot-a", T0 + MIN)
    evs, state = run(g, [(T0 + 2 * MIN, [snap(10_000, T0 + 2 * MIN)])], state)
    [row] = trigger_statuses(lambda name: g.policy(name), state, evs[-1])
    [check] = row.checks
    assert (check.value_text, check.reason) == ("60s", None)


def _runbook(g, values, reasons):
    return fallback_markdown(_runbook_data(g, values, reasons))


def _runbook_data(g, values, reasons):
    node = g.policy(g.policies[0].name)
    scope = "binance/main"
    doc = assemble(node=node, incident="d-1", scope=scope, level=1, from_level=0, reason="ESCALATED",
                   created_ms=T0, digest="sha256:0", revision=None, mode="live", values=values,
                   reasons=reasons, results={"t": {"firing": True, "pending": None, "reason": None}},
                   orders=[], cancels=[], directives=[], hedges=[], skipped=[], attribution=None,
                   positions=[], positions_note="", accounts=[], lock={"locked": False}, state_url="http://x",
                   equity=None)
    return doc


def test_the_runbook_says_why_a_value_is_unknown():
    g, evs, _ = _evaluated(T0, T0 + 10 * MIN)
    sv = signal(evs[-1])
    md = _runbook(g, {"s": None}, {"s": sv.reason})
    fired = md.split("## What fired", 1)[1].split("##", 1)[0]
    # (walk 11's M4: said as status says NEVER HEARD, not as an unknown value with its reason code)
    assert "`s` = bot-a never heard: grace 10m passed without a first beat" in fired, fired


def test_the_runbook_says_a_source_is_never_heard():
    g, evs, _ = _evaluated(T0, T0 + 3 * MIN)
    sv = signal(evs[-1])
    md = _runbook(g, {"s": 0.0}, {"s": sv.reason})
    fired = md.split("## What fired", 1)[1].split("##", 1)[0]
    assert "`s` = never heard (NEVER_HEARD: source=bot-a silent since 2026-03-02T13:00:00Z" in fired
    assert "the trigger fires then (on_missing_data: fire)" in fired and "= 0s" not in fired


def test_the_builtin_runbook_says_why_a_value_is_unknown_and_that_a_source_is_never_heard():
    """Walk 9's L6 from the built-in runbook (no runbooks/ directory): the repository's template."""
    from killswitch.runbooks.render import render_runbook

    g, evs, _ = _evaluated(T0, T0 + 10 * MIN)
    doc = _runbook_data(g, {"s": None}, {"s": signal(evs[-1]).reason})
    fired = render_runbook(doc, None).markdown.split("## 1. What fired", 1)[1].split("##", 1)[0]
    assert ("`s` = **bot-a never heard: grace 10m passed without a first beat**, threshold `> 5m`: no value, "
            "firing (on_missing_data: fire)") in fired, fired
    g, evs, _ = _evaluated(T0, T0 + 3 * MIN)
    doc = _runbook_data(g, {"s": 0.0}, {"s": signal(evs[-1]).reason})
    fired = render_runbook(doc, None).markdown.split("## 1. What fired", 1)[1].split("##", 1)[0]
    assert "`s` = **never heard (NEVER_HEARD: source=bot-a silent since 2026-03-02T13:00:00Z" in fired
