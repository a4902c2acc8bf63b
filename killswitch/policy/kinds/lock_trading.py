"""The ``lock_trading`` action: lock the bots' trading on the scope (the pre-trade gate).

A stage that cuts a book, or halts it, keeps the bots from building it up again:
``{lock_trading: {mode: reducing, ttl: 1h}}`` lets only orders that reduce exposure through the
gate for an hour, ``lock_trading`` alone (``mode: halted``) none, until the stage resets (a
``reset: manual`` stage holds it until its reset, whatever the ttl). Bots read the lock from the
lock file and ``GET /v1/lock`` and ask ``POST /v1/check-order``; a bot that never asks is
watched at the venue while the lock holds (``enforce``): its open orders adding exposure are
cancelled (``cancel``, on unless turned off), and a position that grew is brought back to its
size at the lock with reduce-only orders (``revert_growth``: on under ``halted`` unless turned
off, off under ``reducing`` unless turned on).

The plan shows the lock as the action's directive (its parameters as written); the runner puts
it on the scope when it applies the stage entry (``killswitch.runner.lock.lock``).
"""

from typing import Literal, Optional

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import DurationField


class LockEnforce(Strict):
    """What the lock makes hold at the venue, on orders and positions of bots that never asked:
    ``cancel`` the open orders that add exposure (not reduce-only under ``halted``; growing a position
    under ``reducing``), ``revert_growth`` bring a position that grew back to its size at the lock with
    reduce-only orders. Left out: ``cancel`` on, ``revert_growth`` on under ``halted`` only."""

    cancel: bool = True
    revert_growth: Optional[bool] = None


class LockTrading(Strict):
    """Lock the bots' trading (the pre-trade gate): ``reducing`` lets only orders that reduce exposure
    through, ``halted`` none; ``ttl``: for that long; ``enforce``: what the runner makes hold at the venue."""

    mode: Literal["reducing", "halted"] = "halted"
    ttl: Optional[DurationField] = None
    enforce: Optional[LockEnforce] = None


@record
class LockTradingParams:
    """lock_trading, compiled: the lock's mode, its ttl and what it makes hold at the venue."""

    mode: str  # reducing | halted
    ttl_ms: Optional[int]  # None: until the stage resets
    # what the lock makes hold at the venue (killswitch.runner.watch.enforce): cancel entries, revert growth
    cancel: bool
    revert_growth: bool


def build(p: LockTrading) -> LockTradingParams:
    e = p.enforce
    return LockTradingParams(mode=p.mode, ttl_ms=p.ttl.ms if p.ttl is not None else None,
                             cancel=e.cancel if e is not None else True,
                             revert_growth=(e.revert_growth if e is not None and e.revert_growth is not None
                                            else p.mode == "halted"))


def plan(params: LockTradingParams, planning: ActionPlanning) -> None:
    planning.lock(params.mode, params.ttl_ms, params.cancel, params.revert_growth)


KIND = ActionKind("lock_trading", LockTrading, firm=True, build=build, plan=plan)
