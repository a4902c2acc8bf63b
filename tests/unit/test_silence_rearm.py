"""A silence made from an incident holds back that incident's re-arm page before any attempt
(walk 10 of issue 65, L8): the page of a stage resetting itself ("stage 1 → 0, re-armed") carried
no ``incident`` label, so the silence's ``incident=`` matcher missed it, a first attempt to the
pager failed and the fallback received "[CRITICAL] NOTIFICATION FAILED" for a silenced page.

On the pure dispatcher, with the example repository's policies and routes and the silences the
notification sink is handed once the incident has ended (:func:`killswitch.silences.sink_silences`)."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.engine import stages
from killswitch.engine.state import StageState
from killswitch.notify.dispatch import Dispatcher, placements
from killswitch.policy.matchers import LabelMatcher
from killswitch.runner.sinks.entries import transition_event
from killswitch.silences import Silence, sink_silences

from .test_page_labels import example

SCOPE = "binanceusdm/main"
MIN = 60_000


def _event(graph, tr, now):
    s = SimpleNamespace(transition=tr, policy="exchange-faults", scope=SCOPE, signals=[], triggers=[], plan=None)
    return transition_event(s, graph, now, False)


def _put(d, graph, trees, event, now):
    for p in placements(event.labels, graph, trees):
        d.insert(event, p, now)


def test_a_silence_made_from_an_incident_holds_back_its_re_arm_page_and_no_fallback_copy_is_made():
    graph, trees = example("account")
    node = graph.policy("exchange-faults")
    st = StageState()
    entry, _ = stages.step(node, SCOPE, st, {"stale_data"}, 0)
    e1 = _event(graph, entry, 0)
    incident = e1.labels["incident"]
    d = Dispatcher(trees)
    _put(d, graph, trees, e1, 0)
    first = [n for t in (0, 1_000, 10_000) for n in d.flush_due(t)]
    assert "pager" in {n.receiver for n in first if n.sends}  # the entry paged before anyone silenced it
    made = Silence("5f8e65f359e8", (LabelMatcher.make("incident", "=", incident),), MIN, MIN + 2 * 60 * MIN,
                   "alice", "on it", MIN, MIN, incident=incident, tied=True, up_to_level=1, incidents=(incident,))
    rearm, _ = stages.step(node, SCOPE, st, set(), 11 * MIN)
    assert rearm is not None and rearm.reason.startswith("AUTO_RESET") and rearm.to_level == 0
    e2 = _event(graph, rearm, 11 * MIN)
    assert e2.labels["incident"] == incident  # the re-arm page names the incident it ends
    # the scope is at stage 0: the sink is handed the silence for its incident's closing pages
    held = sink_silences([made], open_stages=set(), now_ms=11 * MIN)
    assert [s.id for s in held] == [made.id]
    _put(d, graph, trees, e2, 11 * MIN)
    later = [n for t in range(11 * MIN, 20 * MIN, 1_000) for n in d.flush_due(t, held)]
    # nothing to deliver, so no attempt, no failure and no fallback copy: each page recorded as silenced
    assert [n.receiver for n in later if n.sends] == []
    silenced = {(n.receiver, a.labels.get("level")) for n in later for a in n.silenced}
    # the re-arm page (level 0) wherever it is routed, and the resolution of the entry's page
    assert ("desk-chat", "0") in silenced and ("pager", "1") in silenced, silenced
    assert all(n.silence_ids == [made.id] for n in later if n.silenced)
    # a NEW incident of the same scope is not held by it
    again, _ = stages.step(node, SCOPE, st, {"stale_data"}, 30 * MIN)
    e3 = _event(graph, again, 30 * MIN)
    assert e3.labels["incident"] != incident
    _put(d, graph, trees, e3, 30 * MIN)
    assert "pager" in {n.receiver for t in (30 * MIN, 30 * MIN + 1_000) for n in d.flush_due(t, held) if n.sends}
