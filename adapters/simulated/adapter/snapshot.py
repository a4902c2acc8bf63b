"""The in-process adapter's snapshot contents, made of what the engine answered.

What it owns
    :class:`SnapshotParts`: the orders (the book's and the conditional ones of the algo service,
    each :class:`Order` with its kind, trigger price and strategy), spot holdings valued at the
    marks, the markets' rules (once per set of markets), and the positions. It turns the
    engine's numbers of an account's legs, columns
    (:class:`~..views.LegNumbers`), into the snapshot's
    :class:`~killswitch.snapshot.PositionColumns`, column by column, handed over as
    :class:`~killswitch.snapshot.PositionsOnReading`, whose :class:`Position` models are made
    (validated) only when someone reads them (a tick reads the columns alone). Money is rounded
    to the 8 decimals the venue's face writes, again only where a number changed; the last
    snapshot's positions are handed out again while the engine's numbers are the same object
    (nothing they show moved): ``bench/sim_snapshot.py`` measures it.

    :class:`KnownContracts`, what the adapter knows of each leg between two snapshots: the last
    snapshot's contracts, less its own fills since, which a close is checked against before it
    is sent (:func:`adapters.base.check_close`).

What it must not do
    call the engine's charged methods (what it answered is handed in; the markets and marks are
    read as values), or keep more than the last snapshot's positions and the names and rules of
    the markets.
"""

from __future__ import annotations

from itertools import compress
from operator import ne
from typing import Any, Callable, NamedTuple, Optional

from killswitch.attribution import strategy_of
from killswitch.snapshot import Balance, MarketRules, Order, Position, PositionColumns, PositionsOnReading, base_asset

from ..conditional import LIMIT_TYPES, SimAlgoOrder
from ..engine import MarketSpec, PositionView, SimExchange, SimOrder
from ..views import LegNumbers, money, moneys


class _Fixed(NamedTuple):
    """A book's legs' columns that stay while the book does, as the snapshot's positions hold them."""

    symbols: list[str]  # unified
    contract_sizes: list[float]
    sides: list[str]  # long | short
    contracts: list[float]
    entries: list[Optional[float]]
    leverage: list[float]


def _rounded(xs: list[float], before: Optional[tuple[list[float], list[Any], Optional[list[int]]]]) -> list[Any]:
    """``[money(x) for x in xs]``, the money amounts at the 8 decimals the venue writes them;
    with ``before`` (the same legs' numbers and their rounded ones at the last pricing, and the
    legs that may have changed since, when known), only the numbers that changed are rounded
    again (most marks do not move a tick between two snapshots; when most did, rounding them
    all in one pass is cheaper than picking them out)."""
    if before is None or len(before[0]) != len(xs):
        return moneys(xs)
    old, moved = before[0], before[2]
    changed = list(compress(range(len(xs)), map(ne, xs, old))) if moved is None else moved
    if len(changed) * 3 > len(xs):
        return moneys(xs)
    out = list(before[1])
    for i in changed:
        out[i] = money(xs[i])
    return out


class SnapshotParts:
    """The contents of one adapter's snapshots of an account of ``engine``: its
    ``market_type`` names the symbols, ``strategy_prefixes`` (client id prefix → strategy)
    the orders' strategies."""

    def __init__(self, engine: SimExchange, market_type: str, strategy_prefixes: dict[str, str]):
        self.engine = engine
        self.market_type = market_type
        self.strategy_prefixes = strategy_prefixes
        self._rules: Optional[tuple[tuple[MarketSpec, ...], dict[str, MarketRules]]] = None  # markets → rules
        # markets → symbol → (unified symbol, contract size)
        self._names: Optional[tuple[tuple[MarketSpec, ...], dict[str, tuple[str, float]]]] = None
        # the columns of a book's legs that stay while the book does (see _fixed), by the
        # engine's column of the legs' symbols (one list per book)
        self._book_columns: Optional[tuple[list[str], _Fixed]] = None
        # the engine's numbers of the last snapshot and the positions made of them: the engine
        # hands out the same numbers while nothing they show changed
        self._last: Optional[tuple[LegNumbers, PositionsOnReading]] = None

    def positions(self, numbers: LegNumbers) -> PositionsOnReading:
        """The snapshot's positions from the engine's numbers of the legs: their columns, made
        column by column, and each :class:`Position` made when it is first read (the tick reads
        the columns alone); the last snapshot's when the numbers are the same object (nothing
        they show moved). A column holds what ``Position(symbol=..., ...)`` validates each
        field to: floats as floats (a market's integer tick makes an integer mark), PnL and the
        initial and maintenance margins at the 8 decimals the venue's face writes, no
        liquidation price as None; a field the engine has no number for is its declared default."""
        last = self._last
        if last is not None and last[0] is numbers:
            return last[1].sharing()
        fixed = self._fixed(numbers)
        # the last snapshot's legs are these legs (the same book) when the engine's column of
        # their symbols is the same list: a leg whose PnL or margins are the same floats as then
        # (its mark did not move a tick) has the same rounded number
        before = last if last is not None and last[0].symbols is numbers.symbols else None
        # the engine's legs whose mark moved since the numbers of the last snapshot, when it knows
        moved = numbers.moved if before is not None and numbers.prior == before[0].serial else None
        cols = PositionColumns.of_columns(
            symbols=fixed.symbols, sides=fixed.sides, legs=numbers.position_sides, side_keys=numbers.position_sides,
            contracts=fixed.contracts, notional=numbers.size, marks=list(map(float, numbers.marks)),
            upnl=_rounded(numbers.upnl, (before[0].upnl, before[1].columns.upnl, moved) if before else None),
            liq=[x or None for x in numbers.liq],
            margin=_rounded(numbers.im, (before[0].im, before[1].columns.margin, moved) if before else None),
            maint_margin=_rounded(numbers.mm, (before[0].mm, before[1].columns.column("maintenance_margin"), moved)
                                  if before else None))

        def make(i: int) -> Position:
            # validated (~2 µs, made only when read): a field not named here takes its default
            return Position.model_validate({
                "symbol": fixed.symbols[i], "side": fixed.sides[i], "position_side": numbers.position_sides[i],
                "contracts": fixed.contracts[i], "contract_size": fixed.contract_sizes[i],
                "notional": cols.notional[i], "entry_price": fixed.entries[i], "mark_price": cols.marks[i],
                "unrealized_pnl": cols.upnl[i], "liquidation_price": cols.liq[i], "margin": cols.margin[i],
                "maintenance_margin": cols.column("maintenance_margin")[i], "leverage": fixed.leverage[i]})

        out = PositionsOnReading(cols, make)
        self._last = (numbers, out)
        return out.sharing()

    def _fixed(self, numbers: LegNumbers) -> "_Fixed":
        """The columns of the book's legs that do not move with the marks, made once per book:
        the engine builds a book again (a new column of the legs' symbols) whenever one of its
        markets changes, so the names read with it stay right while it stands."""
        cached = self._book_columns
        if cached is not None and cached[0] is numbers.symbols:
            return cached[1]
        specs = tuple(self.engine.markets.values())
        if self._names is None or self._names[0] != specs:
            self._names = (specs, {m.symbol: (m.unified, float(m.contract_size)) for m in specs})
        named = [self._names[1][s] for s in numbers.symbols]
        fixed = _Fixed(symbols=[n[0] for n in named], contract_sizes=[n[1] for n in named],
                       sides=["long" if a > 0 else "short" for a in numbers.amounts],
                       contracts=list(map(abs, numbers.amounts)),
                       entries=[float(e) or None for e in numbers.entries],
                       leverage=list(map(float, numbers.leverage)))
        self._book_columns = (numbers.symbols, fixed)
        return fixed

    def market_rules(self, name: Callable[[MarketSpec], str]) -> dict[str, MarketRules]:
        """Unified symbol → its rules, for every market of the venue. Built once per set of
        markets (the rules are frozen values); every snapshot gets its own dict of them."""
        specs = tuple(self.engine.markets.values())
        if self._rules is None or self._rules[0] != specs:
            self._rules = (specs, {name(m): _rules(m, name(m)) for m in specs})
        return dict(self._rules[1])


    def orders(self, orders: list[SimOrder], algos: list[SimAlgoOrder]) -> list[Order]:
        """The book's open orders, then the conditional ones."""
        return [Order(
            id=str(o.order_id), client_id=o.client_order_id, symbol=self._unified(o.symbol), side=o.side.lower(),
            type=o.type.lower(), reduce_only=o.closes, amount=o.quantity, filled=o.executed_qty,
            price=o.price or None, position_side=o.position_side, strategy=self.strategy(o.client_order_id))
            for o in orders] + [self._algo_order(o) for o in algos]

    def _algo_order(self, o: SimAlgoOrder) -> Order:
        """A conditional order as the ccxt face reads it: ccxt's unified type (limit for STOP and
        TAKE_PROFIT, market for the rest), no trigger price for a trailing stop (the venue shows
        0), reducing when reduce-only, close-position or closing its hedge-mode leg."""
        trailing = o.order_type == "TRAILING_STOP_MARKET"
        return Order(
            id=str(o.algo_id), client_id=o.client_algo_id, symbol=self._unified(o.symbol), side=o.side.lower(),
            type="limit" if o.order_type in LIMIT_TYPES else "market", kind="trailing" if trailing else "conditional",
            trigger_price=o.trigger_price or None, reduce_only=o.closes, amount=o.quantity, filled=0.0,
            price=o.price or None, position_side=o.position_side, strategy=self.strategy(o.client_algo_id))

    def spot_balances(self, spot: dict[str, float], priced_at: int) -> tuple[list[Balance], float]:
        """Spot holdings and their worth, valued at the marks of ``priced_at``."""
        eng = self.engine
        by_base = {m.base: m for m in eng.markets.values()}
        balances, equity = [], 0.0
        for asset, amount in spot.items():
            if asset == "USDT":
                price: Optional[float] = 1.0
            elif asset in by_base:
                price = eng.mark(by_base[asset].symbol, at=priced_at)
            else:
                price = None
            balances.append(Balance(asset=asset, free=round(amount, 12), used=0.0, total=round(amount, 12),
                                    price=price))
            if price is not None:
                equity += amount * price
        return balances, equity

    def _unified(self, symbol: str) -> str:
        m = self.engine.markets[symbol]
        return m.unified if self.market_type == "futures" else m.spot_unified

    def strategy(self, client_id: str) -> Optional[str]:
        return strategy_of(client_id, self.strategy_prefixes)  # as the ccxt adapter and the gate read it


class KnownContracts:
    """Contracts by (symbol, leg) as the last snapshot showed them, less the adapter's own fills
    since (the legs: LONG / SHORT in hedge mode, long / short in one-way mode)."""

    def __init__(self) -> None:
        self._known: Optional[dict[tuple[str, str], float]] = None
        # the last snapshot's position columns, made into ``_known`` when an order first needs it
        self._from: Optional[PositionColumns] = None

    def seen(self, columns: PositionColumns) -> None:
        """A snapshot's positions: what is known from now on."""
        self._known, self._from = None, columns

    def contracts(self) -> Optional[dict[tuple[str, str], float]]:
        """Contracts by (symbol, leg); None before the first snapshot."""
        if self._known is None and self._from is not None:
            c = self._from
            self._known = {(symbol, self._leg_key(leg, side)): contracts
                           for symbol, leg, side, contracts in zip(c.symbols, c.side_keys, c.sides, c.contracts)}
            self._from = None
        return self._known

    def read(self, positions: list[PositionView], markets: dict[str, MarketSpec]) -> dict[tuple[str, str], float]:
        """Know the engine's ``positions`` (read without a snapshot)."""
        self._known = {(markets[p.symbol].unified, self._leg_key(p.position_side, p.side)): abs(p.amount)
                       for p in positions}
        return self._known

    def filled(self, symbol: str, leg: str, qty: float) -> None:
        """The adapter's own order filled ``qty`` of the leg."""
        known = self.contracts()
        if known is not None and qty > 0:
            k = (symbol, leg)
            known[k] = max(0.0, round(known.get(k, 0.0) - qty, 12))

    @staticmethod
    def _leg_key(position_side: Optional[str], side: str) -> str:
        return position_side if position_side in ("LONG", "SHORT") else side


__all__ = ["KnownContracts", "SnapshotParts"]


def _rules(m: MarketSpec, symbol: str) -> MarketRules:
    """``m``'s rules as ``symbol`` names it. The base asset is given only where it is not the
    symbol's own (``MarketRules`` derives it from the symbol when absent): a rule made with all
    five fields keeps a set of five field names, which Python stores in a table four times the
    size of one of four (1,055 against 543 bytes a rule; 100,000 markets of a simulated venue
    held 50 MB more for it)."""
    if m.base == base_asset(symbol):
        return MarketRules(amount_step=m.amount_step, min_amount=m.min_amount, min_notional=m.min_notional,
                           price_tick=m.price_tick)
    return MarketRules(amount_step=m.amount_step, min_amount=m.min_amount, min_notional=m.min_notional,
                       base=m.base, price_tick=m.price_tick)
