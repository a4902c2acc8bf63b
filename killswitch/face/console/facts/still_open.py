"""Orders a cancel meant to take that the venue still lists: never shown cancelled."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 30


def fact(page: dict) -> Optional[Fact]:
    rows = page.get("still_open")
    if not rows:
        return None
    return make(__name__, "error", counted(len(rows), "ORDER", "ORDERS") + " STILL OPEN AFTER A CANCEL",
                "the venue still lists: " + names([f"{r['symbol']} {r['side']} {r['amount']} on {r['account']}"
                                                   for r in rows]), css="still-open")
