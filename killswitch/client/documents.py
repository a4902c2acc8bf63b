"""The documents the runner's API serves as plain objects, typed: the dead man's switch
(``GET /v1/dms``, and the ``dms`` of a status), a close's progress (``GET /v1/close/{id}``) and the
trading lock (``GET /v1/lock``) with its holds, resumptions and pre-trade limits; and the one way an
answer that is an array under a key is read (:func:`items_of`).

Must not: send anything (:mod:`.transport` does), nor import the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..holds import LockHold
from ..view import DecodeError, RunnerStatus, decode

# --- the documents the API serves as plain objects, typed -----------------------------------------------
# Their fields are in the order the runner writes them, so that one written back out is the
# runner's document as it came.


@dataclass(frozen=True)
class DmsSource:
    """A heartbeat source of the dead man's switch (``GET /v1/dms`` ``sources``)."""

    armed: bool
    last_beat_age_s: Optional[float]  # None: never heard from
    fires_in_s: Optional[float]  # None when not armed or already fired
    fired: bool
    timeout_s: Optional[float] = None
    locked: bool = False  # its firing halted trading for the scope named like it


@dataclass(frozen=True)
class VenueCountdown:
    """A venue's own cancel-all-after countdown the runner keeps refreshed (``native``)."""

    countdown_s: float
    last_refresh_age_s: Optional[float]
    cancels_in_s: Optional[float]  # when the venue cancels everything without a refresh
    refresh_due: bool = False
    lapsed: bool = False
    supported: bool = True
    error: Optional[str] = None  # why the last refresh failed
    at_venue: str = ""  # the venue's answer to the last arm, in words (armed on what, or why not)


@dataclass(frozen=True)
class RefusedSource:
    """A heartbeat source the runner refused lately (``refused``): why, how many beats, when."""

    reason: str  # UNKNOWN_SOURCE: ... (with the names it resembles) or SOURCES_FULL: ...
    count: int
    last_refused_age_s: float


@dataclass(frozen=True)
class DmsSummary:
    """How many sources a summarised switch (the status's, ``dms.summary``) holds of each kind,
    how many it lists, the soonest to fire and where every one is read."""

    sources: int = 0  # held: a heartbeat heard or an arming
    armed: int = 0
    fired: int = 0
    locked: int = 0  # scopes a firing halted, still halted
    watched: int = 0  # named by a policy, the Accounts document or the switch
    never_heard: int = 0  # watched and never heard from
    shown: int = 0  # of ``sources``, listed (the most urgent)
    never_heard_shown: int = 0  # of ``never_heard``, listed in ``watched``
    soonest: Optional[str] = None  # the armed source that fires first
    soonest_fires_in_s: Optional[float] = None
    all: str = "/v1/status?dms=all"  # where every one is listed

    @property
    def partial(self) -> bool:
        """Whether sources or watched sources were left out of the lists."""
        return self.shown < self.sources or self.never_heard_shown < self.never_heard


@dataclass(frozen=True)
class DmsStatus:
    """``GET /v1/dms``, and the ``dms`` of :class:`~killswitch.view.RunnerStatus`: there,
    summarised (``summary``: the most urgent sources only, and the watched ones never heard),
    unless read with ``dms=all``."""

    format_version: int = 1
    listening_since_ts: Optional[str] = None
    sources: dict[str, DmsSource] = field(default_factory=dict)
    native: dict[str, VenueCountdown] = field(default_factory=dict)
    refused: dict[str, RefusedSource] = field(default_factory=dict)  # the latest refused, oldest first
    # every source the runner takes a beat from, with what names it (heard from or not yet); in a
    # summary, only those never heard from
    watched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summary: Optional[DmsSummary] = None  # None: every source is listed


def dms_of(status: RunnerStatus) -> DmsStatus:
    """The dead man's switch a status carries (a plain object in RunnerStatus), typed."""
    return decode(DmsStatus, status.dms or {})


CLOSE_FINAL_STATES = ("settled", "dry_run", "unplanned", "expired", "refused")


@dataclass(frozen=True)
class CloseProgress:
    """``GET /v1/close/{id}``: where a queued close stands. ``state``: queued (before its tick),
    working, settled (every order has a final result), dry_run (planned and audited, not sent),
    unplanned (its scope was not in the tick's snapshots: nothing was sent), expired (asked for
    before its runner stopped, never planned, too old to carry out: nothing was sent), refused
    (its plan at the tick differed materially from its preview: nothing was sent; ``reason``)."""

    id: str
    scope: str
    requested_ts: Optional[str]
    mode: str  # dry-run | live
    orders: int
    settled: int
    filled: int
    open: int
    unfilled: int
    statuses: dict[str, int]
    state: str
    symbol: Optional[str] = None  # the one symbol the close is limited to
    reason: Optional[str] = None  # why it was refused at its tick
    by: Optional[str] = None  # who asked for it (the caller's identity); None from an older runner
    # what the venue said of the orders it refused ("-1106 Parameter 'reduceOnly' sent when not required.")
    venue_said: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.state in CLOSE_FINAL_STATES


@dataclass(frozen=True)
class ScopeLock:
    """The lock in force on one scope (its holds merged: the most restrictive wins), and its holds."""

    locked: bool
    mode: str
    scope: Optional[str]
    stage: Optional[int]
    policy: Optional[str]
    reason: str
    created_ts: Optional[str]
    expires_ts: Optional[str]
    manual: bool
    details: dict = field(default_factory=dict)
    holds: tuple[LockHold, ...] = ()


@dataclass(frozen=True)
class ResumeLimits:
    """A resumption in force on a scope (``GET /v1/lock`` ``resuming.<scope>``): the gate holds
    its orders at ``fraction`` of the normal limits until ``steps_up_ts``."""

    policy: str
    since_ts: str
    day: int
    days: int
    fraction: float
    max_positions: Optional[int]
    max_gross_exposure: Optional[float]
    steps_up_ts: Optional[str]


@dataclass(frozen=True)
class LimitUsage:
    """One pre-trade limit of one scope instance and its usage (``GET /v1/lock`` ``limits[].usage``;
    ``usage`` None: an account of the scope not read). Of a position or gross limit,
    ``positions`` and ``resting``: what the positions hold and what the resting orders that open
    further add (None from a runner that does not say)."""

    scope: str
    limit: str
    value: float
    usage: Optional[float]
    unit: str
    symbol: Optional[str] = None
    positions: Optional[float] = None
    resting: Optional[float] = None


@dataclass(frozen=True)
class PolicyLimits:
    """A policy's pre-trade limits in force (``limits``: as compiled) and each one's usage by scope."""

    policy: str
    limits: dict = field(default_factory=dict)
    usage: tuple[LimitUsage, ...] = ()


@dataclass(frozen=True)
class LockDocument:
    """``GET /v1/lock``: the summary (the most restrictive lock of all scopes), every locked scope
    with its holds, the resumed limits in force by scope (:mod:`killswitch.runner.lock.lock`) and the
    policies' pre-trade limits with their usage (:mod:`killswitch.runner.gate.limits_state`)."""

    format_version: int
    locked: bool
    mode: str
    scope: Optional[str]
    stage: Optional[int]
    policy: Optional[str]
    reason: str
    created_ts: Optional[str]
    expires_ts: Optional[str]
    manual: bool
    details: dict = field(default_factory=dict)
    written_ts: Optional[str] = None
    scopes: dict[str, ScopeLock] = field(default_factory=dict)
    # every scope locked (``scope`` is null when they are several: none is picked)
    locked_scopes: tuple[str, ...] = ()
    resuming: dict[str, ResumeLimits] = field(default_factory=dict)
    limits: tuple[PolicyLimits, ...] = ()  # the policies' pre-trade limits, when a policy sets some


def items_of(cls: Any, doc: Any, key: str) -> tuple[Any, ...]:
    """``doc[key]``, an array of ``cls`` (``{"silences": [...]}``), each decoded."""
    if not isinstance(doc, dict):
        raise DecodeError(f"expected an object with {key!r}, not {type(doc).__name__}")
    return decode(tuple[cls, ...], doc.get(key))
