"""The lock a policy holds on a scope it is blind in (``while_blind``) says why in words that stay
true while it is — each signal it cannot read once, with the triggers that need it, no figure
that moves every tick — and follows the cause when it changes, keeping since when it holds."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.engine.coverage import ACCOUNT_NOT_READ, BLIND, INSUFFICIENT_HISTORY, BlindTrigger, Coverage
from killswitch.engine.signals import SignalValue
from killswitch.runner.lock.evaluation import apply_evaluation
from killswitch.runner.lock.lock import LockBook

T0 = 1_772_456_400_000
GRAPH = SimpleNamespace(policies=[SimpleNamespace(name="crash-ladder", while_blind_lock="reducing")])


def _history(coverage: int) -> Coverage:
    dd = SignalValue("dd", None, f"INSUFFICIENT_HISTORY: coverage={coverage}% min=5%")
    return Coverage(BLIND, INSUFFICIENT_HISTORY, tuple(BlindTrigger(t, INSUFFICIENT_HISTORY, unknown=(dd,))
                                                        for t in ("soft", "harder", "hard")))


def _tick(book: LockBook, coverage: Coverage, now: int) -> LockBook:
    scope = SimpleNamespace(policy="crash-ladder", scope="simulated/sim-main", coverage=coverage, transition=None,
                            plan=None)
    return apply_evaluation(book, SimpleNamespace(now_ms=now, scopes=[scope]), GRAPH)


def test_the_hold_says_each_unknown_signal_once_and_no_figure_that_moves():
    first = _tick(LockBook(), _history(0), T0)
    (hold,) = first.holds
    assert hold.reason == "WHILE_BLIND: policy=crash-ladder INSUFFICIENT_HISTORY: dd unknown to soft, harder and hard"
    assert "coverage=0%" in _history(0).detail  # what it said: the figure of the tick it was held, per trigger
    later = _tick(first, _history(3), T0 + 15_000)
    assert later.holds == first.holds  # the coverage grew: the same words, the same hold


def test_the_hold_follows_its_cause_and_keeps_since_when_it_holds():
    book = _tick(LockBook(), _history(2), T0)
    down = Coverage(BLIND, ACCOUNT_NOT_READ, tuple(BlindTrigger(t, ACCOUNT_NOT_READ) for t in ("soft", "hard")))
    book = _tick(book, down, T0 + 5_000)
    (hold,) = book.holds
    assert hold.reason == "WHILE_BLIND: policy=crash-ladder ACCOUNT_NOT_READ: soft and hard cannot be evaluated"
    assert hold.created_ms == T0 and hold.mode == "reducing"
    assert _tick(book, Coverage(), T0 + 10_000).holds == ()  # armed: let go


def test_a_policy_reloaded_without_while_blind_lets_its_hold_go():
    book = _tick(LockBook(), _history(2), T0)
    assert len(book.holds) == 1
    scope = SimpleNamespace(policy="crash-ladder", scope="simulated/sim-main", coverage=_history(2), transition=None,
                            plan=None)
    without = SimpleNamespace(policies=[SimpleNamespace(name="crash-ladder", while_blind_lock=None)])
    assert apply_evaluation(book, SimpleNamespace(now_ms=T0 + 5_000, scopes=[scope]), without).holds == ()
    gone = SimpleNamespace(policies=[])
    assert apply_evaluation(book, SimpleNamespace(now_ms=T0 + 5_000, scopes=[]), gone).holds == ()
