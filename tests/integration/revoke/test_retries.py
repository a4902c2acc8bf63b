"""A revoke or a restore the venue refuses: loud, retried with back-off, paged once, never shown
as done."""

from __future__ import annotations

from killswitch.events import REVOKE_FAILED, TRADING_REVOKED

from .helpers import (
    ACCOUNT,
    KEYS,
    KeyVenue,
    entered,
    events,
    make,
    metric,
    rows,
    run,
    shown,
    started,
    ticks,
)


def test_a_refusal_is_retried_with_backoff_paged_once_and_never_shown_revoked(tmp_path):
    venue = KeyVenue()
    venue.refuse = ("-2015", "Invalid API-key, IP, or permissions for action.")
    w = make(tmp_path, venue=venue)
    started(w)
    reports = ticks(w, 13)
    reports += ticks(w, 60)  # five minutes of refusals
    tries = venue.sent("revoke")
    gaps = [(b - a) // 1000 for a, b in zip(tries, tries[1:])]
    assert gaps[:4] == [5, 5, 5, 10] and max(gaps) <= 65, gaps  # 1 s, 2 s, 4 s, 8 s … at the tick's pace
    assert gaps == sorted(gaps), f"the backoff only grows: {gaps}"
    assert 8 <= len(tries) <= 12, f"bounded by the 60 s ceiling: {len(tries)} tries in 5 min"
    [page] = events(reports, REVOKE_FAILED)
    assert page.data["code"] == "-2015" and "Invalid API-key" in page.data["message"]
    assert page.labels["account"] == ACCOUNT and page.labels["severity"] == "critical"
    assert len(rows(w, "trading_permission_failed")) == 1 and rows(w, "trading_revoked") == []
    assert shown(w).startswith("REVOKE_FAILED: -2015: key bot-a-key: Invalid API-key")
    assert "revoked (" not in shown(w)
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 0.0'
    assert metric(w, "killswitch_revoke_failures_total{") == (
        f'killswitch_revoke_failures_total{{account="{ACCOUNT}",code="-2015"}} {float(len(tries))}')
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted", "the lock stays"

    venue.refuse = None  # the venue takes it at the next try
    reports = ticks(w, 13)
    assert shown(w) == "revoked (read back)" and len(rows(w, "trading_revoked")) == 1
    assert len(events(reports, TRADING_REVOKED)) == 1 and events(reports, REVOKE_FAILED) == []


def test_a_refused_restore_is_loud_and_the_account_stays_shown_revoked(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    entered(w)
    ticks(w, 2, beat=True)
    venue.refuse = ("10003", "API key is invalid.")
    run(w.desk.reset("bot-guard", ACCOUNT, "alice", "ok", confirm_relatch=True))
    run(w.desk.reset("bot-guard", ACCOUNT, "bob", "ok", confirm_relatch=True))
    reports = ticks(w, 12, beat=True)
    [page] = events(reports, REVOKE_FAILED)
    assert page.data["want"] == "allowed" and page.data["code"] == "10003"
    assert shown(w).startswith("revoked (read back); RESTORE_FAILED: 10003")
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 1.0'
    venue.refuse = None
    ticks(w, 13, beat=True)
    assert shown(w) == "allowed" and venue.keys == {k: "allowed" for k in KEYS}
