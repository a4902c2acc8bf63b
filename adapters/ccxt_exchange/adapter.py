"""The ccxt adapter: one account on one real venue, behind :class:`adapters.base.ExchangeAdapter`.

What it owns
    * one ccxt client per account (``Account.venue`` is the ccxt id), built by :mod:`.client`,
      its markets loaded once (:mod:`.markets`);
    * the snapshot: balances, positions, open orders and equity read in one go and parsed by
      :mod:`.parsing` (a failed fetch is a snapshot too: ``fetch.ok`` false, ``equity`` None,
      the reason code — :meth:`CcxtAdapter.snapshot` never raises);
    * the account's position mode as the venue reads it (:mod:`.modes`): read at start, every
      few minutes and after a refusal for the mode; a close is built for it (the Accounts
      document's ``hedge_mode`` is an expectation, :meth:`CcxtAdapter.position_mode`), and a
      close the venue refuses for the mode is rebuilt for the mode read again, once;
    * the local safety net before an order leaves the process: :func:`adapters.base.check_close`
      against the position it knows (refreshed when unknown or stale), the amount rounded *down*
      to the market's step (ccxt ``amount_to_precision``, i.e. TRUNCATE), the minimum amount;
    * orders, the lookup of an order by client order id, cancels, and the venue's own dead man's
      switch (countdown), where the venue has one;
    * a hard ``asyncio.wait_for(timeout)`` around every public operation (:mod:`.calls`);
    * where the account has a ``revoke:`` block and its dialect a switch, the venue's switch of
      the bots' keys' trading permission (:mod:`.permissions`, with the master credential);
    * where the account's ``stream`` block asks for it and its dialect streams, the private
      stream (:mod:`.stream`): :meth:`CcxtAdapter.snapshot` then answers from the stream while
      it is live and reads REST at the reconcile cadence (beside the ticks), after a reconnect,
      while it is stale or down and while its reconcile is overdue (in front; REST wins); the
      optional ``stream_health()``, ``set_wake()`` and ``start_streams()`` of
      :class:`adapters.base.StreamHealth`'s contract.

What it must not do
    tell venues apart. Whatever differs between venues — order parameters, client order id keys,
    countdown endpoints, order rates — is asked of the account's dialect, and the venues' raw
    fields are read by the dialects' readers (:mod:`.dialects`); a venue's quirk never becomes an
    ``if venue == ...`` here. Nor may it
    retry an order: a ``create_order`` that times out or loses its connection may or may not
    have reached the venue; it surfaces as ``TIMEOUT`` (or ``EXCHANGE_UNAVAILABLE``) and the
    caller reconciles with :meth:`CcxtAdapter.fetch_order` by the intent's deterministic client
    order id before sending anything again.

Secrets are handed to ccxt only; every message the adapter raises or reports is scrubbed
(:func:`.errors.scrub`) and never chained to the original exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, Callable, Mapping, Optional

from killswitch.orders import OrderIntent
from killswitch.snapshot import (Balance, FetchStatus, MarketRules, Order, OrderBook, Position, PositionList,
                                 Snapshot, with_positions)

from ..base import (
    AdapterError,
    CancelResult,
    CancelSelector,
    Capabilities,
    DmsStatus,
    MODE,
    OrderResult,
    PermissionResult,
    PositionMode,
    Reason,
    StreamHealth,
    check_close,
)
from . import parsing
from .budget import OrderBudget, WeightMeter, meter_requests
from .calls import Calls, Op
from .client import Factory, Urls, client_config, configure_client, create_client, default_factory, pro_factory
from .countdowns import Countdowns
from .dialects import KNOWN_RAW_FIELDS, dialect_for
from .dialects.base import YIELD_EVERY, Dialect, Reads, bad_field
from .errors import reason_for, scrub
from .markets import Markets
from .modes import AccountMode
from .parsing import BadData, BadField, num
from .permissions import MasterSwitch
from .stream import AccountStream, now_ms

log = logging.getLogger(__package__)

# how old a snapshot's list of every open order may be while the runner watches the account's
# entries under a lock (a dialect's longer age spares the venue's weight in calm times)
WATCHED_ORDERS_MAX_AGE_S = 2.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class CcxtAdapter:
    """One account of an Accounts document on a ccxt venue.

    ``account`` is a :class:`killswitch.policy.accounts_doc.Account`. Options:

    * ``timeout`` — seconds; bounds every public operation as a whole (``asyncio.wait_for``),
      retries and order-budget waits included; also ccxt's per-request timeout.
    * ``urls`` — override of the venue's endpoints: a base URL string (``http://127.0.0.1:8765``)
      re-hosts every REST URL of the venue onto it, keeping paths; a dict is deep-merged into
      ccxt's ``urls`` (e.g. ``{"api": {"fapiPrivate": ...}}``). For tests and the simulated
      exchange's HTTP face.
    * ``orders_per_second`` — our order budget on this account (default: the dialect's
      ``order_rate``). Creates and cancels spend it; the capabilities report it, and the runner
      hands it to the planner, which spaces the venue's closes by it.
    * ``max_retries`` / ``backoff_s`` / ``max_backoff_s`` — retries of reads and cancels on
      network errors: ``backoff_s · 2^n`` capped at ``max_backoff_s``, no jitter; a venue's
      ``Retry-After`` is honoured when it fits in the deadline.
    * ``position_max_age_s`` — a position known from an older snapshot is re-fetched before a close.
    * ``bybit_dcp_websocket`` — the caller keeps a private websocket open. Bybit's
      disconnected-cancel-all (DCP) only fires when a *private websocket subscribed to the "dcp"
      topic* drops; this adapter speaks REST only, so DCP is reported unsupported unless the
      caller declares that it keeps such a websocket.
    * ``open_orders_max_age_s`` — how old the list of every open order a snapshot carries may be
      (default: the dialect's; 0 lists them at every snapshot). Where listing them all is the
      heavy read for the venue's weight limit (Binance: 40 of a snapshot's 50), a snapshot
      younger than that keeps the last list: the orders this adapter sent or cancelled since
      make the next snapshot list them again, but a bot's order placed since is not in it.
    * ``ccxt_rate_limit`` — ccxt's own request pacing (``enableRateLimit``), on by default. Off
      only against a venue that enforces its limits in a time of its own, such as the simulated
      exchange's HTTP face in simulated time; the order budget still applies.
    * ``exchange_factory`` — ``config dict → exchange object``; the default builds
      ``ccxt.async_support.<venue>(config)``. Tests inject a ccxt-like fake here.
    * ``stream_factory`` — the same for the streaming client of an account whose ``stream``
      block is enabled on a dialect that streams; the default builds ``ccxt.pro.<venue>(config)``,
      configured as the REST client (credentials, timeout, strict JSON, ``urls``).
    * ``stream_clock`` — the private stream's clock (UTC ms): when it last heard from the venue,
      when it was last reconciled, and so when it is stale or its reconcile overdue. Tests hand
      a fake one; the default is the wall clock.

    Raises :class:`AdapterError` on construction for an unreadable credential (``AUTH``) or a
    venue ccxt does not know (``UNSUPPORTED``) — never with a secret in it.

    Size: about 900 lines, the ExchangeAdapter protocol's calls (snapshot, submit, fetch and
    cancel by client id, countdowns, the private stream's start, health, the entries it hands the
    venue watch and the cadence's REST reconcile beside the ticks) over one ccxt client, sharing
    its markets, the positions a close is checked against and the order budget. What varies by
    venue is in ``dialects/``; parsing, error mapping and the budget are modules of their own.
    """

    def __init__(
        self,
        account: Any,
        *,
        timeout: float = 10.0,
        urls: Urls = None,
        orders_per_second: Optional[float] = None,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_backoff_s: float = 2.0,
        position_max_age_s: float = 15.0,
        bybit_dcp_websocket: bool = False,
        open_orders_max_age_s: Optional[float] = None,
        ccxt_rate_limit: bool = True,
        exchange_factory: Optional[Factory] = None,
        stream_factory: Optional[Factory] = None,
        stream_clock: Callable[[], int] = now_ms,
    ):
        self.venue: str = account.venue
        self.account: str = account.name
        self.market_type: str = account.market_type
        self.hedge_mode: bool = bool(account.hedge_mode)
        self.quote_currency: str = account.quote_currency
        self.labels: dict[str, str] = dict(account.labels)
        names = getattr(account, "strategy_names", None)
        self.strategies: list[str] = list(names() if callable(names) else getattr(account, "strategies", []) or [])
        prefixes = getattr(account, "client_id_prefixes", None)
        # client order id prefix → its strategy (the Accounts document's map; a bare name maps to itself)
        self.strategy_prefixes: dict[str, str] = dict(prefixes()) if callable(prefixes) else {
            s: s for s in self.strategies}
        self.stablecoins: list[str] = list(account.stablecoins)
        self.settle_coins: tuple[str, ...] = tuple(getattr(account, "settle_coins", ()) or ())
        ic = account.initial_capital
        self.initial_capital: Optional[float] = None if ic is None else float(getattr(ic, "value", ic))
        self.dialect = dialect_for(self.venue)
        self.position_max_age_s = float(position_max_age_s)
        self.bybit_dcp_websocket = bool(bybit_dcp_websocket)
        self.open_orders_max_age_s = float(self.dialect.open_orders_max_age_s if open_orders_max_age_s is None
                                           else open_orders_max_age_s)
        rate = orders_per_second if orders_per_second is not None else self.dialect.order_rate
        budget = OrderBudget(rate)

        config, self._secret_values = client_config(account, self.dialect, timeout=float(timeout),
                                                    rate_limit=bool(ccxt_rate_limit))
        factory = exchange_factory or default_factory(self.venue)
        ex = create_client(factory, config, venue=self.venue, secrets=self._secrets)
        self._ex = ex
        configure_client(ex, self.dialect, market_type=self.market_type, sandbox=getattr(account, "sandbox", False),
                         urls=urls, secrets=self._secrets)
        # the weight its requests cost the venue over the last minute (the runner sums a venue's)
        self.weight_limit = self.dialect.weight_limit_for(self.market_type)
        self.weight_meter = WeightMeter()
        limit = self.weight_limit
        meter_requests(ex, self.weight_meter, counts_requests=bool(limit and limit.counts_requests),
                       used_header=limit.used_header if limit else None, weigh=self.dialect.request_weight)
        self._calls = Calls(ex, venue=self.venue, budget=budget, timeout=timeout, max_retries=max_retries,
                            backoff_s=backoff_s, max_backoff_s=max_backoff_s, secrets=lambda: self._secrets,
                            refusal=self.dialect.venue_refusal)
        self._mode = AccountMode(self.dialect, self.hedge_mode, venue=self.venue, account=self.account)

        self._markets = Markets(ex, self._calls, venue=self.venue, market_type=self.market_type)
        self._countdowns = Countdowns(
            self._calls, self._markets,
            lambda: self.dialect.countdown(ex, self.market_type, keeps_private_websocket=self.bybit_dcp_websocket),
            exposed=self._exposed_symbols, venue=self.venue, market_type=self.market_type)
        self._positions: dict[tuple[str, str], Position] = {}
        self._margin_modes: dict[tuple[str, str], str] = {}  # (symbol, long | short) → cross | isolated
        self._positions_at: dict[str, float] = {}  # symbol → monotonic time of its last fetch
        self._positions_all_at: Optional[float] = None  # monotonic time of the last fetch of all
        self._holdings: dict[str, Balance] = {}
        self._holdings_at: Optional[float] = None
        self._orders: dict[str, Order] = {}
        self._orders_at: Optional[float] = None  # monotonic time of the last list of every open order
        # the venue's switch of the bots' keys, with the account's master credential (revoke:)
        self._master = MasterSwitch(account, self.dialect, timeout=timeout, urls=urls, factory=factory,
                                    own_key=config.get("apiKey"), max_retries=max_retries, backoff_s=backoff_s,
                                    max_backoff_s=max_backoff_s, ccxt_rate_limit=bool(ccxt_rate_limit))
        self._watching_entries = False  # a lock that cancels entries binds the account (wake_on_entries)
        self.capabilities = self._capabilities(rate)
        self._stream_spec = getattr(account, "stream", None)
        self._stream: Optional[AccountStream] = None
        self._stream_clock = stream_clock
        self._behind: Optional[asyncio.Future] = None  # the cadence's reconcile under way beside the ticks
        if self.dialect.streams and self._stream_spec is not None and self._stream_spec.enabled:
            self._stream = self._make_stream(config, stream_factory or pro_factory(self.venue),
                                             urls=urls, sandbox=getattr(account, "sandbox", False))
        self._stream_said = False

    # --- settings the calls run with ----------------------------------------------------------------

    @property
    def budget(self) -> OrderBudget:
        """The order budget every create and cancel of this account spends."""
        return self._calls.budget

    @budget.setter
    def budget(self, budget: OrderBudget) -> None:
        self._calls.budget = budget

    # the call settings live with the calls; read here as the constructor's options
    timeout = property(lambda self: self._calls.timeout)
    max_retries = property(lambda self: self._calls.max_retries)
    backoff_s = property(lambda self: self._calls.backoff_s)
    max_backoff_s = property(lambda self: self._calls.max_backoff_s)

    @property
    def _secrets(self) -> list[str]:
        return [s.reveal() for s in self._secret_values]

    def _has_method(self, name: str) -> bool:
        return callable(getattr(self._ex, name, None))

    def _has(self, name: str) -> bool:
        has = getattr(self._ex, "has", None) or {}
        return bool(has.get(name))

    def _capabilities(self, rate: float) -> Capabilities:
        futures = self.market_type == "futures"
        return Capabilities(
            positions=futures and self._has("fetchPositions"),
            reduce_only=futures,
            hedge_mode=self.hedge_mode,
            cancel_all_after=self._countdowns.supported(),
            close_position=self._has("closePosition"),
            client_order_id=True,
            fetch_order_by_client_id=self.dialect.can_fetch_by_client_id(self._has),
            max_client_id_length=self.dialect.max_client_id_length,
            orders_per_second=float(rate),
            revoke_trading=self._master.supported,
        )

    def _error(self, exc: BaseException, what: str, reason: Optional[Reason] = None) -> AdapterError:
        return self._calls.error(exc, what, reason)

    # --- markets ---------------------------------------------------------------------------------------

    async def _ensure_markets(self, op: Op) -> None:
        await self._markets.ensure(op)

    def symbols(self) -> Optional[frozenset[str]]:
        """The unified symbols of the loaded markets of this account's type (swaps for futures,
        spot pairs for spot); None until the markets are loaded."""
        return self._markets.symbols()

    def strategy_names(self) -> frozenset[str]:
        return frozenset(self.strategies)

    async def load_symbols(self) -> None:
        await self._calls.run("load_markets", self._markets.ensure)

    def market_rules(self, symbol: str) -> Optional[MarketRules]:
        """The rounding and minimum rules of a loaded market, or None when unknown."""
        return self._markets.rules(symbol)

    def round_amount(self, symbol: str, amount: float) -> float:
        """``amount`` rounded down to the market's step (ccxt ``amount_to_precision`` truncates);
        0.0 when nothing is left. Raises UNKNOWN_SYMBOL for a market that is not loaded."""
        return self._markets.round_amount(symbol, amount)

    # --- parsing with this account's dialect and markets -----------------------------------------------

    def _parse_position(self, p: Any) -> Optional[Position]:
        return parsing.parse_position(p, self._markets.get, KNOWN_RAW_FIELDS)

    def _parse_checked_position(self, p: Any) -> Optional[Position]:
        return self._parse_position(self.dialect.checked_position(p))

    def _parse_order(self, o: Any, kind: Optional[str] = None, price_trigger: bool = True) -> Order:
        return parsing.parse_order(o, KNOWN_RAW_FIELDS, self.strategy_prefixes, kind, price_trigger)

    def _reads(self, op: Op) -> Reads:
        """What the dialect's reads of this account are handed, within ``op``."""
        return Reads(call=self._calls.bind(op), has_method=self._has_method, symbol_of=self._markets.symbol_of,
                     market_type=self.market_type, settle_coins=self.settle_coins)

    async def _open_orders(self, op: Op, symbol: Optional[str] = None) -> list[Order]:
        """Every open order (of ``symbol``), every list of the venue's read (the dialect's)."""
        listed = await self.dialect.fetch_open_orders(self._reads(op), symbol)
        return [self._read_row("order", row.endpoint, self._parse_order, row.order, row.kind, row.price_trigger)
                for row in listed]

    def _read_row(self, what: str, endpoint: str, parse: Callable[..., Any], *args: Any) -> Any:
        """``parse(*args)`` of one row (an "order", a "position") of ``endpoint``'s answer; a row it
        cannot read is BAD_RESPONSE naming the venue, the endpoint and the field, the venue's
        own where the dialect knows it (:func:`.dialects.base.bad_field`)."""
        try:
            return parse(*args)
        except BadField as e:
            err = bad_field(self.venue, endpoint, self.dialect.field_name(what, e.field),
                            scrub(e.problem, self._secrets))
        except (BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"{self.venue} {endpoint}: {e}", self._secrets),
                               venue=self.venue)
        raise err

    def _read_positions(self, raw: Any) -> list[Position]:
        """The open positions of a positions answer, each row read by :meth:`_read_row`."""
        endpoint = self.dialect.positions_endpoint(self.market_type)
        parsed = (self._read_row("position", endpoint, self._parse_checked_position, x) for x in (raw or []))
        return [p for p in parsed if p is not None]

    async def _read_positions_yielding(self, raw: Any) -> list[Position]:
        """:meth:`_read_positions`, letting the event loop run every
        :data:`~.dialects.base.YIELD_EVERY` rows (a mark frame read, a wake)."""
        rows = list(raw or [])
        out: list[Position] = []
        for i in range(0, len(rows), YIELD_EVERY):
            if i:
                await asyncio.sleep(0)
            out.extend(self._read_positions(rows[i:i + YIELD_EVERY]))
        return out

    def _parse_or_bad_response(self, what: str, parse: Callable[[], Any]) -> Any:
        """``parse()``, a structure it cannot read raised as BAD_RESPONSE (scrubbed, unchained)."""
        try:
            return parse()
        except (BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"{what}: {e}", self._secrets), venue=self.venue)
        raise err

    # --- the private stream ---------------------------------------------------------------------------

    def _make_stream(self, config: dict, factory: Factory, *, urls: Urls, sandbox: bool) -> AccountStream:
        def build() -> Any:
            ex = create_client(factory, dict(config, options=dict(config["options"])), venue=self.venue,
                               secrets=self._secrets)
            configure_client(ex, self.dialect, market_type=self.market_type, sandbox=sandbox, urls=urls,
                             secrets=self._secrets)
            limit = self.weight_limit  # its REST requests (the listen key's) count against the venue's limit too
            meter_requests(ex, self.weight_meter, counts_requests=bool(limit and limit.counts_requests),
                           used_header=limit.used_header if limit else None, weigh=self.dialect.request_weight)
            opts = getattr(ex, "options", None)
            if isinstance(opts, dict):  # no REST read of ccxt's own: the adapter's reconcile seeds the state
                opts["watchPositions"] = {**opts.get("watchPositions", {}), "fetchPositionsSnapshot": False,
                                          "awaitPositionsSnapshot": False}
            markets = getattr(self._ex, "markets", None)
            if markets and callable(getattr(ex, "set_markets", None)):
                ex.set_markets(markets, getattr(self._ex, "currencies", None))
            return ex

        spec = self._stream_spec
        assert spec is not None  # only an account with a stream block streams
        return AccountStream(
            f"{self.venue}/{self.account}", quote=self.dialect.stream_quote or self.quote_currency, build=build,
            parse_order=self._parse_order,
            contract_size=lambda s: num((self._markets.get(s) or {}).get("contractSize")) or 1.0,
            rules=self.market_rules, classify=self.dialect.stream_message,
            events=lambda message, order, held: self.dialect.stream_events(message, self._markets.symbol_of, order,
                                                                           held),
            secrets=lambda: self._secrets, event_time=self.dialect.stream_time, describe=self.dialect.stream_problem,
            mark_rows=lambda message, held: self.dialect.stream_mark_rows(message, self._markets.symbol_of, held),
            watch_marks=None if type(self.dialect).watch_marks is Dialect.watch_marks else self.dialect.watch_marks,
            order_parser=self.dialect.stream_order_parser, ended=self.dialect.stream_ended,
            watches=self.dialect.stream_watches(),
            stale_after_s=spec.stale_after.seconds, reconcile_every_s=spec.reconcile_every.seconds,
            clock=self._stream_clock)

    def stream_health(self) -> StreamHealth:
        """The private stream's state: off (STREAM_UNSUPPORTED on a dialect that does not stream,
        STREAM_DISABLED without an enabled ``stream`` block), else the stream's own."""
        if self._stream is not None:
            return self._stream.health()
        return StreamHealth(state="off", reason="STREAM_DISABLED" if self.dialect.streams else "STREAM_UNSUPPORTED",
                            since_ms=None, last_message_ms=None)

    def set_wake(self, cb: Callable[[str], None]) -> None:
        """``cb(venue/account)`` when a stream update changed a position, a balance or a mark."""
        if self._stream is not None:
            self._stream.set_wake(cb)

    def wake_on_entries(self, on: bool) -> None:
        """Whether the runner watches this account's entry orders (a lock that cancels them binds
        it): a new open order that is not reduce-only wakes the runner (the cancel comes at the
        stream event's tick), and a snapshot lists every open order when its last list is
        ``WATCHED_ORDERS_MAX_AGE_S`` old, not the dialect's longer age (a bot's order placed since
        is not in a list kept)."""
        self._watching_entries = bool(on)
        if self._stream is not None:
            self._stream.wake_on_entries = bool(on)

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        """``cb(venue/account, order)`` for each new open order that is not reduce-only the
        stream delivers while :meth:`wake_on_entries` is on (the venue watch's fast path)."""
        if self._stream is not None:
            self._stream.set_entry_watch(cb)

    def stream_holds_open(self, order_id: str) -> Optional[bool]:
        """Whether the stream holds ``order_id`` open now (None without a stream): an order it
        handed over that filled since is not cancelled (a cancel of an order not known lists
        every open order, the venue's heaviest read)."""
        return self._stream.holds_open(order_id) if self._stream is not None else None

    def stream_legs(self, symbol: str) -> Optional[dict[str, float]]:
        """The stream's contracts of ``symbol``'s legs by ``SYMBOL|leg``; None without a stream
        whose word is trusted now (it polls, or a reconcile is due)."""
        return self._stream.legs_of(symbol) if self._stream is not None else None

    async def start_streams(self) -> None:
        """Start the private stream's watch tasks (idempotent); a venue that does not stream says
        so here, once, and is polled."""
        if self._stream is not None:
            self._stream.start()
        elif not self._stream_said:
            self._stream_said = True
            asked = self._stream_spec is not None and self._stream_spec.enabled
            if not self.dialect.streams:
                log.log(logging.WARNING if asked else logging.INFO,
                        "%s/%s: %s has no private stream in this adapter (STREAM_UNSUPPORTED): polled over REST",
                        self.venue, self.account, self.venue)

    # --- snapshot ---------------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The account now. With a live private stream, its state (no REST call, ``fetch.calls``
        0); REST when the stream is off, stale or down, after a reconnect and while the last good
        reconcile is overdue (the cadence's reads beside the ticks failing for 3× reconcile_every:
        a failed read then is a failed snapshot, blind) — then compared with the stream's state,
        and put in its place (REST wins). The cadence's read of a stream that answers runs beside."""
        stream = self._stream
        if stream is not None:  # the legs a reconcile beside the ticks is making: waited for, the loop free
            await stream.made()
        if stream is not None and self._behind is not None and stream.needs_rest():
            await asyncio.shield(self._behind)  # one REST read at a time: the one under way may be the one needed
        if stream is None or stream.needs_rest():
            return await self._rest_reconcile(stream)
        if stream.reconcile_aged() and self._behind is None:
            # the cadence's check of a live, confirmed stream reads REST beside the ticks, never
            # in front of one: at 10,000 positions the read and its parsing hold the loop for a
            # second, which a reaction landing in it would wait out
            self._behind = asyncio.ensure_future(self._reconcile_behind(stream))
        return stream.snapshot() or await self._rest_snapshot()

    async def _rest_reconcile(self, stream: Optional[AccountStream], *, beside: bool = False) -> Snapshot:
        """A REST snapshot, put in the stream's place (REST wins) where there is one; ``beside``
        (the cadence's read beside the ticks): the stream's legs made again a slice at a time."""
        token = stream.reconcile_token() if stream is not None else None
        mark = stream.state.order_mark() if stream is not None else None  # orders updated after: newer than the read
        began = time.monotonic()
        snap = await self._rest_snapshot()
        if stream is not None:  # (the open orders are listed on their own cadence: this read's, or older)
            stream.reconcile(snap, token, orders=self._orders_at is not None and self._orders_at >= began,
                             orders_since=mark, prepare=not beside)
            if beside:
                await stream.prepare_stepwise()
        return snap

    async def _reconcile_behind(self, stream: AccountStream) -> None:
        """The cadence's reconcile, run beside the ticks; the runner woken when REST disagreed
        (its state took the stream's place, and the next snapshots read REST until one agrees).
        A failed read is the stream's to count (:meth:`AccountStream.reconcile`); once the last
        good one is overdue the next snapshot reads REST in front."""
        try:
            disagreed = stream.disagreements
            snap = await self._rest_reconcile(stream, beside=True)
            if snap.fetch.ok and stream.disagreements != disagreed:
                stream.wake_runner()
        except Exception as e:  # noqa: BLE001 — a snapshot never raises; this task never ends the stream
            stream.reconcile_failed(type(e).__name__)
        finally:
            self._behind = None

    async def _rest_snapshot(self) -> Snapshot:
        """The account now: balances, positions (futures), open orders, equity and the market
        rules of every symbol in them. Never raises: a failure is a snapshot with ``fetch.ok``
        false, ``equity`` None and the reason code (secrets scrubbed from the message)."""
        started = time.monotonic()
        op = self._calls.op("snapshot")
        try:
            snap = await asyncio.wait_for(self._snapshot(op, started), self.timeout)
            return snap
        except (asyncio.TimeoutError, TimeoutError):
            err = AdapterError(Reason.TIMEOUT, f"snapshot: no answer within {self.timeout:g}s", venue=self.venue)
        except AdapterError as e:
            err = e
        except Exception as e:  # noqa: BLE001 — a snapshot never raises
            err = self._error(e, "snapshot")
        now = _now_ms()
        return self._base_snapshot(
            ts_event=now, ts_observed=now, equity=None,
            fetch=FetchStatus(ok=False, error_code=err.reason.value, error=scrub(err.message, self._secrets),
                              latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        )

    def _base_snapshot(self, **kw: Any) -> Snapshot:
        return Snapshot(venue=self.venue, account=self.account, market_type=self.market_type,
                        quote_currency=self.quote_currency, labels=self.labels,
                        initial_capital=self.initial_capital, stablecoins=self.stablecoins, **kw)

    def _orders_due(self) -> bool:
        """Whether this snapshot lists every open order (see ``open_orders_max_age_s``, and
        :meth:`wake_on_entries`)."""
        at = self._orders_at
        age = min(self.open_orders_max_age_s, WATCHED_ORDERS_MAX_AGE_S) if self._watching_entries \
            else self.open_orders_max_age_s
        if self._stream is not None and self._stream.orders_due:  # it read an order it cannot tell the kind of
            return True
        return at is None or time.monotonic() - at >= age

    async def _snapshot(self, op: Op, started: float) -> Snapshot:
        await self._ensure_markets(op)
        futures = self.market_type == "futures"
        if futures and not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        listing = self._orders_due()
        reads = [self._calls.call(op, "fetch_balance")]
        if futures:
            reads.append(self.dialect.fetch_positions(self._reads(op)))
        if listing:
            reads.append(self._open_orders(op))
        if futures and self._mode.due():  # (never raises: a mode not read is said, the legs build closes)
            reads.append(self._mode.read_now(self._reads(op)))
        results = await self._calls.gather(*reads)
        raw_balance = results[0]
        raw_positions = results[1] if futures else []
        observed = _now_ms()

        orders = results[2 if futures else 1] if listing else list(self._orders.values())
        if futures:
            # with their columns, read while the positions are fresh (the tick reads no field of them)
            positions = PositionList.of(await self._read_positions_yielding(raw_positions))
            balances = parsing.parse_balances(raw_balance, {})
            equity = parsing.futures_equity(raw_balance, self.quote_currency, KNOWN_RAW_FIELDS)
        else:
            positions = PositionList()
            prices = await self._markets.spot_prices(op, parsing.held_assets(raw_balance), self.quote_currency,
                                                     self.stablecoins)
            balances = parsing.parse_balances(raw_balance, prices)
            equity = sum(b.total * b.price for b in balances if b.price is not None)

        mono = time.monotonic()
        self._positions = {(p.symbol, p.side): p for p in positions}
        self._margin_modes = parsing.margin_modes(raw_positions)
        if futures:
            self._mode.from_positions(raw_positions, self._margin_modes)
        self._positions_at = {}
        self._positions_all_at = mono if futures else None
        self._orders = {o.id: o for o in orders}
        if listing:
            self._orders_at = mono
        self._holdings = {b.asset: b for b in balances}
        self._holdings_at = mono

        symbols = {p.symbol for p in positions} | {o.symbol for o in orders}
        if not futures:
            symbols |= {f"{b.asset}/{self.quote_currency}" for b in balances if b.asset != self.quote_currency}
        markets = {s: r for s in sorted(symbols) if (r := self.market_rules(s)) is not None}
        return with_positions(self._base_snapshot(  # its positions as parsed, with their columns
            ts_event=parsing.venue_time(raw_balance, raw_positions, observed),
            ts_observed=observed,
            equity=equity,
            balances=balances,
            orders=orders,
            fetch=FetchStatus(ok=True, latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        ), positions, markets)  # and the market rules it made, not validated again

    # --- orders -------------------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderResult:
        """Send one order of the engine.

        Before anything is sent: :func:`check_close` against the position this adapter knows
        for the intent's symbol and leg (re-fetched when unknown or older than
        ``position_max_age_s``, or when a live private stream holds less of it since), a
        hedge-mode leg that would grow rather than close refused (NOT_REDUCE_ONLY), a spot sell
        no larger than the holding, the amount rounded down to the market's step and checked
        against the minimum amount (and, for non-reduce-only orders, the minimum notional). Any
        refusal is an AdapterError and nothing reaches the venue.

        Then one ``create_order``: a market order, or a limit IOC at ``intent.limit_price`` (on
        the tick, never looser than the cap), with the dialect's parameters (:meth:`order_params`).

        Never retried. A TIMEOUT (or EXCHANGE_UNAVAILABLE) means the outcome is unknown: ask
        :meth:`fetch_order` with the same client order id before sending again.
        """

        async def body(op: Op) -> OrderResult:
            await self._ensure_markets(op)
            market = self._markets.require(intent.symbol)
            if intent.side not in ("buy", "sell"):
                raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: side {intent.side!r}", venue=self.venue)
            if not self.dialect.client_id_fits(intent.client_order_id):
                # the venue would refuse it, or cut it and lose the lookup by client id after a crash
                d = self.dialect
                raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: client order id "
                                   f"{intent.client_order_id!r} is not {d.max_client_id_length} or fewer of "
                                   f"[{d.client_id_alphabet}]", venue=self.venue)
            leg = self._leg_of(intent)
            if self.market_type == "futures":
                pos = await self._known_position(op, intent.symbol, leg)
                check_close(intent, self.market_type, pos.contracts if pos else None, self.venue)
            else:
                check_close(intent, self.market_type, None, self.venue)
                if intent.side == "sell":
                    await self._check_spot_holding(op, intent, market)
            amount = self.round_amount(intent.symbol, intent.amount)
            rules = self.market_rules(intent.symbol) or MarketRules()
            if amount <= 0 or amount < rules.min_amount:
                raise AdapterError(Reason.INVALID_ORDER,
                                   f"{intent.symbol}: amount {intent.amount:g} is below the market minimum "
                                   f"(step {rules.amount_step:g}, min {rules.min_amount:g})", venue=self.venue)
            price = None
            if intent.limit_price is not None:
                if intent.limit_price <= 0:
                    raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: limit price {intent.limit_price:g}",
                                       venue=self.venue)
                price = self._markets.protected_price(intent.symbol, intent.limit_price, intent.side)
            if not intent.reduce_only and rules.min_notional:
                unit = price or (intent.notional / intent.amount if intent.amount else 0.0)
                if unit and amount * unit < rules.min_notional:
                    raise AdapterError(Reason.INVALID_ORDER,
                                       f"{intent.symbol}: notional {amount * unit:g} is below the minimum "
                                       f"{rules.min_notional:g}", venue=self.venue)
            params = self.order_params(intent)
            order_type = "market" if price is None else "limit"
            if price is not None:
                params["timeInForce"] = "IOC"
            raw = await self._calls.call(op, "create_order", intent.symbol, order_type, intent.side, amount, price,
                                         params, retry=False, order=True)
            result = parsing.order_result(self.dialect.order_answer(raw), intent.client_order_id, amount)
            self._after_send(intent.symbol, leg, result)
            return result

        self._orders_at = None  # whatever the answer, the next snapshot lists the open orders again
        try:
            try:
                return await self._calls.run("submit", body)
            except AdapterError as e:
                if e.refusal is None or e.refusal.kind != MODE or self.market_type != "futures":
                    raise
                # refused for the position mode (reduceOnly in hedge mode, a leg in one-way):
                # nothing reached the book; read the mode again and, built otherwise now, send once
                sent = self.order_params(intent)
                await self._reread_mode()
                if self.order_params(intent) == sent:
                    raise
                log.warning("%s/%s: %s refused for the position mode (%s); the mode read again is %s: "
                            "sent once more, built for it", self.venue, self.account, intent.client_order_id,
                            e.refusal.text(), self._mode.value().describe())
                return await self._calls.run("submit", body)
        except AdapterError as e:
            if e.reason in (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE, Reason.UNKNOWN, Reason.BAD_RESPONSE,
                            Reason.REDUCE_ONLY_REJECTED):
                # unknown outcome, or the venue knows a smaller position: re-fetch before the next close
                self._forget_positions(intent.symbol)
            if e.reason == Reason.CLOSE_EXCEEDS_POSITION and self._stream is not None and \
                    self.market_type == "futures":
                # the close was sized from a snapshot that holds more than the position read over
                # REST: the next snapshots are REST's until a reconcile agrees with the stream
                self._stream.distrust(f"{intent.symbol}: {e.message}")
            raise

    def _leg_of(self, intent: OrderIntent) -> str:
        """The position ('long' / 'short') an intent closes; a hedge leg it would grow is refused."""
        closes = "long" if intent.side == "sell" else "short"
        ps = (intent.position_side or "").upper()
        if ps in ("LONG", "SHORT"):
            if ps.lower() != closes and self.market_type == "futures":
                raise AdapterError(Reason.NOT_REDUCE_ONLY,
                                   f"{intent.symbol}: a {intent.side} on the {ps} leg would grow it, not close it",
                                   venue=self.venue)
            return ps.lower()
        return closes

    def order_params(self, intent: OrderIntent) -> dict:
        """The venue parameters of an intent (the dialect's): client order id, reduce-only,
        hedge-mode leg, and the margin mode of the position a close reduces where the venue
        needs it (OKX ``tdMode``: an isolated position closed as cross is refused or opens a
        cross position)."""
        leg = None
        if self.market_type == "futures" and self._mode.hedge_for(intent.position_side):  # the venue's mode
            leg = "LONG" if intent.side == "sell" else "SHORT"
            given = (intent.position_side or "").upper()
            if given in ("LONG", "SHORT"):
                leg = given
        futures = self.market_type == "futures"
        params = self.dialect.order_params(intent.client_order_id, futures=futures, hedge_leg=leg,
                                           reduce_only=bool(intent.reduce_only))
        param = self.dialect.margin_mode_param
        if futures and param and intent.reduce_only:
            closes = "long" if intent.side == "sell" else "short"
            mode = self._margin_modes.get((intent.symbol, (leg or closes.upper()).lower()))
            if mode is not None:
                params[param] = mode
        return params

    def position_mode(self) -> PositionMode:
        """The account's position mode as the venue read it last, beside the declared one (and
        why it was not read, where it was not); see :mod:`.modes`."""
        return self._mode.value()

    async def _reread_mode(self) -> None:
        """Read the position mode again now (after a refusal for it), within its own deadline."""
        self._mode.distrust()

        async def body(op: Op) -> None:
            await self._mode.read_now(self._reads(op))
            if self._mode.hedge is None and self._has("fetchPositions"):  # a venue whose positions say it
                raw = await self.dialect.fetch_positions(self._reads(op))
                self._mode.from_positions(raw, parsing.margin_modes(raw))

        try:
            await self._calls.run("position_mode", body)
        except AdapterError as e:
            log.warning("%s/%s: POSITION_MODE_UNREAD: %s: %s", self.venue, self.account, e.reason.value, e.message)

    async def _known_position(self, op: Op, symbol: str, leg: str) -> Optional[Position]:
        at = self._positions_at.get(symbol, self._positions_all_at)
        fresh = at is not None and time.monotonic() - at <= self.position_max_age_s
        if not fresh or self._stream_holds_less(symbol, leg):
            await self._refresh_positions(op, symbol)
        return self._positions.get((symbol, leg))

    def _stream_holds_less(self, symbol: str, leg: str) -> bool:
        """Whether a live stream changed ``symbol``'s position and now holds less of ``leg``
        than this adapter knows (a fill it did not send, since the last read): the close is then
        checked against a fresh read, never larger than the position. (More, as when its own
        close's fill has not come back yet, is no danger: the smaller known one checks it.)"""
        s = self._stream
        if s is None or s.position_changed(symbol) is None or s.health().state != "live":
            return False
        known = self._positions.get((symbol, leg))
        held = s.position_of(symbol, leg)
        return held is not None and known is not None and held < known.contracts * (1 - 1e-9)

    async def _refresh_positions(self, op: Op, symbol: str) -> None:
        if not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        raw = await self._calls.call(op, "fetch_positions", [symbol])
        parsed = self._read_positions(raw)
        for key in [k for k in self._positions if k[0] == symbol]:
            del self._positions[key]
        for p in parsed:
            if p.symbol == symbol:
                self._positions[(p.symbol, p.side)] = p
        self._margin_modes.update({k: m for k, m in parsing.margin_modes(raw).items() if k[0] == symbol})
        self._positions_at[symbol] = time.monotonic()

    def _released(self, symbols: set[str]) -> None:
        """Orders of ``symbols`` were cancelled (or tried): what :meth:`_after_send` took off the
        known position for them while they rested is known no longer — some of it may have
        filled, the rest is the position's again. The next close of each reads the position
        afresh (with a private stream the snapshots do not, and a close would be refused
        against a position reduced by an order gone unfilled)."""
        if self.market_type == "futures":
            for symbol in symbols:
                self._forget_positions(symbol)

    def _forget_positions(self, symbol: str) -> None:
        self._positions_at[symbol] = -math.inf  # stale whatever the last full fetch says
        self._holdings_at = None

    def _after_send(self, symbol: str, leg: str, result: OrderResult) -> None:
        """What the known position has left: less what filled, and less what may still fill
        while the order rests (so that chunks never add up beyond the position)."""
        gone = (result.filled if result.status in ("canceled", "expired", "rejected")
                else max(result.filled, result.amount))
        if self.market_type != "futures":
            base = (self._markets.get(symbol) or {}).get("base") or symbol.split("/", 1)[0]
            held = self._holdings.get(base)
            if held is not None and leg == "long":  # a sell
                total = max(0.0, held.total - gone)
                self._holdings[base] = held.model_copy(update={"total": total, "free": max(0.0, min(held.free, total))})
            return
        pos = self._positions.get((symbol, leg))
        if pos is None:
            return
        left = pos.contracts - gone
        if left <= pos.contracts * 1e-9:
            del self._positions[(symbol, leg)]
        else:
            self._positions[(symbol, leg)] = pos.model_copy(
                update={"contracts": left, "notional": pos.notional * left / pos.contracts})

    async def _check_spot_holding(self, op: Op, intent: OrderIntent, market: Mapping) -> None:
        base = market.get("base") or intent.symbol.split("/", 1)[0]
        fresh = self._holdings_at is not None and time.monotonic() - self._holdings_at <= self.position_max_age_s
        if not fresh:
            raw = await self._calls.call(op, "fetch_balance")
            self._holdings = self._parse_or_bad_response(
                "fetch_balance", lambda: {b.asset: b for b in parsing.parse_balances(raw, {})})
            self._holdings_at = time.monotonic()
        held = self._holdings.get(base)
        have = held.total if held else 0.0
        if intent.amount > have * (1 + 1e-9):
            raise AdapterError(Reason.CLOSE_EXCEEDS_POSITION,
                               f"{intent.symbol}: sell of {intent.amount:g} exceeds the holding of {have:g} {base}",
                               venue=self.venue)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        """The order with this client order id, looked up the dialect's way (a single-order
        fetch by the venue's client order id key, or a search of the order lists).
        ORDER_NOT_FOUND when the venue has no such order."""

        async def body(op: Op) -> OrderResult:
            await self._ensure_markets(op)
            self._markets.require(symbol)
            raw = await self.dialect.find_by_client_id(self._calls.bind(op), symbol, client_order_id)
            if raw is None:
                raise AdapterError(Reason.ORDER_NOT_FOUND, f"{symbol}: no order {client_order_id}", venue=self.venue)
            amount = num(raw.get("amount")) if isinstance(raw, Mapping) else None
            return parsing.order_result(raw, client_order_id, amount or 0.0)

        return await self._calls.run("fetch_order", body)

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        """The top ``depth`` levels a side of ``symbol``'s book: ccxt's ``fetch_order_book`` at
        the smallest depth the venue takes that covers it, through the request pacer."""

        async def body(op: Op) -> OrderBook:
            await self._ensure_markets(op)
            self._markets.require(symbol)
            raw = await self._calls.call(op, "fetch_order_book", symbol, self.dialect.book_limit(depth))
            return self._parse_or_bad_response("order book", lambda: parsing.order_book(raw, depth))

        return await self._calls.run("fetch_order_book", body)

    # --- cancels ---------------------------------------------------------------------------------------

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        """Cancel open orders: ``order_ids`` if given, else every order of ``selector.symbols``
        (all symbols when empty), all of them or only entries (non-reduce-only). A whole symbol
        goes through ``cancel_all_orders`` when the venue has it; otherwise, and for entries,
        one ``cancel_order`` per order. Per-order failures are reported, not raised; failing
        to list the open orders raises."""

        self._orders_at = None  # the next snapshot lists the open orders again

        async def body(op: Op) -> CancelResult:
            await self._ensure_markets(op)
            if selector.which not in ("all", "entries"):
                raise AdapterError(Reason.INVALID_ORDER, f"cancel which={selector.which!r}", venue=self.venue)
            failed: dict[str, str] = {}
            canceled: list[str] = []
            if selector.order_ids:
                # the orders the last list held, and those the private stream has told of since (a
                # streamed snapshot's orders are the stream's): listing every open order again costs
                # the venue's heaviest read (Binance: 40 of its weight, paced at seconds by the
                # client), which a cancel of orders just seen on the stream need not wait for
                known = self._orders if self._stream is None else {**self._orders, **self._stream.state.orders}
                listed = any(i not in known for i in selector.order_ids)
                if listed:
                    known = await self._list_open(op)
                targets = []
                for oid in selector.order_ids:
                    if oid in known:
                        targets.append(known[oid])
                    else:
                        failed[oid] = Reason.ORDER_NOT_FOUND.value
                await self._cancel_each(op, targets, canceled, failed)
                missed = [o for o in targets if failed.get(o.id) == Reason.ORDER_NOT_FOUND.value]
                if missed and not listed:  # what was known of them may be stale: the venue's list decides
                    fresh = await self._list_open(op)
                    again = [fresh[o.id] for o in missed if o.id in fresh]
                    for o in again:
                        del failed[o.id]
                    await self._cancel_each(op, again, canceled, failed)
                self._released({o.symbol for o in targets})
                return CancelResult(tuple(canceled), failed)

            open_orders = await self._list_open(op, selector.symbols)
            wanted = set(selector.symbols)
            by_symbol: dict[str, list[Order]] = {}
            for o in open_orders.values():
                if wanted and o.symbol not in wanted:
                    continue
                if selector.which == "entries" and o.reduce_only:
                    continue
                by_symbol.setdefault(o.symbol, []).append(o)
            for symbol in sorted(by_symbol):
                # one cancel per endpoint the venue cancels its kinds of orders through (Binance
                # and OKX cancel conditional orders through their algo service)
                groups: dict[tuple, list[Order]] = {}
                for o in by_symbol[symbol]:
                    groups.setdefault(tuple(sorted(self.dialect.order_cancel_params(o).items())), []).append(o)
                for params, orders in groups.items():
                    if selector.which == "all" and self._has("cancelAllOrders"):
                        try:
                            await self._calls.call(op, "cancel_all_orders", symbol, dict(params), order=True)
                        except AdapterError as e:
                            failed.update({o.id: e.reason.value for o in orders})
                        else:
                            canceled.extend(o.id for o in orders)
                    else:
                        await self._cancel_each(op, orders, canceled, failed)
            for oid in canceled:
                self._orders.pop(oid, None)
            self._released(set(by_symbol))
            return CancelResult(tuple(canceled), failed)

        return await self._calls.run("cancel_orders", body)

    async def _list_open(self, op: Op, symbols: tuple[str, ...] = ()) -> dict[str, Order]:
        orders = await self._open_orders(op, symbols[0] if len(symbols) == 1 else None)
        listed = {o.id: o for o in orders}
        if not symbols:
            self._orders = dict(listed)
        return listed

    async def _cancel_each(self, op: Op, orders: list[Order], canceled: list[str], failed: dict[str, str]) -> None:
        for o in orders:
            try:
                await self._calls.call(op, "cancel_order", o.id, o.symbol, dict(self.dialect.order_cancel_params(o)),
                                       order=True)
            except AdapterError as e:
                failed[o.id] = e.reason.value
            else:
                canceled.append(o.id)
                self._orders.pop(o.id, None)

    # --- dead man's switch ---------------------------------------------------------------------------

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Arm the venue's own dead man's switch; see :meth:`.countdowns.Countdowns.arm`."""
        return await self._countdowns.arm(seconds, symbols)

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Turn the venue's dead man's switch off; see :meth:`.countdowns.Countdowns.disarm`."""
        return await self._countdowns.disarm(symbols)

    async def set_trading(self, allowed: bool) -> PermissionResult:
        """Allow or revoke the bots' keys at the venue; see :class:`.permissions.MasterSwitch`."""
        return await self._master.set_trading(allowed)

    async def read_trading(self) -> PermissionResult:
        """The bots' keys' permission as the venue reads it; see :class:`.permissions.MasterSwitch`."""
        return await self._master.read_trading()

    async def _exposed_symbols(self, op: Op) -> set[str]:
        """The symbols with an open order (listed now) or a known position."""
        found = {o.symbol for o in (await self._list_open(op)).values()}
        return found | {k[0] for k in self._positions}

    # --- lifecycle ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the private stream, close ccxt's HTTP session (bounded by the timeout; errors are
        swallowed)."""
        if self._behind is not None:
            self._behind.cancel()
            await asyncio.gather(self._behind, return_exceptions=True)
        if self._stream is not None:
            await self._stream.stop()
        await self._master.close()
        closer = getattr(self._ex, "close", None)
        if closer is None:
            return
        try:
            await asyncio.wait_for(closer(), self.timeout)
        except Exception as e:  # noqa: BLE001
            log.debug("%s/%s close: %s", self.venue, self.account, reason_for(e).value)

    def __repr__(self) -> str:
        return f"CcxtAdapter(venue={self.venue!r}, account={self.account!r}, market_type={self.market_type!r})"


__all__ = ["CcxtAdapter"]
