"""The pre-trade gate answered where the request arrives, from a published view of what it reads.

What it owns: :class:`GateView`, an immutable picture of everything the gate reads — the lock
book, the resumptions in force, the placement (the names the runner knows, the marks and the
equity), the policies' limit tables, the accounts' last snapshots (their positions) and whether
the runner led — :func:`answer`, the gate's decision against one view at one time, and
:class:`PublishedGate`, which holds the view in force: replaced whole by :meth:`~PublishedGate.publish`
on the runner's loop, read by :meth:`~PublishedGate.check` on any thread (the API's), so that a
bot's ``POST /v1/check-order`` never waits for the tick's loop.

When a view is published, always on the loop its state lives on:

- at the end of every tick (the snapshots, the catalog, the leadership it ended with);
- at the loop's next yield after any change of the lock book (:meth:`~PublishedGate.changed`,
  called by :class:`~killswitch.runner.book.book.Book`, the one writer of the lock): a stage's entry or
  exit, an operator's lock or unlock, a firm directive, the dead man's switch firing, a standby
  following the leader, a reset (with the resumption it starts). At the next yield, not at the
  assignment: what the same step changes with the lock (a reset's resumption, a tick's snapshots)
  lands in the same view, and a view is the book at a point where the loop could have answered
  the old way. An operator's change is published before its answer leaves (the turn yields once
  before it answers), so the very next check sees it;
- after a policy reload (the new graph's limits and scopes).

A check takes the view's one reference once: it sees one publication whole, the one before a
change or the one after, never a mix of the two. Between publications the loop confirms the view
every :data:`REFRESH_S` while it runs (:meth:`~PublishedGate.confirm`: it stamps the time, it does
not rebuild: a tick's new snapshots are never shown before the lock they lead to).

It fails closed: no view yet is ``GATE_VIEW_MISSING``; a view the loop has not confirmed for longer
than the stale bound (the lease's TTL, :attr:`PublishedGate.stale_after_s`: a loop silent that
long has lost the lease anyway), or one published while this runner led whose term has since run
out (another runner may lead and have changed the lock), is ``GATE_VIEW_STALE``; a publication that
raises keeps the view before it (which then goes stale) and is logged, never a crash of the tick.

A refusal answered from a view published while the runner led is counted
(:class:`~.refusals.Counted`: one increment, handed to the engine's tally at the next tick). The
message buckets are the other thing a check changes; the gate spends them under their own
lock (:class:`~.limits_state.MessageBuckets`), so their accounting is exact whichever thread
checks (the API's, or the loop's own :meth:`~killswitch.runner.watch.pretrade.Pretrade.check_order`).

Must not: read the runner's state from another thread than its loop (a check reads the view, the
clock and :meth:`~killswitch.runner.lease.leadership.Leadership.term_holds`, which is made for any thread),
or publish from another thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ...engine.guarded import unguarded_text, within
from ...engine.limit_tables import LimitTables
from ...overrides import OverrideIndex
from ..lock.lock import LockBook
from .gate import HeldByAccount, HeldPositions, check_order
from .limits_state import GateLimits, MessageBuckets, Refusals
from .placement import Placement
from .refusals import Counted
from .request import Decision
from .resume_plan import Resumption

log = logging.getLogger("killswitch.runner.gate_view")

REFRESH_S = 0.5  # how often the loop confirms the view in force while it runs
MIN_STALE_S = 1.0  # the stale bound is never below this (a lease TTL of 300 ms would refuse every hiccup)
GATE_VIEW_MISSING = "GATE_VIEW_MISSING"
GATE_VIEW_STALE = "GATE_VIEW_STALE"


@dataclass(frozen=True)
class GateView:
    """What the gate reads, as of one point of the runner's loop. ``placement``: its catalog's
    held scopes are worked out again at each check from ``lock`` (a lock's TTL may run out
    between); ``limits``: None when no policy of the graph sets limits; ``snapshots``: by account
    (the book's mapping, which a tick replaces whole and nobody changes); ``leader``: whether the
    runner led when it published; ``held``: the snapshots' positions as a check reads them
    (:class:`~.gate.HeldByAccount`: what one check learns of them, the next reuses)."""

    lock: LockBook
    resume: tuple[Resumption, ...]
    placement: Placement
    limits: Optional[LimitTables]
    snapshots: Mapping[str, Any]
    leader: bool
    # the accounts' positions as a check reads them, shared by the views of the same snapshots
    held: Optional[Mapping[str, Optional[HeldPositions]]] = None
    # the accounts no running policy's scope selects (engine/guarded.py): an order to one is told so
    unguarded: tuple[str, ...] = ()
    overrides: OverrideIndex = OverrideIndex()  # the overrides in force when published
    refusals: Optional[Refusals] = None  # the orders refused and released, by client order id


def answer(view: GateView, request: Any, now_ms: int, buckets: MessageBuckets) -> Decision:
    """The gate's decision on ``request`` against ``view`` at ``now_ms``, spending ``buckets``
    when the order is allowed under a message rate. Never raises (the gate denies instead). A
    ``scope`` that names an account of this runner, given without ``account``, is that account
    (every other verb spells the account ``--scope``): the same answer as ``account``."""
    request = as_account(request, view.placement.catalog.accounts)
    account = request.get("account") if isinstance(request, dict) else None
    accounts = view.held if view.held is not None else HeldByAccount(view.snapshots)
    positions = accounts.get(account) if isinstance(account, str) else None
    where = view.placement
    held = frozenset(h.scope for h in view.lock.in_force(now_ms))
    if held != where.catalog.held:
        where = Placement(dataclasses.replace(where.catalog, held=held), where.unit_prices, where.equity)
    limits = GateLimits(view.limits, buckets, view.overrides, view.refusals) if view.limits is not None else None
    decision = check_order(view.lock, request, positions, now_ms, resume=list(view.resume), placement=where,
                           limits=limits)
    return _told_unguarded(decision, request, view.unguarded)


def as_account(request: Any, accounts: frozenset[str]) -> Any:
    """``request`` with a ``scope`` that is one of ``accounts`` (and no ``account``) given as its
    ``account``; any other request as it is."""
    if not isinstance(request, dict) or request.get("account") is not None:
        return request
    scope = request.get("scope")
    if not isinstance(scope, str) or scope not in accounts:
        return request
    return {**{k: v for k, v in request.items() if k != "scope"}, "account": scope}


def _told_unguarded(decision: Decision, request: Any, unguarded: tuple[str, ...]) -> Decision:
    """The decision, with ``unguarded`` and an ``UNGUARDED`` warning when an account the order may
    go to (its ``account``, else those its ``scope`` covers) is one no policy's scope selects: the
    lock still answers, but no policy's limits did."""
    if not unguarded or not isinstance(request, dict):
        return decision
    account, scope = request.get("account"), request.get("scope")
    if isinstance(account, str):
        named: tuple[str, ...] = (account,) if account in unguarded else ()
    elif isinstance(scope, str):
        named = within(scope, unguarded)
    else:
        named = ()
    if not named:
        return decision
    return dataclasses.replace(decision, unguarded=True, warnings=tuple(unguarded_text(a) for a in named))


class PublishedGate:
    """The view in force and the checks against it; see the module doc. ``build``: the view of
    the book as it is now (called on the loop); ``clock``: the runner's (a check's ``now``);
    ``leading``: whether the runner leads now (callable from any thread); ``stale_after_s``:
    the stale bound, asked at each check; ``monotonic``: the clock the view's age is told by."""

    def __init__(self, build: Callable[[], GateView], buckets: MessageBuckets, *, clock: Callable[[], int],
                 leading: Callable[[], bool], stale_after_s: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic, refresh_s: float = REFRESH_S,
                 counted: Optional[Counted] = None):
        self._build = build
        self.counted = counted  # the refusals counted (answered from a view published while leading)
        self.buckets = buckets
        self.clock = clock
        self.leading = leading
        self._stale_after_s = stale_after_s
        self._mono = monotonic
        self.refresh_s = refresh_s
        self._view: Optional[GateView] = None
        self._confirmed = 0.0  # when the loop last published or confirmed the view (monotonic)
        # a publication asked for at the loop's next yield, and the next confirmation: each with the
        # loop it waits on (a loop that ended never runs it: the next one asks again)
        self._due: Optional[tuple[asyncio.Handle, asyncio.AbstractEventLoop]] = None
        self._timer: Optional[tuple[asyncio.TimerHandle, asyncio.AbstractEventLoop]] = None
        self.publications = 0
        self.failures = 0  # publications that raised (the view before them kept)

    @property
    def view(self) -> Optional[GateView]:
        return self._view

    @property
    def stale_after_s(self) -> float:
        return max(MIN_STALE_S, float(self._stale_after_s()))

    # --- on the runner's loop ----------------------------------------------------------------------

    def publish(self) -> None:
        """The book as it is now becomes the view in force, in one assignment. A build that raises
        keeps the view before it (logged, counted): the tick goes on, and the gate refuses once that
        view goes stale."""
        due, self._due = self._due, None
        if due is not None:
            due[0].cancel()  # (this is it, or it is made redundant by it)
        try:
            view = self._build()
        except Exception:  # noqa: BLE001 - the gate fails closed on the old view going stale
            self.failures += 1
            log.exception("the pre-trade gate's view could not be published; checks answer from the last one")
            return
        self._view = view  # the swap: a check holds the old one or this one
        self.publications += 1
        self.confirm()

    def changed(self) -> None:
        """The lock book changed: publish at the loop's next yield (once however many changes come
        before it); outside a running loop (a tool, a test's set-up), now."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish()
            return
        if self._due is not None and self._due[1] is loop:
            return
        self._due = (loop.call_soon(self.publish), loop)

    def confirm(self) -> None:
        """The loop runs and the view in force is still the book's: stamp it, and ask again in
        :attr:`refresh_s` while the loop runs."""
        self._confirmed = self._mono()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is None or self._timer[1] is not loop:
            self._timer = (loop.call_later(self.refresh_s, self._confirm_again), loop)

    def _confirm_again(self) -> None:
        self._timer = None
        self.confirm()

    # --- on any thread ---------------------------------------------------------------------------

    def check(self, request: Any, counted: bool = True) -> Decision:
        """The gate's answer from the view in force, on the calling thread; refused when there is
        none, or when it is stale (see the module doc). ``counted``: a refusal counts for
        ``gate_refusals`` (False: an operator's question, ``ksctl check-order``)."""
        view = self._view  # one read: the whole check is against this view
        if view is None:
            return Decision(False, f"{GATE_VIEW_MISSING}: the runner has not published its view of the book yet; "
                                   "ask again in a moment")
        age = self._mono() - self._confirmed
        bound = self.stale_after_s
        if age > bound:
            return Decision(False, f"{GATE_VIEW_STALE}: the runner's loop last confirmed its view of the book "
                                   f"{age:.1f}s ago (bound {bound:.1f}s); it may be stalled")
        if view.leader and not self.leading():
            return Decision(False, f"{GATE_VIEW_STALE}: the view was published while this runner led, and its "
                                   "term has run out since; another runner may lead")
        decision = answer(view, request, self.clock(), self.buckets)
        if view.leader and counted and self.counted is not None and not decision.allow:
            self.counted.refused(request, decision)
        return decision


__all__ = ["GATE_VIEW_MISSING", "GATE_VIEW_STALE", "GateView", "PublishedGate", "REFRESH_S", "answer"]
