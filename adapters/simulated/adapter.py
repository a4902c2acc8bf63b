"""The in-process face of the simulated exchange: an :class:`adapters.base.ExchangeAdapter`.

:class:`SimulatedAdapter` talks to a :class:`SimExchange` directly (no sockets, no JSON), for
replay, tests and benchmarks. It behaves like a venue adapter should:

* ``snapshot()`` turns the engine's account, positions and open orders (the book's and the
  conditional ones of the algo service, each :class:`Order` with its kind and trigger price)
  into a killswitch :class:`Snapshot`; any failure becomes a snapshot with ``fetch.ok = False`` and a reason
  code, never an exception. Positions come from the engine's numbers of the legs, which are
  columns (:class:`~.views.LegNumbers`): the adapter makes the snapshot's
  :class:`~killswitch.snapshot.PositionColumns` of them column by column and hands them over
  as :class:`~killswitch.snapshot.PositionsOnReading`, whose :class:`Position` models are made
  (validated) only when someone reads them (a tick reads the columns alone). Money is
  rounded to the 8 decimals the venue's face writes, again only where a number changed; the
  last snapshot's positions are handed out again while the engine's numbers are the same
  object (nothing they show moved): ``bench/sim_snapshot.py`` measures it;
* ``submit()`` runs :func:`adapters.base.check_close` against the position it knows (its last
  snapshot, reduced by its own fills since) before anything is sent; in hedge mode it sends
  the leg (``positionSide``) and *no* ``reduceOnly`` flag, as Binance requires; a protected
  limit price becomes a LIMIT IOC order;
* ``cancel_orders()`` cancels the book's orders and the conditional ones each through its own
  calls (``entries`` keeps every order that can only reduce: reduce-only, close-position, or
  closing its hedge-mode leg);
* ``fetch_order_book()`` reads the top of a symbol's book (:mod:`.depth`), for a close the
  policy sizes against it;
* engine errors (Binance codes) map to :class:`adapters.base.Reason`;
* every engine call goes through the engine's :class:`FaultPlan` first: injected latency
  sleeps (scaled by ``time_scale``), a TIMEOUT never answers and is cut by an asyncio timeout
  of ``timeout_s``, status faults become RATE_LIMITED / EXCHANGE_UNAVAILABLE, malformed JSON
  becomes BAD_RESPONSE, a disconnect after send loses the answer of an executed order, and a
  STALE read repeats one old answer (a frozen feed) whose ``ts_event`` is its own old time or,
  stamped "now", the current time.

What it must not do: reach into engine internals beyond its public methods, read the wall
clock for anything but real sleeping, or let a library exception escape (only
:class:`AdapterError`).
"""

from __future__ import annotations

import asyncio
import math
from itertools import compress
from operator import ne
from typing import Any, Callable, NamedTuple, Optional, TypeVar

from adapters.base import (AdapterError, CancelResult, CancelSelector, Capabilities, DmsStatus, OrderResult,
                           PermissionResult, Reason, Refusal, check_close, last_look)
from killswitch.orders import OrderIntent
from killswitch.snapshot import (Balance, FetchStatus, MarketRules, Order, OrderBook, Position, PositionColumns,
                                 PositionsOnReading, Snapshot, with_positions)

from .conditional import LIMIT_TYPES, SimAlgoOrder
from .engine import MarketSpec, SimError, SimExchange, SimOrder, floor_step
from .views import LegNumbers, money, moneys
from .faults import HTTP_STATUS, FaultKind, FaultPlan, first, stale, total_latency_ms
from .permissions import READ, RESTORE, REVOKE

T = TypeVar("T")


def _bound(fn: Callable[..., T], *args: Any) -> Callable[[Optional[int]], T]:
    """``fn(*args)`` as an engine operation for ``_call``; a write ignores the read time it is given."""
    return lambda at: fn(*args)


ORDER_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
                "EXPIRED": "expired", "REJECTED": "rejected"}

_AUTH = {-1022, -2014, -2015, -1021}
_RATE = {-1003, -1015}
_INVALID = {-1013, -1100, -1102, -1106, -1111, -1115, -1116, -1117, -1130, -2021, -2025, -4003, -4005, -4006, -4013,
            -4014, -4028, -4045, -4061, -4116, -4120, -4136, -4164, -5021, -5022}


def reason_for(code: int, http_status: int = 400) -> Reason:
    """The reason code of a Binance error code (and its HTTP status)."""
    if http_status in (418, 429) or code in _RATE:
        return Reason.RATE_LIMITED
    if code in _AUTH or http_status == 401:
        return Reason.AUTH
    if code == -2022:
        return Reason.REDUCE_ONLY_REJECTED
    if code in (-2019, -2010):
        return Reason.INSUFFICIENT_MARGIN
    if code == -1121:
        return Reason.UNKNOWN_SYMBOL
    if code in (-2011, -2013):
        return Reason.ORDER_NOT_FOUND
    if code in _INVALID:
        return Reason.INVALID_ORDER
    if http_status >= 500 or code in (-1000, -1001, -1007, -1008):
        return Reason.EXCHANGE_UNAVAILABLE
    return Reason.UNKNOWN


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


async def _hang() -> None:
    """Never answer: the caller's timeout ends the wait."""
    await asyncio.Event().wait()


class SimulatedAdapter:
    """One engine account as a venue account. ``account`` is the engine account; ``name`` is
    the killswitch account name in snapshots (defaults to the engine account).

    Size: about 485 lines, the ExchangeAdapter protocol's calls over the in-process engine, each
    with the faults and latency a test injects, in the shapes the ccxt adapter returns, so that
    the contract tests run the same cases on both."""

    def __init__(self, engine: SimExchange, account: str, *, name: Optional[str] = None, venue: str = "simulated",
                 market_type: str = "futures", timeout_s: float = 5.0, faults: Optional[FaultPlan] = None,
                 labels: Optional[dict[str, str]] = None, initial_capital: Optional[float] = None,
                 strategy_prefixes: Optional[dict[str, str]] = None, time_scale: float = 1.0,
                 revoke_keys: tuple[str, ...] = ()):
        if market_type not in ("futures", "spot"):
            raise ValueError("market_type is futures or spot")
        if account not in engine.accounts:
            raise ValueError(f"engine has no account {account!r}")
        self.engine = engine
        self.engine_account = account
        self.account = name or account
        self.venue = venue
        self.market_type = market_type
        self.timeout_s = float(timeout_s)
        self.faults = faults if faults is not None else engine.faults
        self.labels = dict(labels or {})
        self.initial_capital = initial_capital
        self.strategy_prefixes = dict(strategy_prefixes or {})
        self.time_scale = time_scale
        # the bots' keys this account's revoke switches (engine.permissions; empty: no revoke)
        self.revoke_keys = tuple(revoke_keys)
        self.closed = False
        # (symbol, leg) → contracts: the last snapshot's, less our own fills since; made from
        # ``_known_from`` (the last snapshot's position columns) when an order first needs it
        self._known: Optional[dict[tuple[str, str], float]] = None
        self._known_from: Optional[PositionColumns] = None
        self._rules: Optional[tuple[tuple[MarketSpec, ...], dict[str, MarketRules]]] = None  # markets → rules
        # markets → symbol → (unified symbol, contract size)
        self._names: Optional[tuple[tuple[MarketSpec, ...], dict[str, tuple[str, float]]]] = None
        # the columns of a book's legs that stay while the book does (see _fixed), by the
        # engine's column of the legs' symbols (one list per book)
        self._book_columns: Optional[tuple[list[str], _Fixed]] = None
        # the engine's numbers of the last snapshot and the positions made of them: the engine
        # hands out the same numbers while nothing they show changed
        self._last: Optional[tuple[LegNumbers, PositionsOnReading]] = None
        self._calls = self._failed = 0
        self._latency_ms = 0.0
        self._frozen: dict[tuple[int, str], tuple[int, object]] = {}  # (stale rule, read) → (as of, answer)

    # --- capabilities --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        # the order budget is the simulated venue's own: below the engine's order limit (the
        # runner hands it to the planner, which spaces this venue's closes by it)
        futures = self.market_type == "futures"
        return Capabilities(
            positions=futures, reduce_only=futures, hedge_mode=futures and self.engine.hedge_mode(self.engine_account),
            cancel_all_after=futures, close_position=False, client_order_id=True, fetch_order_by_client_id=True,
            max_client_id_length=36, orders_per_second=max(1.0, 0.8 * self.engine.rate_limits.orders_per_second),
            revoke_trading=bool(self.revoke_keys))

    def symbols(self) -> Optional[frozenset[str]]:
        """Every market of the simulated venue, named as this account's type names it."""
        return frozenset((m.unified if self.market_type == "futures" else m.spot_unified)
                         for m in self.engine.markets.values())

    def strategy_names(self) -> frozenset[str]:
        return frozenset(self.strategy_prefixes.values())

    async def load_symbols(self) -> None:
        return None  # the simulated venue's markets are always known

    # --- plumbing ----------------------------------------------------------------------------------------

    def _market(self, symbol: str) -> MarketSpec:
        for m in self.engine.markets.values():
            if symbol in (m.unified, m.spot_unified, m.symbol):
                return m
        raise AdapterError(Reason.UNKNOWN_SYMBOL, f"{symbol}: not a market of this venue", venue=self.venue)

    def _unified(self, symbol: str) -> str:
        m = self.engine.markets[symbol]
        return m.unified if self.market_type == "futures" else m.spot_unified

    async def _call(self, op: str, fn: Callable[[Optional[int]], T], *, order: bool = False,
                    stamps: Optional[list] = None) -> T:
        """One engine operation behind the fault plan and the adapter's timeout. ``fn`` gets
        the time to read state at (None: now; a time in the past for a stale fault). The time
        the venue would stamp the answer with is appended to ``stamps``."""
        if order:  # the moment an order leaves: the caller's send gate has the last word
            last_look(op, self.venue)
        now = self.engine.now()
        faults = self.faults.match(op, now, account=self.engine_account)
        self._calls += 1
        try:
            return await asyncio.wait_for(self._run(op, faults, fn, now, order, stamps), self.timeout_s)
        except asyncio.TimeoutError:
            self._failed += 1
            raise AdapterError(Reason.TIMEOUT, f"{op}: no answer within {self.timeout_s:g}s; the outcome is unknown",
                               venue=self.venue) from None
        except AdapterError:
            self._failed += 1
            raise

    async def _run(self, op: str, faults: list, fn: Callable[[Optional[int]], T], now: int, order: bool,
                   stamps: Optional[list]) -> T:
        lat = total_latency_ms(faults)
        self._latency_ms += lat
        if lat:
            if lat >= self.timeout_s * 1000:
                await _hang()
            # real sleeping is scaled and kept clear of the timeout, so the outcome is decided
            # by the simulated latency alone
            await asyncio.sleep(min(lat / 1000 * self.time_scale, 0.8 * self.timeout_s))
        status = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
        if status is not None:
            code = HTTP_STATUS[status.kind]
            if code in (418, 429):
                raise AdapterError(Reason.RATE_LIMITED, f"{op}: HTTP {code} (injected)", venue=self.venue,
                                   retry_after_s=status.retry_after_s if status.retry_after_s is not None else 1.0)
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, f"{op}: HTTP {code} (injected)", venue=self.venue)
        if order and first(faults, FaultKind.REJECT_REDUCE_ONLY):
            raise AdapterError(Reason.REDUCE_ONLY_REJECTED, f"{op}: -2022 ReduceOnly Order is rejected. (injected)",
                               venue=self.venue)
        timeout = first(faults, FaultKind.TIMEOUT)
        if timeout is not None and not timeout.applied:
            await _hang()
        st = None if order else stale(faults)
        try:
            if st is None:
                result, as_of = fn(None), now
            else:
                # a frozen feed: the first stale read of this rule is the answer from stale_ms
                # ago; every later one repeats it
                frozen = self._frozen.get((st.rule, op))
                if frozen is None:
                    frozen = self._frozen[(st.rule, op)] = (now - st.stale_ms, fn(now - st.stale_ms))
                as_of, result = frozen  # type: ignore[assignment]
            if stamps is not None:
                stamps.append(now if st is not None and st.stamp == "now" else as_of)
        except SimError as e:
            raise AdapterError(reason_for(e.code, e.http_status), f"{op}: {e.code} {e.msg}", venue=self.venue,
                               retry_after_s=e.retry_after_s) from None
        if timeout is not None:
            await _hang()
        if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, f"{op}: connection reset after the request was sent; "
                               "the outcome is unknown", venue=self.venue)
        if first(faults, FaultKind.MALFORMED_JSON):
            raise AdapterError(Reason.BAD_RESPONSE, f"{op}: malformed JSON in the answer", venue=self.venue)
        if first(faults, FaultKind.HIDE_FROM_NEXT_QUERY) and isinstance(result, SimOrder):
            self.engine.hide_from_next_query(self.engine_account, result.order_id)
        return result

    # --- snapshot ------------------------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        self._calls = self._failed = 0
        self._latency_ms = 0.0
        eng, acct = self.engine, self.engine_account
        now = eng.now()
        ats: list[int] = []  # the time each read is stamped with

        try:
            view = await self._call("account", lambda at: eng.account_state(acct, at=at), stamps=ats)
            if self.market_type == "futures":
                positions = await self._call("positions", lambda at: eng.position_numbers(acct, at=at), stamps=ats)
                orders = await self._call("open_orders", lambda at: eng.open_orders(acct))
                algos = (await self._call("open_algo_orders", lambda at: eng.open_algo_orders(acct))
                         if eng.has_algo_orders(acct) else [])
            else:
                positions, orders, algos = None, [], []
        except AdapterError as e:
            return Snapshot(venue=self.venue, account=self.account, market_type=self.market_type, ts_event=now,
                            ts_observed=eng.now(), labels=self.labels, initial_capital=self.initial_capital,
                            fetch=FetchStatus(ok=False, error_code=e.reason.value, error=e.message,
                                              latency_ms=self._latency_ms, calls=self._calls,
                                              failed_calls=self._failed))
        fetch = FetchStatus(ok=True, latency_ms=self._latency_ms, calls=self._calls, failed_calls=self._failed)
        ts_event = min(ats) if ats else now
        if self.market_type == "spot":
            return self._spot_snapshot(view, view.update_time, ts_event, fetch)
        assert positions is not None  # futures
        pos = self._positions(positions)
        self._known, self._known_from = None, pos.columns
        ords = [Order(
            id=str(o.order_id), client_id=o.client_order_id, symbol=self._unified(o.symbol), side=o.side.lower(),
            type=o.type.lower(), reduce_only=o.closes, amount=o.quantity, filled=o.executed_qty,
            price=o.price or None, position_side=o.position_side, strategy=self._strategy(o.client_order_id))
            for o in orders] + [self._algo_order(o) for o in algos]
        markets = self._market_rules(lambda m: m.unified)
        used = max(0.0, view.equity - view.available)
        return with_positions(Snapshot(
            venue=self.venue, account=self.account, market_type="futures", ts_event=ts_event, ts_observed=eng.now(),
            equity=money(view.equity), quote_currency="USDT",
            balances=[Balance(asset="USDT", free=money(view.available), used=money(used),
                              total=money(view.equity))],
            orders=ords, fetch=fetch, labels=self.labels,
            initial_capital=self.initial_capital), pos, markets)  # its positions as built, with their columns

    def _algo_order(self, o: SimAlgoOrder) -> Order:
        """A conditional order as the ccxt face reads it: ccxt's unified type (limit for STOP and
        TAKE_PROFIT, market for the rest), no trigger price for a trailing stop (the venue shows
        0), reducing when reduce-only, close-position or closing its hedge-mode leg."""
        trailing = o.order_type == "TRAILING_STOP_MARKET"
        return Order(
            id=str(o.algo_id), client_id=o.client_algo_id, symbol=self._unified(o.symbol), side=o.side.lower(),
            type="limit" if o.order_type in LIMIT_TYPES else "market", kind="trailing" if trailing else "conditional",
            trigger_price=o.trigger_price or None, reduce_only=o.closes, amount=o.quantity, filled=0.0,
            price=o.price or None, position_side=o.position_side, strategy=self._strategy(o.client_algo_id))

    def _positions(self, numbers: LegNumbers) -> PositionsOnReading:
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

    def _spot_snapshot(self, view, priced_at: int, ts_event: int, fetch: FetchStatus) -> Snapshot:
        """Spot holdings valued at the marks of ``priced_at`` (the balances' own time: a frozen
        feed repeats its prices too)."""
        eng = self.engine
        by_base = {m.base: m for m in eng.markets.values()}
        balances, equity = [], 0.0
        for asset, amount in view.spot.items():
            if asset == "USDT":
                price = 1.0
            elif asset in by_base:
                price = eng.mark(by_base[asset].symbol, at=priced_at)
            else:
                price = None
            balances.append(Balance(asset=asset, free=round(amount, 12), used=0.0, total=round(amount, 12),
                                    price=price))
            if price is not None:
                equity += amount * price
        markets = self._market_rules(lambda m: m.spot_unified)
        return Snapshot(venue=self.venue, account=self.account, market_type="spot", ts_event=ts_event,
                        ts_observed=eng.now(), equity=money(equity), quote_currency="USDT", balances=balances,
                        fetch=fetch, labels=self.labels, markets=markets, initial_capital=self.initial_capital)

    def _market_rules(self, name: Callable[[MarketSpec], str]) -> dict[str, MarketRules]:
        """Unified symbol → its rules, for every market of the venue. Built once per set of
        markets (the rules are frozen values); every snapshot gets its own dict of them."""
        specs = tuple(self.engine.markets.values())
        if self._rules is None or self._rules[0] != specs:
            self._rules = (specs, {name(m): MarketRules(amount_step=m.amount_step, min_amount=m.min_amount,
                                                        min_notional=m.min_notional, base=m.base,
                                                        price_tick=m.price_tick) for m in specs})
        return dict(self._rules[1])

    def _strategy(self, client_id: str) -> Optional[str]:
        for prefix, name in self.strategy_prefixes.items():
            if client_id.startswith(prefix):
                return name
        return None

    @staticmethod
    def _leg_key(position_side: Optional[str], side: str) -> str:
        return position_side if position_side in ("LONG", "SHORT") else side

    # --- orders ----------------------------------------------------------------------------------------------

    def _contracts(self) -> Optional[dict[tuple[str, str], float]]:
        """Contracts by (symbol, leg) as the last snapshot showed them, less our fills since; None
        before the first snapshot."""
        if self._known is None and self._known_from is not None:
            c = self._known_from
            self._known = {(symbol, self._leg_key(leg, side)): contracts
                           for symbol, leg, side, contracts in zip(c.symbols, c.side_keys, c.sides, c.contracts)}
            self._known_from = None
        return self._known

    async def _position_contracts(self, symbol: str, leg: str) -> Optional[float]:
        known = self._contracts()
        if known is None:
            eng, acct = self.engine, self.engine_account
            positions = await self._call("positions", lambda at: eng.positions(acct, at=at))
            known = self._known = {(eng.markets[p.symbol].unified, self._leg_key(p.position_side, p.side)):
                                   abs(p.amount) for p in positions}
        return known.get((symbol, leg))

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        """The top ``depth`` levels a side of ``symbol``'s book (op ``depth`` for faults); empty
        sides for a market the engine gives no depth model."""
        m = self._market(symbol)
        bids, asks, ts = await self._call("depth", lambda at: self.engine.order_book(m.symbol, depth))
        return OrderBook(bids=tuple(bids), asks=tuple(asks), ts=ts)

    async def submit(self, intent: OrderIntent) -> OrderResult:
        eng, acct = self.engine, self.engine_account
        m = self._market(intent.symbol)
        side = intent.side.lower()
        if side not in ("buy", "sell"):
            raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: side {intent.side!r}", venue=self.venue)
        if self.market_type == "spot":
            check_close(intent, "spot", None, self.venue)
            qty = floor_step(intent.amount, m.amount_step)
            if qty <= 0:
                raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: {intent.amount:g} is below one amount step",
                                   venue=self.venue)
            price = self._protect(m, side, intent.limit_price)
            o = await self._call("place_order", lambda at: eng.place_spot_order(
                acct, m.symbol, side.upper(), qty, price, client_order_id=intent.client_order_id), order=True)
            return self._result(o)
        hedge = eng.hedge_mode(acct)
        sym = m.unified
        if hedge:
            ps = intent.position_side or ("LONG" if side == "sell" else "SHORT")
            leg = ps
        else:
            ps = None
            leg = "long" if side == "sell" else "short"
        contracts = await self._position_contracts(sym, leg) if intent.reduce_only else None
        check_close(intent, "futures", contracts, self.venue)
        if hedge and not ((ps == "LONG" and side == "sell") or (ps == "SHORT" and side == "buy")):
            raise AdapterError(Reason.NOT_REDUCE_ONLY, f"{sym}: {side} on the {ps} leg would open, not close",
                               venue=self.venue)
        qty = floor_step(intent.amount, m.amount_step)
        if qty <= 0:
            raise AdapterError(Reason.INVALID_ORDER, f"{sym}: {intent.amount:g} is below one amount step",
                               venue=self.venue)
        price = self._protect(m, side, intent.limit_price)
        o = await self._call("place_order", lambda at: eng.place_order(
            acct, m.symbol, side.upper(), "LIMIT" if price else "MARKET", qty, price,
            time_in_force="IOC" if price else None, reduce_only=None if hedge else True,
            position_side=ps if hedge else None, client_order_id=intent.client_order_id), order=True)
        known = self._contracts()
        if known is not None and o.executed_qty > 0:
            k = (sym, leg)
            known[k] = max(0.0, round(known.get(k, 0.0) - o.executed_qty, 12))
        return self._result(o)

    @staticmethod
    def _protect(m: MarketSpec, side: str, limit: Optional[float]) -> Optional[float]:
        """The protected price on the tick grid, never looser than asked: a sell's floor rounds
        up, a buy's cap rounds down."""
        if limit is None:
            return None
        n = limit / m.price_tick
        n = math.ceil(n - 1e-9) if side == "sell" else math.floor(n + 1e-9)
        return round(max(1, n) * m.price_tick, m.price_decimals)

    def _result(self, o: SimOrder) -> OrderResult:
        return OrderResult(client_order_id=o.client_order_id, order_id=str(o.order_id),
                           status=ORDER_STATUS.get(o.status, o.status.lower()), filled=o.executed_qty,
                           amount=o.quantity,
                           average_price=o.avg_price if o.executed_qty > 0 else None, fee=round(o.fee, 10),
                           ts_ms=o.update_time)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        eng, acct = self.engine, self.engine_account
        m = self._market(symbol)
        if self.market_type == "spot":
            o = await self._call("get_order", lambda at: eng.get_spot_order(acct, client_order_id))
        else:
            o = await self._call("get_order", lambda at: eng.get_order(acct, m.symbol, client_order_id=client_order_id))
        return self._result(o)

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        if self.market_type == "spot":
            return CancelResult(canceled=())  # spot orders never rest on this venue
        eng, acct = self.engine, self.engine_account
        # the book's orders and the algo service's (stops, take-profits, trailing stops), each
        # cancelled through its own calls as the venue requires
        listed = await self._call("open_orders", lambda at: eng.open_orders(acct))
        algos = (await self._call("open_algo_orders", lambda at: eng.open_algo_orders(acct))
                 if eng.has_algo_orders(acct) else [])
        wanted_symbols = {self._market(s).symbol for s in selector.symbols}
        every: list[tuple[str, str, bool, bool]] = (  # (id, venue symbol, conditional, can only reduce)
            [(str(o.order_id), o.symbol, False, o.closes) for o in listed]
            + [(str(o.algo_id), o.symbol, True, o.closes) for o in algos])
        if selector.order_ids:
            ids = set(selector.order_ids)
            targets = [t for t in every if t[0] in ids]
        else:
            targets = [t for t in every if not wanted_symbols or t[1] in wanted_symbols]
            if selector.which == "entries":
                targets = [t for t in targets if not t[3]]
        canceled: list[str] = []
        failed: dict[str, str] = {}
        if selector.order_ids:
            for oid in selector.order_ids:
                if oid not in {t[0] for t in targets}:
                    failed[oid] = Reason.ORDER_NOT_FOUND.value
        if selector.which == "all" and not selector.order_ids:
            for symbol, algo in sorted({(t[1], t[2]) for t in targets}):
                symbol_ids = [t[0] for t in targets if t[1] == symbol and t[2] == algo]
                try:
                    if algo:
                        done_ids = {str(o.algo_id) for o in await self._call(
                            "cancel_all_algo", _bound(eng.cancel_all_algo, acct, symbol))}
                    else:
                        done_ids = {str(o.order_id) for o in await self._call(
                            "cancel_all", _bound(eng.cancel_all, acct, symbol))}
                except AdapterError as e:
                    failed.update({i: e.reason.value for i in symbol_ids})
                    continue
                canceled += [i for i in symbol_ids if i in done_ids]
                failed.update({i: Reason.ORDER_NOT_FOUND.value for i in symbol_ids if i not in done_ids})
        else:
            for oid, symbol, algo, _ in targets:
                try:
                    if algo:
                        await self._call("cancel_algo_order", _bound(eng.cancel_algo_order, acct, int(oid)))
                    else:
                        await self._call("cancel_order", _bound(eng.cancel_order, acct, symbol, int(oid)))
                    canceled.append(oid)
                except AdapterError as e:
                    failed[oid] = e.reason.value
        return CancelResult(canceled=tuple(canceled), failed=failed)

    # --- dead man's switch ------------------------------------------------------------------------------------

    def _dms_symbols(self, symbols: tuple[str, ...]) -> list[str]:
        if symbols:
            return [self._market(s).symbol for s in symbols]
        return sorted(self.engine.markets)

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        if self.market_type != "futures":
            return DmsStatus(armed=False, supported=False)
        if seconds <= 0:
            raise AdapterError(Reason.INVALID_ORDER, "a countdown must be positive; disarm to stop it",
                               venue=self.venue)
        eng, acct = self.engine, self.engine_account
        ms = int(round(seconds * 1000))
        for s in self._dms_symbols(symbols):
            await self._call("countdown", _bound(eng.countdown_cancel_all, acct, s, ms))
        return DmsStatus(armed=True, seconds=ms / 1000)

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        if self.market_type != "futures":
            return DmsStatus(armed=False, supported=False)
        eng, acct = self.engine, self.engine_account
        for s in self._dms_symbols(symbols):
            await self._call("countdown", _bound(eng.countdown_cancel_all, acct, s, 0))

        return DmsStatus(armed=False)

    # --- the venue's switch of the bots' keys ------------------------------------------------------------

    async def set_trading(self, allowed: bool) -> PermissionResult:
        """Allow or revoke the bots' keys (``revoke_keys``) in the engine, behind the fault plan
        (``revoke_trading`` / ``restore_trading``) and the send gate, as the ccxt adapter does."""
        keys = self._revoke_keys()
        if self.engine.accounts[self.engine_account].spec.api_key in keys:
            raise AdapterError(Reason.REVOKE_OWN_KEY, f"{self.account}: the runner's own key is among the keys "
                               "to revoke", venue=self.venue)
        perms = self.engine.permissions
        try:
            states, refused = await self._call(RESTORE if allowed else REVOKE,
                                               lambda at: perms.switch(keys, allowed), order=True)
        except AdapterError as e:
            return PermissionResult(states={k: "unknown" for k in keys}, failures={k: (e.reason, e.message)
                                                                                   for k in keys})
        return PermissionResult(states=states, refusals={k: Refusal(*r) for k, r in refused.items()})

    async def read_trading(self) -> PermissionResult:
        keys = self._revoke_keys()
        try:
            states = await self._call(READ, lambda at: self.engine.permissions.read(keys))
        except AdapterError as e:
            return PermissionResult(states={k: "unknown" for k in keys}, failures={k: (e.reason, e.message)
                                                                                   for k in keys})
        return PermissionResult(states=states)

    def _revoke_keys(self) -> tuple[str, ...]:
        if not self.revoke_keys:
            raise AdapterError(Reason.REVOKE_UNSUPPORTED, f"{self.account}: no keys to revoke (revoke_keys)",
                               venue=self.venue)
        return self.revoke_keys

    async def close(self) -> None:
        self.closed = True


__all__ = ["SimulatedAdapter", "reason_for", "ORDER_STATUS"]
