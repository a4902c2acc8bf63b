"""The step-by-step return to normal limits after a reset: on day 1 a fraction of the normal
limits, stepping up on the policy's schedule until normal again.

Owns the schedule (:class:`ResumePlan`), the limits it gives at a time (:func:`resume_limits`,
:class:`ResumeLimits`) and a resumption in force on a scope (:class:`Resumption`). Which
resumptions are in force is :mod:`..book.resuming`'s; holding an order to them is :mod:`.gate`'s.

Must not: read the clock (every time is an argument), do I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ...figures import step_of
from .request import finite

DAY_MS = 86_400_000


@dataclass(frozen=True)
class ResumePlan:
    """Limits after a reset: on day 1 ``start_fraction`` of the normal limits, ×``step_factor``
    each further ``step_ms``, until the fraction reaches 1 (normal limits again).

    ``max_positions`` / ``max_gross_exposure`` are the normal limits (None: not limited)."""

    max_positions: Optional[int] = None
    max_gross_exposure: Optional[float] = None
    start_fraction: float = 0.4
    step_factor: float = 1.5
    step_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.max_positions is not None and (isinstance(self.max_positions, bool)
                                               or not isinstance(self.max_positions, int) or self.max_positions < 0):
            raise ValueError("max_positions must be a whole number ≥ 0")
        if self.max_gross_exposure is not None and not (finite(self.max_gross_exposure)
                                                        and self.max_gross_exposure >= 0):
            raise ValueError("max_gross_exposure must be a finite number ≥ 0")
        if not (finite(self.start_fraction) and 0 < self.start_fraction <= 1):
            raise ValueError("start_fraction must be above 0 and at most 1")
        if not (finite(self.step_factor) and self.step_factor > 1):
            raise ValueError("step_factor must be above 1")
        if isinstance(self.step_ms, bool) or not isinstance(self.step_ms, int) or self.step_ms <= 0:
            raise ValueError("step_ms must be a positive whole number of milliseconds")
        if self.days > 1000:
            raise ValueError("the schedule takes more than 1000 steps to reach normal limits")

    def fraction(self, day: int) -> float:
        """Fraction of the normal limits on ``day`` (1-based); 1 once the schedule is over."""
        f = self.start_fraction
        for _ in range(max(0, day - 1)):
            if f >= 1:
                break
            f *= self.step_factor
        return 1.0 if f >= 1 - 1e-12 else f

    @property
    def days(self) -> int:
        """Number of steps with reduced limits (0 when ``start_fraction`` is 1)."""
        n, f = 0, self.start_fraction
        while f < 1 - 1e-12 and n <= 1001:
            n += 1
            f *= self.step_factor
        return n


@dataclass(frozen=True)
class ResumeLimits:
    day: int  # 1-based step since the reset
    days: int  # steps with reduced limits
    fraction: float
    max_positions: Optional[int]
    max_gross_exposure: Optional[float]
    done: bool  # normal limits again
    until_ms: Optional[int]  # when these limits step up (None when done)
    step_ms: Optional[int] = None  # the schedule's step (a day unless the policy says another)

    @property
    def label(self) -> str:
        return step_of(self.day, self.days, self.step_ms)


@dataclass(frozen=True)
class Resumption:
    """A resumption in force: the plan, when the reset happened (UTC ms), and the scope instance
    it holds (an order is held by it when it names that scope: see ``OrderRequest.scope_keys``;
    None: every order)."""

    plan: ResumePlan
    reset_ms: int
    scope: Optional[str] = None

    def limits(self, now_ms: int) -> "ResumeLimits":
        return resume_limits(self.plan, self.reset_ms, now_ms)


def resume_limits(plan: ResumePlan, reset_ms: int, now_ms: int) -> ResumeLimits:
    """The limits at ``now_ms`` of a resumption that began at ``reset_ms``.

    Day 1 is ``[reset, reset + step)``; a ``now_ms`` before the reset (a clock that went back)
    counts as day 1, the most restrictive."""
    elapsed = max(0, now_ms - reset_ms)
    day = elapsed // plan.step_ms + 1
    days = plan.days
    if day > days:
        return ResumeLimits(day, days, 1.0, plan.max_positions, plan.max_gross_exposure, True, None, plan.step_ms)
    f = plan.fraction(day)
    positions = None
    if plan.max_positions is not None:
        positions = min(plan.max_positions, max(1 if plan.max_positions else 0,
                                                int(math.floor(plan.max_positions * f + 1e-9))))
    gross = None if plan.max_gross_exposure is None else plan.max_gross_exposure * f
    return ResumeLimits(day, days, f, positions, gross, False, reset_ms + day * plan.step_ms, plan.step_ms)
