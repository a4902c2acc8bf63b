"""The wait between two ticks of ``ksctl run``: until the interval, a wake or the lease.

What it owns
    :class:`BetweenTicks`: the sleep from one tick to the next, ended early when the lease
    changes hands (a standby that just took it acts at once; a leader that lost it stops at
    once), when a private stream woke the runner and the minimum spacing since the last tick's
    start has passed (:class:`~killswitch.runner.tick.wakes.Wakes`), or at the stop; meanwhile,
    every third of the lease TTL, the lease the lease thread holds taken up and the venues'
    countdowns refreshed; and what the next tick starts for (``wake`` or ``interval``).

What it must not do
    tick, reload, or decide the interval (the daemon's tick loop does, with
    :func:`~killswitch.runner.tick.wakes.interval_wait_s` and a trading window's edge); set the
    events it waits on (the lease thread, the signals and the streams do).
"""

from __future__ import annotations

import asyncio

from ..runner.tick.loop import Runner
from ..runner.tick.wakes import Wakes
from ..state.store import FencedError, StoreError


class BetweenTicks:
    """The daemon's wait between two ticks, on its events: ``stop`` (the process stops),
    ``lease_moved`` (set from the lease thread when the token held changes) and the streams'
    ``wakes``; ``lease_ttl_ms`` paces the renewals meanwhile."""

    def __init__(self, stop: asyncio.Event, lease_moved: asyncio.Event, wakes: Wakes, lease_ttl_ms: int):
        self.stop, self.lease_moved, self.wakes, self.lease_ttl_ms = stop, lease_moved, wakes, lease_ttl_ms

    async def wait(self, runner: Runner, seconds: float) -> str:
        """Sleep until the next tick, or until the lease changes hands (a standby that just took
        it acts at once; a leader that lost it stops at once), or until a private stream woke the
        runner and the minimum spacing since the last tick started has passed (runner/tick/wakes.py).
        Every third of the lease TTL meanwhile: take up what the lease thread holds, and refresh
        the venues' countdowns. Says what the next tick starts for: "wake" or "interval"."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        step = max(0.05, self.lease_ttl_ms / 1000 / 3)
        renew_at = loop.time() + step
        while not self.stop.is_set():
            if self.lease_moved.is_set():
                self.lease_moved.clear()
                return "interval"
            now = loop.time()
            due = self.wakes.due(end)
            if due <= now:
                return "wake" if due < end else "interval"
            try:
                # a wake while sleeping ends the sleep at once: the spacing is then waited out here
                await asyncio.wait_for(self._stop_or_lease_moved(), min(renew_at, due) - now)
            except asyncio.TimeoutError:
                if loop.time() < renew_at:
                    continue
                renew_at = loop.time() + step
                try:
                    if await runner.renew():
                        await runner.refresh_native()  # the venues' countdowns must not wait for a slow tick
                except FencedError:
                    runner.lost_lease()
                except StoreError:  # the next tick says it
                    runner.store_failed()
        return "interval"

    async def _stop_or_lease_moved(self) -> None:
        waits = [asyncio.ensure_future(self.stop.wait()), asyncio.ensure_future(self.lease_moved.wait())]
        if not self.wakes.woken:  # once woken, the wait is for the spacing alone
            waits.append(asyncio.ensure_future(self.wakes.event.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
