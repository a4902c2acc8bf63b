"""Which heartbeat sources a runner takes (killswitch/runner/effects/beat_sources.py, through the runner's
``heartbeat``): only those a policy, an armed dead man's switch or the Accounts document names;
anything else refused ``UNKNOWN_SOURCE`` with the names it resembles; at most ``MAX_SOURCES``
held (``SOURCES_FULL``); the status bounded with them. And the sources each API identity beats
(killswitch/face/api/beats.py): at most ``MAX_SOURCES_PER_IDENTITY`` at once."""

from __future__ import annotations

import json

import pytest

from killswitch.face.api import beats
from killswitch.face.api.beats import IDENTITY_SOURCES_FULL, IdentitySources
from killswitch.face.api.render import encode
from killswitch.runner.effects import beat_sources
from killswitch.runner.effects.beat_sources import (
    HINTS_PER_CALL,
    REFUSED_SHOWN,
    SOURCES_FULL,
    UNKNOWN_SOURCE,
    SourceGate,
    named_sources,
)
from tests.unit.engine_helpers import compile_graph
from tests.unit.runner.lease.test_standby import leader_armed_and_standby
from tests.unit.runner.operator.rig import GUARD, make, run, start, ticks

# the guard policy names bot-x (a heartbeat age); the simulated account's Accounts strategies name
# bot-a; this policy names desk-1 and desk-2 as its scope's strategies
DESKS = GUARD + """\
---
apiVersion: killswitch/v1
kind: Policy
metadata: {name: desks}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}, strategies: [desk-1, desk-2]}
  interval: 5s
  signals:
    dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
  triggers:
    hard: {when: "dd >= 40%", on_missing_data: hold}
  stages:
    - {level: 1, name: halt, on: [hard], reset: manual, actions: [{lock_trading: {mode: halted}}]}
"""


def beat(w, source: str):
    return run(w.desk.heartbeat(source))


def test_a_source_nothing_names_is_refused_with_the_names_it_resembles_and_stored_nowhere(tmp_path):
    w = make(tmp_path)
    start(w)
    why = beat(w, "bot-y")
    assert why is not None and why.startswith("UNKNOWN_SOURCE: 'bot-y' is not named by a policy (heartbeat_age "
                                              "source, scope strategies), an armed dead man's switch or the "
                                              "Accounts document; did you mean ")
    assert "'bot-x'" in why and "'bot-a'" in why
    assert "bot-y" not in w.parts.book.state.heartbeats and "bot-y" not in w.parts.book.dms.sources
    assert "bot-y" not in w.parts.known.catalog().strategies
    refused = w.desk.dms_status()["refused"]
    assert refused["bot-y"]["count"] == 1 and refused["bot-y"]["reason"] == why


@pytest.mark.parametrize("typo,meant", [("bot-X", "bot-x"), ("bot_x", "bot-x"), ("desk-3", "desk-1"),
                                        ("bota", "bot-a")])
def test_a_typo_of_a_named_source_is_refused_and_names_the_one_meant(tmp_path, typo, meant):
    w = make(tmp_path, text=DESKS)
    start(w)
    why = beat(w, typo)
    assert why is not None and why.startswith(f"{UNKNOWN_SOURCE}: {typo!r} is not named by"), why
    assert f"did you mean {meant!r}" in why or f", {meant!r}" in why, why


def test_every_namer_names_a_source_and_its_beats_are_taken(tmp_path):
    w = make(tmp_path, text=DESKS)
    start(w)
    assert run(w.desk.dms_arm("bot-z", 600)).done  # arming names it
    for source in ("bot-x", "desk-2", "bot-a", "bot-z"):  # a heartbeat age, a scope strategy, Accounts, armed
        assert beat(w, source) is None, source
        assert w.parts.book.state.heartbeats[source] == w.clock()
    assert named_sources(w.parts.book.graph, {"bot-a"}, {"bot-z"}) == {"bot-x", "desk-1", "desk-2", "bot-a", "bot-z"}


def test_the_sources_held_are_bounded_and_an_arming_past_the_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(beat_sources, "MAX_SOURCES", 2)
    w = make(tmp_path, text=DESKS)
    start(w)
    assert beat(w, "bot-x") is None and beat(w, "bot-a") is None
    why = beat(w, "desk-1")  # named, but a third source
    assert why == (f"{SOURCES_FULL}: 2 heartbeat sources are held (the bound is 2); 'desk-1' is named but not taken: "
                   "name fewer sources, or disarm one nothing else names")
    assert "desk-1" not in w.parts.book.state.heartbeats
    assert beat(w, "bot-x") is None  # a source held is always taken
    armed = run(w.desk.dms_arm("bot-q", 60))
    assert not armed.done and armed.reason.startswith("SOURCES_FULL: 2 heartbeat sources are held")
    assert run(w.desk.dms_arm("bot-x", 60)).done  # arming one held is not one more


def test_a_source_nothing_names_any_more_is_forgotten_at_the_next_tick_and_frees_its_place(tmp_path, monkeypatch):
    monkeypatch.setattr(beat_sources, "MAX_SOURCES", 2)
    w = make(tmp_path, text=DESKS)
    start(w)
    assert run(w.desk.dms_arm("bot-z", 600)).done
    assert beat(w, "bot-z") is None and beat(w, "bot-x") is None
    assert beat(w, "desk-1").startswith(SOURCES_FULL)
    assert run(w.desk.dms_disarm("bot-z")).done  # nothing names bot-z now
    ticks(w, 1)
    assert "bot-z" not in w.parts.book.state.heartbeats and "bot-z" not in w.parts.book.dms.sources
    assert "bot-x" in w.parts.book.state.heartbeats  # still named: kept
    assert beat(w, "desk-1") is None
    assert beat(w, "bot-z").startswith(UNKNOWN_SOURCE)


def test_the_status_stays_bounded_whatever_is_beaten(tmp_path, monkeypatch):
    monkeypatch.setattr(beat_sources, "MAX_SOURCES", 10)
    names = [f"desk-{i:02d}" for i in range(40)]
    w = make(tmp_path, text=DESKS.replace("strategies: [desk-1, desk-2]", f"strategies: [{', '.join(names)}]"))
    start(w)

    async def storm():
        await w.desk.heartbeats(names)
        for i in range(0, 2000, 200):
            await w.desk.heartbeats([f"junk-{j}" for j in range(i, i + 200)])

    run(storm())
    st = w.desk.status()
    assert len(st.dms["sources"]) == 10 and len(st.dms["refused"]) == REFUSED_SHOWN
    assert len(w.parts.book.state.heartbeats) == 10
    size = len(encode(st))
    (tmp_path / "bare").mkdir()
    bare = make(tmp_path / "bare", text=DESKS)
    start(bare)
    # ten sources and the latest refused ones, whatever beat: a few kilobytes over a runner never beaten
    assert size - len(encode(bare.desk.status())) < 10 * 200 + REFUSED_SHOWN * 400


def test_a_standby_stores_only_the_sources_it_knows(tmp_path):
    a, b = leader_armed_and_standby(tmp_path)
    assert not b.parts.lead.leader
    refused = run(b.desk.heartbeats(["bot-x", "bot-y"]))
    assert list(refused) == ["bot-y"] and refused["bot-y"].startswith(UNKNOWN_SOURCE)
    assert b.store.heartbeats() == {"bot-x": a.clock()}


def test_close_matches_are_worked_out_for_a_few_new_names_a_batch_and_kept_for_each():
    graph = compile_graph(GUARD, "guard.yaml")
    gate = SourceGate(limit=100)
    named = gate.named(graph, frozenset(f"strategy-{i:03d}" for i in range(500)), frozenset())
    assert gate.named(graph, frozenset(f"strategy-{i:03d}" for i in range(500)), frozenset()) is named
    batch = ["strategy-0077"] + [f"zz-junk-{i}" for i in range(HINTS_PER_CALL + 5)]
    out = gate.refusals(batch, named, frozenset(), 1_000)
    assert "did you mean 'strategy-077', 'strategy-007'" in out["strategy-0077"]  # from a short list of 500
    unhinted = [s for s, why in out.items() if why.endswith("(close matches not worked out: too many unknown "
                                                            "sources at once)")]
    assert len(unhinted) == len(batch) - HINTS_PER_CALL
    again = gate.refusals(unhinted, named, frozenset(), 2_000)  # a later batch works them out
    assert not any("not worked out" in why for why in list(again.values())[:HINTS_PER_CALL])
    assert len(gate.refused) == len(batch) and gate.counts[UNKNOWN_SOURCE] == len(batch) + len(unhinted)
    gate.refusals([f"more-junk-{i}" for i in range(3 * REFUSED_SHOWN)], named, frozenset(), 3_000)
    assert len(gate.refused) == REFUSED_SHOWN and list(gate.refused)[-1] == f"more-junk-{3 * REFUSED_SHOWN - 1}"


def test_an_identity_beats_at_most_its_bound_of_sources_and_an_idle_one_frees_its_place():
    now = [0.0]
    ids = IdentitySources(limit=2, idle_s=60, clock=lambda: now[0])
    assert ids.take("bot", "a") is None and ids.take("bot", "b") is None
    why = ids.take("bot", "c")
    assert why is not None and why.startswith(f"{IDENTITY_SOURCES_FULL}: bot beats 2 sources already (at most 2; ")
    assert ids.take("other", "c") is None  # another identity has its own
    assert ids.take("bot", "a") is None  # one it beats already
    ids.drop("bot", "b")  # refused by the runner: does not count
    assert ids.take("bot", "c") is None
    now[0] = 30.0
    assert ids.take("bot", "a") is None  # a beat keeps it counted
    now[0] = 61.0
    assert ids.take("bot", "d") is None  # c was last beaten at 0: idle, its place freed
    assert ids.take("bot", "e") is not None


def test_the_bounds_read_their_constants_when_made(monkeypatch):
    monkeypatch.setattr(beats, "MAX_SOURCES_PER_IDENTITY", 3)
    monkeypatch.setattr(beat_sources, "MAX_SOURCES", 4)
    assert IdentitySources().limit == 3 and SourceGate().limit == 4
    assert json.loads(encode({"n": float("nan")})) == {"n": None}


def test_a_refused_source_is_shown_on_the_console_the_metrics_and_ksctl_dms_status(tmp_path):
    from killswitch.client import DmsStatus
    from killswitch.render.dms import dms_text
    from killswitch.view import decode
    from tests.unit.face.console.test_console import BOTTY, VERA, Api

    w = make(tmp_path)
    start(w)

    async def go():
        async with Api(w) as api:
            for _ in range(3):
                st, body, _ = await api.post("/v1/heartbeat/bot-xx", {}, BOTTY)
                assert st == 404 and body["error"] == UNKNOWN_SOURCE
            _, html, _ = await api.get("/console/view", VERA)
            _, metrics, _ = await api.get("/metrics")
            _, dms, _ = await api.get("/v1/dms")
            return html, metrics, dms

    html, metrics, dms = run(go())
    assert "Heartbeats refused lately" in html and "<code>bot-xx</code></th><td>3</td>" in html
    assert "did you mean &#39;bot-x&#39;" in html
    assert 'killswitch_heartbeats_refused_total{reason="UNKNOWN_SOURCE"} 3.0' in metrics
    assert 'killswitch_heartbeats_refused_total{reason="SOURCES_FULL"} 0.0' in metrics
    text = dms_text(decode(DmsStatus, dms))
    assert "  REFUSED heartbeat bot-xx: 3 beat(s), the last " in text and "did you mean 'bot-x'" in text
