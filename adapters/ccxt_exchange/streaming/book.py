"""The account a private stream answers, valued: pure.

What it owns
    * :class:`StreamLeg` and :func:`leg_of`: one position as the stream says it (side, contracts,
      entry price) and the leg that keys it (its hedge leg, else ``BOTH``);
    * :func:`make_leg` and :func:`remarked`: a leg made a :class:`~killswitch.snapshot.Position`
      at the stream's mark (REST's until the stream gives one; the entry price for a position
      REST has not seen), with its columns' row — remade for a copy's cost where only its mark
      moved; every field the stream does not carry (``_KEPT``) is the last REST read's of that leg;
    * :class:`Legs`: one snapshot's positions in (symbol, leg) order with their columns and what
      each was made of, never changed once sealed, so the next snapshot shares what did not change;
    * the book's money: a futures account's balances and equity (:func:`futures_book`), a spot
      account's each asset valued at its ASSET/QUOTE mark (:func:`spot_book`, :func:`spot_wallet`)
      and REST's prices of the symbols the stream cannot mark (:func:`rest_prices`).

What it must not do
    keep the stream's state or its event times (:mod:`.state` does, and decides when a leg is
    made again), read a clock, do I/O, import ccxt, or log.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, Container, Optional

from killswitch.snapshot import Balance, MarketRules, Position, PositionColumns, Snapshot, row_of

LEGS = ("LONG", "SHORT", "BOTH")
# What a leg's position takes from the stream: its size and entry, valued at the stream's mark.
# Every other field a position declares is the last REST read's of that leg (the user-data
# streams carry no liquidation price, margin, leverage, ...; a field declared later is kept too).
_STREAMED = frozenset(("symbol", "side", "position_side", "contracts", "contract_size", "notional", "entry_price",
                       "mark_price", "unrealized_pnl"))
_KEPT = tuple(f for f in Position.model_fields if f not in _STREAMED)
_kept_of = attrgetter(*_KEPT)


@dataclass(frozen=True)
class StreamLeg:
    """One position as the stream says it: its side, size (contracts, positive) and entry price."""

    side: str  # long | short
    contracts: float
    entry_price: Optional[float]


def leg_of(p: Position) -> str:
    """The key's leg of a position: its hedge leg, else BOTH (one-way mode)."""
    return p.position_side if p.position_side in ("LONG", "SHORT") else "BOTH"


def futures_book(base: Snapshot, wallet: dict[str, float], quote: str,
                 upnl: float) -> tuple[list[Balance], Optional[float]]:
    """A futures account's balances (REST's, each total the stream's ``wallet`` where it gave
    one) and its equity: the quote's wallet and the positions' unrealized PnL (None without it)."""
    balances = [b.model_copy(update={"total": wallet[b.asset], "free": min(b.free, wallet[b.asset])})
                if b.asset in wallet else b for b in base.balances]
    seen = {b.asset for b in balances}
    balances += [Balance(asset=a, free=0.0, total=v) for a, v in sorted(wallet.items()) if a not in seen]
    return balances, None if wallet.get(quote) is None else wallet[quote] + upnl


def spot_wallet(rest: Snapshot, quote: str, marks: dict[str, float]) -> dict[str, float]:
    """A spot account's wallet of each asset as REST read it, its price kept as the mark of
    ASSET/QUOTE where the stream gave none."""
    for b in rest.balances:
        if b.asset != quote and b.price:
            marks.setdefault(f"{b.asset}/{quote}", b.price)
    return {b.asset: b.total for b in rest.balances}


def rest_prices(rest: Snapshot, quote: str, spot: bool, symbols: Container[str]) -> dict[str, float]:
    """REST's prices of ``symbols``: each position's mark, and a spot account's each asset's
    price as the mark of ASSET/QUOTE (those REST read without one left out)."""
    priced: list[tuple[str, Optional[float]]] = [(p.symbol, p.mark_price) for p in rest.positions]
    priced += [(f"{b.asset}/{quote}", b.price) for b in rest.balances] if spot else []
    return {symbol: price for symbol, price in priced if price and symbol in symbols}


def spot_book(base: Snapshot, wallet: dict[str, float], marks: dict[str, float],
              quote: str) -> tuple[list[Balance], Optional[float]]:
    """A spot account's balances (the stream's ``wallet`` of each asset where it gave one, else
    the REST ``base``'s), each priced at the stream's mark of ASSET/QUOTE (REST's price until one
    comes; the quote 1), and their value: None while an asset held has no price (the snapshot is
    then REST's, which fails naming it, never an equity that leaves it out)."""
    held = {b.asset: b for b in base.balances}
    out: list[Balance] = []
    equity = 0.0
    for asset in sorted(set(held) | set(wallet)):
        b = held.get(asset)
        total = wallet.get(asset, b.total if b is not None else 0.0)
        if not total:
            continue
        price = 1.0 if asset == quote else marks.get(f"{asset}/{quote}") or (b.price if b is not None else None)
        if price is None:
            return out, None
        equity += total * price
        free = min(b.free, total) if b is not None else 0.0
        out.append(Balance(asset=asset, free=free, used=max(0.0, total - free), total=total, price=price))
    return out, equity


def make_leg(marks: dict[str, float], key: tuple[str, str], sp: StreamLeg, known: Optional[Position],
         contract_size: Callable[[str], float]) -> Optional[tuple[Any, Position, tuple]]:
    """(what it was made of, the position, its columns' row) of one leg; None when there is
    no price to value it at (left out until a mark comes; REST reconciles)."""
    symbol, leg = key
    mark = marks.get(symbol) or (known.mark_price if known else None) or sp.entry_price
    if not mark or mark <= 0:
        return None
    size = known.contract_size if known else contract_size(symbol)
    sign = 1.0 if sp.side == "long" else -1.0
    pnl = (mark - sp.entry_price) * sp.contracts * size * sign if sp.entry_price else 0.0
    kept = dict(zip(_KEPT, _kept_of(known))) if known else {}
    p = Position(symbol=symbol, side=sp.side, position_side=leg, contracts=sp.contracts, contract_size=size,
                 notional=sp.contracts * size * mark, entry_price=sp.entry_price, mark_price=mark,
                 unrealized_pnl=pnl, **kept)
    return (sp, mark, known_inputs(known)), p, row_of(p)  # the row as the model holds its values


def remarked(marks: dict[str, float], was: tuple[Any, Position, tuple], sp: StreamLeg, known: Optional[Position]
              ) -> Optional[tuple[Any, Position, tuple]]:
    """A leg whose stream leg and REST inputs are those it was made of, at its mark now: the
    position made before, its mark, notional and PnL replaced — what :func:`make_leg` makes, for
    a copy's cost rather than a validated model's (every held symbol's mark moves between
    two ticks at a firm's shape: 10,000 positions made again a tick were the runner's
    largest cost)."""
    before = was[1]
    mark = marks.get(before.symbol) or (known.mark_price if known else None) or sp.entry_price
    if not mark or mark <= 0:
        return None
    if mark == was[0][1]:
        return was
    size = before.contract_size
    sign = 1.0 if sp.side == "long" else -1.0
    pnl = (mark - sp.entry_price) * sp.contracts * size * sign if sp.entry_price else 0.0
    p = before.model_copy(update={"mark_price": mark, "notional": sp.contracts * size * mark,
                                  "unrealized_pnl": pnl})
    return (sp, mark, was[0][2]), p, row_of(p)


def known_inputs(known: Optional[Position]) -> Optional[tuple]:
    """What a leg's position takes from REST's position of that leg: its contract size and mark
    (until the stream gives one), and every field it keeps (``_KEPT``)."""
    if known is None:
        return None
    return (known.contract_size, known.mark_price, *_kept_of(known))


class Legs:
    """The positions of one stream snapshot, in (symbol, leg) order, with their columns and what
    each was made of (``made``: key → (inputs, position, row)); ``rest_legs`` are the REST
    base's positions by leg, ``symbols`` the positions' symbols in order, ``rules`` the market
    rules of those symbols as ``rules_of`` gave them. Never changed once sealed: the next
    snapshot makes a new one, sharing what did not change."""

    __slots__ = ("base", "rest_legs", "positions", "made", "index", "symbols", "symbol_set", "columns", "rows",
                 "rules_of", "rules")

    def __init__(self, base: Snapshot, rest_legs: dict[tuple[str, str], Position]):
        self.base, self.rest_legs = base, rest_legs
        self.positions: list[Position] = []
        self.made: dict[tuple[str, str], tuple[Any, Position, tuple]] = {}
        self.index: dict[tuple[str, str], int] = {}
        self.symbols: list[str] = []
        self.symbol_set: set[str] = set()
        self.rows: list[tuple] = []
        self.columns = PositionColumns([])
        self.rules_of: Optional[Callable[[str], Optional[MarketRules]]] = None
        self.rules: Optional[dict[str, MarketRules]] = None

    def add(self, key: tuple[str, str], leg: tuple[Any, Position, tuple]) -> None:
        self.index[key] = len(self.positions)
        self.made[key] = leg
        self.positions.append(leg[1])
        self.rows.append(leg[2])
        if key[0] not in self.symbol_set:
            self.symbol_set.add(key[0])
            self.symbols.append(key[0])

    def seal(self) -> None:
        self.columns = PositionColumns(self.rows)
        self.rows = []
