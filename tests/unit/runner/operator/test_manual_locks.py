"""The operator's locks and unlocks, end to end (``rig.py``): in the lock file and the gate,
ended at their ttl, with the audit sink down, and never lifting a lock a stage holds."""

from __future__ import annotations

import json

import pytest

from killswitch.runner.lock.lock import NOT_A_POLICY, OPERATOR, LockBook

from .rig import ACCOUNT, T0, _hold, audit_kinds, make, order, run, start, ticks


def test_a_manual_lock_shows_in_the_lock_file_and_the_gate_until_unlocked(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)  # positions known
    answer = run(w.desk.lock_scope(ACCOUNT, "reducing", "exchange incident", 6 * 3600))
    assert answer.done and answer.reason == f"LOCKED: scope={ACCOUNT} mode=reducing until 2026-03-02T19:00:05.000Z"
    doc = json.loads((tmp_path / "lock.json").read_text())
    entry = doc["scopes"][ACCOUNT]
    assert entry["mode"] == "reducing" and entry["policy"] == OPERATOR and "exchange incident" in entry["reason"]
    assert w.desk.lock_document(ACCOUNT)["mode"] == "reducing"
    assert w.desk.check_order(order(side="sell", amount=1)).allow  # reduces the BTC long
    assert not w.desk.check_order(order(side="buy", amount=1)).allow
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "worse", None)).reason == \
        f"LOCKED: scope={ACCOUNT} mode=halted until ksctl unlock"
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"
    assert run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None)).done  # replaces, does not stack
    assert w.desk.lock_document(ACCOUNT)["mode"] == "reducing"
    answer = run(w.desk.unlock_scope(ACCOUNT, "incident over"))
    assert answer.done and answer.reason == f"UNLOCKED: {ACCOUNT} (operator lock lifted)"
    assert json.loads((tmp_path / "lock.json").read_text())["locked"] is False
    assert run(w.desk.unlock_scope(ACCOUNT, "again")).reason.startswith("NOT_LOCKED")
    kinds = audit_kinds(w)
    assert kinds.count("manual_lock") == 3 and kinds.count("manual_unlock") == 2  # the refusal is audited too


def test_with_the_audit_sink_down_a_lock_goes_on_unless_it_loosens_the_operators_lock(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    down = "no audit sink takes rows (siem: CONNECT_FAILED)"
    answer = run(w.desk.lock_scope(ACCOUNT, "halted", "drill", None, sink_down=down))
    assert answer.done and w.desk.lock_document(ACCOUNT)["mode"] == "halted"
    assert not w.desk.check_order(order(side="sell", amount=1)).allow
    looser = run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None, sink_down=down))
    assert not looser.done and looser.reason == (f"AUDIT_SINK_DOWN: a reducing lock would replace the operator's "
                                                 f"halted lock of {ACCOUNT}; {down}")
    sooner = run(w.desk.lock_scope(ACCOUNT, "halted", "for a minute", 60, sink_down=down))
    assert not sooner.done and sooner.reason.startswith("AUDIT_SINK_DOWN: a lock until 2026-03-02T13:01:05.000Z "
                                                        f"would replace the operator's halted lock of {ACCOUNT} "
                                                        "until ksctl unlock (a halt without a ttl always goes)")
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"  # neither replaced the halt
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "again", None, sink_down=down)).done  # as strict: goes on
    assert run(w.desk.lock_scope("global", "reducing", "wider", 60, sink_down=down)).done  # nothing to loosen
    assert run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None)).done  # a sink takes rows: it may loosen
    kinds = audit_kinds(w)
    assert kinds.count("manual_lock") == 6  # every one in the local chain, the two refusals too


def test_a_manual_lock_ends_at_its_ttl(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.lock_scope("global", "halted", "maintenance", 60))
    assert not w.desk.check_order(order()).allow
    ticks(w, 12)
    assert w.desk.check_order(order()).allow
    assert json.loads((tmp_path / "lock.json").read_text())["locked"] is False


@pytest.mark.parametrize("holds, done, code", [
    (["manual-stage"], False, "MANUAL_RESET_REQUIRED"),
    (["manual-stage", "operator"], True, "UNLOCKED"),
    (["manual-stage", "dms"], True, "UNLOCKED"),
    (["manual-stage", "ttl-stage", "operator"], True, "UNLOCKED"),
    (["manual-stage", "ttl-stage"], False, "MANUAL_RESET_REQUIRED"),
    (["ttl-stage"], False, "POLICY_LOCK"),
    (["ttl-stage", "operator"], True, "UNLOCKED"),
    (["operator"], True, "UNLOCKED"),
    (["dms"], True, "UNLOCKED"),
    (["operator", "dms"], True, "UNLOCKED"),
    ([], False, "NOT_LOCKED"),
])
def test_unlock_never_lifts_a_lock_a_stage_holds(tmp_path, holds, done, code):
    w = make(tmp_path)
    start(w)
    book = LockBook()
    for kind in holds:
        book = _hold(book, kind)
    w.parts.book.take_lock_book(book)
    answer = run(w.desk.unlock_scope(ACCOUNT, "let us trade"))
    assert (answer.done, answer.reason.split(":")[0]) == (done, code), answer
    if not done:
        assert w.parts.book.lock_book == book, "a refused unlock lifts nothing"
    stays = [(h.policy, h.stage) for h in w.parts.book.lock_book.in_force(T0)]
    assert stays == [(h.policy, h.stage) for h in book.in_force(T0) if not done or h.policy not in NOT_A_POLICY], \
        "an unlock lifts the operator's and the dead man's switch's locks only, never a stage's"
    if "manual-stage" in holds:
        assert "until a manual reset (ksctl reset --policy futures-book --scope " + ACCOUNT + ")" in answer.reason


def test_an_operator_lock_under_a_latched_stage_is_lifted_and_the_stage_named(tmp_path):
    w = make(tmp_path)
    start(w)
    w.parts.book.take_lock_book(_hold(LockBook(), "manual-stage"))
    run(w.desk.lock_scope(ACCOUNT, "halted", "bot-a rogue", None, actor="alice"))
    said = f"UNLOCKED: {ACCOUNT} (operator lock lifted); {ACCOUNT} stays halted by stage 3 of policy futures-book " \
           f"until a manual reset (ksctl reset --policy futures-book --scope {ACCOUNT})"
    preview = w.desk.preview_unlock(ACCOUNT)
    assert (preview.allowed, preview.reason) == (True, said), preview
    assert any(e.startswith("lifts the halted lock of the operator set ") for e in preview.effects), preview
    answer = run(w.desk.unlock_scope(ACCOUNT, "done with my part", actor="alice"))
    assert (answer.done, answer.reason) == (True, said)
    assert [(h.policy, h.stage, h.manual) for h in w.parts.book.lock_book.in_force(T0)] == \
        [("futures-book", 3, True)], "the stage's lock stays"
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted" and not w.desk.check_order(order()).allow
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        rows = [json.loads(p) for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = 'manual_unlock'")]
    finally:
        db.close()
    assert [(r["lifted"], r["by"], "refused" in r) for r in rows] == [(["operator"], "alice", False)]


def test_a_latched_stage_lock_needs_the_reset_then_the_operator_lock_can_go(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)
    assert w.desk.lock_document(ACCOUNT)["manual"] is True
    run(w.desk.lock_scope(ACCOUNT, "halted", "belt and braces", None))
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).reason.startswith(f"UNLOCKED: {ACCOUNT} (operator lock lifted)")
    assert w.desk.lock_document(ACCOUNT)["manual"] is True, "the stage's lock stays"
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).reason.startswith("MANUAL_RESET_REQUIRED: ")
    run(w.desk.lock_scope(ACCOUNT, "halted", "belt and braces", None))
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True)).done
    assert w.desk.lock_document(ACCOUNT)["policy"] == OPERATOR, "the reset lifts only the stage's lock"
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).done
    assert not w.desk.lock_document(ACCOUNT)["locked"]
