"""Accounts whose position mode the venue reads apart from the declared one (or left unread):
closes follow the venue's mode."""

from __future__ import annotations

from typing import Optional

from . import Fact, make, names

RANK = 70


def fact(page: dict) -> Optional[Fact]:
    mismatches = page.get("mode_mismatches")
    if not mismatches:
        return None
    return make(__name__, "error", "POSITION MODE",
                "closes follow the venue's mode: " + names([m["account"] for m in mismatches]), css="position-modes")
