"""Fills the last snapshots do not show yet: what a close preview takes off the positions.

A tick fetches its snapshots, then plans, journals and sends; what its closes filled reaches the
book only at the next tick's snapshots. A close previewed between the two would show the
positions just closed as still open, and a close sent from it would plan them again (the
executor would hold or the venue refuse the reduce-only orders, but the operator reads a wrong
plan). The journal knows better: every order journaled since the tick that fetched the snapshots
was sent after they were taken, so what it filled is not in them.

What it owns: :func:`take_off_fills` — the snapshots with the filled amounts of those orders
taken off their positions (a position filled whole is gone; notional, unrealised PnL and margin
shrink with the contracts), and one line per order taken off, for the preview to say.

Only reduce-only orders are taken off (every close the runner sends is one), and only from the
position they reduce: a sell from a long (or the LONG leg in hedge mode), a buy from a short.
Spot balances are not adjusted (a sale of a holding is left to the next snapshot, and the
preview's age says how old it is).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ...snapshot import Position, Snapshot

_EPS = 1e-12


def _reduces(p: Position, side: str, position_side: Optional[str]) -> bool:
    if position_side in ("LONG", "SHORT"):
        return p.position_side == position_side
    return p.side == ("long" if side == "sell" else "short")


def _shrunk(p: Position, filled: float) -> Optional[Position]:
    left = p.contracts - filled
    if left <= _EPS * max(1.0, p.contracts):
        return None
    k = left / p.contracts
    return p.model_copy(update={"contracts": left, "notional": p.notional * k, "unrealized_pnl": p.unrealized_pnl * k,
                                "margin": None if p.margin is None else p.margin * k})


def take_off_fills(snapshots: Sequence[Snapshot], entries: Sequence[Any], since_ms: Optional[int]
                   ) -> tuple[list[Snapshot], tuple[str, ...]]:
    """``snapshots`` less what the journal's ``entries`` (:class:`~killswitch.state.store.JournalEntry`
    rows) journaled at or after ``since_ms`` filled, and one line per order taken off. ``since_ms``
    None (no tick yet): nothing is taken off."""
    if since_ms is None:
        return list(snapshots), ()
    fills: dict[str, list[Any]] = {}
    for e in entries:
        if e.created_ms >= since_ms and e.reduce_only and (e.filled or 0) > 0:
            fills.setdefault(f"{e.venue}/{e.account}", []).append(e)
    if not fills:
        return list(snapshots), ()
    out: list[Snapshot] = []
    notes: list[str] = []
    for s in snapshots:
        mine = fills.get(f"{s.venue}/{s.account}")
        if not mine or not s.fetch.ok:
            out.append(s)
            continue
        positions: list[Optional[Position]] = list(s.positions)
        for e in mine:
            i = next((i for i, p in enumerate(positions)
                      if p is not None and p.symbol == e.symbol and _reduces(p, e.side, e.position_side)), None)
            if i is None:
                continue
            p = positions[i]
            assert p is not None
            taken = min(float(e.filled), p.contracts)
            positions[i] = _shrunk(p, taken)
            notes.append(f"{s.venue}/{s.account} {e.symbol} {p.side}: {taken:g} filled by {e.client_order_id} "
                         f"({e.status or 'pending'}) since the snapshot; taken off")
        out.append(s.model_copy(update={"positions": [p for p in positions if p is not None]}))
    return out, tuple(notes)
