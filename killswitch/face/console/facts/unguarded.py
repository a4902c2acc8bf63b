"""Accounts no running policy's scope selects: no trigger watches them, no stage locks them."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 100


def fact(page: dict) -> Optional[Fact]:
    unguarded = page.get("unguarded")
    if not unguarded:
        return None
    return make(__name__, "error", counted(len(unguarded), "ACCOUNT", "ACCOUNTS") + " GUARDED BY NO POLICY",
                "no policy's scope selects " + names(unguarded))
