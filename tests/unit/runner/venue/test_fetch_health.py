"""An account the runner cannot read is said once, not every tick (runner/venue/fetches.py): one
FETCH_FAILING WARNING when its snapshots start failing, one FETCH_RECOVERED INFO with the count
and the duration when one goes through; failures counted by venue, account and reason; the
status's ``fetch_errors``; the message scrubbed."""

from __future__ import annotations

import logging

from killswitch.logs import Scrubber
from killswitch.metrics import parse_families, render_collected
from killswitch.runner.venue.fetches import FetchHealth, scrub_message
from killswitch.snapshot import FetchStatus, Snapshot

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
STEP = 5_000


def snap(account: str, ok: bool = True, code: str = "EXCHANGE_UNAVAILABLE", error: str = "down") -> Snapshot:
    fetch = FetchStatus() if ok else FetchStatus(ok=False, error_code=code, error=error)
    return Snapshot(venue="binanceusdm", account=account, market_type="futures", ts_event=T0, fetch=fetch)


def test_failures_are_said_once_per_account_and_the_recovery_once_with_count_and_duration(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.fetch")
    h = FetchHealth(Scrubber())
    ticks = [  # (main ok?, hedge ok?) a tick
        (True, True), (False, True), (False, False), (False, False), (False, True), (True, True), (True, True)]
    for i, (main, hedge) in enumerate(ticks):
        now = T0 + i * STEP
        h.observe([snap("main", main, code="TIMEOUT" if i == 3 else "EXCHANGE_UNAVAILABLE"), snap("hedge", hedge)],
                  now)
        if i == 3:
            assert h.status() == {
                "binanceusdm/hedge": {"code": "EXCHANGE_UNAVAILABLE", "message": "down", "since_ms": T0 + 2 * STEP,
                                      "failures": 2, "last_ms": T0 + 3 * STEP},
                "binanceusdm/main": {"code": "TIMEOUT", "message": "down", "since_ms": T0 + STEP, "failures": 3,
                                     "last_ms": T0 + 3 * STEP}}
            fams = parse_families(render_collected(h.collect_metrics))
            assert fams["killswitch_account_fetch_ok"]["samples"] == [
                'killswitch_account_fetch_ok{account="binanceusdm/hedge"} 0.0',
                'killswitch_account_fetch_ok{account="binanceusdm/main"} 0.0']
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        ("WARNING", "FETCH_FAILING: binanceusdm/main: EXCHANGE_UNAVAILABLE: down; its data is missing to the policies "
                    "until a snapshot goes through (said once; FETCH_RECOVERED when it does)"),
        ("WARNING", "FETCH_FAILING: binanceusdm/hedge: EXCHANGE_UNAVAILABLE: down; its data is missing to the policies "
                    "until a snapshot goes through (said once; FETCH_RECOVERED when it does)"),
        ("INFO", "FETCH_RECOVERED: binanceusdm/hedge: snapshots fetched again after 2 failure(s) in 10.0s "
                 "(since 2026-03-02T13:00:10Z, last EXCHANGE_UNAVAILABLE)"),
        ("INFO", "FETCH_RECOVERED: binanceusdm/main: snapshots fetched again after 4 failure(s) in 20.0s "
                 "(since 2026-03-02T13:00:05Z, last EXCHANGE_UNAVAILABLE)"),
    ]
    assert h.status() == {}
    fams = parse_families(render_collected(h.collect_metrics))
    assert fams["killswitch_snapshot_failures_total"]["type"] == "counter"
    assert fams["killswitch_snapshot_failures_total"]["samples"] == [
        'killswitch_snapshot_failures_total{account="hedge",reason="EXCHANGE_UNAVAILABLE",venue="binanceusdm"} 2.0',
        'killswitch_snapshot_failures_total{account="main",reason="EXCHANGE_UNAVAILABLE",venue="binanceusdm"} 3.0',
        'killswitch_snapshot_failures_total{account="main",reason="TIMEOUT",venue="binanceusdm"} 1.0']
    assert 'killswitch_account_fetch_ok{account="binanceusdm/main"} 1.0' in \
        fams["killswitch_account_fetch_ok"]["samples"]


def test_the_message_is_scrubbed_cut_to_one_line_and_bounded():
    scrub = Scrubber(["s3cr3t-api-key"])
    text = ("binanceusdm GET http://127.0.0.1:8443/fapi/v2/account?timestamp=1&signature=abc123def456 "
            "failed\nwith key s3cr3t-api-key and api_key=zzzzzz")
    got = scrub_message(text, scrub)
    assert got == "binanceusdm GET http://127.0.0.1:8443/fapi/v2/account?… failed with key *** and api_key=***"
    assert len(scrub_message("x" * 1000, scrub)) == 301
    assert scrub_message(None, scrub) == ""
