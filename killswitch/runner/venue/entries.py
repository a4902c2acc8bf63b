"""The position each close was planned from, as the journal keeps it with the intent: its entry
price and contract size, read from the snapshots the plans were made of. What the close realized
is reckoned from them when its fill is journaled (:func:`killswitch.orders.realized_pnl`).

Must not: read a venue, or make the model of a position no close is planned on (a tick reads
10,000 positions as columns; a close_all's closes make one model each, the planner's own cost).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ...orders import OrderIntent
from ...snapshot import Snapshot, columns_of

Entry = tuple[Optional[float], Optional[float]]  # (entry price, contract size); None: not known
NOT_KNOWN: Entry = (None, None)
_LEGS = ("LONG", "SHORT")

_Key = tuple[str, str, Optional[str]]  # symbol, side of the position, hedge leg (None: one-way)


def _order_key(o: OrderIntent) -> _Key:
    """The position a close reduces: a sell closes a long, a buy a short; its hedge leg if it names one."""
    return o.symbol, "long" if o.side == "sell" else "short", o.position_side if o.position_side in _LEGS else None


def _inverse(symbol: str) -> bool:
    """A contract settled in its base coin (``BTC/USD:BTC``): its PnL is not (exit - entry) x size."""
    base, _, rest = symbol.partition("/")
    return rest.partition(":")[2] == base


def entries_of(orders: Sequence[OrderIntent], snapshots: Iterable[Snapshot]) -> list[Entry]:
    """For each of ``orders``, the entry price and contract size of the position it closes, as
    the snapshot of its account shows it; :data:`NOT_KNOWN` for an order that closes no
    position (a spot sale), one whose position the snapshots do not hold, an inverse
    contract's, and every order when no snapshot is given. Pure over frozen snapshots: the
    executor calls it on the store thread, beside the intents' JSON (10,000 closes: tens of ms
    the loop does not hold)."""
    keys: list[Optional[tuple[str, str, _Key]]] = [
        (o.venue, o.account, _order_key(o)) if o.reduce_only and not _inverse(o.symbol) else None for o in orders]
    wanted: dict[tuple[str, str], set[_Key]] = {}
    for k in keys:
        if k is not None:
            wanted.setdefault(k[:2], set()).add(k[2])
    if not wanted:
        return [NOT_KNOWN] * len(orders)
    found: dict[Optional[tuple[str, str, _Key]], Entry] = {}
    for s in snapshots:
        mine = wanted.get((s.venue, s.account))
        if not mine or s.market_type != "futures":
            continue
        positions = s.positions
        cols = columns_of(positions)
        if cols is None:  # models already: read them
            held: Iterable[_Key] = ((p.symbol, p.side, p.position_side if p.position_side in _LEGS else None)
                                    for p in positions)
        else:  # from the columns: a model made only for a position closed
            held = ((sym, side, leg if leg in _LEGS else None)
                    for sym, side, leg in zip(cols.symbols, cols.sides, cols.legs))
        for j, key in enumerate(held):
            if key in mine:
                p = positions[j]
                found[(s.venue, s.account, key)] = (p.entry_price, p.contract_size)
    get = found.get
    return [get(k, NOT_KNOWN) for k in keys]
