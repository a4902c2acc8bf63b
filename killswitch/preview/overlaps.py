"""What the closes of a preview add up to: the same position closed by several decisions.

A preview (``ksctl plan``, ``replay``) sends nothing, so every decision plans from positions as
they were, and two decisions that close the same position — two policies whose scopes both hold
it, or the stages of one policy entered one after another over a recording — each plan its
close in full. Their notionals added up (the *gross* total) can be several times the book. The
*net* total counts each position once: the largest of its closes (by amount, then notional),
which the planner never makes larger than the position. :func:`close_totals` finds both, and
every position closed by more than one decision (an :class:`Overlap`, naming each decision).

What it owns: the totals and overlaps as values. What it must not do: render, or decide what the
runner sends (the runner sends each tick's plans as they are).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..orders import OrderIntent, position_of

# Amounts and notionals are sums of chunks: compare them at a precision no exchange trades below
# (0.834 + 0.833 + 0.833 is 2.5), here and in the diff (.diff).
AMOUNT_DIGITS = 9
NOTIONAL_DIGITS = 2


@dataclass(frozen=True)
class Origin:
    """Where orders came from: one decision, at ``now_ms``, of a policy's scope at a stage."""

    now_ms: int
    policy: str
    scope: str
    stage: int
    decision_id: str


@dataclass(frozen=True)
class Decided(Origin):
    """One decision's orders."""

    orders: tuple[OrderIntent, ...]


@dataclass(frozen=True)
class PositionClose(Origin):
    """What one decision closes of one position, summed over its chunks."""

    amount: float
    notional: float


@dataclass(frozen=True)
class Overlap:
    """A position closed by more than one decision of one preview."""

    position: str  # venue/account/symbol/leg (LONG | SHORT in hedge mode, long | short, spot)
    policies: tuple[str, ...]  # each once, in the order they close it
    closes: tuple[PositionClose, ...]  # oldest first
    net_amount: float  # the largest close: what is counted in the net total
    net_notional: float
    gross_notional: float  # every close of it added up


@dataclass(frozen=True)
class CloseTotals:
    gross: float  # every order's notional
    net: float  # every position once, at its largest close
    positions: int  # positions closed
    overlaps: tuple[Overlap, ...]  # in the order the positions were first closed


def close_totals(decisions: Iterable[Decided]) -> CloseTotals:
    """Gross and net notional of the decisions' orders, and the positions closed more than once."""
    by_position: dict[str, dict[str, list]] = {}  # position → decision id → [Decided, amount, notional]
    gross = 0.0
    for d in decisions:
        for o in d.orders:
            gross += o.notional
            per = by_position.setdefault(position_of(o), {})
            acc = per.get(d.decision_id)
            if acc is None:
                acc = per[d.decision_id] = [d, 0.0, 0.0]
            acc[1] += o.amount
            acc[2] += o.notional
    net = 0.0
    overlaps = []
    for position, per in by_position.items():
        closes = [PositionClose(d.now_ms, d.policy, d.scope, d.stage, d.decision_id, round(a, AMOUNT_DIGITS),
                                round(n, NOTIONAL_DIGITS)) for d, a, n in per.values()]
        largest = max(closes, key=lambda c: (c.amount, c.notional))
        net += largest.notional
        if len(closes) > 1:
            overlaps.append(Overlap(position, tuple(dict.fromkeys(c.policy for c in closes)), tuple(closes),
                                    largest.amount, largest.notional,
                                    round(sum(c.notional for c in closes), NOTIONAL_DIGITS)))
    return CloseTotals(round(gross, NOTIONAL_DIGITS), round(net, NOTIONAL_DIGITS), len(by_position), tuple(overlaps))


__all__ = ["CloseTotals", "Decided", "Overlap", "PositionClose", "close_totals"]
