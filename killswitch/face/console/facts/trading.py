"""The bots' keys revoked at the venue (or being revoked, restored, failing), and the accounts a
revoke's scope reached but could not revoke."""

from __future__ import annotations

from typing import Optional

from . import Fact, make, names

RANK = 50


def fact(page: dict) -> Optional[Fact]:
    trading = page["trading"]
    if not trading:
        return None
    reached = [t for t in trading if not t.get("out_of_reach")]
    return make(__name__, "error", "TRADING PERMISSION AT THE VENUE", "; ".join(
        ([names([f"{t['title'].lower()} on {t['account']}" for t in reached])] if reached else [])
        + [t["out_of_reach"] for t in trading if t.get("out_of_reach")]))
