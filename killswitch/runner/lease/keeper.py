"""The lease keeper: the state store's leader lease, taken and renewed from a thread of its own.

What it owns: taking and renewing the lease in the state store, on a connection of its own, at a
rhythm that no tick and no burst of API requests can hold up, and publishing the fencing token
it holds (:meth:`LeaseKeeper.token`, :meth:`LeaseKeeper.holds`). A standby's keeper sleeps until
the leader's lease runs out and takes it at once.

Timing, for a lease TTL ``T`` (``ksctl run --lease-ttl``): the keeper renews every ``T/3``
(counted from when the last renewal was sent: a slow answer brings the next one forward), and
each renewal holds the lease for a *term* of ``2T/3``, so one renewal may fail (a slow store, a
lock held by someone else) without the lease lapsing. A standby wakes when the term runs out, so
after a leader dies a standby holds the lease within ``2T/3``; the last third of ``T`` is the
standby's margin to wake, take it and act on a loaded machine — the takeover bound is ``T``.

The term is this runner's own to end. It starts when the renewal that grants it is sent and is
measured on this process's monotonic clock as well as on the wall clock the store compares (the
earlier end wins: a wall clock stepped back cannot stretch it). A *term watch* thread wakes as it
ends: if no renewal was confirmed by then, the token is dropped there and then — the runner reports
not-leader, ``/readyz`` answers 503, nothing is sent — and the loss is said and counted once
(:mod:`.log`), whatever the renewal in flight is still waiting for. A store that stops
answering (a paused server, a connection whose packets are dropped) thus never keeps a runner
believing it leads past its term, which is when a standby may take over. The keeper's connection
waits at most 3/10 of the TTL for a lock, so each of its calls has a deadline of 6/10 of the TTL
(see :mod:`killswitch.state.postgres`), just inside the term: a renewal answered later than that
could not be of use (its term runs from when it was sent), and one answered sooner still is. A
renewal confirmed after its term was given up (the answer came late, nobody took the lease
meanwhile) is said as ``lease held again``.

The watchdog: the keeper holds the lease on behalf of the runner's event loop, never beyond it.
The loop shows life (:func:`show_life`, a task that stamps :meth:`LeaseKeeper.alive` every
~100 ms), and a term ends a term after the loop's last sign of life, whenever the renewal that
grants it runs. A loop wedged for good (a deadlock, a CPU-bound bug) therefore loses the lease a
term after it stopped, as a SIGSTOPped process does (its keeper stops with it), and a standby
takes over: a thread that renewed regardless would keep a hung runner in charge for ever. The
runner's store calls run on a thread of their own (:mod:`..storeio`), so a store call that hangs
(a paused server, a connection whose packets are dropped) or keeps failing leaves the loop
running but the runner unable to act: the loop shows life only while its store has answered
within a term (:meth:`StoreIO.unanswered_s`), so such a runner loses the lease within two
terms of the store's last answer. A loop that comes back (or a store that answers again) takes
the lease again only if nobody else did, under a new token.

Safety does not rest on these threads nor on clocks: every write the runner makes carries the
token and the store checks it in the same transaction, and before every order the runner checks
both :meth:`LeaseKeeper.holds` (its term has not run out, by its clocks) and the token in the
store. A runner that lost the lease writes nothing and sends nothing.

Must not: touch the runner's state (it publishes a token and calls ``on_change``; the runner's
loop decides what a new token means), renew for a loop that shows no life, share its connection
with the runner, or put a store's message (it may name a host) anywhere: only its class name
(in :class:`~.counts.LeaseCounts`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

from .counts import LeaseCounts
from .holds import LoopHolds
from .log import LeaseLog

if TYPE_CHECKING:
    from ...metrics import Registry
    from ...state.store import Lease, StateStore
    from ..storeio import StoreIO

log = logging.getLogger("killswitch.runner.lease")  # the name log lines and their queries know it by


def wall_ms() -> int:
    return int(time.time() * 1000)


LIFE_STEP_S = 0.1  # how often the loop shows life (at most; less for very short TTLs)


class LeaseKeeper:
    """Takes and renews the lease for ``holder`` from a thread of its own, and ends its term on
    time from another (see the module doc). ``lease_log``: where lease changes are said and
    counted (the runner's, once it holds the lease with this keeper)."""

    def __init__(self, store: "StateStore", holder: str, ttl_ms: int, *, clock: Callable[[], int] = wall_ms,
                 on_change: Optional[Callable[[], None]] = None,
                 monotonic: Callable[[], float] = time.monotonic, owns_store: bool = False,
                 lease_log: Optional[LeaseLog] = None):
        if not holder:
            raise ValueError("a lease needs a holder")
        if ttl_ms < 30:
            raise ValueError(f"the lease TTL must be at least 30ms, not {ttl_ms}ms")
        self.store = store
        self.holder = holder
        self.ttl_ms = int(ttl_ms)
        self.term_ms = self.ttl_ms * 2 // 3  # how long one renewal holds the lease
        self.renew_ms = self.ttl_ms // 3  # how often it is renewed
        self.retry_ms = max(10, self.renew_ms // 5)  # after a failed attempt, or while the loop is silent
        # how long the keeper's connection waits for a lock: a call's deadline is that and as long
        # again (see killswitch.state.postgres), 6/10 of the TTL, just inside the term
        self.lock_wait_ms = max(1, self.ttl_ms * 3 // 10)
        self.clock = clock
        self.on_change = on_change
        self.lease_log = lease_log if lease_log is not None else LeaseLog(holder)
        self._mono = monotonic
        self._owns_store = owns_store
        self._lock = threading.Lock()
        self._term_changed = threading.Condition(self._lock)  # the term watch waits on it
        self._publishing = threading.RLock()  # one change published and said at a time
        self._token: Optional[int] = None
        self._until_ms = 0  # the end of the term we hold (the wall clock); 0: not held
        self._until_mono = 0.0  # the same end on this process's monotonic clock
        # who the lease row named at the last attempt, as the lease stores it (a standby says who
        # leads), and until when; None: free, or not read yet
        self._seen: tuple[Optional[str], int] = (None, 0)
        self._alive = monotonic()  # the runner loop's last sign of life
        self._asking_since: Optional[float] = None  # a store call unanswered since (monotonic); None: answered
        self._sent_at: Optional[float] = None  # when the store call in flight was sent (monotonic)
        self._lapsed: Optional[tuple[int, float]] = None  # (token, when) the term ran out unrenewed, until an answer
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._watch_thread: Optional[threading.Thread] = None
        self.counts = LeaseCounts()  # what an on-call engineer wants to see in /metrics, and a late takeover says
        self.loop_holds = LoopHolds(monotonic)  # how long the loop went without yielding, as show_life saw it

    @classmethod
    def for_store(cls, store: "StateStore", holder: str, ttl_ms: int, **kw) -> "LeaseKeeper":
        """A keeper on a connection of its own to ``store``'s database. Where a second connection
        would not see the same data (SQLite in memory) it shares ``store``'s: renewals then wait
        behind the runner's calls on it, and nothing else changes."""
        keeper = cls(store, holder, ttl_ms, **kw)  # checks the arguments before a connection is opened
        reopen = getattr(store, "reopen", None)
        if reopen is None:
            return keeper
        try:
            # a renewal that waits for a lock longer than this is better retried, and a call
            # that has no answer by twice this is ended (a deadline inside the term)
            keeper.store = reopen(lock_timeout_ms=keeper.lock_wait_ms)
        except NotImplementedError:
            return keeper
        keeper._owns_store = True
        return keeper

    # --- the runner's side (any thread) ---------------------------------------------------------

    def alive(self) -> None:
        """The runner's loop is running: renewals may go on for another term from now."""
        self._alive = self._mono()

    def token(self, now_ms: int) -> Optional[int]:
        """The fencing token held at ``now_ms`` (the wall clock), or None: not held, or its term
        ran out (by the wall clock or by this process's monotonic clock)."""
        with self._lock:
            return self._token if self._token is not None and self._term_runs(now_ms) else None

    def holds(self, token: int, now_ms: int) -> bool:
        return token is not None and self.token(now_ms) == token

    def send_until(self, token: Optional[int]) -> float:
        """The end of the term of ``token`` on the machine's monotonic clock (what a reader process
        checks an order's last look against); 0.0 when the lease is not held under it."""
        with self._lock:
            return self._until_mono if token is not None and self._token == token else 0.0

    def held_until_ms(self) -> int:
        with self._lock:
            return self._until_ms if self._token is not None else 0

    def seen_holder(self, now_ms: int) -> Optional[str]:
        """The holder the lease named at the last attempt, while its term runs (our clock): this
        runner when it holds it, the leader's name as the lease stores it when it stands by."""
        with self._lock:
            holder, until = self._seen
            return holder if holder is not None and until > now_ms else None

    def silent_ms(self) -> float:
        """How long the runner's loop has shown no life."""
        return (self._mono() - self._alive) * 1000

    def not_ready(self) -> Optional[str]:
        """Why this runner is not ready for the lease's sake, from what this thread knows (no
        store call, so it answers however long the store takes): the term ran out unrenewed and
        the store has not answered since, or it has not answered this thread for a term. None:
        nothing to say."""
        now = self._mono()
        with self._lock:
            lapsed, asking = self._lapsed, self._asking_since
        if lapsed is not None:
            token, at = lapsed
            return (f"LEASE_LOST: not renewed within its term (holder {self.holder}, token {token}, "
                    f"{now - at:.1f}s ago); the state store has not answered the lease thread since")
        if asking is not None and now - asking > self.term_ms / 1000:
            return f"STATE_UNREACHABLE: the state store has not answered the lease thread for {now - asking:.1f}s"
        return None

    def _term_runs(self, now_ms: int) -> bool:  # (under self._lock)
        return self._until_ms > now_ms and self._until_mono > self._mono()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """One attempt now (so that the runner starts knowing whether it leads), then the
        renewing thread and the term watch."""
        if self._thread is not None:
            raise RuntimeError("the lease keeper is already running")
        self.alive()
        delay = self.attempt()
        self._thread = threading.Thread(target=self._run, args=(delay,), name=f"lease-{self.holder}", daemon=True)
        self._watch_thread = threading.Thread(target=self._watch, name=f"lease-term-{self.holder}", daemon=True)
        self._thread.start()
        self._watch_thread.start()

    def stop(self, *, release: bool = False, timeout_s: float = 10.0) -> bool:
        """Stop renewing; with ``release``, give the lease up if the store still names this
        runner its holder, so that a standby takes over at once (a clean shutdown: the runner has
        stopped acting) — also where this runner's own term ran out first (its watchdog stopped,
        a renewal not confirmed in time): the row it would otherwise leave keeps a standby out
        until its expiry. Closes the connection the keeper opened. Says whether it gave the
        lease up."""
        self._stop.set()
        with self._lock:
            self._term_changed.notify_all()
        for thread in (self._thread, self._watch_thread):
            if thread is not None:
                thread.join(timeout_s)
        released = False
        try:
            token = self.token(self.clock())
            if release:  # (the store's release names the holder: another's lease is left alone)
                fence = self.store.lease().fence if token is None else token
                released = bool(self.store.release_lease(self.holder))
                if released:
                    self.lease_log.released(fence)
                if token is not None:
                    self._publish(None, 0, 0.0, lost="another runner held it at this runner's clean stop")
        except Exception as e:  # noqa: BLE001 - the lease then runs out by itself within a term
            self.counts.last_error = type(e).__name__
        finally:
            if self._owns_store:
                try:
                    self.store.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        return released

    def _run(self, delay_ms: int) -> None:
        while not self._stop.wait(delay_ms / 1000):
            try:
                delay_ms = self.attempt()
            except Exception:  # noqa: BLE001 - a bug here must not end renewals silently
                log.exception("lease keeper %s: attempt failed", self.holder)
                self.counts.failed()
                delay_ms = self.retry_ms

    def _watch(self) -> None:
        """The term watch: wakes as the term held ends (and every retry period, for the wall
        clock), and ends it there if no renewal was confirmed (:meth:`check_term`)."""
        while not self._stop.is_set():
            try:
                self.check_term()
            except Exception:  # noqa: BLE001 - a bug here must not end the watch silently
                log.exception("lease keeper %s: term watch failed", self.holder)
            with self._lock:
                if self._stop.is_set():
                    break
                left = self._until_mono - self._mono() if self._token is not None else None
                wait = None if left is None else min(left if left > 0 else self.retry_ms / 1000,
                                                     self.retry_ms / 1000)
                self._term_changed.wait(wait)
        # (a keeper stopped without a release keeps what it holds until its term runs out)

    def check_term(self) -> bool:
        """If the term held has run out with no renewal confirmed (by either clock), drop the
        token now — whatever a renewal in flight is still waiting for — and say the lease lost,
        once. Returns whether it did."""
        with self._publishing:
            with self._lock:
                token = self._token
                if token is None or self._term_runs(self.clock()):
                    return False
                self._lapsed = (token, self._mono())
            self._publish(None, 0, 0.0, lost=f"not renewed within its term; {self._why_unrenewed()}")
            return True

    def _why_unrenewed(self) -> str:
        sent, now = self._sent_at, self._mono()
        if sent is not None:
            return f"the renewal sent {now - sent:.1f}s ago has had no answer from the state store"
        if self.silent_ms() >= self.term_ms:
            return "the runner's loop or its store calls showed no life for a term"
        if self.counts.last_error is not None:
            return f"the last renewal failed: {self.counts.last_error}"
        return "no renewal was confirmed in time"

    # --- one attempt --------------------------------------------------------------------------------

    def attempt(self) -> int:
        """Take or renew the lease once; returns the milliseconds until the next attempt."""
        now, began = self.clock(), self._mono()
        # The term ends a term after the loop's last sign of life, not after this renewal.
        term = int(self.term_ms - self.silent_ms())
        if term <= 0:
            # The loop has been silent for a whole term: renew nothing, take nothing. What we
            # hold runs out by itself (the term watch says so); a standby takes it then.
            self.counts.stalled()
            return self.retry_ms
        before: Optional[Lease] = None
        holding = False
        try:
            with self._lock:
                holding = self._token is not None
            if not holding:
                # A standby reads before it writes: no write lock taken while the leader's is valid.
                before = self._ask(self.store.lease)
                if before.valid_at(now) and before.holder != self.holder:
                    with self._lock:
                        self._seen = (before.holder, before.expires_ms)
                        self.counts.saw_leader()
                    self._publish(None, 0, 0.0)
                    # wake as the leader's term runs out (and at least every renewal period, to
                    # see a lease released by a leader that stopped cleanly)
                    return max(1, min(self.renew_ms, before.expires_ms - now + 1))
            token = self._ask(self.store.acquire_lease, self.holder, term, now)
        except Exception as e:  # noqa: BLE001 - what we hold stays ours until its term runs out
            self.counts.failed(type(e).__name__)
            return self.retry_ms
        if token is None:
            self._publish(None, 0, 0.0, lost=self._taken_by() if holding else "")
            return self.retry_ms
        self.counts.renewed()
        until_mono = began + term / 1000
        if until_mono <= self._mono():
            # confirmed after the term it grants had run out: nothing to act on (the term watch
            # has said the lease lost); the next attempt renews it, or finds it taken
            return self.retry_ms
        with self._lock:
            self._seen = (self.holder, now + term)
        self._publish(token, now + term, until_mono, before=before, now_ms=now)
        # The next renewal a period after this one was sent, not after its answer: a slow answer
        # (a lock waited for, a stalled holder ended first) must not push it past the term's end.
        return max(1, int((began + self.renew_ms / 1000 - self._mono()) * 1000))

    def _ask(self, fn: Callable, *args):
        """One store call, timed for :meth:`not_ready` and the term watch's words."""
        sent = self._mono()
        with self._lock:
            if self._asking_since is None:
                self._asking_since = sent
        self._sent_at = sent
        try:
            out = fn(*args)
        finally:
            self._sent_at = None
        with self._lock:
            self._asking_since = None  # answered (a failure above leaves it set)
            self._lapsed = None
        return out

    def _taken_by(self) -> str:
        """The words of a renewal refused: who holds the lease now, if one read can say."""
        try:
            le = self._ask(self.store.lease)
        except Exception:  # noqa: BLE001 - the loss is said without the name
            return "another runner took it while this runner's term still ran (clocks apart?)"
        return (f"taken by {le.holder}, token {le.fence}, while this runner's term still ran (clocks apart?)"
                if le.holder is not None else "released or taken while this runner's term still ran")

    def _publish(self, token: Optional[int], until_ms: int, until_mono: float, *, lost: str = "",
                 before: Optional[Lease] = None, now_ms: int = 0) -> None:
        with self._publishing:
            with self._lock:
                held = self._token
                changed = token != held
                self._token, self._until_ms, self._until_mono = token, until_ms, until_mono
                if changed:
                    self.counts.changed()
                self._term_changed.notify_all()
            if not changed:
                return
            # said before the runner is told, so that whatever it does next follows the line
            if token is not None:
                previous = before.holder if before is not None else None
                ended = now_ms - before.expires_ms if before is not None and previous is not None else None
                self.lease_log.took(token, previous=previous, ended_ms_ago=ended, late=self.counts.why_late())
            elif held is not None:
                self.lease_log.lost(held, lost or "its term ran out")
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - e.g. the loop closed during shutdown; the tick will see it
                pass

    def collect_metrics(self, registry: "Registry") -> None:
        """The keeper's counters, as families of the scrape's registry."""
        self.counts.collect_metrics(registry, self.silent_ms())
        self.loop_holds.collect_metrics(registry)


async def show_life(keeper: LeaseKeeper, io: Optional["StoreIO"] = None) -> None:
    """The loop's half of the watchdog: stamp ``keeper.alive`` while this loop runs callbacks
    and (with ``io``, the runner's store thread) its store has answered within a term; and
    measure, at each wake, how late it came (the loop's holds, :class:`~.holds.LoopHolds`).
    Runs until cancelled."""
    step = min(LIFE_STEP_S, keeper.term_ms / 1000 / 20)
    limit_s = keeper.term_ms / 1000
    mono = keeper._mono
    while True:
        if io is None or io.unanswered_s() < limit_s:
            keeper.alive()
        slept = mono()
        await asyncio.sleep(step)
        keeper.loop_holds.held(mono() - slept - step)
