"""The in-process face of the simulated exchange: an :class:`adapters.base.ExchangeAdapter`.

:class:`SimulatedAdapter` talks to a :class:`SimExchange` directly (no sockets, no JSON), for
replay, tests and benchmarks. It behaves like a venue adapter should:

* ``snapshot()`` turns the engine's account, positions and open orders (the book's and the
  algo service's) into a killswitch :class:`Snapshot` (its contents: :mod:`.snapshot`);
  any failure becomes a snapshot with ``fetch.ok = False`` and a reason code, never an exception;
* ``submit()`` runs :func:`adapters.base.check_close` against the position it knows (its last
  snapshot, reduced by its own fills since) before anything is sent; in hedge mode it sends
  the leg (``positionSide``) and *no* ``reduceOnly`` flag, as Binance requires; a protected
  limit price becomes a LIMIT IOC order;
* ``cancel_orders()`` cancels the book's orders and the conditional ones each through its own
  calls (``entries`` keeps every order that can only reduce: reduce-only, close-position, or
  closing its hedge-mode leg);
* ``fetch_order_book()`` reads the top of a symbol's book (:mod:`..depth`), for a close the
  policy sizes against it;
* every engine call goes through the adapter's :class:`FaultPlan` (the engine's unless handed
  one) and its timeout, ``timeout_s``, and engine errors (Binance codes) map to
  :class:`adapters.base.Reason` (:mod:`.calls`, which says how each fault is answered).

What it must not do: reach into engine internals beyond its public methods, read the wall
clock for anything but real sleeping, or let a library exception escape (only
:class:`AdapterError`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, TypeVar

from adapters.base import (
    AdapterError,
    Capabilities,
    DmsStatus,
    ExchangeAdapter,
    OrderResult,
    PermissionResult,
    Reason,
    Refusal,
    check_close,
)
from killswitch.fills import Fill
from killswitch.orders import OrderIntent
from killswitch.snapshot import Balance, FetchStatus, OrderBook, Snapshot, with_positions

from ..engine import MarketSpec, SimExchange, SimOrder, floor_step
from ..faults import FaultPlan
from ..permissions import READ, RESTORE, REVOKE
from ..views import AccountView, money
from .calls import EngineCalls
from .cancels import SimCancels, bound as _bound
from .snapshot import KnownContracts, SnapshotParts

T = TypeVar("T")


ORDER_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
                "EXPIRED": "expired", "REJECTED": "rejected"}


class SimulatedAdapter(SimCancels, ExchangeAdapter):
    """One engine account as a venue account. ``account`` is the engine account; ``name`` is
    the killswitch account name in snapshots (defaults to the engine account).

    It answers in the shapes the ccxt adapter returns, so that the contract tests run the same
    cases on both."""

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
        # the strategies its snapshots say it declares: None when not given (not known)
        self._strategies = None if strategy_prefixes is None else tuple(sorted(set(strategy_prefixes.values())))
        self.time_scale = time_scale
        # the bots' keys this account's revoke switches (engine.permissions; empty: no revoke)
        self.revoke_keys = tuple(revoke_keys)
        self.closed = False
        self.known = KnownContracts()  # (symbol, leg) → contracts: the last snapshot's, less our own fills since
        # the engine operations behind the fault plan, and the snapshots' contents made of their answers
        self.calls = EngineCalls(engine, account, venue)
        self.parts = SnapshotParts(engine, market_type, self.strategy_prefixes)
        self._symbols: Optional[tuple[tuple[MarketSpec, ...], frozenset[str]]] = None  # (the markets, their names)

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
        """Every market of the simulated venue, named as this account's type names it: the same
        set while the venue's markets are the same (the catalog of names asks at every tick)."""
        specs = tuple(self.engine.markets.values())
        known = self._symbols
        if known is None or known[0] != specs:  # (the specs compared by identity first, in C)
            known = self._symbols = (specs, frozenset(
                (m.unified if self.market_type == "futures" else m.spot_unified) for m in specs))
        return known[1]

    def strategy_names(self) -> frozenset[str]:
        return frozenset(self.strategy_prefixes.values())

    def client_id_prefixes(self) -> dict[str, str]:
        return dict(self.strategy_prefixes)

    async def load_symbols(self) -> None:
        return None  # the simulated venue's markets are always known

    # --- plumbing ----------------------------------------------------------------------------------------

    def _market(self, symbol: str) -> MarketSpec:
        for m in self.engine.markets.values():
            if symbol in (m.unified, m.spot_unified, m.symbol):
                return m
        raise AdapterError(Reason.UNKNOWN_SYMBOL, f"{symbol}: not a market of this venue", venue=self.venue)

    async def _call(self, op: str, fn: Callable[[Optional[int]], T], *, order: bool = False,
                    stamps: Optional[list] = None) -> T:
        return await self.calls.call(op, fn, self.faults, self.timeout_s, self.time_scale, order=order, stamps=stamps)

    # --- snapshot ------------------------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        self.calls.reset()
        eng, acct = self.engine, self.engine_account
        now = eng.now()
        ats: list[int] = []  # the time each read is stamped with

        try:
            view = await self._call("account", lambda at: eng.account_state(acct, at=at), stamps=ats)
            if self.market_type == "futures":
                positions = await self._call("positions", lambda at: eng.position_numbers(acct, at=at), stamps=ats)
                orders, algos = await self._listed()
            else:
                positions, orders, algos = None, [], []
        except AdapterError as e:
            return Snapshot(venue=self.venue, account=self.account, market_type=self.market_type, ts_event=now,
                            ts_observed=eng.now(), labels=self.labels, initial_capital=self.initial_capital,
                            strategies=self._strategies,
                            fetch=FetchStatus(ok=False, error_code=e.reason.value, error=e.message,
                                              latency_ms=self.calls.latency_ms, calls=self.calls.count,
                                              failed_calls=self.calls.failed))
        fetch = FetchStatus(ok=True, latency_ms=self.calls.latency_ms, calls=self.calls.count,
                            failed_calls=self.calls.failed)
        ts_event = min(ats) if ats else now
        if self.market_type == "spot":
            return self._spot_snapshot(view, ts_event, fetch)
        assert positions is not None  # futures
        pos = self.parts.positions(positions)
        self.known.seen(pos.columns)
        markets = self.parts.market_rules(lambda m: m.unified)
        used = max(0.0, view.equity - view.available)
        return with_positions(Snapshot(
            venue=self.venue, account=self.account, market_type="futures", ts_event=ts_event, ts_observed=eng.now(),
            ts_source="venue", equity=money(view.equity), quote_currency="USDT",
            balances=[Balance(asset="USDT", free=money(view.available), used=money(used),
                              total=money(view.equity))],
            orders=self.parts.orders(orders, algos), fetch=fetch, labels=self.labels,
            initial_capital=self.initial_capital, strategies=self._strategies),
            pos, markets)  # its positions as built, with their columns

    def _spot_snapshot(self, view: AccountView, ts_event: int, fetch: FetchStatus) -> Snapshot:
        """Spot holdings valued at the marks of the balances' own time (a frozen feed repeats
        its prices too)."""
        balances, equity = self.parts.spot_balances(view.spot, view.update_time)
        markets = self.parts.market_rules(lambda m: m.spot_unified)
        return Snapshot(venue=self.venue, account=self.account, market_type="spot", ts_event=ts_event,
                        ts_observed=self.engine.now(), ts_source="venue", equity=money(equity), quote_currency="USDT",
                        balances=balances, fetch=fetch, labels=self.labels, markets=markets,
                        initial_capital=self.initial_capital, strategies=self._strategies)

    # --- orders ----------------------------------------------------------------------------------------------

    async def _position_contracts(self, symbol: str, leg: str) -> Optional[float]:
        known = self.known.contracts()
        if known is None:  # no snapshot yet: the engine's positions
            eng, acct = self.engine, self.engine_account
            known = self.known.read(await self._call("positions", lambda at: eng.positions(acct, at=at)), eng.markets)
        return known.get((symbol, leg))

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        """The top ``depth`` levels a side of ``symbol``'s book (op ``depth`` for faults); empty
        sides for a market the engine gives no depth model."""
        m = self._market(symbol)
        bids, asks, ts = await self._call("depth", lambda at: self.engine.order_book(m.symbol, depth))
        return OrderBook(bids=tuple(bids), asks=tuple(asks), ts=ts)

    def _quantity(self, m: MarketSpec, symbol: str, amount: float) -> float:
        """``amount`` floored to the market's step; INVALID_ORDER below one step."""
        qty = floor_step(amount, m.amount_step)
        if qty <= 0:
            raise AdapterError(Reason.INVALID_ORDER, f"{symbol}: {amount:g} is below one amount step", venue=self.venue)
        return qty

    async def submit(self, intent: OrderIntent) -> OrderResult:
        eng, acct = self.engine, self.engine_account
        m = self._market(intent.symbol)
        side = intent.side.lower()
        if side not in ("buy", "sell"):
            raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: side {intent.side!r}", venue=self.venue)
        if self.market_type == "spot":
            check_close(intent, "spot", None, self.venue)
            qty = self._quantity(m, intent.symbol, intent.amount)
            price = self._protect(m, side, intent.limit_price)
            o = await self._call("place_order", lambda at: eng.place_spot_order(
                acct, m.symbol, side.upper(), qty, price, client_order_id=intent.client_order_id), order=True)
            return self._result(o)
        hedge = eng.hedge_mode(acct)
        sym = m.unified
        ps = (intent.position_side or ("LONG" if side == "sell" else "SHORT")) if hedge else None
        leg = ps or ("long" if side == "sell" else "short")
        contracts = await self._position_contracts(sym, leg) if intent.reduce_only else None
        check_close(intent, "futures", contracts, self.venue)
        if hedge and not ((ps == "LONG" and side == "sell") or (ps == "SHORT" and side == "buy")):
            raise AdapterError(Reason.NOT_REDUCE_ONLY, f"{sym}: {side} on the {ps} leg would open, not close",
                               venue=self.venue)
        qty = self._quantity(m, sym, intent.amount)
        price = self._protect(m, side, intent.limit_price)
        o = await self._call("place_order", lambda at: eng.place_order(
            acct, m.symbol, side.upper(), "LIMIT" if price else "MARKET", qty, price,
            time_in_force="IOC" if price else None, reduce_only=None if hedge else True,
            position_side=ps, client_order_id=intent.client_order_id), order=True)
        self.known.filled(sym, leg, o.executed_qty)
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
        # the taker fee the engine charged, in the market's quote (as a venue's answer reports it)
        spec = self.engine.markets.get(o.symbol)
        fee = round(o.fee, 10)
        return OrderResult(client_order_id=o.client_order_id, order_id=str(o.order_id),
                           status=ORDER_STATUS.get(o.status, o.status.lower()), filled=o.executed_qty,
                           amount=o.quantity,
                           average_price=o.avg_price if o.executed_qty > 0 else None, fee=fee,
                           ts_ms=o.update_time, fees=((fee, spec.quote if spec is not None else None),))

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        eng, acct = self.engine, self.engine_account
        m = self._market(symbol)
        if self.market_type == "spot":
            o = await self._call("get_order", lambda at: eng.get_spot_order(acct, client_order_id))
        else:
            o = await self._call("get_order", lambda at: eng.get_order(acct, m.symbol, client_order_id=client_order_id))
        return self._result(o)

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """The account's fills of ``symbol`` since ``since_ms``, each with its order's client
        order id and the strategy of its prefix (futures; spot has no position to grow)."""
        eng, acct = self.engine, self.engine_account
        m = self._market(symbol)
        if self.market_type == "spot":
            raise AdapterError(Reason.UNSUPPORTED, f"{symbol}: no read of the account's spot trades", venue=self.venue)
        rows = await self._call("trades", lambda at: eng.trades(acct, m.symbol, since_ms))
        orders = eng.accounts[acct].orders
        out = []
        for t in rows:
            o = orders.get(t["order"])
            cid = o.client_order_id if o is not None else None
            out.append(Fill(id=str(t["id"]), order_id=str(t["order"]), client_id=cid, symbol=m.unified,
                            side=str(t["side"]).lower(), amount=float(t["qty"]), price=float(t["price"]),
                            ts_ms=int(t["ts"]),
                            position_side=t["position_side"] if t["position_side"] in ("LONG", "SHORT") else None,
                            strategy=self.parts.strategy(cid) if cid else None))
        return out

    # --- dead man's switch ------------------------------------------------------------------------------------

    async def _countdown(self, symbols: tuple[str, ...], ms: int) -> list[str]:
        """Each of ``symbols`` (every market when none) counted down from ``ms`` (0: disarmed)."""
        named = [self._market(s).symbol for s in symbols] if symbols else sorted(self.engine.markets)
        for s in named:
            await self._call("countdown", _bound(self.engine.countdown_cancel_all, self.engine_account, s, ms))
        return named

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        if self.market_type != "futures":
            return DmsStatus(armed=False, supported=False)
        if seconds <= 0:
            raise AdapterError(Reason.INVALID_ORDER, "a countdown must be positive; disarm to stop it",
                               venue=self.venue)
        ms = int(round(seconds * 1000))
        armed = await self._countdown(symbols, ms)
        return DmsStatus(armed=True, seconds=ms / 1000, symbols=tuple(armed))

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        if self.market_type != "futures":
            return DmsStatus(armed=False, supported=False)
        await self._countdown(symbols, 0)
        return DmsStatus(armed=False)

    # --- the venue's switch of the bots' keys ------------------------------------------------------------

    @property
    def trading_keys(self) -> tuple[str, ...]:
        return self.revoke_keys

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


__all__ = ["SimulatedAdapter", "ORDER_STATUS"]
