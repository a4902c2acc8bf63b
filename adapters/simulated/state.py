"""The simulated exchange's state and what every engine call reads: the bottom layer of
:class:`~.engine.SimExchange`.

What it owns
    :class:`ExchangeState`: the markets, price paths and marks (scripted paths of elapsed time,
    :mod:`.paths`, priced once a symbol and time), the accounts and their API keys, the change
    hooks (:meth:`ExchangeState.on_change`, shapes in :mod:`.changes`), the per-account rate
    limits (orders per second → 429 -1015, request weight per minute → 429 -1003, repeated 429s
    → 418 ban), and :meth:`ExchangeState._begin`, which every public call starts with: the
    timers due at the clock's time evaluated first (:meth:`ExchangeState._tick`, which the top
    layer, :class:`~.engine.SimExchange`, fills in; the layers above it: its docstring).

What it must not do
    read the wall clock (time comes from the injected ``clock``), draw unseeded randomness, do
    I/O, or know about HTTP, JSON or killswitch types.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterable, Optional

from .accounts import AccountSpec, AccountState, Clock, Leg, RateLimits
from .changes import (
    AccountChanged,
    AlgoChanged,
    Change,
    LegState,
    Listener,
    MarkSet,
    OrderChanged,
    SpotBalancesChanged,
    SpotOrderChanged,
)
from .conditional import ConditionalBook, SimAlgoOrder
from .depth import DepthModel, SimBook, SlippageModel
from .faults import FaultPlan
from .paths import Flat, PricePath
from .permissions import SimPermissions
from .rules import (
    CLIENT_ID_RE,
    DUPLICATE_CLIENT_ID,
    ILLEGAL_CHARS,
    INVALID_SYMBOL,
    MANDATORY_PARAM,
    TOO_MANY_ORDERS,
    TOO_MANY_REQUESTS,
    MarketSpec,
    SimError,
    SimOrder,
)
from .views import Book, Pricing


class ExchangeState:
    """The engine's state, its setup, clock and marks, lookups, change hooks and rate limits.
    Every public method takes the account *name*; faces resolve API keys with
    :meth:`account_for_key`."""

    def __init__(self, clock: Clock, *, seed: int = 0, markets: Iterable[MarketSpec] = (),
                 accounts: Iterable[AccountSpec] = (), paths: Optional[dict[str, PricePath]] = None,
                 t0: Optional[int] = None, taker_fee: float = 0.0004,
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
        self.slippage = slippage
        self.fill_ratio = fill_ratio
        self.fill_ratios: dict[str, float] = {}
        self.rest_remainder = rest_remainder  # an unfilled limit remainder rests, even an IOC's
        self.rate_limits = rate_limits
        self.client_id_scope = client_id_scope
        self.faults = faults if faults is not None else FaultPlan()
        self.markets: dict[str, MarketSpec] = {}
        self.paths: dict[str, PricePath] = {}
        self.accounts: dict[str, AccountState] = {}
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
        self.conditional = ConditionalBook(self)  # stops, take-profits, trailing stops: the algo service
        for m in markets:
            self.add_market(m, (paths or {}).get(m.symbol))
        for a in accounts:
            self.add_account(a)

    # --- client ids ------------------------------------------------------------------------------

    def client_id(self, given: Optional[str], param: str, infix: str, by_client: dict[str, Any],
                  orders: dict[Any, Any]) -> str:
        """A new order's client id, as the venue takes it: one made up (``sim<seed><infix><n>``)
        when none is given; else the given one, refused for a character outside the venue's set
        (-1100, naming the request's ``param``) or when it is taken (-4015): by any order of the
        account (``by_client``: id → the order in ``orders``), or by an open one only, as
        ``client_id_scope`` says."""
        if given is None or given == "":
            self._auto_client += 1
            return f"sim{self.seed % 1000:03d}{infix}{self._auto_client:08d}"
        if not CLIENT_ID_RE.match(given):
            raise SimError(ILLEGAL_CHARS, f"Illegal characters found in parameter '{param}'; legal range is "
                           "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        prev = by_client.get(given)
        if prev is not None and (self.client_id_scope == "account" or orders[prev].is_open):
            raise SimError(DUPLICATE_CLIENT_ID, "ClientOrderId is duplicated.")
        return given

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
        self.accounts[spec.name] = AccountState(spec, float(spec.wallet), spec.hedge_mode, dict(spec.spot))
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
        if self.listeners:  # (a spot desk's order is told apart: a futures face never tells it)
            self._emit((SpotOrderChanged if o.spot else OrderChanged)(o.account, now, o.copy(), execution, **trade))

    def _ended(self, o: SimOrder, status: str, ts: int) -> None:
        o.status, o.update_time = status, ts
        self._order_changed(o, status, ts)

    def _spot_balances_changed(self, a: AccountState, assets: Iterable[str], now: int) -> None:
        if self.listeners:
            self._emit(SpotBalancesChanged(a.spec.name, now, tuple((x, a.spot.get(x, 0.0)) for x in assets)))

    def _algo_changed(self, o: "SimAlgoOrder", now: int, status: Optional[str] = None,
                      actual: Optional[SimOrder] = None) -> None:
        if self.listeners:
            self._emit(AlgoChanged(o.account, now, o.copy(), status or o.status,
                                   actual.copy() if actual is not None else None))

    def _account_changed(self, a: AccountState, reason: str, keys: Iterable[tuple[str, str]], now: int) -> None:
        if not self.listeners:
            return
        legs = []
        for symbol, ps in keys:
            leg = a.legs.get((symbol, ps)) or Leg()
            mark = self.mark(symbol, now)
            upnl = (mark - leg.entry) * leg.amount * self.markets[symbol].contract_size if leg.amount else 0.0
            legs.append(LegState(symbol, ps, leg.amount, leg.entry, leg.realized, upnl, mark))
        self._emit(AccountChanged(a.spec.name, now, reason, a.wallet, 0.0, tuple(legs)))

    # --- time ----------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())


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

    def _acct(self, account: str) -> AccountState:
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

    def _strike(self, a: AccountState, now: int) -> bool:
        rl = self.rate_limits
        a.strikes = [s for s in a.strikes if s > now - rl.strike_window_ms] + [now]
        if len(a.strikes) >= rl.ban_after:
            a.banned_until = now + rl.ban_ms
            a.strikes = []
            return True
        return False

    def _banned(self, a: AccountState, now: int) -> SimError:
        return SimError(TOO_MANY_REQUESTS, f"Way too many requests; IP(127.0.0.1) banned until {a.banned_until}. "
                        "Please use the websocket for live updates to avoid bans.", 418,
                        retry_after_s=max(0.0, (a.banned_until - now) / 1000))

    def charge(self, account: str, weight: int) -> None:
        """Count ``weight`` against the account's minute; 429 over the limit, 418 when banned."""
        a = self._acct(account)
        self._charge(a, weight, self.now())

    def _charge(self, a: AccountState, weight: int, now: int) -> None:
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

    def _count_order(self, a: AccountState, now: int) -> None:
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

    # --- timers ----------------------------------------------------------------------------------------

    def _begin(self) -> int:
        now = self.now()
        self._tick(now)
        return now

    def _request(self, account: str, weight: int) -> tuple[int, AccountState]:
        """A request of ``account`` begun (:meth:`_begin`) and charged ``weight`` (:meth:`_charge`):
        the time and the account's state."""
        now = self._begin()
        a = self._acct(account)
        self._charge(a, weight, now)
        return now, a

    def _tick(self, now: int) -> None:
        """Evaluate what is due at ``now``: the top layer's timers (:meth:`.engine.SimExchange._tick`)."""


__all__ = ["ExchangeState"]
