"""The facts of one position that signals read beyond its own fields.

What it owns: the computation of a position's facts that need more than one field (its entry
notional), so that every signal and the planner compute them the same way.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Optional

from ..snapshot import Position


def entry_notional(p: Position) -> Optional[float]:
    """The position's notional at its entry price: the venue's notional at the mark, scaled by
    entry / mark (so the contract size is the venue's). None without an entry price."""
    if not p.entry_price or p.entry_price <= 0:
        return None
    return p.notional * p.entry_price / p.mark_price


__all__ = ["entry_notional"]
