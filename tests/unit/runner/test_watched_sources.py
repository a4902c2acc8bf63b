"""The heartbeat sources the runner watches, listed before their first beat: a bot that never beat
is the one the on-call must look at, and it used to be absent from the Heartbeats table until it
beat (a typo'd source was refused, the real one was never listed)."""

from __future__ import annotations

from killswitch.client import DmsStatus
from killswitch.render.dms import dms_text
from killswitch.runner.effects.beat_sources import named_by
from killswitch.view import decode
from tests.unit.engine_helpers import compile_graph
from tests.unit.face.console.test_model import model, render, status, text_of
from tests.unit.runner.operator.rig import GUARD, make, run, start, ticks


def test_each_watched_source_says_what_names_it():
    g = compile_graph(GUARD, "guard.yaml")
    assert named_by(g, {"bot-a"}, {"bot-x", "cron-1"}) == {
        "bot-a": ("the Accounts document",), "bot-x": ("policy bot-guard", "the dead man's switch"),
        "cron-1": ("the dead man's switch",)}


def test_the_status_lists_a_watched_source_before_its_first_beat_and_ksctl_status_says_never_heard(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)  # nothing has beaten
    doc = w.desk.dms_status()
    assert doc["sources"] == {} and doc["watched"] == {"bot-a": ["the Accounts document"],
                                                       "bot-x": ["policy bot-guard"]}
    assert w.desk.status().dms["watched"] == doc["watched"]  # ksctl status reads it there
    text = dms_text(decode(DmsStatus, doc))
    assert "  heartbeat bot-x: NEVER HEARD; watched by policy bot-guard" in text, text
    # bot-a: declared in the Accounts document, read by no policy: nothing acts on its silence
    assert ("  heartbeat bot-a: not heard; declared in the Accounts document only: no policy and no armed switch "
            "watches it") in text, text
    ticks(w, 1, beat=("bot-x",))
    text = dms_text(decode(DmsStatus, w.desk.dms_status()))
    assert "bot-x: NEVER HEARD" not in text and "dms bot-x: disarmed; last beat 0s ago" in text, text
    run(w.runner.aclose())


def test_the_console_lists_the_watched_sources_never_heard():
    dms = {"sources": {"bot-x": {"armed": False, "last_beat_age_s": 3.0, "fires_in_s": None, "fired": False,
                                 "timeout_s": None, "locked": False}},
           "watched": {"bot-x": ["policy bot-guard"], "bot-y": ["policy bot-guard", "the Accounts document"]}}
    m = model(status(), dms=dms)
    assert [(s["source"], s["heard"], s["named_by"]) for s in m["dms"]["sources"]] == [
        ("bot-x", True, "policy bot-guard"), ("bot-y", False, "policy bot-guard, the Accounts document")]
    text = text_of(render(m))
    assert "bot-y policy bot-guard, the Accounts document no never heard" in text, text
    assert "No heartbeat source is watched" in text_of(render(model(status())))


def test_a_strategy_only_the_accounts_document_declares_is_no_amber_never_heard():
    dms = {"sources": {}, "watched": {"bot-a": ["the Accounts document"], "bot-y": ["policy bot-guard"]}}
    page = render(model(status(), dms=dms))
    text = text_of(page)
    assert "bot-a the Accounts document no not heard; nothing watches it" in text, text
    assert "bot-y policy bot-guard no never heard" in text
    assert page.count('class="unheard"') == 1  # bot-y's row alone is amber
