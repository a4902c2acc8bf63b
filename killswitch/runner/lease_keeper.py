"""The lease keeper: the state store's leader lease, taken and renewed from a thread of its own.

What it owns: taking and renewing the lease in the state store, on a connection of its own, at a
rhythm that no tick and no burst of API requests can hold up, and publishing the fencing token
it holds (:meth:`LeaseKeeper.token`, :meth:`LeaseKeeper.holds`). A standby's keeper sleeps until
the leader's lease runs out and takes it at once.

Timing, for a lease TTL ``T`` (``ksctl run --lease-ttl``): the keeper renews every ``T/3``, and
each renewal holds the lease for a *term* of ``2T/3``, so one renewal may fail (a slow store, a
lock held by someone else) without the lease lapsing. A standby wakes when the term runs out, so
after a leader dies a standby holds the lease within ``2T/3``; the last third of ``T`` is the
standby's margin to wake, take it and act on a loaded machine — the takeover bound is ``T``.

The watchdog: the keeper holds the lease on behalf of the runner's event loop, never beyond it.
The loop shows life (:func:`show_life`, a task that stamps :meth:`LeaseKeeper.alive` every
~100 ms), and a term ends a term after the loop's last sign of life, whenever the renewal that
grants it runs. A loop wedged for good (a deadlock, a CPU-bound bug) therefore loses the lease a
term after it stopped, as a SIGSTOPped process does (its keeper stops with it), and a standby
takes over: a thread that renewed regardless would keep a hung runner in charge for ever. The
runner's store calls run on a thread of their own (:mod:`.storeio`), so a store call that hangs
(a paused server, a connection whose packets are dropped) or keeps failing leaves the loop
running but the runner unable to act: the loop shows life only while its store has answered
within a term (:meth:`StoreIO.unanswered_s`), so such a runner loses the lease within two
terms of the store's last answer. A loop that comes back (or a store that answers again) takes
the lease again only if nobody else did, under a new token.

Safety does not rest on this thread nor on clocks: every write the runner makes carries the token
and the store checks it in the same transaction, and before every order the runner checks both
:meth:`LeaseKeeper.holds` (its term has not run out, by its clock) and the token in the store. A
runner that lost the lease writes nothing and sends nothing.

Must not: touch the runner's state (it publishes a token and calls ``on_change``; the runner's
loop decides what a new token means), renew for a loop that shows no life, share its connection
with the runner, or put a store's message (it may name a host) anywhere but ``last_error``'s
class name.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from ..state.store import StateStore
    from ..metrics import Registry
    from .storeio import StoreIO

log = logging.getLogger("killswitch.runner.lease")  # the name log lines and their queries know it by


def wall_ms() -> int:
    return int(time.time() * 1000)


LIFE_STEP_S = 0.1  # how often the loop shows life (at most; less for very short TTLs)


class LeaseKeeper:
    """Takes and renews the lease for ``holder`` from a thread of its own (see the module doc)."""

    def __init__(self, store: "StateStore", holder: str, ttl_ms: int, *, clock: Callable[[], int] = wall_ms,
                 on_change: Optional[Callable[[], None]] = None,
                 monotonic: Callable[[], float] = time.monotonic, owns_store: bool = False):
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
        self.clock = clock
        self.on_change = on_change
        self._mono = monotonic
        self._owns_store = owns_store
        self._lock = threading.Lock()
        self._token: Optional[int] = None
        self._until_ms = 0  # the end of the term we hold (our clock); 0: not held
        # who the lease row named at the last attempt, as the lease stores it (a standby says who
        # leads), and until when; None: free, or not read yet
        self._seen: tuple[Optional[str], int] = (None, 0)
        self._alive = monotonic()  # the runner loop's last sign of life
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        # what an on-call engineer wants to see in /metrics
        self.renewals = 0
        self.failures = 0
        self.stalls = 0  # attempts skipped because the loop showed no life for a term
        self.changes = 0  # times the token held changed (taken, lost, taken again)
        self.last_error: Optional[str] = None  # the class of the last store error, never its message

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
            # a renewal that waits for a lock longer than a renewal period is better retried
            keeper.store = reopen(lock_timeout_ms=keeper.renew_ms)
        except NotImplementedError:
            return keeper
        keeper._owns_store = True
        return keeper

    # --- the runner's side (any thread) ---------------------------------------------------------

    def alive(self) -> None:
        """The runner's loop is running: renewals may go on for another term from now."""
        self._alive = self._mono()

    def token(self, now_ms: int) -> Optional[int]:
        """The fencing token held at ``now_ms`` (our clock), or None: not held, or its term ran out."""
        with self._lock:
            return self._token if self._token is not None and self._until_ms > now_ms else None

    def holds(self, token: int, now_ms: int) -> bool:
        return token is not None and self.token(now_ms) == token

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

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """One attempt now (so that the runner starts knowing whether it leads), then the thread."""
        if self._thread is not None:
            raise RuntimeError("the lease keeper is already running")
        self.alive()
        delay = self.attempt()
        self._thread = threading.Thread(target=self._run, args=(delay,), name=f"lease-{self.holder}", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = False, timeout_s: float = 10.0) -> bool:
        """Stop renewing; with ``release``, give the lease up if still held, so that a standby
        takes over at once (a clean shutdown: the runner has stopped acting). Closes the
        connection the keeper opened. Says whether it gave a held lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        released = False
        try:
            if release and self.token(self.clock()) is not None:
                released = bool(self.store.release_lease(self.holder))
                self._publish(None, 0)
        except Exception as e:  # noqa: BLE001 - the lease then runs out by itself within a term
            self.last_error = type(e).__name__
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
                self.failures += 1
                delay_ms = self.retry_ms

    # --- one attempt --------------------------------------------------------------------------------

    def attempt(self) -> int:
        """Take or renew the lease once; returns the milliseconds until the next attempt."""
        now = self.clock()
        # The term ends a term after the loop's last sign of life, not after this renewal.
        term = int(self.term_ms - self.silent_ms())
        if term <= 0:
            # The loop has been silent for a whole term: renew nothing, take nothing. What we
            # hold runs out by itself; a standby takes it then.
            self.stalls += 1
            return self.retry_ms
        try:
            with self._lock:
                holding = self._token is not None
            if not holding:
                # A standby reads before it writes: no write lock taken while the leader's is valid.
                le = self.store.lease()
                if le.valid_at(now) and le.holder != self.holder:
                    with self._lock:
                        self._seen = (le.holder, le.expires_ms)
                    self._publish(None, 0)
                    # wake as the leader's term runs out (and at least every renewal period, to
                    # see a lease released by a leader that stopped cleanly)
                    return max(1, min(self.renew_ms, le.expires_ms - now + 1))
            token = self.store.acquire_lease(self.holder, term, now)
        except Exception as e:  # noqa: BLE001 - what we hold stays ours until its term runs out
            self.failures += 1
            self.last_error = type(e).__name__
            return self.retry_ms
        if token is None:
            self._publish(None, 0)
            return self.retry_ms
        self.renewals += 1
        self.last_error = None
        with self._lock:
            self._seen = (self.holder, now + term)
        self._publish(token, now + term)
        return self.renew_ms

    def _publish(self, token: Optional[int], until_ms: int) -> None:
        with self._lock:
            changed = token != self._token
            self._token, self._until_ms = token, until_ms
            if changed:
                self.changes += 1
        if changed and self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - e.g. the loop closed during shutdown; the tick will see it
                pass

    def collect_metrics(self, registry: "Registry") -> None:
        """The keeper's counters, as families of the scrape's registry."""
        registry.sampled("killswitch_lease_renewals_total", "counter",
                         "Lease renewals by the lease thread.").add(self.renewals)
        registry.sampled("killswitch_lease_renew_failures_total", "counter",
                         "Lease renewals that failed (store unreachable or lease taken).").add(self.failures)
        registry.sampled("killswitch_lease_loop_stalls_total", "counter",
                         "Renewals skipped because the runner's loop showed no life for a term.").add(self.stalls)
        registry.sampled("killswitch_loop_silent_seconds", "gauge",
                         "Seconds since the runner's loop last showed life.").add(round(self.silent_ms() / 1000, 3))

async def show_life(keeper: LeaseKeeper, io: Optional["StoreIO"] = None) -> None:
    """The loop's half of the watchdog: stamp ``keeper.alive`` while this loop runs callbacks
    and (with ``io``, the runner's store thread) its store has answered within a term. Runs
    until cancelled."""
    step = min(LIFE_STEP_S, keeper.term_ms / 1000 / 20)
    limit_s = keeper.term_ms / 1000
    while True:
        if io is None or io.unanswered_s() < limit_s:
            keeper.alive()
        await asyncio.sleep(step)
