"""Placing an order before the gate reads the lock: does it name an account, a scope and a
symbol the runner knows, and an amount within sane bounds?

Owns :class:`Placement` (what the runner knows: its catalog of names, the symbols' unit prices
and the accounts' equity, from the last snapshots) and :func:`place`: an unknown account, scope
or symbol (``UNKNOWN_ACCOUNT``, ``UNKNOWN_SCOPE``, ``UNKNOWN_SYMBOL``, with close matches),
markets not read yet (``MARKETS_UNKNOWN``), an amount above ``MAX_AMOUNT``
(``AMOUNT_OUT_OF_BOUNDS``) or a notional above ``MAX_EQUITY_MULTIPLE`` times the equity of the
accounts it may go to (``ORDER_TOO_LARGE``) is denied. Fails closed.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from ...figures import money
from ..lock.lock import GLOBAL_SCOPE
from ..names import Catalog, near_hint
from .request import Decision, OrderRequest, deny

# An order is refused beyond these, whatever the lock says: no venue lists a market where 1e12
# contracts is an order, and no venue lends more than 125 times an account's equity.
MAX_AMOUNT = 1e12
MAX_EQUITY_MULTIPLE = 125.0


@dataclass(frozen=True)
class Placement:
    """What the gate needs to place an order before it reads the lock: the names the runner knows,
    the unit price of each symbol it has seen (mark × contract size, from the last snapshots) and
    each account's equity (None when unknown)."""

    catalog: Catalog
    unit_prices: Mapping[str, float] = field(default_factory=dict)
    equity: Mapping[str, Optional[float]] = field(default_factory=dict)


def place(req: OrderRequest, where: Placement) -> Optional[Decision]:
    """A deny when the order cannot be placed (an unknown account, scope or symbol, an amount
    beyond sane bounds), else None. Fails closed: a symbol list not read yet is a deny."""
    cat = where.catalog
    if req.account is not None:
        bad = cat.resolve_account(req.account)
        if bad is not None:
            return deny(bad.reason)
    if req.scope is not None:
        bad = cat.resolve_scope(req.scope)
        if bad is not None:
            return deny(bad.reason)
    accounts = [req.account] if req.account is not None else sorted(cat.accounts_of(req.scope or GLOBAL_SCOPE))
    symbols = cat.symbols_for(accounts)
    if symbols is None:
        missing = [a for a in accounts if cat.symbols.get(a) is None]
        return deny(f"MARKETS_UNKNOWN: the markets of {', '.join(missing[:3])} have not been read yet; "
                     f"cannot tell whether {req.symbol!r} trades there")
    if req.symbol not in symbols:
        return deny(f"UNKNOWN_SYMBOL: {req.symbol!r} is not listed for {', '.join(accounts[:3])}"
                     f"{near_hint(req.symbol, symbols)}")
    if req.amount > MAX_AMOUNT:
        return deny(f"AMOUNT_OUT_OF_BOUNDS: amount {req.amount:g} > {MAX_AMOUNT:g}")
    unit = req.price or where.unit_prices.get(req.symbol)
    if req.reduce_only or unit is None:
        return None
    equity = [where.equity.get(a) for a in accounts]
    if any(e is None for e in equity):
        return None  # equity unknown this tick: the lock and the data-age policies speak for it
    total = sum(e for e in equity if e is not None)
    notional = req.amount * unit
    if notional > MAX_EQUITY_MULTIPLE * max(total, 0.0):
        return deny(f"ORDER_TOO_LARGE: notional {money(notional)} > {MAX_EQUITY_MULTIPLE:g} x equity {money(total)} "
                     f"of {', '.join(accounts[:3])}")
    return None

