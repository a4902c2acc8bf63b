"""The console's positions table: ``view.positions()`` arranged as the page shows it.

What it owns: one table per account — its snapshot's time and age (kept counting by the page's
script), stale or failed fetches said in words, and per position its side, size, notional,
unrealised PnL, liquidation distance, risk score (and whose), the orders resting on it by kind,
and the scope a "Close this symbol…" names (the account's own policy instance when there is
one) and, for a hedge leg, the leg it closes — the symbols held, for the close dialog's
suggestions, and how many positions each scope holds (a scope holding none offers no close).

Pure: no I/O, no clock, no HTML (the template escapes what it is given). Must not invent a
value the view did not answer: every figure is one of ``PositionsStatus``'s, formatted.
"""

from __future__ import annotations

from typing import Any, Optional

from ...figures import figure, money, places
from ...runner.lock.lock import iso_ms
from ...view import AccountPositions, PositionRow, PositionsStatus
from .model import age_text, clock_text

STALE_AFTER_S = 30.0  # a snapshot older than this is said to be stale next to its age


def _like_mark(x: Optional[float], mark: Optional[float]) -> str:
    """A price beside the mark at the mark's own decimals, at least two (a venue's liquidation
    price comes with eight: 27,431.33742857 beside a mark of 60,011.4 reads as more precise than
    any fill; a mark of a round 140 says nothing of the tick, so two)."""
    d = max(2, places(mark)) if mark else None
    return figure(x, 10.0 ** -d) if d is not None and d <= 8 else figure(x)


def _kinds(r: PositionRow) -> str:
    if not r.orders:
        return "none"
    kinds = ", ".join(f"{n} {k}" for k, n in r.order_kinds.items())
    return f"{r.orders}: {kinds}" + (f" ({r.reduce_only_orders} reduce-only)" if r.reduce_only_orders else "")


def _row(account: str, r: PositionRow) -> dict:
    side = r.side + (f" ({r.position_side})" if r.position_side in ("LONG", "SHORT") else "")
    return {"key": f"{account}|{r.symbol}|{r.position_side or r.side}", "symbol": r.symbol, "side": side,
            "side_class": r.side, "size": figure(r.contracts), "notional": money(r.notional),
            "mark": figure(r.mark_price), "upnl": money(r.unrealized_pnl),
            "upnl_class": "loss" if r.unrealized_pnl < 0 else "gain",
            "liq": "-" if r.liquidation_distance is None else f"{r.liquidation_distance:.1%}",
            "liq_price": _like_mark(r.liquidation_price, r.mark_price),
            "risk": "-" if r.risk_score is None else f"{r.risk_score:.3f}",
            "risk_by": None if r.risk_policy is None else f"{r.risk_policy} on {r.risk_scope}",
            "orders": _kinds(r), "close_scope": r.scopes[0] if r.scopes else None, "scopes": list(r.scopes),
            # a hedge leg's close names its leg (long | short): the other leg is left unless asked for
            "leg": r.side if r.position_side in ("LONG", "SHORT") else None}


def _account(a: AccountPositions) -> dict:
    age, seen = a.age_s, a.observed_ms
    return {"account": a.account, "ok": a.ok, "error_code": a.error_code,
            "as_of": None if seen is None else {"iso": iso_ms(seen), "clock": clock_text(seen), "ms": seen},
            "age": "never read" if age is None else age_text(age), "stale": age is None or age > STALE_AFTER_S,
            "equity": "-" if a.equity is None else f"{money(a.equity)} {a.quote}", "quote": a.quote,
            "total": a.positions_total, "shown": len(a.positions), "rows": [_row(a.account, r) for r in a.positions]}


def positions_model(p: PositionsStatus) -> dict:
    """What the positions partial shows (``positions``) and the symbols held (``symbol_names``)."""
    accounts = [_account(a) for a in p.accounts]
    symbols: Any = sorted({r["symbol"] for a in accounts for r in a["rows"]})
    return {"positions": {"leader": p.leader, "accounts": accounts, "max_rows": p.max_rows,
                          "holding": dict(p.holding)}, "symbol_names": symbols}
