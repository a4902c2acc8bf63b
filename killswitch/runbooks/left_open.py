"""Orders a cancel left open over a period, from the audit trail: the closure report's own section.

What it owns: one row per order the runner audited as still open after a cancel meant to take
it (``order_still_open``, reason code ``ORDER_STILL_OPEN``, as
:mod:`killswitch.runner.venue.left_open` writes it): the account, symbol, side, amount and order
id, what the venue said of it (the reason code, then the venue's own code and words), what the
cancel was for and the incident it belongs to; and when it ended (``order_still_open_ended``:
``ORDER_GONE``, a later list no longer showed it; ``INCIDENT_ENDED``), or ``still open`` at the
period's end. A row the runner wrote again after a restart (``completed_by``) is the same order:
listed once.

Pure: rows in, plain values out. Must not read the store itself (:mod:`.report` hands the rows
in) or call an order cancelled that no row says the venue confirmed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .incident import iso

STILL_OPEN_KIND = "order_still_open"  # as killswitch.runner.venue.left_open writes them
ENDED_KIND = "order_still_open_ended"
KINDS = (STILL_OPEN_KIND, ENDED_KIND)


def left_open(rows: Sequence[Any], proven: Callable[[int], bool]) -> list[dict]:
    """The orders still open of ``rows`` (audit rows, chain order), oldest first."""
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        p = r.payload
        key = (str(p.get("account")), str(p.get("order_id")))
        if r.kind == STILL_OPEN_KIND and key not in out:
            amount = p.get("amount")
            filled = p.get("filled") or 0.0
            out[key] = {
                "at": iso(r.ts_ms), "account": key[0], "symbol": p.get("symbol"), "side": p.get("side"),
                "amount": amount - filled if isinstance(amount, (int, float)) else amount,
                "order_id": key[1], "said": p.get("said"), "cause": p.get("cause"),
                "incident": p.get("incident"), "ended": None, "ended_why": None, "verified": proven(r.seq)}
        elif r.kind == ENDED_KIND and key in out and out[key]["ended"] is None:
            out[key].update(ended=iso(r.ts_ms), ended_why=p.get("why"))
            out[key]["verified"] = out[key]["verified"] and proven(r.seq)
    return list(out.values())


__all__ = ["ENDED_KIND", "KINDS", "STILL_OPEN_KIND", "left_open"]
