"""Orders and positions that broke a lock or a pre-trade limit at the venue (the venue watch): how
many of each, as ``ksctl status`` counts them, and the latest."""

from __future__ import annotations

from typing import Optional

from . import Fact, make

RANK = 40


def fact(page: dict) -> Optional[Fact]:
    violations = page["violations"]
    if not violations["total"]:
        return None
    latest = violations["rows"][0] if violations["rows"] else None
    return make(__name__, "error", violations["title"], f"{violations['count']} at the venue" + (
        f", the latest {latest['action']} {latest['symbol']} on {latest['account']}" if latest else ""))
