"""Admission of the API's writes: a rate per identity, a bounded queue, load shed with 429.

What it owns: whether a write an authenticated caller sends (an operator's lock, unlock, reset,
close, dead man's switch change; a bot's heartbeat) is let through to the runner now. Each
identity has a token bucket per class of write (``write``: the operator changes; ``heartbeat``:
the beats, which coalesce per source downstream and so may come much faster); the operator
changes let through and not yet answered are bounded (``queue``). What is not let through is
answered at once with 429 and ``Retry-After`` — ``RATE_LIMITED`` (this identity sends faster than
its rate, or has a quarter of the queue waiting already) or ``WRITE_QUEUE_FULL`` (every caller
together does; one identity alone never fills it, so a runaway script leaves room for the
on-call's lock) — counted by reason and identity,
and said in the log once a minute per identity with how many were shed since. The tick never
waits for any of this: load is shed here, before a request's body is read, never by delaying an
evaluation (the tick also goes ahead of every queued change: :mod:`killswitch.runner.lease.turn`).

It also keeps the sources each identity beats (:class:`~.beats.IdentitySources`, at most
``MAX_SOURCES_PER_IDENTITY`` at once), which the heartbeat's handler asks before the runner is,
and counts what that refused on ``/metrics``.

Lives on the API's threads: the loop that serves the operators' connections and the one that
serves the bots' (:mod:`.thread`) admit through one admission, so an identity has one rate
and one share of the queue whichever loop its requests reach; a lock keeps each admission and
each answer whole (its metrics are read from the runner's loop, counters under the GIL).

Must not: block, read the clock other than through ``clock`` (monotonic seconds), or let a write
through uncounted (every admitted ticket is released exactly once).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

from ...view.operations import HEARTBEAT
from .beats import IdentitySources

if TYPE_CHECKING:
    from ...metrics import Registry

log = logging.getLogger("killswitch.face.api")

WRITE = "write"  # an operator's write, whatever it does to risk; HEARTBEAT: a bot's beat
KINDS = (WRITE, HEARTBEAT)
RATE_LIMITED, QUEUE_FULL = "RATE_LIMITED", "WRITE_QUEUE_FULL"
LOG_EVERY_S = 60.0
MAX_IDENTITIES = 10_000  # buckets kept at most (identities come from the tokens document: a bound, not a guess)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per identity: ``write_rate`` operator changes a second (bursts of ``write_burst``),
    ``heartbeat_rate`` beats a second (bursts of ``heartbeat_burst``); ``queue``: operator changes
    let through and not yet answered, every identity together. Defaults: an operator types a
    few changes a minute and a script a few a second; a bot token shared by a hundred bots
    beating every second stays well inside 200/s; 64 queued changes are a few tenths of a
    second of the store's work."""

    write_rate: float = 10.0
    write_burst: int = 20
    heartbeat_rate: float = 200.0
    heartbeat_burst: int = 400
    queue: int = 64

    def __post_init__(self) -> None:
        for name in ("write_rate", "heartbeat_rate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a number above 0, not {v!r}")
        for name in ("write_burst", "heartbeat_burst", "queue"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {v!r}")

    def rate(self, kind: str) -> tuple[float, int]:
        return (self.write_rate, self.write_burst) if kind == WRITE else (self.heartbeat_rate, self.heartbeat_burst)


class Shed(Exception):
    """A write not let through: ``code`` (``RATE_LIMITED`` / ``WRITE_QUEUE_FULL``), the reason a
    person reads, and the whole seconds to wait before sending again."""

    def __init__(self, code: str, reason: str, retry_after_s: int):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclasses.dataclass
class _Bucket:
    tokens: float
    at: float


class Ticket:
    """A write let through; :meth:`done` when it is answered (idempotent)."""

    def __init__(self, admission: "Admission", queued_by: Optional[str]):
        self._admission = admission
        self._queued_by = queued_by  # the identity whose queued change this is (None: not queued)

    def done(self) -> None:
        if self._queued_by is not None:
            who, self._queued_by = self._queued_by, None
            self._admission._answered(who)


class Admission:
    """See the module doc."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self.pending = 0  # operator changes let through and not yet answered
        self._pending_of: dict[str, int] = {}  # the same, by identity
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.shed: dict[tuple[str, str, str], int] = {}  # (reason, kind, identity) → count
        self.admitted: dict[str, int] = {k: 0 for k in KINDS}
        self._said: dict[str, tuple[float, int]] = {}  # identity → (when last logged, shed since)
        self.sources = IdentitySources(clock=clock)  # the sources each identity beats
        self._lock = threading.Lock()  # the API's two loops admit through this one admission

    def admit(self, identity: str, kind: str) -> Ticket:
        """A ticket for ``identity``'s write of ``kind``, or :class:`Shed`."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind of write {kind!r}")
        with self._lock:
            return self._admit(identity, kind)

    def _admit(self, identity: str, kind: str) -> Ticket:
        now = self.clock()
        if kind == WRITE and self.pending >= self.limits.queue:
            self._shed(identity, kind, QUEUE_FULL, now)
            raise Shed(QUEUE_FULL, f"{QUEUE_FULL}: {self.pending} changes are queued for the runner (at most "
                                   f"{self.limits.queue}); nothing was done: send it again after the Retry-After", 1)
        share = max(1, self.limits.queue // 4)
        if kind == WRITE and self._pending_of.get(identity, 0) >= share:
            self._shed(identity, kind, RATE_LIMITED, now)
            raise Shed(RATE_LIMITED, f"{RATE_LIMITED}: {identity} has {share} changes queued for the runner already "
                                     "(a quarter of the queue); nothing was done: send it again after the "
                                     "Retry-After", 1)
        rate, burst = self.limits.rate(kind)
        key = (kind, identity)
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= MAX_IDENTITIES:
                self._buckets.clear()  # (only an unbounded tokens document gets here: all start full again)
            b = self._buckets[key] = _Bucket(float(burst), now)
        b.tokens = min(float(burst), b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens < 1.0:
            wait = max(1, math.ceil((1.0 - b.tokens) / rate))
            self._shed(identity, kind, RATE_LIMITED, now)
            raise Shed(RATE_LIMITED, f"{RATE_LIMITED}: {identity} may send {rate:g} {kind}s a second (bursts of "
                                     f"{burst}); nothing was done: send it again after the Retry-After", wait)
        b.tokens -= 1.0
        self.admitted[kind] += 1
        if kind == WRITE:
            self.pending += 1
            self._pending_of[identity] = self._pending_of.get(identity, 0) + 1
        return Ticket(self, identity if kind == WRITE else None)

    def _answered(self, identity: str) -> None:
        with self._lock:
            self.pending -= 1
            left = self._pending_of.get(identity, 1) - 1
            if left > 0:
                self._pending_of[identity] = left
            else:
                self._pending_of.pop(identity, None)

    def _shed(self, identity: str, kind: str, reason: str, now: float) -> None:
        key = (reason, kind, identity)
        self.shed[key] = self.shed.get(key, 0) + 1
        last, since = self._said.get(identity, (-math.inf, 0))
        since += 1
        if now - last >= LOG_EVERY_S:
            log.warning("API_LOAD_SHED: %s: %d request(s) answered 429 since the last line (%s of %s now); "
                        "said at most once a minute for each identity", identity, since, reason, kind)
            self._said[identity] = (now, 0)
        else:
            self._said[identity] = (last, since)

    def collect_metrics(self, registry: "Registry") -> None:
        """The counters, as families of the scrape's registry (read from another thread: each
        value is one int read)."""
        shed = registry.sampled("killswitch_api_shed_total", "counter",
                                "API writes answered 429 before reaching the runner, by reason (RATE_LIMITED, "
                                "WRITE_QUEUE_FULL), kind (write, heartbeat) and identity.",
                                ("reason", "kind", "identity"))
        for (reason, kind, identity), n in sorted(dict(self.shed).items()):
            shed.add(n, reason=reason, kind=kind, identity=identity)
        admitted = registry.sampled("killswitch_api_admitted_total", "counter",
                                    "API writes let through to the runner, by kind (write, heartbeat).", ("kind",))
        for kind, n in sorted(dict(self.admitted).items()):
            admitted.add(n, kind=kind)
        registry.sampled("killswitch_api_write_queue", "gauge",
                         "Operator changes let through and not answered yet.").add(self.pending)
        over = registry.sampled("killswitch_api_identity_sources_refused_total", "counter",
                                "Heartbeats refused IDENTITY_SOURCES_FULL: the identity beats as many sources as it "
                                "may already, by identity.", ("identity",))
        for identity, n in sorted(dict(self.sources.refused).items()):
            over.add(n, identity=identity)


def parse_limits(write_rate: Optional[float] = None, heartbeat_rate: Optional[float] = None,
                 queue: Optional[int] = None) -> Limits:
    """Limits from the command line's options (None: the default), each burst twice its rate."""
    d = Limits()
    wr = d.write_rate if write_rate is None else write_rate
    hr = d.heartbeat_rate if heartbeat_rate is None else heartbeat_rate
    return Limits(write_rate=wr, write_burst=max(1, math.ceil(2 * wr)), heartbeat_rate=hr,
                  heartbeat_burst=max(1, math.ceil(2 * hr)), queue=d.queue if queue is None else queue)
