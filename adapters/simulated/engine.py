"""The simulated exchange's engine: accounts, markets, marks, orders, fills and positions.

:class:`SimExchange` is a deterministic model of a Binance USDⓈ-M futures venue (plus a small
spot book per account). It owns every piece of exchange state and every exchange rule the
kill switch depends on:

* markets with amount step, price tick, minimum amount and notional, contract size 1 and a
  maximum leverage; mark prices from scripted price paths (:mod:`.paths`) of elapsed time;
* accounts with an API key and secret, a USDT wallet, one-way or hedge position mode,
  leverage per symbol, spot balances;
* market and limit orders (GTC, IOC, FOK, GTX), reduce-only, ``positionSide`` in hedge mode,
  ``newClientOrderId`` unique per account (-4116 on a duplicate), fills at the mark with a
  slippage model that grows with size or, for a symbol given a depth model, by walking its
  order book (:mod:`.depth`: levels around the mark that refill over time), an optional fill
  ratio (partial fills: a thin book, every order filling that fraction of itself on arrival,
  rounded down to the step) whose remainder expires (IOC, market) or, with
  ``rest_remainder``, stays open on the book until cancelled, whatever the order's time in
  force (a venue that works what it could not fill rather than killing it), taker fees,
  realized PnL into the wallet, equity = wallet + unrealized PnL, margin and a liquidation
  price estimate (the views: :mod:`.views` prices an account's legs, once per change of a
  mark, a leg or the wallet, so that an account of 10,000 legs is cheap to read again);
* the reduce-only rules exactly: larger than the position, or on the wrong side, is -2022; in
  hedge mode the ``reduceOnly`` parameter itself is refused (-1106) and a close is the
  opposite side on a leg, no larger than that leg;
* per-account rate limits (orders per second → 429 -1015, request weight per minute → 429
  -1003, repeated 429s → 418 ban) and the countdown cancel-all (``countdownCancelAll``),
  evaluated on every engine call at the deadline's time;
* conditional orders (stop, take-profit, trailing stop) in an algo service of their own, as
  Binance keeps them (:mod:`.conditional`): placed, listed, read and cancelled apart from the
  book, triggered when the mark crosses their trigger price into a regular order; their types
  on the regular order call are refused (-4120);
* change hooks (:meth:`SimExchange.on_change`, shapes in :mod:`.changes`): a listener learns,
  synchronously and stamped with the engine clock, that an order was accepted, traded,
  cancelled or expired, that an account's wallet or legs changed, or that a mark was set — what
  a pushing face (:mod:`.stream`) renders as the venue's events.

Errors are :class:`SimError` with Binance's code, message and HTTP status, so both faces
(in-process adapter, HTTP server) report them the same way.

What it must not do: read the wall clock (time comes from the injected ``clock``), draw
unseeded randomness, do I/O, or know about HTTP, JSON or killswitch types. Fault injection
is interpreted by the faces; the engine only keeps the shared :class:`FaultPlan` and the
"hide from the next query" marks that a fault asks for.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from .changes import AccountChanged, AlgoChanged, Change, LegState, Listener, MarkSet, OrderChanged
from .depth import DepthModel, SimBook
from .faults import FaultPlan
from .paths import Flat, PricePath
from .permissions import SimPermissions
# the venue's rules live in .rules (shared with .conditional); re-exported here, where the faces
# and the tests import them
from .rules import (  # noqa: F401
    SimError, TOO_MANY_REQUESTS, TOO_MANY_ORDERS, ILLEGAL_CHARS, MANDATORY_PARAM, PARAM_NOT_REQUIRED,
    PRECISION, INVALID_TIF, INVALID_ORDER_TYPE, INVALID_SIDE, INVALID_SYMBOL, INVALID_PARAM,
    INSUFFICIENT_BALANCE, UNKNOWN_ORDER, NO_SUCH_ORDER, MARGIN_INSUFFICIENT, REDUCE_ONLY_REJECTED,
    MAX_OPEN_ORDERS, QTY_NOT_POSITIVE, QTY_TOO_LARGE, PRICE_TOO_LOW, TICK_SIZE, LEVERAGE_INVALID,
    NO_NEED_TO_CHANGE_SIDE, POSITION_SIDE_MISMATCH, SIDE_CHANGE_OPEN_ORDERS, SIDE_CHANGE_POSITIONS,
    DUPLICATE_CLIENT_ID, NOTIONAL_TOO_SMALL, POST_ONLY_REJECTED, ALGO_ONLY_TYPE, ALGO_ONLY_TYPES,
    CLIENT_ID_RE, EPS, MAX_OPEN_ORDERS_PER_SYMBOL, decimals, on_grid, floor_step, _round_px, _clean,
    MarketSpec, SimOrder,
)
from .views import AccountView, Book, LegNumbers, OpenLeg, PositionView, Pricing

if TYPE_CHECKING:
    from .conditional import SimAlgoOrder

Clock = Callable[[], int]


class ManualClock:
    """A clock that moves only when told: ``clock()`` → UTC ms."""

    def __init__(self, start_ms: int):
        self.now = int(start_ms)

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("a clock does not go back")
        self.now += int(ms)
        return self.now

    def set(self, ms: int) -> int:
        self.now = int(ms)
        return self.now


@dataclass(frozen=True)
class AccountSpec:
    name: str
    api_key: str
    secret: str
    wallet: float = 100_000.0  # USDT in the futures wallet
    hedge_mode: bool = False
    leverage: int = 10  # default leverage of every symbol
    spot: tuple[tuple[str, float], ...] = ()  # spot balances: (asset, amount)
    # the third credential of venues that sign with one (OKX's OK-ACCESS-PASSPHRASE); the faces
    # that take no passphrase never read it
    passphrase: str = "sim-passphrase"


@dataclass(frozen=True)
class SlippageModel:
    """Slippage in basis points grows with the notional: ``base + per_100k * notional / 100k``."""

    base_bps: float = 1.0
    bps_per_100k: float = 2.0
    max_bps: float = 300.0

    def bps(self, notional: float) -> float:
        return min(self.max_bps, self.base_bps + self.bps_per_100k * abs(notional) / 100_000.0)


@dataclass(frozen=True)
class RateLimits:
    """Per-account limits. ``ban_after`` 429s within ``strike_window_ms`` start a ban of ``ban_ms``
    (HTTP 418); the request that reaches the count is the first 418."""

    orders_per_second: int = 10
    weight_per_minute: int = 2400
    ban_after: int = 3
    ban_ms: int = 120_000
    strike_window_ms: int = 60_000


# --- state ---------------------------------------------------------------------------------------------


@dataclass
class _Leg:
    amount: float = 0.0  # signed
    entry: float = 0.0
    update_time: int = 0
    realized: float = 0.0  # accumulated on this leg, before fees (a stream's ``cr``)


@dataclass
class _Account:
    spec: AccountSpec
    wallet: float
    hedge_mode: bool
    spot: dict = field(default_factory=dict)
    legs: dict = field(default_factory=dict)  # (symbol, position side) → _Leg
    leverage: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)  # order id → SimOrder (all, ever)
    live: dict = field(default_factory=dict)  # order id → SimOrder: open after placement (pruned lazily)
    by_client: dict = field(default_factory=dict)  # client id → order id (ever used)
    countdowns: dict = field(default_factory=dict)  # symbol → (deadline ms, countdown ms)
    hidden: set = field(default_factory=set)  # order ids hidden from the next query
    algos: dict = field(default_factory=dict)  # algo id → SimAlgoOrder (all, ever): the conditional book's
    algo_live: dict = field(default_factory=dict)  # algo id → SimAlgoOrder: open after placement (pruned lazily)
    algo_by_client: dict = field(default_factory=dict)  # client algo id → algo id (ever used)
    weight_minute: int = -1
    weight_used: int = 0
    order_second: int = -1
    order_count: int = 0
    strikes: list = field(default_factory=list)
    banned_until: int = 0
    fees_paid: float = 0.0
    realized_pnl: float = 0.0
    rev: int = 0  # bumped whenever legs, wallet or leverage change: what a position view depends on


class SimExchange:
    """The engine. Every public method takes the account *name*; faces resolve API keys with
    :meth:`account_for_key`. Every public method first evaluates due timers at the clock's
    current time (countdown cancel-alls, resting limit orders).

    Size: about 930 lines because it is one venue's matching state — orders, positions, hedge
    legs, spot balances, timers, rate weights and faults — that every call reads and changes
    in one step, as a venue does; its faces (:mod:`.adapter`, :mod:`.http`), faults
    (:mod:`.faults`) and the pricing of its views (:mod:`.views`) live apart. It is a test
    double, not code that trades."""

    def __init__(self, clock: Clock, *, seed: int = 0, markets: Iterable[MarketSpec] = (),
                 accounts: Iterable[AccountSpec] = (), paths: Optional[dict[str, PricePath]] = None,
                 t0: Optional[int] = None, taker_fee: float = 0.0004, maker_fee: float = 0.0002,
                 slippage: SlippageModel = SlippageModel(), fill_ratio: float = 1.0,
                 rate_limits: RateLimits = RateLimits(), client_id_scope: str = "account",
                 faults: Optional[FaultPlan] = None, rest_remainder: bool = False,
                 depth: Optional[DepthModel] = None):
        if client_id_scope not in ("account", "open"):
            raise ValueError("client_id_scope is 'account' (unique forever) or 'open' (unique among open orders)")
        self.clock = clock
        self.seed = seed
        self.t0 = clock() if t0 is None else int(t0)
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.slippage = slippage
        self.fill_ratio = fill_ratio
        self.fill_ratios: dict[str, float] = {}
        self.rest_remainder = rest_remainder  # an unfilled limit remainder rests, even an IOC's
        self.rate_limits = rate_limits
        self.client_id_scope = client_id_scope
        self.faults = faults if faults is not None else FaultPlan()
        self.markets: dict[str, MarketSpec] = {}
        self.paths: dict[str, PricePath] = {}
        self.accounts: dict[str, _Account] = {}
        self._by_key: dict[str, str] = {}
        # keys beside the accounts' own, their trading permission and the master credentials
        self.permissions = SimPermissions(self)
        self._next_id = random.Random(seed).randrange(1_000_000_000, 9_000_000_000)
        self._auto_client = 0
        self._marks: dict[tuple[str, int], float] = {}  # (symbol, time) → mark: paths are pure
        self._names: list[str] = []  # account names, sorted: the order timers are evaluated in
        # account → its open legs as views price them (built again when the account or the
        # markets change; it keeps its last pricing: a snapshot reads the positions twice)
        self._books: dict[str, Book] = {}
        self._pricing: dict[str, Pricing] = {}  # symbol → how its mark is priced (until its market or path changes)
        self._rev = 0  # bumped when a market changes
        self._path_rev = 0  # bumped when a price path changes
        self.events: list[dict] = []  # fills, cancels, countdown triggers: the engine's journal
        self.listeners: list[Listener] = []  # told of every change (on_change)
        self._trade_id = 0
        self.depth = depth  # every symbol's order book, unless set per symbol (None: the slippage model)
        self.depths: dict[str, Optional[DepthModel]] = {}
        self._sim_books: dict[str, SimBook] = {}
        from .conditional import ConditionalBook  # (it builds on this module)

        self.conditional = ConditionalBook(self)  # stops, take-profits, trailing stops: the algo service
        for m in markets:
            self.add_market(m, (paths or {}).get(m.symbol))
        for a in accounts:
            self.add_account(a)

    # --- setup -------------------------------------------------------------------------------------

    def add_market(self, spec: MarketSpec, path: Optional[PricePath] = None) -> None:
        self._rev += 1
        self._pricing.clear()
        self.markets[spec.symbol] = spec
        if path is not None:
            self.paths[spec.symbol] = path

    def add_account(self, spec: AccountSpec) -> None:
        if spec.name in self.accounts or spec.api_key in self._by_key:
            raise ValueError(f"account {spec.name} or its API key exists already")
        self.accounts[spec.name] = _Account(spec, float(spec.wallet), spec.hedge_mode, dict(spec.spot))
        self._by_key[spec.api_key] = spec.name

    def set_price_path(self, symbol: str, path: PricePath) -> None:
        self._market(symbol)
        self._path_rev += 1  # the books are priced again, their legs kept
        self.paths[symbol] = path
        self._marks.clear()
        self._pricing.pop(symbol, None)

    def set_mark(self, symbol: str, price: float) -> None:
        """Hold the mark at ``price`` from now on (a flat path). Listeners learn it at once,
        stamped now: the moment a scripted mark crosses a level."""
        self.set_price_path(symbol, Flat(float(price)))
        if self.listeners:
            now = self.now()
            self._emit(MarkSet(symbol, self.mark(symbol, now), now))

    # --- change hooks --------------------------------------------------------------------------------

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every change (:mod:`.changes`), synchronously, inside the engine
        call that made it; returns the function that removes it. A listener must not call the
        engine's charged methods (it would count weight and run timers mid-change)."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def _emit(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    def _order_changed(self, o: SimOrder, execution: str, now: int, **trade: Any) -> None:
        if self.listeners and not o.spot:
            self._emit(OrderChanged(o.account, now, o.copy(), execution, **trade))

    def _algo_changed(self, o: Any, now: int) -> None:
        """A conditional order's change (:class:`.changes.AlgoChanged`), its status as it is now."""
        if self.listeners:
            self._emit(AlgoChanged(o.account, now, o.copy()))

    def _account_changed(self, a: _Account, reason: str, keys: Iterable[tuple[str, str]], now: int) -> None:
        if not self.listeners:
            return
        legs = []
        for symbol, ps in keys:
            leg = a.legs.get((symbol, ps)) or _Leg()
            mark = self.mark(symbol, now)
            upnl = (mark - leg.entry) * leg.amount * self.markets[symbol].contract_size if leg.amount else 0.0
            legs.append(LegState(symbol, ps, leg.amount, leg.entry, leg.realized, upnl, mark))
        self._emit(AccountChanged(a.spec.name, now, reason, a.wallet, 0.0, tuple(legs)))

    def set_fill_ratio(self, ratio: float, symbol: Optional[str] = None, *,
                       rest_remainder: Optional[bool] = None) -> None:
        """Fraction of an order's quantity that fills when it is placed, rounded down to the
        amount step (the rest expires for market/IOC orders and rests for GTC limits; with
        ``rest_remainder`` the rest of an IOC limit rests too, for every symbol). While a
        symbol's ratio is below 1 its book is thin: resting orders do not fill; at 1 a crossed
        resting limit fills fully. Deterministic: the same orders fill the same amounts."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("a fill ratio is in [0, 1]")
        if symbol is None:
            self.fill_ratio = ratio
        else:
            self.fill_ratios[symbol] = ratio
        if rest_remainder is not None:
            self.rest_remainder = bool(rest_remainder)

    def set_depth(self, model: Optional[DepthModel], symbol: Optional[str] = None) -> None:
        """Give ``symbol`` (every symbol without its own, when None) an order book of ``model``
        (:mod:`.depth`), which orders taking liquidity walk instead of the slippage model and
        the fill ratio; None takes it away. The book starts full."""
        if symbol is None:
            self.depth = model
            self._sim_books.clear()
        else:
            self._market(symbol)
            self.depths[symbol] = model
            self._sim_books.pop(symbol, None)

    def _book_of(self, symbol: str) -> Optional[SimBook]:
        model = self.depths[symbol] if symbol in self.depths else self.depth
        if model is None:
            return None
        book = self._sim_books.get(symbol)
        if book is None or book.model is not model:
            book = self._sim_books[symbol] = SimBook(model, at=self.now())
        return book

    def order_book(self, symbol: str, limit: Optional[int] = None) -> tuple[list[tuple[float, float]],
                                                                             list[tuple[float, float]], int]:
        """(bids, asks, time) of ``symbol``'s book now, each side best first, at most ``limit``
        levels; both sides empty for a symbol without a depth model."""
        now = self._begin()
        m = self._market(symbol)
        book = self._book_of(m.symbol)
        if book is None:
            return [], [], now
        mark = self.mark(m.symbol, now)
        tick = m.price_tick
        return book.levels("bids", mark, tick, now, limit), book.levels("asks", mark, tick, now, limit), now

    def open_position(self, account: str, symbol: str, side: str, amount: float, entry: float,
                      position_side: Optional[str] = None) -> None:
        """Seed a position (scenario setup): no fee, no rate limit, no margin check."""
        a = self._acct(account)
        m = self._market(symbol)
        if a.hedge_mode:
            ps = position_side or ("LONG" if side == "long" else "SHORT")
        else:
            ps = "BOTH"
        leg = a.legs.setdefault((m.symbol, ps), _Leg())
        signed = amount if side == "long" else -amount
        now = self.now()
        self._apply(a, m, leg, signed, entry, now)
        self._account_changed(a, "ADJUSTMENT", [(m.symbol, ps)], now)

    def set_wallet(self, account: str, wallet: float) -> None:
        """Set the futures wallet (a harness's setup, like :meth:`open_position`)."""
        a = self._acct(account)
        a.wallet = float(wallet)
        a.rev += 1  # the views' book holds the wallet
        self._account_changed(a, "ADJUSTMENT", [], self.now())

    def hide_from_next_query(self, account: str, order_id: int) -> None:
        """The next ``get_order`` or ``open_orders`` of this account does not show the order (once)."""
        self._acct(account).hidden.add(int(order_id))

    # --- time ----------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def tick(self) -> int:
        """Evaluate due timers at the current time; returns it."""
        now = self.now()
        self._tick(now)
        return now

    def advance(self, ms: int) -> int:
        """Move a :class:`ManualClock` forward and evaluate timers."""
        adv = getattr(self.clock, "advance", None)
        if adv is None:
            raise TypeError("advance() needs a clock with an advance(ms) method (ManualClock)")
        adv(ms)
        return self.tick()

    def mark(self, symbol: str, at: Optional[int] = None) -> float:
        t = self.now() if at is None else int(at)
        cached = self._marks.get((symbol, t))
        if cached is not None:
            return cached
        price = self._pricing_of(symbol)(t)
        if len(self._marks) > 4096:
            self._marks.clear()
        self._marks[(symbol, t)] = price
        return price

    def _pricing_of(self, symbol: str) -> Pricing:
        pricing = self._pricing.get(symbol)
        if pricing is None:
            m = self._market(symbol)
            path = self.paths.get(symbol)
            if path is None:
                raise SimError(INVALID_SYMBOL, "Invalid symbol.")
            pricing = self._pricing[symbol] = Pricing(path, m.price_tick, m.price_decimals, self.t0)
        return pricing

    # --- lookups ---------------------------------------------------------------------------------------

    def account_for_key(self, api_key: str) -> Optional[str]:
        return self._by_key.get(api_key) or self.permissions.account_of(api_key)

    def key_secret(self, api_key: str, account: str) -> str:
        """The secret of the key that signed a request for ``account`` (its own or one beside it)."""
        creds = self.permissions.credentials(api_key)
        return creds[0] if creds is not None else self.secret(account)

    def secret(self, account: str) -> str:
        return self._acct(account).spec.secret

    def hedge_mode(self, account: str) -> bool:
        return self._acct(account).hedge_mode

    def leverage(self, account: str, symbol: str) -> int:
        a = self._acct(account)
        m = self._market(symbol)
        return min(a.leverage.get(m.symbol, a.spec.leverage), m.max_leverage)

    def used_weight(self, account: str) -> int:
        a = self._acct(account)
        return a.weight_used if a.weight_minute == self.now() // 60_000 else 0

    def _acct(self, account: str) -> _Account:
        try:
            return self.accounts[account]
        except KeyError:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401) from None

    def _market(self, symbol: Optional[str]) -> MarketSpec:
        if not symbol:
            raise SimError(MANDATORY_PARAM, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        m = self.markets.get(symbol)
        if m is None:
            raise SimError(INVALID_SYMBOL, "Invalid symbol.")
        return m

    # --- rate limits -------------------------------------------------------------------------------------

    def _strike(self, a: _Account, now: int) -> bool:
        rl = self.rate_limits
        a.strikes = [s for s in a.strikes if s > now - rl.strike_window_ms] + [now]
        if len(a.strikes) >= rl.ban_after:
            a.banned_until = now + rl.ban_ms
            a.strikes = []
            return True
        return False

    def _banned(self, a: _Account, now: int) -> SimError:
        return SimError(TOO_MANY_REQUESTS, f"Way too many requests; IP(127.0.0.1) banned until {a.banned_until}. "
                        "Please use the websocket for live updates to avoid bans.", 418,
                        retry_after_s=max(0.0, (a.banned_until - now) / 1000))

    def charge(self, account: str, weight: int) -> None:
        """Count ``weight`` against the account's minute; 429 over the limit, 418 when banned."""
        a = self._acct(account)
        self._charge(a, weight, self.now())

    def _charge(self, a: _Account, weight: int, now: int) -> None:
        if a.banned_until > now:
            raise self._banned(a, now)
        minute = now // 60_000
        if minute != a.weight_minute:
            a.weight_minute, a.weight_used = minute, 0
        limit = self.rate_limits.weight_per_minute
        if a.weight_used + weight > limit:
            if self._strike(a, now):
                raise self._banned(a, now)
            raise SimError(TOO_MANY_REQUESTS, f"Too many requests; current limit of IP(127.0.0.1) is {limit} "
                           "requests per minute. Please use the websocket for live updates to avoid polling the "
                           "API.", 429,
                           retry_after_s=((minute + 1) * 60_000 - now) / 1000)
        a.weight_used += weight

    def _count_order(self, a: _Account, now: int) -> None:
        second = now // 1000
        if second != a.order_second:
            a.order_second, a.order_count = second, 0
        limit = self.rate_limits.orders_per_second
        if a.order_count + 1 > limit:
            if self._strike(a, now):
                raise self._banned(a, now)
            raise SimError(TOO_MANY_ORDERS, f"Too many new orders; current limit is {limit} orders per SECOND.", 429,
                           retry_after_s=((second + 1) * 1000 - now) / 1000)
        a.order_count += 1

    # --- timers ------------------------------------------------------------------------------------------

    def _begin(self) -> int:
        now = self.now()
        self._tick(now)
        return now

    def _tick(self, now: int) -> None:
        if len(self._names) != len(self.accounts):
            self._names = sorted(self.accounts)
        for name in self._names:
            a = self.accounts[name]
            if not a.countdowns and not a.live and not a.algo_live:
                continue  # nothing can be due: no countdown armed, no order resting or waiting for a trigger
            for symbol in sorted(a.countdowns):
                deadline, _ = a.countdowns[symbol]
                if deadline <= now:
                    del a.countdowns[symbol]
                    ids = self._cancel_symbol(a, symbol, deadline, "CANCELED")
                    # Binance's documentation says "all your orders of the specified symbol": it does
                    # not say whether the algo service's are among them. They are cancelled here too:
                    # a dead man's switch that left a stop to fire on a stale book would be the worse
                    # surprise, and a test that wants them kept can re-place them.
                    algo_ids = self.conditional.cancel_symbol(a, symbol, deadline)
                    event = {"event": "countdown_cancel_all", "account": name, "symbol": symbol, "ts": deadline,
                             "orders": ids}
                    self.events.append({**event, "algo_orders": algo_ids} if algo_ids else event)
            if a.algo_live:  # before the resting orders: a triggered STOP's limit may fill at once
                self.conditional.tick(a, now)
            for o in self._live(a):
                # a thin book (fill ratio < 1) has no liquidity for resting orders either; a
                # resting close whose position is gone expires whatever the book (as Binance
                # cancels reduce-only orders once the position is closed)
                if o.type == "LIMIT" and ((o.closes and self._closable(a, o) <= EPS) or (
                        self._ratio(o.symbol) >= 1.0 and self._crosses(o, self.mark(o.symbol, now)))):
                    self._execute(a, self.markets[o.symbol], o, now, resting=True)

    @staticmethod
    def _live(a: _Account) -> list[SimOrder]:
        """The account's open orders by id (only limit futures orders ever rest)."""
        for oid in [i for i, o in a.live.items() if not o.is_open]:
            del a.live[oid]
        return [a.live[i] for i in sorted(a.live)]

    def _cancel_symbol(self, a: _Account, symbol: str, ts: int, status: str) -> list[int]:
        ids = []
        for o in self._live(a):
            if o.symbol == symbol and o.is_open:
                o.status, o.update_time = status, ts
                ids.append(o.order_id)
                self._order_changed(o, status, ts)
        return ids

    # --- positions -----------------------------------------------------------------------------------------

    def _closable(self, a: _Account, o: SimOrder) -> float:
        """How much of the position ``o`` may still reduce (for closing orders)."""
        leg = a.legs.get((o.symbol, o.position_side))
        amt = leg.amount if leg else 0.0
        if o.side == "SELL":
            return max(0.0, amt)
        return max(0.0, -amt)

    def _apply(self, a: _Account, m: MarketSpec, leg: _Leg, signed: float, px: float, now: int) -> float:
        """Trade ``signed`` contracts at ``px`` on a leg; returns the realized PnL."""
        a.rev += 1
        pos = leg.amount
        realized = 0.0
        if pos == 0 or (pos > 0) == (signed > 0):
            new = _clean(pos + signed)
            leg.entry = (abs(pos) * leg.entry + abs(signed) * px) / abs(new) if new else 0.0
            leg.amount = new
        else:
            closed = min(abs(pos), abs(signed))
            realized = closed * (px - leg.entry) * (1 if pos > 0 else -1) * m.contract_size
            leg.realized += realized
            new = _clean(pos + signed)
            if new == 0:
                leg.entry = 0.0
            elif (new > 0) != (pos > 0):
                leg.entry = px
            leg.amount = new
        leg.update_time = now
        return realized

    # --- orders -------------------------------------------------------------------------------------------

    def _client_id(self, a: _Account, cid: Optional[str]) -> str:
        if cid is None or cid == "":
            self._auto_client += 1
            return f"sim{self.seed % 1000:03d}auto{self._auto_client:08d}"
        if not CLIENT_ID_RE.match(cid):
            raise SimError(ILLEGAL_CHARS, "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                           "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        prev = a.by_client.get(cid)
        if prev is not None and (self.client_id_scope == "account" or a.orders[prev].is_open):
            raise SimError(DUPLICATE_CLIENT_ID, "ClientOrderId is duplicated.")
        return cid

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def place_order(self, account: str, symbol: str, side: str, type: str, quantity: Optional[float],
                    price: Optional[float] = None, *, time_in_force: Optional[str] = None,
                    reduce_only: Optional[bool] = None, position_side: Optional[str] = None,
                    client_order_id: Optional[str] = None) -> SimOrder:
        """Place a futures order. ``reduce_only=None`` means "not sent" (it must not be sent in
        hedge mode). Returns a copy of the order after its immediate execution."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        self._count_order(a, now)
        m = self._market(symbol)
        side = (side or "").upper()
        if side not in ("BUY", "SELL"):
            raise SimError(INVALID_SIDE, "Invalid side.")
        otype = (type or "").upper()
        if otype in ALGO_ONLY_TYPES:  # since Binance moved them to its algo service (place_algo_order)
            raise SimError(ALGO_ONLY_TYPE, "Order type not supported for this endpoint. Please use the Algo Order "
                           "API endpoints instead.")
        if otype not in ("MARKET", "LIMIT"):
            raise SimError(INVALID_ORDER_TYPE, "Invalid orderType.")
        if quantity is None:
            raise SimError(MANDATORY_PARAM,
                           "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        qty = float(quantity)
        if qty <= 0:
            raise SimError(QTY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if not on_grid(qty, m.amount_step):
            raise SimError(PRECISION, "Precision is over the maximum defined for this asset.")
        qty = round(round(qty / m.amount_step) * m.amount_step, m.amount_decimals)
        if qty < m.min_amount - EPS:
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        if qty > m.max_amount + EPS:
            raise SimError(QTY_TOO_LARGE, "Quantity greater than max quantity.")
        if otype == "LIMIT":
            if price is None:
                raise SimError(MANDATORY_PARAM,
                               "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
            if time_in_force is None:
                raise SimError(MANDATORY_PARAM,
                               "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
            tif = time_in_force.upper()
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise SimError(INVALID_TIF, "Invalid timeInForce.")
            px = float(price)
            if px <= 0:
                raise SimError(PRICE_TOO_LOW, "Price less than min price.")
            if not on_grid(px, m.price_tick):
                raise SimError(TICK_SIZE, "Price not increased by tick size.")
            px = round(round(px / m.price_tick) * m.price_tick, m.price_decimals)
        else:
            if price is not None and float(price) != 0:
                raise SimError(PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
            tif, px = "GTC", 0.0
        if a.hedge_mode:
            if reduce_only is not None:
                raise SimError(PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required.")
            ps = (position_side or "BOTH").upper()
            if ps not in ("LONG", "SHORT"):
                raise SimError(POSITION_SIDE_MISMATCH, "Order's position side does not match user's setting.")
        else:
            ps = (position_side or "BOTH").upper()
            if ps != "BOTH":
                raise SimError(POSITION_SIDE_MISMATCH, "Order's position side does not match user's setting.")
        ro = bool(reduce_only)
        cid = self._client_id(a, client_order_id)
        o = SimOrder(0, cid, account, m.symbol, side, otype, tif, qty, px, ro, ps, now, now)
        mark = self.mark(m.symbol, now)
        if o.closes:
            if qty > self._closable(a, o) + EPS:
                raise SimError(REDUCE_ONLY_REJECTED, "ReduceOnly Order is rejected.")
        else:
            ref = px if otype == "LIMIT" else mark
            if qty * ref * m.contract_size < m.min_notional - EPS:
                raise SimError(NOTIONAL_TOO_SMALL, f"Order's notional must be no smaller than {m.min_notional:g} "
                               "(unless you choose reduce only).")
            if not self._margin_ok(a, m, o, now):
                raise SimError(MARGIN_INSUFFICIENT, "Margin is insufficient.")
        if sum(1 for x in self._live(a) if x.symbol == m.symbol) >= MAX_OPEN_ORDERS_PER_SYMBOL:
            raise SimError(MAX_OPEN_ORDERS, "Reach max open order limit.")
        if tif == "GTX" and self._crosses(o, mark):
            raise SimError(POST_ONLY_REJECTED, "Due to the order could not be executed as maker, the Post Only order "
                           "will be rejected.")
        self._submit(a, m, o, now)
        return o.copy()

    def _margin_ok(self, a: _Account, m: MarketSpec, o: SimOrder, now: int) -> bool:
        """Whether the account's available margin covers an opening order: only the part that
        opens (one-way: beyond an opposite position) needs margin, at its price or the mark."""
        leg = a.legs.get((m.symbol, o.position_side))
        amt = leg.amount if leg else 0.0
        opposite = max(0.0, amt) if o.side == "SELL" else max(0.0, -amt)
        opening = max(0.0, o.quantity - opposite) if o.position_side == "BOTH" else o.quantity
        ref = o.price if o.type == "LIMIT" else self.mark(m.symbol, now)
        need = opening * ref * m.contract_size * (1.0 / self.leverage(a.spec.name, m.symbol) + self.taker_fee)
        return need <= self._view(a, now).available + EPS

    def _submit(self, a: _Account, m: MarketSpec, o: SimOrder, now: int) -> None:
        """Register a validated order and execute it: what fills at once fills, a market, FOK or
        IOC remainder expires, a limit remainder rests."""
        mark = self.mark(m.symbol, now)
        tif = o.time_in_force
        if tif == "FOK" and self._book_of(m.symbol) is None and (not self._crosses(o, mark)
                                                                  or self._ratio(m.symbol) < 1.0):
            self._register(a, o)
            o.status = "EXPIRED"
            self._order_changed(o, "EXPIRED", now)
            return
        self._register(a, o)
        self._execute(a, m, o, now, resting=False)
        if o.is_open and (o.type == "MARKET" or tif == "FOK" or (tif == "IOC" and not self.rest_remainder)):
            o.status = "EXPIRED"
            o.update_time = now
            self._order_changed(o, "EXPIRED", now)
        if o.is_open:
            a.live[o.order_id] = o

    def _register(self, a: _Account, o: SimOrder) -> int:
        oid = self._new_id()
        o.order_id = oid
        a.orders[oid] = o
        a.by_client[o.client_order_id] = oid
        self._order_changed(o, "NEW", o.time)
        return oid

    def _ratio(self, symbol: str) -> float:
        return self.fill_ratios.get(symbol, self.fill_ratio)

    @staticmethod
    def _crosses(o: SimOrder, mark: float) -> bool:
        if o.type == "MARKET":
            return True
        return mark <= o.price + EPS if o.side == "BUY" else mark >= o.price - EPS

    def _execute(self, a: _Account, m: MarketSpec, o: SimOrder, now: int, resting: bool) -> None:
        mark = self.mark(m.symbol, now)
        if o.closes:
            closable = self._closable(a, o)
            if closable <= EPS:
                if resting:  # the position is gone: a resting reduce-only order expires
                    o.status, o.update_time = "EXPIRED", now
                    self.events.append({"event": "expire", "account": a.spec.name, "order": o.order_id, "ts": now})
                    self._order_changed(o, "EXPIRED", now)
                return
        else:
            closable = math.inf
        book = None if resting else self._book_of(m.symbol)
        if book is not None:  # the order walks the book, no further than its limit price
            cap = min(o.remaining, floor_step(closable, m.amount_step) if closable != math.inf else o.remaining)
            qty, avg = book.take(o.side, cap, o.price if o.type == "LIMIT" else None, mark, m.price_tick,
                                 m.amount_step, now, all_or_none=o.time_in_force == "FOK")
            if qty > EPS:
                self._fill(a, m, o, qty, avg, now)
            return
        if not self._crosses(o, mark):
            return
        want = o.remaining
        if not resting:
            r = self._ratio(m.symbol)
            if r < 1.0:
                want = floor_step(want * r, m.amount_step)
        qty = min(want, floor_step(closable, m.amount_step) if closable != math.inf else want)
        if qty <= EPS:
            return
        bps = self.slippage.bps(qty * mark * m.contract_size)
        if o.side == "BUY":
            px = _round_px(mark * (1 + bps / 1e4), m.price_tick, up=True)
            if o.type == "LIMIT":
                px = min(px, o.price)
        else:
            px = _round_px(mark * (1 - bps / 1e4), m.price_tick, up=False)
            if o.type == "LIMIT":
                px = max(px, o.price)
        self._fill(a, m, o, qty, px, now)

    def _fill(self, a: _Account, m: MarketSpec, o: SimOrder, qty: float, px: float, now: int) -> None:
        leg = a.legs.setdefault((m.symbol, o.position_side), _Leg())
        signed = qty if o.side == "BUY" else -qty
        realized = self._apply(a, m, leg, signed, px, now)
        notional = qty * px * m.contract_size
        fee = notional * self.taker_fee
        a.wallet = a.wallet + realized - fee
        a.rev += 1
        a.fees_paid += fee
        a.realized_pnl += realized
        o.executed_qty = _clean(o.executed_qty + qty)
        o.cum_quote += notional
        o.fee += fee
        o.realized_pnl += realized
        o.update_time = now
        o.status = "FILLED" if o.remaining <= EPS else "PARTIALLY_FILLED"
        self.events.append({"event": "fill", "account": a.spec.name, "order": o.order_id, "symbol": m.symbol,
                            "side": o.side, "position_side": o.position_side, "qty": qty, "price": px,
                            "fee": round(fee, 10), "realized": round(realized, 10), "ts": now})
        self._trade_id += 1
        if self.listeners:  # as Binance: the account's update, then the order's trade
            self._account_changed(a, "ORDER", [(m.symbol, o.position_side)], now)
            self._order_changed(o, "TRADE", now, last_qty=qty, last_price=px, fee=fee, realized=realized,
                                trade_id=self._trade_id, maker=o.type == "LIMIT" and o.time != now)

    def get_order(self, account: str, symbol: str, order_id: Optional[int] = None,
                  client_order_id: Optional[str] = None) -> SimOrder:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        m, o = self._lookup(a, symbol, order_id, client_order_id)
        if o is None or o.symbol != m.symbol or o.spot:
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        if o.order_id in a.hidden:
            a.hidden.discard(o.order_id)
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()

    def _lookup(self, a: _Account, symbol: str, order_id: Optional[int], client_order_id: Optional[str]):
        """The market and the order an order query names (by id or client id; one is mandatory)."""
        m = self._market(symbol)
        if order_id is None and not client_order_id:
            raise SimError(MANDATORY_PARAM,
                           "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return m, self._find(a, order_id, client_order_id)

    def _find(self, a: _Account, order_id: Optional[int], client_order_id: Optional[str]) -> Optional[SimOrder]:
        if order_id is not None:
            return a.orders.get(int(order_id))
        oid = a.by_client.get(client_order_id)
        return a.orders.get(oid) if oid is not None else None

    def open_orders(self, account: str, symbol: Optional[str] = None, *,
                    weight: Optional[int] = None) -> list[SimOrder]:
        """The open orders (of ``symbol``), charged Binance's weight (1, or 40 for every symbol)
        unless a face gives its venue's (``weight``: Bybit and OKX limit requests, not weight)."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, weight if weight is not None else 1 if symbol else 40, now)
        sym = self._market(symbol).symbol if symbol else None
        out = []
        for o in self._live(a):
            if sym and o.symbol != sym:
                continue
            if o.order_id in a.hidden:
                a.hidden.discard(o.order_id)
                continue
            out.append(o.copy())
        return out

    def cancel_order(self, account: str, symbol: str, order_id: Optional[int] = None,
                     client_order_id: Optional[str] = None) -> SimOrder:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        m, o = self._lookup(a, symbol, order_id, client_order_id)
        if o is None or o.symbol != m.symbol or not o.is_open or o.spot:
            raise SimError(UNKNOWN_ORDER, "Unknown order sent.")
        o.status, o.update_time = "CANCELED", now
        self.events.append({"event": "cancel", "account": account, "order": o.order_id, "ts": now})
        self._order_changed(o, "CANCELED", now)
        return o.copy()

    def cancel_all(self, account: str, symbol: str) -> list[SimOrder]:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        m = self._market(symbol)
        ids = self._cancel_symbol(a, m.symbol, now, "CANCELED")
        if ids:
            self.events.append({"event": "cancel_all", "account": account, "symbol": m.symbol, "orders": ids,
                                "ts": now})
        return [a.orders[i].copy() for i in ids]

    def countdown_cancel_all(self, account: str, symbol: str, countdown_ms: int) -> dict:
        """Arm (``countdown_ms`` > 0) or disarm (0) the symbol's countdown; re-arming resets it."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 10, now)
        m = self._market(symbol)
        if countdown_ms is None or int(countdown_ms) < 0:
            raise SimError(INVALID_PARAM, "Data sent for parameter 'countdownTime' is not valid.")
        ms = int(countdown_ms)
        if ms == 0:
            a.countdowns.pop(m.symbol, None)
        else:
            a.countdowns[m.symbol] = (now + ms, ms)
        return {"symbol": m.symbol, "countdownTime": str(ms)}

    def countdowns(self, account: str) -> dict[str, int]:
        """Armed countdowns: symbol → deadline (UTC ms)."""
        return {s: d for s, (d, _) in sorted(self._acct(account).countdowns.items())}

    def set_position_mode(self, account: str, hedge: bool) -> None:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        if a.hedge_mode == bool(hedge):
            raise SimError(NO_NEED_TO_CHANGE_SIDE, "No need to change position side.")
        if self._live(a) or self.conditional.live(a):
            raise SimError(SIDE_CHANGE_OPEN_ORDERS, "Position side cannot be changed if there exists open orders.")
        if any(abs(leg.amount) > EPS for leg in a.legs.values()):
            raise SimError(SIDE_CHANGE_POSITIONS, "Position side cannot be changed if there exists position.")
        a.hedge_mode = bool(hedge)
        a.legs = {}
        a.rev += 1

    def position_mode(self, account: str) -> bool:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 30, now)
        return a.hedge_mode

    def set_leverage(self, account: str, symbol: str, leverage: int) -> int:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        m = self._market(symbol)
        lev = int(leverage)
        if not 1 <= lev <= m.max_leverage:
            raise SimError(LEVERAGE_INVALID, f"Leverage {lev} is not valid")
        a.leverage[m.symbol] = lev
        a.rev += 1
        return lev

    # --- conditional (algo) orders: :mod:`.conditional` ----------------------------------------------------

    def place_algo_order(self, account: str, symbol: str, side: str, type: str, **kw: Any) -> "SimAlgoOrder":
        """A stop, take-profit or trailing stop (``POST /fapi/v1/algoOrder``); the keywords are
        :meth:`.conditional.ConditionalBook.place`'s."""
        return self.conditional.place(account, symbol, side, type, **kw)

    def open_algo_orders(self, account: str, symbol: Optional[str] = None, *,
                         weight: Optional[int] = None) -> list["SimAlgoOrder"]:
        return self.conditional.open_orders(account, symbol, weight=weight)

    def get_algo_order(self, account: str, algo_id: Optional[int] = None,
                       client_algo_id: Optional[str] = None) -> "SimAlgoOrder":
        return self.conditional.get(account, algo_id, client_algo_id)

    def cancel_algo_order(self, account: str, algo_id: Optional[int] = None,
                          client_algo_id: Optional[str] = None) -> "SimAlgoOrder":
        return self.conditional.cancel(account, algo_id, client_algo_id)

    def cancel_all_algo(self, account: str, symbol: str) -> list["SimAlgoOrder"]:
        return self.conditional.cancel_all(account, symbol)

    def has_algo_orders(self, account: str) -> bool:
        """Whether the account has an open conditional order, without a query (no weight, no
        timers): the in-process face asks before it lists them, so an account that never uses
        them pays no 40 weight a snapshot for an empty list (a venue's user stream tells as much)."""
        return bool(self.conditional.live(self._acct(account)))

    # --- spot -------------------------------------------------------------------------------------------

    def place_spot_order(self, account: str, symbol: str, side: str, quantity: float, price: Optional[float] = None,
                         *, client_order_id: Optional[str] = None) -> SimOrder:
        """An immediate (IOC) spot order on ``symbol``'s base against the USDT spot balance, at
        the mark with slippage; ``price`` is a protective limit. Never rests."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        self._count_order(a, now)
        m = self._market(symbol)
        side = (side or "").upper()
        if side not in ("BUY", "SELL"):
            raise SimError(INVALID_SIDE, "Invalid side.")
        qty = float(quantity)
        if qty <= 0:
            raise SimError(QTY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if not on_grid(qty, m.amount_step):
            raise SimError(PRECISION, "Precision is over the maximum defined for this asset.")
        if qty < m.min_amount - EPS:
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        px_limit = None
        if price is not None:
            px_limit = float(price)
            if not on_grid(px_limit, m.price_tick):
                raise SimError(TICK_SIZE, "Price not increased by tick size.")
        mark = self.mark(m.symbol, now)
        if qty * mark < m.min_notional - EPS:
            raise SimError(-1013, "Filter failure: NOTIONAL")
        if side == "SELL" and a.spot.get(m.base, 0.0) < qty - EPS:
            raise SimError(INSUFFICIENT_BALANCE, "Account has insufficient balance for requested action.")
        cid = self._client_id(a, client_order_id)
        o = SimOrder(0, cid, account, m.symbol, side, "LIMIT" if px_limit else "MARKET", "IOC", qty, px_limit or 0.0,
                     False, "BOTH", now, now, spot=True)
        bps = self.slippage.bps(qty * mark)
        if side == "BUY":
            px = _round_px(mark * (1 + bps / 1e4), m.price_tick, up=True)
            ok = px_limit is None or mark <= px_limit + EPS
            px = min(px, px_limit) if px_limit else px
        else:
            px = _round_px(mark * (1 - bps / 1e4), m.price_tick, up=False)
            ok = px_limit is None or mark >= px_limit - EPS
            px = max(px, px_limit) if px_limit else px
        fill = floor_step(qty * self._ratio(m.symbol), m.amount_step) if ok else 0.0
        if side == "BUY" and a.spot.get(m.quote, 0.0) < fill * px * (1 + self.taker_fee) - EPS:
            raise SimError(INSUFFICIENT_BALANCE, "Account has insufficient balance for requested action.")
        self._register(a, o)
        if fill > 0:
            notional = fill * px
            fee = notional * self.taker_fee
            sign = 1 if side == "BUY" else -1
            a.spot[m.base] = _clean(a.spot.get(m.base, 0.0) + sign * fill)
            a.spot[m.quote] = a.spot.get(m.quote, 0.0) - sign * notional - fee
            a.fees_paid += fee
            o.executed_qty, o.cum_quote, o.fee = fill, notional, fee
            self.events.append({"event": "spot_fill", "account": account, "order": o.order_id, "symbol": m.symbol,
                                "side": side, "qty": fill, "price": px, "fee": round(fee, 10), "ts": now})
        o.status = "FILLED" if o.remaining <= EPS else "EXPIRED"
        return o.copy()

    def get_spot_order(self, account: str, client_order_id: str) -> SimOrder:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 1, now)
        o = self._find(a, None, client_order_id)
        if o is None or not o.spot:
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        if o.order_id in a.hidden:
            a.hidden.discard(o.order_id)
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()

    # --- views ---------------------------------------------------------------------------------------------

    def positions(self, account: str, symbol: Optional[str] = None, at: Optional[int] = None) -> list[PositionView]:
        """Open positions (legs with a non-zero amount), marked at ``at`` (default now)."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 5, now)
        sym = self._market(symbol).symbol if symbol else None
        views = self._positions(a, now if at is None else at)
        if sym is None:
            return list(views)  # a copy: the book keeps its views
        return [p for p in views if p.symbol == sym]

    def position_numbers(self, account: str, at: Optional[int] = None) -> LegNumbers:
        """Every open leg's numbers at ``at`` (default now) as columns, the order and numbers of
        :meth:`positions` (and its weight): for an in-process face that builds no view per leg.
        The same object while nothing it shows moved; callers must not change it."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 5, now)
        return self._book(a).priced(now if at is None else at).numbers

    def _positions(self, a: _Account, at: int) -> list[PositionView]:
        """The account's position views at ``at`` (shared: callers must not change the list)."""
        return self._book(a).priced(at).numbers.views

    def _book(self, a: _Account) -> Book:
        """The account's open legs as the views price them, built again after any change."""
        key = (a.rev, self._rev, self._path_rev)
        book = self._books.get(a.spec.name)
        if book is not None and book.key == key:
            return book
        if book is not None and book.key[:2] == key[:2]:  # a price path changed: the same legs
            book = self._books[a.spec.name] = book.repriced(key, {s: self._pricing_of(s) for s in book.symbols})
            return book
        legs = []
        pricing: dict[str, Pricing] = {}
        markets, leverage, default_lev, priced = self.markets, a.leverage, a.spec.leverage, self._pricing
        for (symbol, ps), leg in sorted(a.legs.items()):
            if abs(leg.amount) <= EPS:
                continue
            m = markets[symbol]
            lev = min(leverage.get(symbol, default_lev), m.max_leverage)
            legs.append(OpenLeg(symbol, ps, leg.amount, leg.entry, leg.update_time, m.contract_size, lev,
                                m.maint_margin_rate))
            pricing[symbol] = priced.get(symbol) or self._pricing_of(symbol)
        book = self._books[a.spec.name] = Book(key, a.spec.name, a.wallet, legs, pricing)
        return book

    def account_state(self, account: str, at: Optional[int] = None) -> AccountView:
        now = self._begin()
        a = self._acct(account)
        self._charge(a, 5, now)
        return self._view(a, now if at is None else at)

    def _view(self, a: _Account, at: int) -> AccountView:
        n = self._book(a).priced(at).numbers
        upnl, im, mm = n.unrealized_pnl, n.initial_margin, n.maint_margin
        oom = 0.0
        for o in a.live.values():
            if o.is_open and not o.closes:
                lev = min(a.leverage.get(o.symbol, a.spec.leverage), self.markets[o.symbol].max_leverage)
                oom += o.remaining * o.price * self.markets[o.symbol].contract_size / lev
        equity = a.wallet + upnl
        return AccountView(a.spec.name, a.wallet, upnl, equity, im, oom, mm, max(0.0, equity - im - oom), a.hedge_mode,
                           dict(sorted(a.spot.items())), at)

    # --- inspection ------------------------------------------------------------------------------------------

    def order_by_client_id(self, account: str, client_order_id: str) -> Optional[SimOrder]:
        """Test helper: the order without a query (no rate limit, no hiding, no timers)."""
        a = self._acct(account)
        o = self._find(a, None, client_order_id)
        return o.copy() if o else None

    def dump_state(self) -> dict[str, Any]:
        """Everything, as plain data: for determinism checks and debugging."""
        out: dict[str, Any] = {"t0": self.t0, "now": self.now(), "accounts": {}, "events": self.events}

        for name in sorted(self.accounts):
            a = self.accounts[name]
            out["accounts"][name] = {
                "wallet": round(a.wallet, 8), "hedge_mode": a.hedge_mode, "spot": dict(sorted(a.spot.items())),
                "legs": {f"{s}/{ps}": [leg.amount, round(leg.entry, 8), leg.update_time]
                         for (s, ps), leg in sorted(a.legs.items())},
                "orders": [asdict(a.orders[i]) for i in sorted(a.orders)],
                "algo_orders": [asdict(a.algos[i]) for i in sorted(a.algos)],
                "countdowns": {s: list(v) for s, v in sorted(a.countdowns.items())},
                "fees_paid": round(a.fees_paid, 8), "realized_pnl": round(a.realized_pnl, 8),
            }
        return out

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.dump_state(), sort_keys=True, default=str).encode()).hexdigest()


__all__ = ["SimExchange", "SimError", "SimOrder", "PositionView", "AccountView", "MarketSpec", "AccountSpec",
           "SlippageModel", "RateLimits", "ManualClock", "Clock", "decimals", "floor_step", "on_grid"]
