"""Positions left open at the period's end, from the audit trail: the closure report's own section.

What it owns: one row per open leg with residuals (a position a close left open and the runner
stopped closing, :mod:`killswitch.runner.book.residuals`; the incidents whose residuals of the
same leg stand are named together, as the venue holds the leg once) that the trail recorded (``close_residual``)
up to the period's end and did not end by then (``close_residual_ended``: its position closed,
or its incident no longer in force): the account, symbol, leg, amount (as recorded) and a
partial reduction's shortfall (what the refused close would have taken off it), why
(``BELOW_MINIMUM``, ``CLOSE_RETRIES_EXHAUSTED``, ``CLOSE_REJECTED``) with its detail (the venue's
words), its incident, and who accepted it, when and why (``close_rejection_accepted``), or
nobody. A residual recorded before the period that still stands at its end is one of them: the
report reads these kinds from the start of the trail.

Pure: rows in, plain values out. Must not read the store itself (:mod:`.report` hands the rows
in) or call a position closed that no row says ended.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .incident import iso

RESIDUAL_KIND = "close_residual"  # as killswitch.runner.venue.shortfalls writes them
ENDED_KIND = "close_residual_ended"
ACCEPTED_KIND = "close_rejection_accepted"  # as killswitch.runner.operator.accepts writes them
KINDS = (RESIDUAL_KIND, ENDED_KIND, ACCEPTED_KIND)

Key = tuple[str, str, str, str]  # (incident, account, symbol, long | short)


def _key(incident: Any, account: Any, symbol: Any, leg: Any) -> Key:
    return str(incident), str(account), str(symbol), str(leg or "").casefold()


def positions_left(rows: Sequence[Any], proven: Callable[[int], bool]) -> list[dict]:
    """The residuals of ``rows`` (audit rows of :data:`KINDS` up to the period's end, chain
    order) still standing after the last of them, oldest first."""
    out: dict[Key, dict] = {}
    accepted: dict[Key, tuple[dict, int]] = {}
    for r in rows:
        p = r.payload
        if r.kind == RESIDUAL_KIND:
            leg: Optional[str] = p.get("position_side") if p.get("position_side") in ("LONG", "SHORT") \
                else p.get("side")
            key = _key(p.get("incident"), p.get("account"), p.get("symbol"), p.get("side"))
            if key not in out:
                out[key] = {"at": iso(r.ts_ms), "account": key[1], "symbol": key[2], "leg": leg,
                            "amount": p.get("amount"), "shortfall": p.get("shortfall"), "why": p.get("why"),
                            "detail": p.get("detail"),
                            "incident": key[0], "accepted": None, "verified": proven(r.seq)}
        elif r.kind == ENDED_KIND:
            out.pop(_key(p.get("incident"), p.get("account"), p.get("symbol"), p.get("side")), None)
        elif r.kind == ACCEPTED_KIND:
            for leg_row in p.get("legs") or ():
                key = _key(leg_row.get("incident"), leg_row.get("account"), leg_row.get("symbol"), leg_row.get("leg"))
                accepted[key] = ({"by": p.get("by"), "at": iso(r.ts_ms), "reason": p.get("reason")}, r.seq)
    for key, row in out.items():
        if key in accepted:
            acceptance, seq = accepted[key]
            row["accepted"] = acceptance
            row["verified"] = row["verified"] and proven(seq)
    return _by_leg(list(out.values()))


def _by_leg(rows: list[dict]) -> list[dict]:
    """One row per open leg at the venue (account, symbol, leg), naming every incident whose
    close of it was refused or fell short (``incidents``; ``incident``: the first): two incidents
    that failed to close the same 30 ETH long leave 30 ETH open, not 60. Its amount is the last
    recorded; it counts as accepted only when every incident's residual of it was."""
    legs: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        key = (row["account"], row["symbol"], str(row["leg"] or "").casefold())
        had = legs.get(key)
        if had is None:
            legs[key] = {**row, "incidents": [row["incident"]]}
            continue
        had["incidents"].append(row["incident"])
        had["amount"], had["shortfall"] = row["amount"], row["shortfall"]
        for field in ("why", "detail"):
            if row[field] and row[field] not in str(had[field]).split("; "):
                had[field] = f"{had[field]}; {row[field]}" if had[field] else row[field]
        had["accepted"] = row["accepted"] if had["accepted"] is not None else None
        had["verified"] = had["verified"] and row["verified"]
    return list(legs.values())


__all__ = ["ACCEPTED_KIND", "ENDED_KIND", "KINDS", "RESIDUAL_KIND", "positions_left"]
