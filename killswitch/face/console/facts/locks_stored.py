"""An operator's lock sent while no runner led: stored, not in force until a leader applies it."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 10


def fact(page: dict) -> Optional[Fact]:
    stored = page.get("locks_stored")
    if not stored:
        return None
    return make(__name__, "error", counted(len(stored), "LOCK", "LOCKS") + " STORED, NOT IN FORCE",
                "not in force until a runner leads: " + names(
                    [f"{w['mode']} on {w['scope']}" + (f" by {w['by']}" if w.get("by") else "") for w in stored]),
                css="locks-stored", opened=True)
