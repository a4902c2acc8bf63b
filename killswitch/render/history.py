"""Render ``ksctl history``: the order journal (or a dry run's planned orders from the audit
trail), each order with what it filled, at what average price and notional, for what fee and
with what realized PnL, or what the venue said when it refused it, then what verifying the
audit chain found.

Formats values only: it must not read the store, print, or pick exit codes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Optional

from ..figures import fees_text, figure, money, pnl_text
from .times import iso

if TYPE_CHECKING:
    from ..state.store import AuditRow, AuditVerification, JournalEntry


def _planned_line(row: AuditRow) -> str:
    o = row.payload
    leg = f" {o['position_side']}" if o.get("position_side") else ""
    return (f"{iso(row.ts_ms)}  {o.get('client_order_id')}  {o.get('venue')}/{o.get('account')} {o.get('symbol')} "
            f"{o.get('side')}{leg} {o.get('amount'):g}  planned, not sent (dry run)  {o.get('decision_id')}")


def _journal_line(r: JournalEntry) -> str:
    """One journaled order: when, its id, where, what (the hedge leg it closes, when it names
    one), how it ended (what it filled, at what price, for what fee, realizing what PnL; the
    venue's or the runner's reason code), and why it was sent (the decision: a policy's stage
    entry, or an operator's close)."""
    leg = f" {r.position_side}" if (r.position_side or "").upper() in ("LONG", "SHORT") else ""  # as --planned says
    why = (f"  {r.reason_code}" if r.reason_code else "") + refused_text(r)  # and what the venue said
    return (f"{iso(r.created_ms)}  {r.client_order_id}  {r.venue}/{r.account} {r.symbol} {r.side}{leg} "
            f"{r.amount:g}  {status_text(r.status, r.filled, r.avg_price)}{came_to_text(r)}{why}  by {r.decision_id}")


def came_to_text(r: JournalEntry) -> str:
    """``, fee 39.19 USDT, PnL -2,029.20 USDT`` of an order that filled: the venue's fee (``fee
    not reported`` where its answer carried none) and the PnL the close realized against the
    entry price of its position (``PnL not known`` for a spot sale, a row journaled before the
    journal kept them, an entry price the venue did not give); nothing when nothing filled."""
    if not r.filled:
        return ""
    return f", fee {fees_text(r.fees)}, PnL {pnl_text(r.realized_pnl, r.symbol)}"


def status_text(status: Optional[str], filled: Optional[float], avg_price: Optional[float]) -> str:
    """An order's status with what it filled: ``filled 0.5 at avg 52,611.6 (notional
    26,305.80)``; ``canceled, 0.2 filled at avg ...`` for a part; the status alone when nothing
    filled."""
    status = status or "pending"
    if not filled:
        return status
    price = (f" at avg {figure(avg_price)} (notional {money(abs(filled) * avg_price)})" if avg_price is not None
             else " (no price reported)")
    return f"filled {figure(filled)}{price}" if status == "filled" else f"{status}, {figure(filled)} filled{price}"


def history_text(rows: list[JournalEntry], verification: AuditVerification, planned: Optional[list[AuditRow]] = None,
                 planned_total: int = 0) -> str:
    """One line per journaled order, newest last (its time in ISO-8601 UTC), then what verifying
    the audit chain found. ``planned`` (``--planned``): the dry run's planned orders instead, from
    the audit trail; ``planned_total``: how many the trail holds, said when the journal is empty."""
    if planned is not None:
        lines = [_planned_line(r) for r in planned]
        lines.append(f"{planned_total} planned order(s) in the audit trail (dry run: none was sent)"
                     + (f"; the latest {len(planned)} are listed" if len(planned) < planned_total else ""))
    else:
        lines = [_journal_line(r) for r in rows]
        if not rows and planned_total:
            lines.append(f"dry run: nothing journaled; {planned_total} planned order(s) are in the audit trail "
                         "(ksctl history --planned lists them)")
        elif not rows:
            lines.append("no order journaled")
    return "\n".join(lines + [verification.describe(lead="audit chain: ")])


def refused_text(r: JournalEntry) -> str:
    """``: -1106 Parameter 'reduceOnly' sent when not required.`` of a journaled order the venue
    (or the adapter) refused: what it said, as stored with the result; nothing otherwise."""
    detail = getattr(r, "detail", None)
    return f": {detail}" if detail and r.status in ("rejected", "failed") else ""


def history_json(rows: list[JournalEntry], verification: AuditVerification, planned: Optional[list[AuditRow]] = None,
                 planned_total: int = 0) -> str:
    """The journal as stored (``created_ms`` / ``updated_ms``), each time also as ``created_ts`` /
    ``updated_ts`` (ISO-8601 UTC), and the verification (``audit_ok``: what exit 0 means);
    ``planned_total``, the dry run's planned orders in the audit trail, and with ``--planned``
    ``planned``: those listed (each its audit row's ``seq``, ``ts``, and the intent as audited)."""
    journal = [{**r.__dict__, "created_ts": iso(r.created_ms),
                "updated_ts": iso(r.updated_ms) if r.updated_ms is not None else None} for r in rows]
    doc: dict = {"format_version": 3, "audit_ok": verification.passed, "audit_first_bad_row":
                 verification.first_bad_seq, "audit": verification.to_json(), "journal": journal,
                 "planned_total": planned_total}
    if planned is not None:
        doc["planned"] = [{"seq": r.seq, "ts_ms": r.ts_ms, "ts": iso(r.ts_ms), **r.payload} for r in planned]
    # 2: audit_ok (and audit.intact) no longer true for a chain whose MACs went unchecked
    # 3: audit_ok false for a chain checked against neither the key nor an anchor (consistent_unverified)
    return json.dumps(doc, indent=1, default=str)

