"""What still stands when a runner process first evaluates is said in its log
(killswitch/runner/tick/standing.py): an engaged stage (latched: its approvals), a close the
venue refused (not sent again, or accepted) and the lock violations recalled."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from killswitch.runner.tick.standing import log_standing

T = 1_795_000_000_000


def _state(**scopes):
    return SimpleNamespace(scopes=scopes)


def _scope(level, approvals=(), removed=None):
    return SimpleNamespace(stage=SimpleNamespace(level=level, entered_ms=T, approvals=list(approvals)),
                           removed=removed)


def _graph(manual=True):
    stage = SimpleNamespace(level=5, name="halt", manual=manual, approvals=2)
    policy = SimpleNamespace(stage=lambda level: next(s for s in (stage,) if s.level == level))
    return SimpleNamespace(policy=lambda name: policy if name == "crash-ladder" else next(iter(())))


def test_a_latched_stage_a_refused_close_and_violations_are_each_one_line(caplog):
    state = _state(**{"crash-ladder|binanceusdm/sim-main": _scope(5, ["alice"]),
                      "gone|binanceusdm/sim-main": _scope(2, removed=object()),
                      "crash-ladder|binanceusdm/sim-hedge": _scope(0)})
    refused = [("binanceusdm/sim-hedge", "SOL/USDT:USDT", "SHORT", False),
               ("binanceusdm/sim-hedge", "ETH/USDT:USDT", "LONG", True)]
    with caplog.at_level(logging.INFO, logger="killswitch.runner"):
        n = log_standing(state, _graph(), refused, {"total": 2, "since_ms": T})
    said = [r.getMessage() for r in caplog.records]
    assert n == 5 and len(said) == 5, said
    assert said[0] == ("STAGE_HOLDS: crash-ladder binanceusdm/sim-main stage 5 halt (latched: its reset needs 2 "
                       "approver(s)) since 2026-11-18T11:06:40.000Z; approved by alice (ksctl status)")
    assert said[1].startswith("STAGE_HOLDS: gone binanceusdm/sim-main stage 2 since ")  # no longer in the graph
    assert "removed from the running policies, kept until reset" in said[1]
    assert said[2].startswith("CLOSE_REJECTED: SOL/USDT:USDT SHORT on binanceusdm/sim-hedge: ")
    assert "not sent again" in said[2]
    assert said[3].startswith("CLOSE_ACCEPTED: ETH/USDT:USDT LONG on binanceusdm/sim-hedge")
    assert said[4].startswith("LOCK_VIOLATIONS: 2 since 2026-11-18T11:06:40.000Z")


def test_nothing_standing_says_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="killswitch.runner"):
        assert log_standing(_state(), _graph(), [], {"total": 0}) == 0
    assert caplog.records == []


def test_an_operators_lock_and_a_standing_revoke_are_said_too(caplog):
    """The walk's restart log named the stages, the refused closes and the violations, but not
    alice's halt nor the keys revoked at the venue (issue 65, walk 10 L6)."""
    from killswitch.runner.book.revoke_state import Hold, RevokeBook
    from killswitch.runner.lock.lock import OPERATOR, LockBook

    locks = (LockBook()
             .apply("binanceusdm/sim-main", "halted", now_ms=T, policy=OPERATOR, reason="MANUAL_LOCK: x",
                    details={"by": "alice", "reason": "bots everywhere"})
             .apply("binanceusdm/sim-main", "reducing", now_ms=T, policy="crash-ladder", stage=5, manual=True))
    hold = Hold(holder="operator|binanceusdm", policy="operator", scope="binanceusdm", since_ms=T,
                reason="MANUAL_REVOKE: x", by="alice", out_of_reach=("binanceusdm/sim-hedge",))
    revokes = RevokeBook().hold(["binanceusdm/sim-main"], hold, T)
    with caplog.at_level(logging.INFO, logger="killswitch.runner"):
        n = log_standing(_state(), _graph(), [], {"total": 0}, locks=locks, revokes=revokes, now=T)
    said = [r.getMessage() for r in caplog.records]
    assert n == 3 and said == [
        "LOCK_HOLDS: binanceusdm/sim-main halted by operator alice until ksctl unlock "
        "(since 2026-11-18T11:06:40.000Z): bots everywhere (ksctl status)",  # (the stage's: its STAGE_HOLDS)
        "TRADING: binanceusdm/sim-main revoking (sent or to send, not confirmed yet); held by alice's revoke of "
        "binanceusdm (ksctl status)",
        "TRADING: binanceusdm/sim-hedge: OUT OF REACH, not revoked (no revoke: block in the Accounts document); "
        "asked by alice's revoke of binanceusdm (ksctl status)"], said
