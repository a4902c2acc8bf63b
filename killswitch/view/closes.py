"""A manual close as ``ksctl close`` previews it and the runner answers it: the orders planned
from the last snapshots and the answer to a preview or a close.

Values only (re-exported by :mod:`killswitch.view`); the runner's desk works them out
(:mod:`killswitch.runner.operator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class PlannedOrder:
    """One order of a manual close as planned from the last snapshots (what ``ksctl close``
    previews): reduce-only, never larger than the position it closes."""

    account: str  # venue/account
    symbol: str
    side: str  # buy | sell
    position_side: Optional[str]  # LONG | SHORT in hedge mode
    amount: float
    notional: float
    limit_price: Optional[float]  # the protected price
    reduce_only: bool
    chunk: int  # 1-based, of ``chunks``
    chunks: int
    price_tick: Optional[float] = None  # the market's price grid, as the venue lists it (None: not known)


@dataclass(frozen=True)
class CloseResult:
    accepted: bool
    reason: str
    orders: int = 0
    id: Optional[str] = None  # the close's decision id, to follow it with close_progress
    plan: tuple[PlannedOrder, ...] = ()  # the ``orders`` counted, one by one (an older runner sends none)
    symbol: Optional[str] = None  # the one symbol the close is limited to (None: the whole scope)
    preview_id: Optional[str] = None  # a preview's: the id its close carries; a close's: the preview it applies
    notional: Optional[float] = None  # the total notional of ``plan`` (None: an older runner)
    max_notional: Optional[float] = None  # the cap the close is held to (a preview's: the default offered)
    as_of_ms: Optional[int] = None  # the oldest snapshot the plan is made from (runner's clock, ms)
    age_s: Optional[float] = None  # how old that snapshot was when the runner answered
    mode: Optional[str] = None  # the runner's: dry-run | live (None: an older runner)
    notes: tuple[str, ...] = ()  # fills since the snapshots, taken off the positions planned from
    leg: Optional[str] = None  # the one hedge leg of ``symbol`` the close is limited to (long | short)
    # the venue's refusals of closes of these legs the runner holds (REFUSED_BEFORE), accepted or not
    refused: tuple[str, ...] = ()
