"""The words of an operator action: its target in the report, its line in the runner's log
(walk 11 of issue 65, L2 and L4)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from killswitch.face.desk.oplog import said
from killswitch.runbooks.operator_actions import operator_actions
from killswitch.view.answers import ResetResult

T0 = 1_790_000_000_000
INCIDENT = "quick-watch/binanceusdm/sim-hedge/L1/e1"


def _row(seq: int, kind: str, payload: dict) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind=kind, ts_ms=T0 + seq * 1000, payload=payload)


def test_a_refused_silence_keeps_what_was_typed_as_its_target():
    rows = [
        _row(1, "silence_added", {"matchers": [], "incident": "quick-watch/binanceusdm/sim-hedg/L1/e1",
                                  "comment": "looking", "by": "alice",
                                  "refused": "UNKNOWN_INCIDENT: not an open incident"}),
        _row(2, "silence_added", {"matchers": [], "incident": INCIDENT, "comment": "again", "by": "alice",
                                  "refused": "ALREADY_SILENCED: extend it"}),
        _row(3, "silence_added", {"matchers": ["policy=quick-wach"], "comment": "typo", "by": "bob",
                                  "refused": "UNKNOWN_POLICY: did you mean quick-watch?"}),
        _row(4, "silence_added", {"id": "a1", "matchers": [f'incident="{INCIDENT}"'], "incident": INCIDENT,
                                  "comment": "on it", "by": "alice", "starts_ms": T0, "ends_ms": T0 + 3_600_000}),
    ]
    got = [(a["target"], a["outcome"]) for a in operator_actions(rows, T0 + 10_000, lambda s: True, {}, {})]
    assert got == [("incident=quick-watch/binanceusdm/sim-hedg/L1/e1", "refused: UNKNOWN_INCIDENT"),
                   (f"incident={INCIDENT}", "refused: ALREADY_SILENCED"),
                   ("policy=quick-wach", "refused: UNKNOWN_POLICY"),
                   (f'a1: incident="{INCIDENT}"', "done")], got


def test_a_withdrawn_approval_is_logged_as_done_and_a_refused_one_as_refused(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.operator")
    said("reset withdraw", "bob", ResetResult(False, "APPROVAL_WITHDRAWN: bob's approval of the reset of q s "
                                                     "(stage 1) is withdrawn; approvers now: none"), policy="q")
    said("reset withdraw", "bob", ResetResult(False, "NO_APPROVAL: bob has no pending approval"), policy="q")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["OPERATOR reset withdraw by bob (policy=q): APPROVAL_WITHDRAWN: bob's approval of the reset "
                     "of q s (stage 1) is withdrawn; approvers now: none",
                     "OPERATOR reset withdraw by bob (policy=q): REFUSED: NO_APPROVAL: bob has no pending approval"], \
        lines
