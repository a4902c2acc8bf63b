"""``ksctl status`` and ``/v1/status`` carry the coverage: a count when everything is armed, one
line per blind or unmatched scope with why and until when, and the rows decode back whole."""

from __future__ import annotations

import json

from killswitch.client import LockDocument
from killswitch.render.status import status_json, status_text
from killswitch.view import BlindTrigger, CoverageStatus, RunnerStatus, decode

T = 1_772_456_400_000
LOCKS = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def status(*rows: CoverageStatus) -> RunnerStatus:
    return RunnerStatus("live", True, 3, "sha256:" + "0" * 64, None, None, T, coverage=rows)


WHY = "dd_1h: INSUFFICIENT_HISTORY: coverage=10% min=80%"
BLIND = CoverageStatus("futures-book", "binanceusdm/main", "blind", "INSUFFICIENT_HISTORY", "soft: " + WHY, T,
                       T + 42 * 60_000, None, (BlindTrigger("soft", "INSUFFICIENT_HISTORY", WHY, T + 42 * 60_000),))
UNMATCHED = CoverageStatus("spot-book", "(none)", "unmatched", "UNMATCHED",
                           "the scope (labels{book=spott}) selects no account", T, None, "lock_trading: reducing")
ARMED = CoverageStatus("portfolio-breaker", "global", "armed", None, "every trigger can be evaluated", T, None, None)
AHEAD = CoverageStatus("next-book", "(none)", "unmatched", "UNMATCHED_ALLOWED",
                       "the scope (labels{book=next}) selects no account (allowed: allow_empty: true)", T, None, None)


def test_all_armed_is_one_line_with_the_count():
    text = status_text(status(ARMED), LOCKS)
    assert "  coverage: all 1 policy scope(s) armed" in text.splitlines()


def test_no_tick_yet_says_not_evaluated_never_armed():
    assert "  coverage: not evaluated yet (no tick under this graph)" in status_text(status(), LOCKS).splitlines()


def test_blind_and_unmatched_scopes_are_listed_with_why_and_until_when():
    lines = status_text(status(ARMED, BLIND, UNMATCHED), LOCKS).splitlines()
    assert "  COVERAGE: 2 of 3 policy scope(s) NOT ARMED" in lines
    # no trigger's own time, but armed again at 13:42: it can fire by then, never "can fire again: unknown"
    assert ("  BLIND futures-book binanceusdm/main: INSUFFICIENT_HISTORY, since 2026-03-02T13:00:00Z; armed again at "
            "2026-03-02T13:42:00Z; while blind: nothing (no while_blind)") in lines
    assert "      trigger soft: dd_1h: INSUFFICIENT_HISTORY: coverage=10% min=80%" in lines
    assert ("  UNMATCHED spot-book: the scope (labels{book=spott}) selects no account, since 2026-03-02T13:00:00Z: "
            "the policy cannot act") in lines


def test_when_a_blind_scope_can_fire_again_is_unknown_only_when_nothing_says_it():
    """Issue 81: "can fire again: unknown" where it was known, and BLIND without "(partly)" where
    some trigger can still fire."""
    import dataclasses

    at = dataclasses.replace(BLIND, acts_from_ms=T + 5 * 60_000, acts_first=("soft",))
    [line] = [x for x in status_text(status(at), LOCKS).splitlines() if x.startswith("  BLIND ")]
    assert "; can fire again at 2026-03-02T13:05:00Z (soft); armed again at 2026-03-02T13:42:00Z;" in line, line
    nothing = dataclasses.replace(BLIND, until_ms=None)
    [line] = [x for x in status_text(status(nothing), LOCKS).splitlines() if x.startswith("  BLIND ")]
    assert "; can fire again: unknown; armed again at unknown (waiting for data);" in line, line
    partly = dataclasses.replace(BLIND, until_ms=None, partly="partly blind: dd_1h unknown; hard can still fire on dd")
    lines = status_text(status(partly), LOCKS).splitlines()
    [line] = [x for x in lines if x.startswith("  BLIND ")]
    assert line.startswith("  BLIND futures-book binanceusdm/main (partly): INSUFFICIENT_HISTORY,"), line
    assert "can fire again" not in line and "      partly blind: dd_1h unknown; hard can still fire on dd" in lines


def test_the_rows_travel_through_the_json_and_back():
    st = status(ARMED, BLIND, UNMATCHED)
    doc = json.loads(status_json(st, LOCKS))
    assert [r["state"] for r in doc["coverage"]] == ["armed", "blind", "unmatched"]
    doc.pop("lock")
    assert decode(RunnerStatus, doc) == st


def test_a_scope_allow_empty_lets_select_nothing_is_listed_as_unmatched_and_allowed_without_alarm():
    lines = status_text(status(ARMED, AHEAD), LOCKS).splitlines()
    assert "  coverage: 1 of 2 policy scope(s) armed; 1 select(s) no account, as allow_empty allows" in lines
    assert ("  unmatched (allowed) next-book: the scope (labels{book=next}) selects no account (allowed: allow_empty: "
            "true), since 2026-03-02T13:00:00Z: it acts once an account matches") in lines
    assert not any("NOT ARMED" in x or "UNMATCHED " in x for x in lines), lines
    # beside a real problem, the count of what is not armed leaves it out
    lines = status_text(status(ARMED, UNMATCHED, AHEAD), LOCKS).splitlines()
    assert "  COVERAGE: 1 of 3 policy scope(s) NOT ARMED" in lines
    doc = json.loads(status_json(status(AHEAD), LOCKS))
    assert [(r["state"], r["reason"]) for r in doc["coverage"]] == [("unmatched", "UNMATCHED_ALLOWED")]
