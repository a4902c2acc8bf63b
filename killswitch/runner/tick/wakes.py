"""When the next tick starts: at the policy interval, or sooner when a private stream wakes the runner.

What it owns: the wake callback given to every account's port (``set_wake(cb)``, called by a stream; ``cb``
is called on the runner's loop with the account's key when a stream update may change a
trigger: equity, a position, a mark; :meth:`Wakes.nudge` wakes it for the firm's channel),
the debounce — a tick never starts sooner than ``min_spacing_s`` after the last one started,
however many wakes come — and the counts of wakes and of ticks started by a wake or by the
interval (``/metrics``).

The interval stays the longest gap: a runner that no stream wakes ticks exactly as before.
A wake that comes during a tick is kept for the next wait (the tick running may have read the
state before the update). :func:`next_start` is the rule, pure; :class:`Wakes` holds the state
the daemon's wait reads.

Must not: start a tick itself (the daemon's loop does), or call a port beyond ``set_wake``.
"""

from __future__ import annotations

import asyncio
from typing import Iterable, Optional

from ...metrics import Registry
from ..venue.port import VenuePort

DEFAULT_MIN_SPACING_S = 0.1
CAUSES = ("interval", "wake")


def next_start(interval_end: float, woken: bool, last_start: Optional[float], min_spacing_s: float) -> float:
    """When the next tick may start (loop seconds): at ``interval_end``, or when woken as soon as
    ``min_spacing_s`` after the last tick started, whichever is sooner."""
    if not woken:
        return interval_end
    if last_start is None:  # no tick yet: nothing to space from
        return float("-inf")
    return min(interval_end, last_start + min_spacing_s)


def interval_wait_s(pace_s: float, last_start: Optional[float], now: float, from_start: bool) -> float:
    """How long the wait after a tick lasts at most (loop seconds): ``pace_s`` from the tick's
    end, or with ``from_start`` from its start (a shard: the firm reads its facts against the
    firm-wide policies' interval, so a slow tick must not stretch the gap between two
    publishes), a tick longer than ``pace_s`` followed by the next at once."""
    if not from_start or last_start is None:
        return pace_s
    return max(0.0, pace_s - (now - last_start))


class Wakes:
    """See the module doc. Lives on the runner's loop."""

    def __init__(self, min_spacing_s: float = DEFAULT_MIN_SPACING_S):
        self.min_spacing_s = max(0.0, min_spacing_s)
        self.event = asyncio.Event()  # set by a wake; cleared when a tick starts
        self.last_start: Optional[float] = None  # loop time the last tick started
        self.wakes: dict[str, int] = {}  # account key -> wakes received (debounced ones included)
        self.started = {c: 0 for c in CAUSES}  # ticks started, by cause

    def wake(self, account: str) -> None:
        """The callback the adapters call (on the loop): a tick should start soon."""
        self.wakes[account] = self.wakes.get(account, 0) + 1
        self.event.set()

    def nudge(self) -> None:
        """A wake from the firm's channel (another shard stopped): debounced like a stream's, not
        counted as one (the firm counts what it heard)."""
        self.event.set()

    def attach(self, venues: Iterable[VenuePort]) -> None:
        """Give the callback to every account's port (a stream that can wake the runner calls it)."""
        for port in venues:
            port.set_wake(self.wake)

    @property
    def woken(self) -> bool:
        return self.event.is_set()

    def due(self, interval_end: float) -> float:
        """When the next tick may start (see :func:`next_start`)."""
        return next_start(interval_end, self.woken, self.last_start, self.min_spacing_s)

    def tick_started(self, at: float, cause: str) -> None:
        """A tick starts now (loop time ``at``), for ``cause``: what woke the wait is taken in."""
        self.event.clear()
        self.last_start = at
        self.started[cause] = self.started.get(cause, 0) + 1

    def collect_metrics(self, registry: Registry) -> None:
        started = registry.sampled("killswitch_ticks_started_total", "counter",
                                   "Ticks started, by cause: the policy interval, or a stream's wake.", ("cause",))
        for cause in CAUSES:
            started.add(self.started.get(cause, 0), cause=cause)
        wakes = registry.sampled("killswitch_stream_wakes_total", "counter",
                                 "Wakes from an account's private stream (an update that may change a trigger); "
                                 "wakes within the minimum tick spacing start one tick.", ("venue", "account"))
        for key, n in sorted(self.wakes.items()):
            venue, _, account = key.partition("/")
            wakes.add(n, venue=venue, account=account)
