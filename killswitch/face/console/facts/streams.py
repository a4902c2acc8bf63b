"""Accounts whose stream is degraded: polled over REST until live and reconciled again."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 130


def fact(page: dict) -> Optional[Fact]:
    degraded = page["streams_degraded"]
    if not degraded:
        return None
    return make(__name__, "blind", counted(len(degraded), "STREAM", "STREAMS") + " DEGRADED",
                "polled over REST: " + names([s["account"] for s in degraded]))
