"""A silence made from an incident holds back that incident's re-arm page before any attempt
(walk 10 of issue 65, L8): the page of a stage resetting itself ("stage 1 → 0, re-armed") carried
no ``incident`` label, so the silence's ``incident=`` matcher missed it, a first attempt to the
pager failed and the fallback received "[CRITICAL] NOTIFICATION FAILED" for a silenced page.

On the pure dispatcher, with the example repository's policies and routes and the silences the
notification sink is handed once the incident has ended (:func:`killswitch.silences.sink_silences`)."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.compile.compiler import compile_documents
from killswitch.engine import stages
from killswitch.engine.state import StageState
from killswitch.notify.dispatch import Dispatcher, placements
from killswitch.notify.message import compose
from killswitch.notify.routes import trees_of
from killswitch.policy.load import load_sources
from killswitch.policy.matchers import LabelMatcher
from killswitch.runner.sinks.entries import transition_event
from killswitch.silences import Silence, sink_silences
from tests.unit.notify.pages.test_labels import ROOT, example

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


BEAT_WATCH = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: beat-watch, owner: walk-through}
spec:
  scope: {level: account, accounts: {names: [binanceusdm/main]}}
  interval: 5s
  signals:
    beat: {heartbeat_age: {source: bot-b, grace: 20s}}
  triggers:
    silent: {when: "beat > 20s", on_missing_data: fire}
  stages:
    - {level: 1, name: slow, on: [silent], reset_after: 1m, actions: [{lock_trading: {mode: reducing}}]}
"""


def test_the_re_arm_page_of_a_policy_that_names_no_route_is_info_and_the_pager_hears_only_the_resolution():
    """Walk 11's L7: a policy without ``notify`` goes to every routes document with its events'
    own severity, and a stage transition's is critical: ``[CRITICAL] beat-watch …: stage 1 → 0,
    re-armed`` reached the pager's ``severity: critical`` route for the all clear."""
    sources = [(str(ROOT / "policies" / "routes.yaml"), (ROOT / "policies" / "routes.yaml").read_text()),
               ("beat-watch.yaml", BEAT_WATCH)]
    result = compile_documents(load_sources(sources))
    assert result.graph is not None, [str(d) for d in result.diagnostics if d.is_error]
    graph, trees = result.graph, trees_of(result.docs)
    node = graph.policy("beat-watch")
    st = StageState()
    entry, _ = stages.step(node, SCOPE, st, {"silent"}, 0)
    s = SimpleNamespace(transition=entry, policy="beat-watch", scope=SCOPE, signals=[], triggers=[], plan=None)
    e1 = transition_event(s, graph, 0, False)
    d = Dispatcher(trees)
    _put(d, graph, trees, e1, 0)
    first = [n for t in (0, 1_000, 10_000) for n in d.flush_due(t)]
    assert {n.receiver for n in first if n.sends} == {"pager", "desk-chat"}
    rearm, _ = stages.step(node, SCOPE, st, set(), 2 * MIN)
    assert rearm is not None and rearm.to_level == 0
    e2 = transition_event(SimpleNamespace(transition=rearm, policy="beat-watch", scope=SCOPE, signals=[],
                                          triggers=[], plan=None), graph, 2 * MIN, False)
    assert {p.labels["severity"] for p in placements(e2.labels, graph, trees)} == {"info"}
    _put(d, graph, trees, e2, 2 * MIN)
    later = {n.receiver: n for t in range(2 * MIN, 4 * MIN, 1_000) for n in d.flush_due(t) if n.sends}
    # the pager hears the entry is over ([RESOLVED], info), never the re-arm notice as critical
    assert later["pager"].resolved_only and compose(later["pager"]).title.startswith("[RESOLVED] beat-watch")
    assert compose(later["desk-chat"]).title.startswith("[RESOLVED] beat-watch"), compose(later["desk-chat"]).title
    assert all("[CRITICAL]" not in compose(n).title for n in later.values())
