"""The scenario clock of ``serve --time-scale X --hold``: held to the wall clock's pace until a
test harness says go, then X times faster.

A harness that starts processes against a scenario (a flash crash after a flat minute) needs the
scenario's event to come after the processes are up, however long a loaded machine takes to
start them; at a fixed X the flat minute lasts 60/X seconds whether they are up or not. Held, the
flat start lasts as long as the wall clock's minute (longer than any start); ``POST /_sim/go``
(:data:`ADMIN_GO_PATH`) moves the scenario forward to a given elapsed time (never back) and runs
it at X from there, so the event unfolds at X and starts when the harness is ready.

What it owns: the clocks ``serve`` runs on — the wall clock (:func:`wall_clock`), one X times
faster (:class:`ScaledClock`) and :class:`HeldClock` — and :func:`held_go`, what the harness
endpoint answers. It must
not read the engine or serve anything (the server calls :func:`held_go` with its engine's clock).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

ADMIN_GO_PATH = "/_sim/go"  # POST [?at_ms=ELAPSED]: the held scenario clock goes at its time scale


def wall_clock() -> int:
    """UTC ms from the system clock: for ``serve`` only; the engine never calls it itself."""
    return int(time.time() * 1000)


class ScaledClock:
    """For ``serve --time-scale X``: UTC ms that run ``X`` times faster than the wall clock from
    the moment it is made (so a scenario's one-minute crash unfolds in 60/X seconds)."""

    def __init__(self, scale: float, wall: Callable[[], int] = wall_clock):
        if not scale > 0:
            raise ValueError("the time scale must be positive")
        self.scale = float(scale)
        self.wall = wall
        self.start = wall()

    def __call__(self) -> int:
        return self.start + int((self.wall() - self.start) * self.scale)


class HeldClock(ScaledClock):
    """UTC ms that run at the wall clock's pace from the moment it is made until :meth:`go`,
    then ``scale`` times faster. Never goes back."""

    def __init__(self, scale: float, wall: Callable[[], int] = wall_clock):
        super().__init__(scale, wall)
        self._lock = threading.Lock()
        self._base: Optional[tuple[int, int]] = None  # (scenario ms, wall ms) at the go

    @property
    def going(self) -> bool:
        return self._base is not None

    def __call__(self) -> int:
        base = self._base
        now = self.wall()
        if base is None:
            return now
        at, wall_at = base
        return at + int((now - wall_at) * self.scale)

    def go(self, at_ms: Optional[int] = None) -> int:
        """Run at the time scale from now on, from ``at_ms`` after the start (the scenario's
        elapsed time) when that is ahead of now. A second go changes nothing. The scenario time."""
        with self._lock:
            if self._base is None:
                now = self.wall()
                at = now if at_ms is None else max(now, self.start + int(at_ms))
                self._base = (at, now)
            return self()


def held_go(clock: object, at_ms: Optional[str]) -> tuple[int, dict]:
    """``POST /_sim/go[?at_ms=N]`` on ``clock``: (HTTP status, JSON body). 409 when the scenario
    clock is not held (``serve`` without ``--hold``), 400 for an ``at_ms`` that is no whole
    number of milliseconds."""
    if not isinstance(clock, HeldClock):
        return 409, {"error": "NOT_HELD: the scenario clock is not held (serve --hold): it runs already"}
    try:
        at = None if at_ms is None else int(at_ms)
    except ValueError:
        return 400, {"error": f"BAD_AT_MS: at_ms={at_ms!r} is no whole number of milliseconds"}
    if at is not None and at < 0:
        return 400, {"error": f"BAD_AT_MS: at_ms={at} is before the scenario's start"}
    return 200, {"now": clock.go(at), "elapsed_ms": clock() - clock.start, "time_scale": clock.scale}
