"""Scripted price paths: a mark price as a pure function of elapsed time.

A path is any callable ``path(t_ms) -> price`` where ``t_ms`` is milliseconds since the
engine's start (negative times are clamped to 0). The engine rounds to the market's tick.
Paths here are frozen dataclasses: comparable, printable, and the same path always gives
the same price at the same time. "Noise" is a smooth deterministic wiggle derived from a
hash of (seed, key, knot index) — no random module, no clock.

What this module owns: the path shapes (flat, piecewise-linear, exponential drift, flash
crash, slow bleed, short squeeze, grind) and the noise wrapper. It must not read a clock,
keep state between calls or know about accounts and orders.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Optional

PricePath = Callable[[int], float]

MINUTE = 60_000
HOUR = 3_600_000


def _knot(seed: int, key: str, i: int) -> float:
    """A deterministic value in [-1, 1) for knot ``i``."""
    h = hashlib.blake2b(f"{seed}|{key}|{i}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**63 - 1.0


def noise(seed: int, key: str, t_ms: int, step_ms: int = 5_000) -> float:
    """Smooth noise in [-1, 1]: linear interpolation between hashed knots every ``step_ms``."""
    t = max(0, int(t_ms))
    i, r = divmod(t, step_ms)
    a, b = _knot(seed, key, i), _knot(seed, key, i + 1)
    return a + (b - a) * (r / step_ms)


@dataclass(frozen=True)
class Flat:
    price: float

    def __call__(self, t_ms: int) -> float:
        return self.price


@dataclass(frozen=True)
class Piecewise:
    """Linear between ``(t_ms, price)`` points (sorted by time); constant before the first and
    after the last."""

    points: tuple[tuple[int, float], ...]

    def __post_init__(self):
        if not self.points:
            raise ValueError("a piecewise path needs at least one point")
        ts = [p[0] for p in self.points]
        if ts != sorted(ts):
            raise ValueError("piecewise points must be sorted by time")

    def __call__(self, t_ms: int) -> float:
        pts = self.points
        t = max(0, int(t_ms))
        if t <= pts[0][0]:
            return pts[0][1]
        if t >= pts[-1][0]:
            return pts[-1][1]
        i = bisect_right([p[0] for p in pts], t)
        (t0, p0), (t1, p1) = pts[i - 1], pts[i]
        return p0 + (p1 - p0) * (t - t0) / (t1 - t0)


@dataclass(frozen=True)
class Drift:
    """``price * (1 + rate_per_hour) ** hours`` after ``start_ms`` (flat before)."""

    price: float
    rate_per_hour: float
    start_ms: int = 0

    def __call__(self, t_ms: int) -> float:
        hours = max(0, int(t_ms) - self.start_ms) / HOUR
        return self.price * math.exp(math.log1p(self.rate_per_hour) * hours)


class Prices:
    """Many paths priced at one time: ``prices(t_ms)`` is ``[float(path(t_ms)) for path in
    paths]``, the same floats. When every path is a :class:`Drift` from one start, each drift's
    log rate is taken once, here, and the time once per call: the formula and the order of its
    operations are :class:`Drift`'s own."""

    __slots__ = ("paths", "_drift")

    def __init__(self, paths: list[PricePath]):
        self.paths = paths
        drifts = [p for p in paths if isinstance(p, Drift) and type(p) is Drift]
        self._drift: Optional[tuple[int, list[tuple[float, float]]]] = None
        if len(drifts) == len(paths) and len({d.start_ms for d in drifts}) == 1:
            try:
                self._drift = (drifts[0].start_ms, [(d.price, math.log1p(d.rate_per_hour)) for d in drifts])
            except ValueError:  # a rate of -100 % or less: each call raises, as the drift's own
                pass

    def __call__(self, t_ms: int) -> list[float]:
        if self._drift is None:
            return [float(path(t_ms)) for path in self.paths]
        start, terms = self._drift
        hours = max(0, int(t_ms) - start) / HOUR
        exp = math.exp
        return [price * exp(log_rate * hours) for price, log_rate in terms]  # a float: exp's times a number


@dataclass(frozen=True)
class Noisy:
    """A path plus deterministic noise of ``amplitude_bps`` (relative)."""

    path: Callable[[int], float]
    amplitude_bps: float
    seed: int = 0
    key: str = ""
    step_ms: int = 5_000

    def __call__(self, t_ms: int) -> float:
        return self.path(t_ms) * (1.0 + self.amplitude_bps / 1e4 * noise(self.seed, self.key, t_ms, self.step_ms))


# --- shapes -------------------------------------------------------------------------------------------


def flash_crash(price: float, *, at_ms: int = MINUTE, drop: float = 0.15, fall_ms: int = 2 * MINUTE,
                rebound: float = 0.4, rebound_ms: int = 10 * MINUTE) -> Piecewise:
    """Flat, then a fall of ``drop`` over ``fall_ms``, then a rebound of ``rebound`` of the drop."""
    low = price * (1 - drop)
    back = low + (price - low) * rebound
    return Piecewise(((0, price), (at_ms, price), (at_ms + fall_ms, low), (at_ms + fall_ms + rebound_ms, back)))


def slow_bleed(price: float, *, rate_per_hour: float = -0.04, start_ms: int = 0) -> Drift:
    """A steady decline of ``rate_per_hour`` (negative), compounding."""
    return Drift(price, rate_per_hour, start_ms)


def short_squeeze(price: float, *, at_ms: int = MINUTE, rise: float = 0.35, rise_ms: int = 3 * MINUTE,
                  fade: float = 0.3, fade_ms: int = 15 * MINUTE) -> Piecewise:
    """Flat, then a rise of ``rise`` over ``rise_ms``, then ``fade`` of the rise given back."""
    high = price * (1 + rise)
    back = high - (high - price) * fade
    return Piecewise(((0, price), (at_ms, price), (at_ms + rise_ms, high), (at_ms + rise_ms + fade_ms, back)))


def grind(price: float, *, rate_per_hour: float = 0.06, start_ms: int = 0) -> Drift:
    """A steady rise (for a book that is net short: the shorts bleed)."""
    return Drift(price, rate_per_hour, start_ms)


__all__ = ["PricePath", "Prices", "Flat", "Piecewise", "Drift", "Noisy", "noise", "flash_crash", "slow_bleed",
           "short_squeeze", "grind", "MINUTE", "HOUR"]
