"""A deposed leader records nothing (``rig.py``): its locks, armings, unlocks, closes and resets
answer DEPOSED, then NOT_LEADER, and no audit row of it lands."""

from __future__ import annotations

from killswitch.runner.lock.lock import LockBook

from .rig import ACCOUNT, _hold, audit_kinds, live_close, make, run, start, ticks

# --- fencing: a deposed leader records nothing ----------------------------------------------------------


def test_a_deposed_leader_cannot_lock_arm_or_audit(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    ticks(a, 1)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)  # a's lease (5 s) ran out while it was paused; b takes over
    start(b)
    assert b.parts.lead.leader
    rows = len(audit_kinds(b))
    changes = [lambda: run(a.desk.lock_scope("global", "halted", "late", None)),
               lambda: run(a.desk.dms_arm("bot-a", 10)),
               lambda: run(a.desk.unlock_scope(ACCOUNT, "late")), lambda: run(live_close(a.desk, ACCOUNT, "late")),
               lambda: run(a.desk.reset("bot-guard", ACCOUNT, "alice", "late", confirm_relatch=True))]
    a.parts.book.take_lock_book(_hold(LockBook(), "operator"))
    for change in changes:
        a.parts.lead.leader = True  # paused, it still believes it leads
        answer = change()
        assert not getattr(answer, "done", getattr(answer, "accepted", None)), answer
        assert answer.reason.startswith("DEPOSED: "), answer
        assert not a.parts.lead.leader
    assert a.parts.book.lock_book == _hold(LockBook(), "operator") and a.parts.book.dms.sources == {}, \
        "nothing changed"
    # (but the one it writes of itself as a standby once it sees the loss: lease_lost, unfenced)
    assert len([k for k in audit_kinds(b) if k != "lease_lost"]) == rows, "no audit row of the deposed leader landed"
    assert b.store.verify_audit() == (True, None)
    assert not b.parts.book.lock_book.in_force(a.clock())
    assert run(a.desk.lock_scope("global", "halted", "still late", None)).reason.startswith("NOT_LEADER")
    # a standby refuses as a standby before its own (stale) view of the book could answer otherwise
    a.parts.book.take_lock_book(LockBook())
    assert run(a.desk.unlock_scope(ACCOUNT, "not locked here")).reason.startswith("NOT_LEADER")
    assert run(a.desk.dms_disarm("bot-never-armed")).reason.startswith("NOT_LEADER")
