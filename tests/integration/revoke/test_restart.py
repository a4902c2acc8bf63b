"""A crash at any point of a revoke, and a takeover: the next runner finishes it, audited once; the
deposed runner sends nothing."""

from __future__ import annotations

import pytest

from .helpers import (
    KEYS,
    Crash,
    KeyVenue,
    make,
    rows,
    run,
    shown,
    started,
    ticks,
)


@pytest.mark.parametrize("crash", ["before_set", "after_set", "after_audit"])
def test_a_crash_at_any_point_of_a_revoke_is_finished_by_the_next_runner_audited_once(tmp_path, crash):
    """Before the venue call (the owe saved), after it (the venue applied it, the answer lost),
    after the audit row (the book not saved): the runner that carries on sends it again (which is
    harmless), reads it back, and the audit chain holds exactly one row."""
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    started(w)
    ticks(w, 12)
    if crash == "after_audit":
        venue.on_set = lambda: setattr(w.store, "armed", True)
    else:
        venue.crash = crash
    with pytest.raises(Crash):
        ticks(w, 1)
    venue.on_set = None
    assert venue.keys == {k: "allowed" if crash == "before_set" else "revoked" for k in KEYS}
    assert len(rows(w, "trading_revoked")) == (1 if crash == "after_audit" else 0)
    w.store.close()

    again = make(tmp_path, venue=venue, engine=w.engine, clock=w.clock)
    run(again.runner.start())
    ticks(again, 3)
    assert venue.keys == {k: "revoked" for k in KEYS}
    assert len(rows(again, "trading_revoked")) == 1, f"audited exactly once after a crash {crash}"
    assert len(venue.sent("revoke")) == (1 if crash == "before_set" else 2), "sent again, never assumed"
    assert shown(again) == "revoked (read back)"
    ticks(again, 5)
    assert len(rows(again, "trading_revoked")) == 1 and len(venue.sent("revoke")) <= 2


def test_a_takeover_finishes_the_owed_revoke_and_the_deposed_runner_sends_nothing(tmp_path):
    venue = KeyVenue()
    venue.refuse = ("-1003", "Too many requests.")
    a = make(tmp_path, venue=venue, holder="runner-a")
    started(a)
    ticks(a, 13)
    assert venue.sent("revoke", "runner-a") and shown(a).startswith("REVOKE_FAILED: -1003")
    # runner-a stops ticking (a stalled pod); its lease runs out and runner-b takes over the store
    a.clock.advance(10_000)
    venue.refuse = None
    b = make(tmp_path, venue=venue, engine=a.engine, clock=a.clock, holder="runner-b")
    run(b.runner.start())
    ticks(b, 2)
    assert venue.keys == {k: "revoked" for k in KEYS} and venue.sent("revoke", "runner-b")
    [row] = rows(b, "trading_revoked")
    assert row["by"] == "runner-b" and shown(b) == "revoked (read back)"
    # runner-a wakes up: it does not lead, so it sends nothing and writes no row
    sent_by_a = len(venue.sent("revoke", "runner-a")) + len(venue.sent("read", "runner-a"))
    reports = run(a.runner.tick())
    assert not reports.leader
    assert len(venue.sent("revoke", "runner-a")) + len(venue.sent("read", "runner-a")) == sent_by_a
    assert len(rows(b, "trading_revoked")) == 1
    b.store.close()
    a.store.close()
