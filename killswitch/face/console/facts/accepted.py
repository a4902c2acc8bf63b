"""Positions left open whose refused close a person accepted: not an error, kept on the first
screen so that a position left open on purpose is not forgotten."""

from __future__ import annotations

from typing import Optional

from . import Fact, counted, make, names

RANK = 150


def fact(page: dict) -> Optional[Fact]:
    accepted = [r for r in page.get("residuals") or () if r.get("accepted")]
    if not accepted:
        return None
    return make(__name__, "accepted", counted(len(accepted), "POSITION", "POSITIONS") + " LEFT OPEN, ACCEPTED",
                "by " + ", ".join(sorted({r["accepted_by"] for r in accepted})) + ": " + names(
                    [f"{r['symbol']} {r['leg']} {r['amount']}" + (f" ({r['short']})" if r.get("short") else "")
                     + f" on {r['account']}" for r in accepted]), sep=" ")
