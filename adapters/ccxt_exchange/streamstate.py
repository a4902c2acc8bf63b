"""What a private stream says of one account, kept by key with the venue's event time: pure.

What it owns
    * :class:`StreamState`: positions by (symbol, leg), wallet balances by asset, open orders by
      id and marks by symbol, each with the venue's event time (``E``) of the update it holds;
      the rule that an update older than what is held for its key (``out_of_order``) or the same
      one again (``duplicate``) is never applied; :attr:`StreamState.dropped` counts what the
      stream module drops (by frame: ``malformed``, ``unknown``, ``duplicate``, ``out_of_order``,
      see :class:`StreamEvent`) — an update this state does not apply is not counted here, since
      the same mark reaches it by more than one subscription;
    * :class:`StreamEvent`: one venue event as the dialect reads it out of a raw frame, the key
      the venue orders its events by, and what it says of positions, wallets, orders and marks;
    * :meth:`StreamState.snapshot`: the account as a :class:`Snapshot` of the same shape as the
      REST one, from the stream's state over the last REST snapshot (see there what is whose);
    * :meth:`StreamState.reconcile`: a REST snapshot compared with the stream's state (positions
      by symbol, leg and contracts; open orders by id; equity within a tolerance), what differs
      returned, and REST's state taking the stream's place.

What it must not do
    read a clock (times are arguments), do I/O, import ccxt, or log (the stream module logs).

Event times survive a key's removal (a closed position, a filled order): a late update of
something already gone is still older than what was held, and dropped. A REST reconcile replaces
the values, never the event times: REST carries no event time of each row, and a stream update
delayed past a reconcile is still compared with the last one the stream gave for its key.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional

from killswitch.snapshot import (Balance, FetchStatus, MarketRules, Order, Position, PositionList, Snapshot,
                                 with_positions)

CHANGED = "changed"  # applied, and it changed the state
SAME = "same"  # applied (newer), nothing changed
DUPLICATE = "duplicate"  # the update held, again: dropped
OUT_OF_ORDER = "out_of_order"  # older than the update held for its key: dropped

DROP_KINDS = ("malformed", "duplicate", "out_of_order", "unknown")
LEGS = ("LONG", "SHORT", "BOTH")


@dataclass(frozen=True)
class StreamLeg:
    """One position as the stream says it: its side, size (contracts, positive) and entry price."""

    side: str  # long | short
    contracts: float
    entry_price: Optional[float]


@dataclass(frozen=True)
class StreamEvent:
    """One event of the venue's stream, read out of its raw frame by the dialect.

    ``key`` is what the venue orders its events by on one subscription (an account's updates,
    one order's, one symbol's marks on one stream), ``event_ms`` its event time, ``body`` the
    raw event (the same key, time and body again is a duplicate). What it says: ``positions``
    as (symbol, leg, side, contracts, entry price), ``wallets`` as (asset, wallet balance),
    ``orders`` as (id, the streaming client's order structure), ``marks`` as (symbol, price)."""

    key: tuple
    event_ms: int
    body: Any
    positions: tuple[tuple[str, str, Optional[str], float, Optional[float]], ...] = ()
    wallets: tuple[tuple[str, float], ...] = ()
    orders: tuple[tuple[str, Any], ...] = ()
    marks: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Disagreement:
    """What a REST reconcile found the stream's state wrong about: ``kind`` is positions, orders
    or equity; ``detail`` says what differed (no secret: symbols, ids, sizes)."""

    kind: str
    detail: str


def leg_of(p: Position) -> str:
    """The key's leg of a position: its hedge leg, else BOTH (one-way mode)."""
    return p.position_side if p.position_side in ("LONG", "SHORT") else "BOTH"


class StreamState:
    """One account's stream state. ``quote`` is the currency equity is counted in."""

    def __init__(self, quote: str, *, equity_tolerance: float = 0.005):
        self.quote = quote
        self.equity_tolerance = float(equity_tolerance)  # relative, of REST's equity
        self.positions: dict[tuple[str, str], StreamLeg] = {}
        self.wallet: dict[str, float] = {}  # asset → wallet balance (Binance ``wb``)
        self.orders: dict[str, Order] = {}
        self.marks: dict[str, float] = {}
        self._times: dict[tuple[str, Hashable], int] = {}  # (table, key) → event time held
        self.dropped: Counter[str] = Counter()
        self.base: Optional[Snapshot] = None  # the last REST snapshot: what the stream does not say

    # --- updates ----------------------------------------------------------------------------------

    def _apply(self, table: str, store: dict, key: Hashable, value: Any, event_ms: int) -> str:
        held = self._times.get((table, key))
        if held is not None and event_ms < held:
            return OUT_OF_ORDER
        if held is not None and event_ms == held and store.get(key) == value:
            return DUPLICATE
        self._times[(table, key)] = event_ms
        if value is None:
            return CHANGED if store.pop(key, None) is not None else SAME
        if store.get(key) == value:
            return SAME
        store[key] = value
        return CHANGED

    def apply_position(self, symbol: str, leg: str, side: Optional[str], contracts: float,
                       entry_price: Optional[float], event_ms: int) -> str:
        """A position update: ``contracts`` 0 closes the leg."""
        value = None if contracts == 0 or side not in ("long", "short") else \
            StreamLeg(str(side), abs(float(contracts)), entry_price)
        return self._apply("position", self.positions, (symbol, leg), value, event_ms)

    def apply_wallet(self, asset: str, balance: float, event_ms: int) -> str:
        return self._apply("wallet", self.wallet, asset, float(balance), event_ms)

    def apply_order(self, order_id: str, order: Optional[Order], event_ms: int) -> str:
        """An order update: ``order`` None when it is no longer open (filled, cancelled, ...)."""
        return self._apply("order", self.orders, order_id, order, event_ms)

    def apply_mark(self, symbol: str, price: float, event_ms: int) -> str:
        return self._apply("mark", self.marks, symbol, float(price), event_ms)

    def drop(self, kind: str) -> None:
        self.dropped[kind] += 1

    def symbols(self) -> tuple[str, ...]:
        """The symbols of the positions held, sorted: whose marks the stream watches."""
        return tuple(sorted({s for s, _ in self.positions}))

    # --- the snapshot ---------------------------------------------------------------------------

    def snapshot(self, observed_ms: int, ts_event: int, contract_size: Callable[[str], float],
                 rules: Callable[[str], Optional[MarketRules]] = lambda s: None) -> Optional[Snapshot]:
        """The account from the stream, or None before a REST snapshot gave the base.

        Positions: the stream's legs, each valued at the stream's mark of its symbol (REST's
        mark until the stream gives one; the entry price for a position REST has not seen and
        no mark has come for): notional = contracts · contract size · mark, unrealized PnL from
        the entry price. The liquidation price, margin, leverage and strategy are the last REST
        read's for that leg (the user-data stream does not carry them). Equity = the wallet
        balance of the quote currency + the positions' unrealized PnL. Balances are REST's,
        their total the stream's wallet balance where it gave one. Open orders are the
        stream's; the market rules those of their symbols (``rules``), REST's where it has none.
        ``fetch.calls`` is 0: nothing was read to make it."""
        base = self.base
        if base is None:
            return None
        rest_legs = {(p.symbol, leg_of(p)): p for p in base.positions}
        positions = []
        for (symbol, leg), sp in sorted(self.positions.items()):
            known = rest_legs.get((symbol, leg))
            mark = self.marks.get(symbol) or (known.mark_price if known else None) or sp.entry_price
            if not mark or mark <= 0:
                continue  # no price to value it at: left out until a mark comes (REST reconciles)
            size = known.contract_size if known else contract_size(symbol)
            sign = 1.0 if sp.side == "long" else -1.0
            pnl = (mark - sp.entry_price) * sp.contracts * size * sign if sp.entry_price else 0.0
            kept = {k: getattr(known, k) for k in ("liquidation_price", "margin", "leverage", "strategy")} \
                if known else {}
            positions.append(Position(symbol=symbol, side=sp.side, position_side=leg, contracts=sp.contracts,
                                      contract_size=size, notional=sp.contracts * size * mark,
                                      entry_price=sp.entry_price, mark_price=mark, unrealized_pnl=pnl, **kept))
        wallet = self.wallet.get(self.quote)
        equity = None if wallet is None else wallet + sum(p.unrealized_pnl for p in positions)
        balances = [b.model_copy(update={"total": self.wallet[b.asset], "free": min(b.free, self.wallet[b.asset])})
                    if b.asset in self.wallet else b for b in base.balances]
        seen = {b.asset for b in balances}
        balances += [Balance(asset=a, free=0.0, total=v) for a, v in sorted(self.wallet.items()) if a not in seen]
        orders = list(self.orders.values())
        markets = dict(base.markets)
        for symbol in sorted({p.symbol for p in positions} | {o.symbol for o in orders}):
            if (r := rules(symbol)) is not None:
                markets[symbol] = r
        return with_positions(base.model_copy(update={
            "ts_event": ts_event, "ts_observed": observed_ms, "equity": equity, "balances": balances,
            "orders": orders, "fetch": FetchStatus(ok=True, latency_ms=0.0, calls=0, failed_calls=0)}),
            PositionList.of(positions), markets)

    # --- reconcile --------------------------------------------------------------------------------

    def reconcile(self, rest: Snapshot, observed_ms: int,
                  contract_size: Callable[[str], float]) -> list[Disagreement]:
        """Compare a (good) REST snapshot with the stream's state, then put REST's state in its
        place. Nothing is compared before the first REST snapshot (the stream had no base)."""
        found: list[Disagreement] = []
        if self.base is not None:
            mine = self.snapshot(observed_ms, observed_ms, contract_size)
            found = _differences(self.positions, self.orders, mine.equity if mine else None, rest,
                                 self.equity_tolerance)
        self.base = rest
        self.positions = {(p.symbol, leg_of(p)): StreamLeg(p.side, p.contracts, p.entry_price)
                          for p in rest.positions if p.contracts > 0}
        self.orders = {o.id: o for o in rest.orders}
        for p in rest.positions:
            self.marks.setdefault(p.symbol, p.mark_price)
        if rest.equity is not None:
            # REST's equity is the wallet balance plus the unrealized PnL: the wallet is what is left
            self.wallet[self.quote] = rest.equity - sum(p.unrealized_pnl for p in rest.positions)
        return found


def _differences(positions: dict[tuple[str, str], StreamLeg], orders: dict[str, Order], equity: Optional[float],
                 rest: Snapshot, tolerance: float) -> list[Disagreement]:
    found = []
    theirs = {(p.symbol, leg_of(p)): p for p in rest.positions if p.contracts > 0}
    wrong = []
    for key in sorted(set(positions) | set(theirs)):
        a, b = positions.get(key), theirs.get(key)
        a_size = 0.0 if a is None else a.contracts * (1 if a.side == "long" else -1)
        b_size = 0.0 if b is None else b.contracts * (1 if b.side == "long" else -1)
        if not math.isclose(a_size, b_size, rel_tol=1e-9, abs_tol=1e-12):
            wrong.append(f"{key[0]} {key[1]} stream={a_size:g} rest={b_size:g}")
    if wrong:
        found.append(Disagreement("positions", "; ".join(wrong)))
    mine, their_ids = set(orders), {o.id for o in rest.orders}
    if mine != their_ids:
        found.append(Disagreement("orders", f"stream only: {sorted(mine - their_ids)}; "
                                            f"rest only: {sorted(their_ids - mine)}"))
    if rest.equity is not None and equity is not None and \
            abs(equity - rest.equity) > tolerance * max(abs(rest.equity), 1.0):
        found.append(Disagreement("equity", f"stream={equity:.8g} rest={rest.equity:.8g} "
                                            f"(tolerance {tolerance:.2%})"))
    elif rest.equity is not None and equity is None:
        found.append(Disagreement("equity", f"stream=unknown rest={rest.equity:.8g}"))
    return found


__all__ = ["CHANGED", "DROP_KINDS", "DUPLICATE", "Disagreement", "OUT_OF_ORDER", "SAME", "StreamEvent", "StreamLeg",
           "StreamState", "leg_of"]
