"""Render ``ksctl close``: a close's preview (the orders it would send, from the runner's last
snapshots), what it was queued with, and a close being followed to its outcome, in the venue's
words when it refused.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

from typing import Optional

from ..client import CloseProgress
from ..figures import figure
from ..view import CloseResult, PlannedOrder
from .ops import api_json
from .times import iso


def planned_order_line(o: PlannedOrder) -> str:
    leg = f" {o.position_side}" if o.position_side else ""
    price = f"  limit {figure(o.limit_price, o.price_tick)}" if o.limit_price is not None else ""
    chunk = f"  chunk {o.chunk}/{o.chunks}" if o.chunks > 1 else ""
    return (f"  {o.side} {figure(o.amount)} {o.symbol}{leg} on {o.account}  ≈{figure(o.notional)}{price}"
            f"{'  reduce-only' if o.reduce_only else ''}{chunk}")


def close_plan_text(scope: str, r: CloseResult, live: bool) -> str:
    """What a close would send (the preview) or was queued with (``live``): on a dry-run runner
    first of all that nothing will be sent; every order as planned from the runner's last
    snapshots, their total notional, how old those snapshots are, the fills taken off them, the
    preview's id and the maximum notional the close is held to; and the runner's words when it
    refused."""
    what = "queued with" if live else "would send"
    target = f"{r.symbol} in {scope}" if r.symbol else scope
    lines = []
    if r.mode == "dry-run":
        lines.append("DRY RUN: this runner sends nothing to any venue: nothing will be sent; the orders are only "
                     "planned and audited")
    if not r.accepted:
        lines.append(f"close {target}: {r.reason}")
    elif r.orders == 0:
        lines.append(f"close {target}: nothing to send: no position to close in the runner's last snapshots")
    else:
        lines.append(f"close {target}: {what} {r.orders} order(s), as planned from the runner's last snapshots "
                     "(planned again at the close's tick):")
    lines += [planned_order_line(o) for o in r.plan]
    if r.orders and not r.plan:
        lines.append(f"  ({r.orders} order(s); this runner does not list them)")
    facts = []
    if r.notional is not None and r.orders:
        facts.append(f"total notional ≈{figure(r.notional)}")
    if r.as_of_ms is not None:
        age = f", {r.age_s:.0f}s old" if r.age_s is not None else ""
        facts.append(f"positions as of {iso(r.as_of_ms)}{age}")
    if facts:
        lines.append("  " + "; ".join(facts))
    lines += [f"  fill since the snapshot, taken off: {n}" for n in r.notes]
    lines += [f"  ! {n}" for n in r.refused]
    if r.preview_id and r.max_notional is not None:
        lines.append(f"  preview {r.preview_id}; a close of it is held to a notional of at most "
                     f"{figure(r.max_notional)}")
    return "\n".join(lines)


def close_json(preview: Optional[CloseResult], sent: Optional[CloseResult], settled: Optional[CloseProgress] = None,
               refused: Optional[str] = None) -> str:
    """``ksctl close -o json``: the preview, what was sent (null: nothing), how it settled (with
    --wait), and why nothing was sent when the command refused to send it."""
    return api_json({"format_version": 1, "preview": preview, "sent": sent, "settled": settled, "refused": refused})



def _target(p: CloseProgress) -> str:
    return f"{p.symbol} in {p.scope}" if p.symbol else p.scope


def close_progress_line(p: CloseProgress) -> str:
    if p.state == "queued":
        return f"close {_target(p)}: queued for the next tick ({p.orders} order(s) planned now)"
    return f"close {_target(p)}: {p.settled}/{p.orders} order(s) settled, {p.filled} filled, {p.open} open"


def close_still_working(close_id: str, timeout_s: float, p: CloseProgress) -> str:
    return f"ksctl close: {close_id} still working after {timeout_s:g}s: {close_progress_line(p)}"


def close_outcome(p: CloseProgress) -> str:
    """What a close that reached a final state came to."""
    if p.state == "unplanned":
        return f"ksctl close: {p.scope} was not in the runner's snapshots at its tick; nothing was sent"
    if p.state == "expired":
        return (f"ksctl close: the close of {p.scope} was asked for before its runner stopped and no tick planned it; "
                "too old to carry out now, nothing was sent: ask again")
    if p.state == "dry_run":
        return f"ksctl close: the runner is in dry run: {p.orders} order(s) planned and audited, none sent"
    if p.state == "refused":
        return f"ksctl close: the close of {_target(p)} was refused at its tick; nothing was sent: {p.reason}"
    statuses = ", ".join(f"{k} {v}" for k, v in p.statuses.items()) or "no orders"
    refused = sum(n for k, n in p.statuses.items() if k in ("rejected", "failed"))
    if refused:  # never "settled" alone when the venue refused: what it said, in its words
        said = "; ".join(p.venue_said) or "no reason given"
        verdict = "FAILED" if refused == sum(p.statuses.values()) else "partly failed"
        return (f"close {_target(p)} {verdict}: {refused} of {sum(p.statuses.values())} order(s) rejected by the "
                f"venue: {said}")
    return f"close {_target(p)} settled: {statuses}"

