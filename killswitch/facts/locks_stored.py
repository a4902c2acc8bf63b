"""An operator's lock sent while no runner led: stored, not in force until a leader applies it."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..figures import iso
from . import Fact, Line, When, counted, kind_of, names

RANK = 10
KIND = kind_of(__name__)


def facts(st: Any) -> Iterator[Fact]:
    for w in st.locks_stored:
        by = f" by {w['by']}" if w.get("by") else ""
        yield Fact(KIND, "error", w["scope"], w.get("stored_ms"), "a runner leads: it applies the lock as it acts",
                   f"LOCK STORED {w['scope']} {w['mode']}{by} at {iso(w['stored_ms'])} (request {w['request']}): "
                   "not in force until a runner leads; the leader applies it the moment it acts",
                   hint=f"ksctl unlock --scope {w['scope']} --reason R", label=f"{w['mode']} on {w['scope']}{by}")


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    return Line(counted(len(facts), "LOCK", "LOCKS") + " STORED, NOT IN FORCE",
                "not in force until a runner leads: " + names([f.label for f in facts]))
