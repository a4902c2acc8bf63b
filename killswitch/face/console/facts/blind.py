"""Policies some of whose triggers cannot be evaluated on a scope: they cannot act on them."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 90


def fact(page: dict) -> Optional[Fact]:
    blind = page["blind"]
    if not blind:
        return None
    return make(__name__, "blind", counted(len(blind), "POLICY", "POLICIES") + " BLIND", names(
        [f"{c['policy']} on {c['scope']}" + (" (partly)" if c.get("partly") else "") for c in blind]))
