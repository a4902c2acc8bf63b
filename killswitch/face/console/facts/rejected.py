"""Closes the venue refused up to their bound: those positions are left open, not sent again."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 20


def fact(page: dict) -> Optional[Fact]:
    rejected = page.get("close_rejected")
    if not rejected:
        return None
    legs = list(dict.fromkeys(f"{r['symbol']} {r['leg']} on {r['account']}" for r in rejected))  # a leg once
    return make(__name__, "error", counted(len(rejected), "CLOSE", "CLOSES") + " REJECTED",
                "not sent again: " + names(legs), css="close-rejected")
