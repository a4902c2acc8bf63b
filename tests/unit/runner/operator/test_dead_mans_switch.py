"""The dead man's switch of the bots' sources, end to end (``rig.py``): an overdue source fires
once per arming, halts its scope and cancels its orders; heartbeats, disarming, dry runs,
restarts, what status and metrics show and a refused arming's audit row."""

from __future__ import annotations

from killswitch.runner.lock.file import read_lock_file
from killswitch.runner.lock.lock import DEAD_MANS_SWITCH

from .rig import audit_kinds, fired, make, open_client_ids, order, resting_order, run, start, ticks


def test_an_overdue_source_fires_exactly_once_per_arming_and_survives_a_restart(tmp_path):
    w = make(tmp_path)
    start(w)
    resting_order(w)
    assert run(w.desk.dms_arm("bot-a", 12)).done
    reports = ticks(w, 2)  # 10 s of silence: not yet
    assert fired(reports) == [] and "bot-a-1" in open_client_ids(w)
    reports = ticks(w, 20)  # a silence of 110 s: one firing, not one per tick
    [event] = fired(reports)
    assert event.labels["source"] == "bot-a" and event.labels["scope"] == "bot-a"
    assert event.labels["severity"] == "critical" and event.data["orders"] == 1 and event.data["lock"] == "halted"
    assert "bot-a-1" not in open_client_ids(w), "the silent bot's resting order was cancelled"
    assert audit_kinds(w).count("dms_fired") == 1 and "dms_orders_canceled" in audit_kinds(w)
    decision = w.desk.check_order(order(strategy="bot-a"))
    assert not decision.allow and decision.reason.startswith("HALTED:")
    assert w.desk.check_order(order()).allow, "only the silent source's scope is halted"
    lock = read_lock_file(tmp_path / "lock.json")
    assert lock.for_scope("bot-a").mode == "halted" and lock.for_scope("bot-a").policy == DEAD_MANS_SWITCH
    status = w.desk.dms_status()["sources"]["bot-a"]
    assert status["fired"] and status["locked"] and status["fires_in_s"] is None
    w.store.close()

    again = make(tmp_path, engine=w.engine, clock=w.clock)  # a restarted runner: the firing is remembered
    start(again)
    assert fired(ticks(again, 30)) == []
    assert again.desk.lock_document("bot-a")["mode"] == "halted", "a halt stays a halt after a restart"

    answer = run(again.desk.dms_arm("bot-a", 12))  # someone looked: arming again lifts the halt
    assert answer.done and "lifted" in answer.reason
    assert again.desk.check_order(order(strategy="bot-a")).allow
    assert fired(ticks(again, 2)) == []
    assert len(fired(ticks(again, 2))) == 1, "a new arming fires again after a new silence"
    assert audit_kinds(again).count("dms_fired") == 2


def test_heartbeats_keep_an_armed_source_quiet_and_a_beat_after_firing_does_not_lift_the_halt(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 12))
    assert fired(ticks(w, 30, beat=("bot-a",))) == []
    assert w.desk.dms_status()["sources"]["bot-a"]["fires_in_s"] == 12
    assert len(fired(ticks(w, 3))) == 1
    ticks(w, 1, beat=("bot-a",))  # the bot is back...
    assert w.desk.lock_document("bot-a")["mode"] == "halted", "...but only a person lifts its halt"
    assert not w.desk.dms_status()["sources"]["bot-a"]["fired"]  # it is watched again


def test_silence_counts_only_from_when_the_runner_started_listening(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 60))
    w.store.close()
    w.clock.advance(3_600_000)  # the runner was down for an hour: bot-a could not beat to anyone
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    start(again)
    assert fired(ticks(again, 11)) == []  # 55 s since the restart
    assert [e.labels["source"] for e in fired(ticks(again, 1))] == ["bot-a"]


def test_in_dry_run_a_firing_halts_and_audits_but_cancels_nothing(tmp_path):
    w = make(tmp_path, dry_run=True)
    start(w)
    resting_order(w)
    run(w.desk.dms_arm("bot-a", 5))
    assert len(fired(ticks(w, 3))) == 1
    assert "bot-a-1" in open_client_ids(w)
    assert "dms_cancel_dry_run" in audit_kinds(w) and "dms_orders_canceled" not in audit_kinds(w)
    assert not w.desk.check_order(order(strategy="bot-a")).allow


def test_disarm_stops_watching_but_keeps_a_halt_and_unlock_lifts_it(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 5))
    run(w.desk.dms_arm("bot-b", 5))
    assert run(w.desk.dms_disarm("bot-b")).reason == "DMS_DISARMED: source=bot-b"
    assert [e.labels["source"] for e in fired(ticks(w, 3))] == ["bot-a"]
    answer = run(w.desk.dms_disarm("bot-a"))
    assert answer.done and "stays until ksctl unlock" in answer.reason
    assert run(w.desk.dms_disarm("bot-a")).reason.startswith("NOT_ARMED")
    assert w.desk.lock_document("bot-a")["mode"] == "halted"
    answer = run(w.desk.unlock_scope("bot-a", "bot restarted and checked"))
    assert answer.done and "dead man's switch" in answer.reason
    assert w.desk.check_order(order(strategy="bot-a")).allow
    assert fired(ticks(w, 5)) == []


def test_status_and_metrics_show_the_switch(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 30))
    ticks(w, 2)
    st = w.desk.status()
    assert st.dms["sources"]["bot-a"] == {"armed": True, "last_beat_age_s": 10.0, "fires_in_s": 20.0,
                                          "fired": False, "timeout_s": 30.0, "locked": False}
    assert 'killswitch_dms_seconds_until_fire{source="bot-a"} 20.0' in w.desk.metrics_text()
    assert "killswitch_dms_fired_total 0.0" in w.desk.metrics_text()


def test_a_saved_state_from_before_the_switch_loads(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    doc = w.store.load_engine_state()
    del doc["dms"], doc["resume"]
    w.store.save_engine_state(doc, "d", w.parts.lead.fence)
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    assert again.parts.book.dms.sources == {} and again.parts.book.resume_starts == {}


def test_a_refused_arming_is_audited_with_its_author(tmp_path):
    """As a refused lock is: a bad timeout (a caller that is not the API, which refuses it first)."""
    w = make(tmp_path)
    start(w)
    answer = run(w.desk.dms_arm("bot-x", -1.0, actor="alice"))
    assert not answer.done and answer.reason.startswith("BAD_REQUEST: "), answer
    (row,) = [r.payload for r in w.store.audit_rows(kinds=["dms_armed"])]
    assert (row["source"], row["by"], row["refused"]) == ("bot-x", "alice", answer.reason)
