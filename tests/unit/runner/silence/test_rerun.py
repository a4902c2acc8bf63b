"""A silence that holds a stage's incident holds that stage's same-level cooldown re-runs (walk 11
of issue 65, H2): a stage with ``cooldown: 30s`` whose trigger kept firing re-ran every 30 s under
a new incident id, and each re-run paged "re-entered stage 1 (from 1)" critical through a silence
made for the stage seconds before. An escalation to a higher stage still pages through.

On the pure dispatcher, with the example repository's policies and routes (exchange-faults given a
cooldown and a stage 2), and the silence as the runner carries it on to each re-run
(:meth:`killswitch.silences.Silence.rerun`) and hands it to the notification sink
(:func:`killswitch.silences.sink_silences`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.engine import stages
from killswitch.engine.state import StageState
from killswitch.notify.dispatch import Dispatcher, placements
from killswitch.notify.routes import trees_of
from killswitch.policy.load import load_sources
from killswitch.policy.matchers import LabelMatcher
from killswitch.runner.sinks.entries import transition_event
from killswitch.silences import Silence, silencing, sink_silences
from tests.unit.notify.pages.test_labels import ROOT

SCOPE = "binanceusdm/main"
POLICY = "exchange-faults"
SEC = 1_000


def example():
    """The example repository; exchange-faults re-runs its stage 1 every 30 s while a trigger
    fires, and escalates to a stage 2 when its API fails."""
    sources = []
    for p in sorted((ROOT / "policies").glob("*.yaml")):
        text = p.read_text()
        if p.name == "exchange-faults.yaml":
            text = text.replace("      reset_after: 10m\n", "      cooldown: 30s\n      reset_after: 1m\n")
            halt = ("    - level: 2\n      name: halt\n      on: [api_failing]\n      reset: manual\n"
                    "      actions:\n        - lock_trading: {mode: halted}\n"
                    "        - notify: {route: desk, severity: critical}\n")
            text = text.replace("  notify: {route: desk}\n", halt + "  notify: {route: desk}\n")
            assert "cooldown: 30s" in text and "name: halt" in text
        sources.append((str(p), text))
    result = compile_documents(load_sources(sources))
    assert result.graph is not None, [str(d) for d in result.diagnostics if d.is_error]
    return result.graph, trees_of(result.docs)


def _event(graph, tr, now):
    s = SimpleNamespace(transition=tr, policy=POLICY, scope=SCOPE, signals=[], triggers=[], plan=None)
    return transition_event(s, graph, now, False)


def _put(d, graph, trees, event, now):
    for p in placements(event.labels, graph, trees):
        d.insert(event, p, now)


def _flush(d, start, end, silences):
    return [n for t in range(start, end, SEC) for n in d.flush_due(t, silences)]


def _silence(kind: str, incident: str) -> Silence:
    """As ``ksctl silence add`` makes it at 10 s: by matchers (the walk's), or from the incident."""
    if kind == "matchers":
        by = (LabelMatcher.make("policy", "=", POLICY), LabelMatcher.make("scope", "=", SCOPE))
        return Silence("5cead0db705a", by, 10 * SEC, 3_600 * SEC, "alice", "bot-b restarting", 10 * SEC, 10 * SEC,
                       up_to_level=1, incidents=(incident,))
    return Silence("9d1c0a2b3e4f", (LabelMatcher.make("incident", "=", incident),), 10 * SEC, 3_600 * SEC, "alice",
                   "on it", 10 * SEC, 10 * SEC, incident=incident, tied=True, up_to_level=1, incidents=(incident,))


@pytest.mark.parametrize("kind", ["matchers", "incident"])
def test_a_silence_holds_its_stages_cooldown_re_runs_and_an_escalation_pages_through(kind):
    graph, trees = example()
    node = graph.policy(POLICY)
    st = StageState()
    entry, _ = stages.step(node, SCOPE, st, {"stale_data"}, 0)
    assert entry is not None and entry.kind == "entered"
    first = entry.decision_id
    d = Dispatcher(trees)
    _put(d, graph, trees, _event(graph, entry, 0), 0)
    assert any(n.sends and n.receiver == "pager" for n in _flush(d, 0, 10 * SEC, ()))  # paged before the silence
    made = _silence(kind, first)
    silence, incident = made, first
    for k, at in enumerate((35 * SEC, 70 * SEC), start=2):
        rerun, _ = stages.step(node, SCOPE, st, {"stale_data"}, at)
        assert rerun is not None and rerun.kind == "reentered" and (rerun.from_level, rerun.to_level) == (1, 1)
        assert rerun.decision_id == f"{POLICY}/{SCOPE}/L1/e{k}" != incident  # a new incident id, the same stage
        # the runner carries the silence on to the re-run as it runs (Silences.settle)
        carried = silence.rerun(incident, rerun.decision_id)
        assert carried is not None and rerun.decision_id in (carried.incidents or ())
        silence, incident = carried, rerun.decision_id
        held = sink_silences([silence], open_stages={incident}, now_ms=at)
        assert [(s.id, s.matchers) for s in held] == [(made.id, made.matchers)]  # in force whole, not its closing
        event = _event(graph, rerun, at)
        assert event.labels["incident"] == incident and event.labels["from_level"] == "1"
        assert silencing({**event.labels, "receiver": "pager"}, held, at) == (made.id,)
        _put(d, graph, trees, event, at)
        later = _flush(d, at, at + 10 * SEC, held)
        assert [n.receiver for n in later if n.sends] == [], [(n.receiver, n.told) for n in later if n.sends]
        assert "pager" in {n.receiver for n in later if n.silenced}  # recorded as silenced, not sent
    # an escalation to stage 2 is news: it pages through the silence
    up, _ = stages.step(node, SCOPE, st, {"stale_data", "api_failing"}, 90 * SEC)
    assert up is not None and up.kind == "entered" and (up.from_level, up.to_level) == (1, 2)
    held = sink_silences([silence], open_stages={up.decision_id}, now_ms=90 * SEC)
    event = _event(graph, up, 90 * SEC)
    assert silencing({**event.labels, "receiver": "pager"}, held, 90 * SEC) == ()
    _put(d, graph, trees, event, 90 * SEC)
    paged = [n for n in _flush(d, 90 * SEC, 100 * SEC, held) if n.sends]
    assert "pager" in {n.receiver for n in paged} and any(a.labels.get("level") == "2" for n in paged for a in n.alerts)


def test_a_re_run_of_an_incident_it_does_not_hold_is_not_carried():
    """Only a silence that holds the incident re-run goes on with it: another scope's, one made
    ahead of any incident (it holds every page it matches already) and one of another incident stay."""
    other = _silence("matchers", f"{POLICY}/binanceusdm/other/L1/e1")
    assert other.rerun(f"{POLICY}/{SCOPE}/L1/e1", f"{POLICY}/{SCOPE}/L1/e2") is None
    window = Silence("w", (LabelMatcher.make("policy", "=", POLICY),), 0, 3_600 * SEC, "alice", "window", 0, 0)
    assert window.rerun(f"{POLICY}/{SCOPE}/L1/e1", f"{POLICY}/{SCOPE}/L1/e2") is None
    tied = _silence("incident", f"{POLICY}/{SCOPE}/L1/e1")
    carried = tied.rerun(f"{POLICY}/{SCOPE}/L1/e1", f"{POLICY}/{SCOPE}/L1/e2")
    assert carried is not None and carried.chain == (f"{POLICY}/{SCOPE}/L1/e1", f"{POLICY}/{SCOPE}/L1/e2")
    # it goes on with its incident's re-run, and ends with the last of them
    assert not carried.ended_with_incident({f"{POLICY}/{SCOPE}/L1/e2"})
    assert carried.ended_with_incident({f"{POLICY}/{SCOPE}/L2/e3"})
    [closing] = sink_silences([carried], open_stages=set(), now_ms=SEC)
    assert f'incident="{POLICY}/{SCOPE}/L1/e2"' in [str(m) for m in closing.matchers]
