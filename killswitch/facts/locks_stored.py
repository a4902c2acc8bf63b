"""An operator's lock sent while no runner led: stored, not in force until a leader applies it."""

from __future__ import annotations

from typing import Any, Iterator

from ..figures import iso
from . import Fact, kind_of

RANK = 10
KIND = kind_of(__name__)
TITLE, LEAD = ("LOCK", "LOCKS", " STORED, NOT IN FORCE"), "not in force until a runner leads: "  # the console's line


def facts(st: Any) -> Iterator[Fact]:
    for w in st.locks_stored:
        by = f" by {w['by']}" if w.get("by") else ""
        yield Fact(KIND, "error", w["scope"], w.get("stored_ms"), "a runner leads: it applies the lock as it acts",
                   f"LOCK STORED {w['scope']} {w['mode']}{by} at {iso(w['stored_ms'])} (request {w['request']}): "
                   "not in force until a runner leads; the leader applies it the moment it acts",
                   hint=f"ksctl unlock --scope {w['scope']} --reason R", label=f"{w['mode']} on {w['scope']}{by}")
