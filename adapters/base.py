"""The adapter protocol: what the runner needs from an exchange, and what it can expect back.

Every venue (ccxt-backed or simulated) implements :class:`ExchangeAdapter`. Operations are
async, bounded by a timeout, and either return a value or raise :class:`AdapterError` with a
reason code from :class:`Reason` — never a bare library exception, never a hang, never a
secret in a message.

Orders come from the engine as :class:`killswitch.engine.planner.OrderIntent`: reduce-only,
a deterministic client order id, and a protected limit price (the slippage cap). An adapter
must refuse to send a reduce-only close larger than the position it knows (``CLOSE_EXCEEDS_POSITION``)
and must never send a close without the reduce-only flag (``NOT_REDUCE_ONLY``); spot sells
(no positions on spot) are the one exception the intent marks with ``reduce_only=False``.

An adapter declares what its venue can do in :class:`Capabilities`, among them its order
budget (``orders_per_second``): the planner spaces a venue's closes by it, handed over as
:func:`order_rates` (the pure engine takes rates as an input and never imports adapters).

The caller of :meth:`ExchangeAdapter.submit` may open a :func:`send_gate` around it: the
adapter asks it (:func:`last_look`) immediately before the order's request leaves, after every
wait of its own, and raises :class:`SendWithheld` when it says no — a runner whose lease term
ran out while its order waited in the adapter sends nothing more.

What only some venues or accounts have is in the protocol too, each with its answer for "not
supported" (an adapter subclasses :class:`ExchangeAdapter` for those defaults): the venue's own
switch of the trading permission of the bots' API keys (``revoke_trading``, each key's outcome a
:class:`PermissionResult` in the venue's own words; else ``REVOKE_UNSUPPORTED``), order books
(else ``UNSUPPORTED``), a private stream and its hooks (else no health, no wakes, no entries
handed over), the account's position mode as the venue reads it and the REST weight its
requests cost (else None). Nobody asks an adapter what it has by looking for an attribute.

Depends on killswitch's snapshot and intent types; killswitch's core never imports adapters.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Protocol, runtime_checkable

from killswitch.fills import Fill
from killswitch.orders import Fees, OrderIntent
from killswitch.snapshot import Order, OrderBook, Snapshot
from killswitch.weights import WeightLimit


class Reason(str, Enum):
    """Reason codes for adapter failures: stable strings that logs, spans and runbooks grep."""

    AUTH = "AUTH"  # bad key, bad signature, IP not allowed
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    RATE_LIMITED = "RATE_LIMITED"  # 429 / 418: back off
    REDUCE_ONLY_REJECTED = "REDUCE_ONLY_REJECTED"  # the venue refused a reduce-only order
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"  # 5xx, maintenance, connection refused or reset
    TIMEOUT = "TIMEOUT"  # no answer within the adapter's timeout: the outcome is unknown
    BAD_RESPONSE = "BAD_RESPONSE"  # malformed JSON, missing fields
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"  # the venue holds no such open order (filled, cancelled, never there)
    # a cancel the venue answered, after which the order is still listed open (named, not counted done)
    ORDER_STILL_OPEN = "ORDER_STILL_OPEN"
    INVALID_ORDER = "INVALID_ORDER"  # below minimum, bad precision, bad price
    CLOSE_EXCEEDS_POSITION = "CLOSE_EXCEEDS_POSITION"  # refused locally, never sent
    NOT_REDUCE_ONLY = "NOT_REDUCE_ONLY"  # refused locally, never sent
    UNSUPPORTED = "UNSUPPORTED"  # the venue cannot do this (e.g. no native dead man's switch)
    LIST_INCOMPLETE = "LIST_INCOMPLETE"  # a paged or split list (positions, open orders) not read to its end
    # the trading permission of the bots' keys (set_trading / read_trading):
    REVOKE_UNSUPPORTED = "REVOKE_UNSUPPORTED"  # the venue's dialect has no such endpoint, or no revoke: block
    REVOKE_REFUSED = "REVOKE_REFUSED"  # the venue refused a revoke or a restore (its code and message kept)
    REVOKE_OWN_KEY = "REVOKE_OWN_KEY"  # refused locally, never sent: the runner's own key is among those listed
    # the venue refused an order built for another position mode (hedge legs in one-way, reduceOnly in hedge)
    POSITION_MODE_MISMATCH = "POSITION_MODE_MISMATCH"
    VENUE_REFUSED = "VENUE_REFUSED"  # the venue refused with a code its dialect's table does not know (kept verbatim)
    # the reader process holding the account's connection ended or stalled: nothing known of the
    # venue until it answers again (adapters/remote/)
    READER_DOWN = "READER_DOWN"
    UNKNOWN = "UNKNOWN"

    @property
    def retryable(self) -> bool:
        """Network-level failures only: a retry cannot make a rejected order acceptable."""
        return self in (Reason.EXCHANGE_UNAVAILABLE, Reason.TIMEOUT, Reason.RATE_LIMITED, Reason.BAD_RESPONSE)


# How a venue's refusal of an order is met (each venue's table, adapters/ccxt_exchange/dialects):
PERMANENT = "permanent"  # sent again, the same order is refused again (a bad parameter, no position to reduce)
TRANSIENT = "transient"  # the venue may take it later (margin, its rate limit, a busy engine, a price band)
MODE = "mode"  # built for another position mode than the venue's: read the mode again, rebuild the order once


@dataclass(frozen=True)
class VenueRefusal:
    """What a venue answered when it refused an order: its own code and message as it sent them,
    the reason code its dialect's table maps them to (``VENUE_REFUSED`` for a code the table
    does not know), and how a retry fares (:data:`PERMANENT`, :data:`TRANSIENT`, :data:`MODE`)."""

    code: str  # the venue's code: "-1106", "110017", "51169"; Hyperliquid has none: its message's first sentence
    message: str  # the venue's message, verbatim (scrubbed, cut to a readable length)
    reason: str = "VENUE_REFUSED"
    kind: str = PERMANENT

    def text(self) -> str:
        """``-1106 Parameter 'reduceOnly' sent when not required.``: what every view shows."""
        return self.message if self.message.startswith(self.code) else f"{self.code} {self.message}".strip()


class AdapterError(Exception):
    def __init__(self, reason: Reason, message: str, *, venue: str = "", retry_after_s: Optional[float] = None,
                 refusal: Optional[VenueRefusal] = None):
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.venue = venue
        self.retry_after_s = retry_after_s
        self.refusal = refusal  # the venue's own code and message, where it refused


@dataclass(frozen=True)
class PositionMode:
    """An account's position mode as its venue reads it, beside what the Accounts document declares.

    ``hedge`` is the venue's answer (True: hedge / long-short legs; False: one-way / net), None
    where it could not be read (``error`` says why: the read failed, the dialect has none, no
    position says it): closes are then built from the positions' own legs, never from the
    declaration. ``margin`` is the account's margin mode where the venue says it (OKX
    ``acctLv``, Binance's positions' ``marginType``), ``source`` the endpoint it was read from."""

    declared_hedge: bool
    hedge: Optional[bool]
    source: str = ""
    read_ms: Optional[int] = None
    error: Optional[str] = None  # a reason code and its detail: POSITION_MODE_UNREAD: ...
    margin: Optional[str] = None

    @property
    def mismatch(self) -> bool:
        """The venue reads another mode than the one declared."""
        return self.hedge is not None and self.hedge != self.declared_hedge

    def describe(self) -> str:
        """``hedge`` / ``one-way`` as read, or why it was not; the declaration where it differs."""
        def name(h: bool) -> str:
            return "hedge" if h else "one-way"
        if self.hedge is None:
            return f"unread ({self.error or 'no read'}); declared {name(self.declared_hedge)}"
        said = name(self.hedge) + (f", margin {self.margin}" if self.margin else "")
        return said + (f" (declared {name(self.declared_hedge)})" if self.mismatch else "")

    def mismatch_reason(self) -> Optional[str]:
        """``POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge`` (None: no mismatch)."""
        if not self.mismatch:
            return None
        declared, read = ("hedge", "one-way") if self.declared_hedge else ("one-way", "hedge")
        return (f"POSITION_MODE_MISMATCH: declared {declared}, the venue reads {read}"
                + (f" ({self.source})" if self.source else ""))


class SendWithheld(Exception):
    """An order held back at the last moment before its request left: the caller's send gate
    (:func:`send_gate`) said no. Nothing reached the venue. Not an :class:`AdapterError`: it
    says nothing of the venue or the order, only that the caller may no longer send (a runner
    whose lease term ran out while the order waited in the adapter)."""

    def __init__(self, what: str, *, venue: str = ""):
        super().__init__(f"{what}: held back before it was sent, the send gate closed")
        self.venue = venue


# The caller's last word on an order in flight: asked by the adapter immediately before the
# order's request leaves (after every wait of its own: markets, a position read, the order
# budget, the request pacer). A context variable rather than an argument of ``submit``: the
# request pacer that waits last runs inside ccxt, which passes no argument of ours along.
_SEND_GATE: ContextVar[Optional[Callable[[], bool]]] = ContextVar("killswitch_send_gate", default=None)


@contextmanager
def send_gate(may_send: Callable[[], bool]) -> Iterator[None]:
    """Within the block, every order an adapter is about to send asks ``may_send()`` first (a
    quick, synchronous look: no I/O) and raises :class:`SendWithheld` when it says no."""
    token = _SEND_GATE.set(may_send)
    try:
        yield
    finally:
        _SEND_GATE.reset(token)


def open_gate() -> Optional[Callable[[], bool]]:
    """The send gate open around this call, if any (an adapter that sends from another process
    asks it before the call leaves, and its own there)."""
    return _SEND_GATE.get()


def last_look(what: str, venue: str = "") -> None:
    """Raise :class:`SendWithheld` if a send gate is open around this call and now says no."""
    gate = _SEND_GATE.get()
    if gate is not None and not gate():
        raise SendWithheld(what, venue=venue)


@dataclass(frozen=True)
class Capabilities:
    positions: bool = True  # reports positions (futures); spot reports balances only
    reduce_only: bool = True
    hedge_mode: bool = False
    cancel_all_after: bool = False  # a native dead man's switch (Binance USD-M countdownCancelAll, ...)
    close_position: bool = False  # a close-position endpoint or flag
    client_order_id: bool = True
    fetch_order_by_client_id: bool = True
    max_client_id_length: int = 36
    orders_per_second: float = 5.0  # our budget on this venue (below its published limit)
    # (a ccxt account: its dialect's limits.orders unless configured; the simulated one: its own)
    # the venue has an endpoint that removes the trading permission of the bots' keys with a
    # master credential, and the account declares it (its Accounts ``revoke:`` block):
    # :meth:`ExchangeAdapter.set_trading` is then served
    revoke_trading: bool = False


@dataclass(frozen=True)
class CancelSelector:
    """Which open orders to cancel: ``order_ids`` if given; else every order of ``symbols``
    (all symbols when empty), all of them or only entries (non-reduce-only)."""

    which: str = "all"  # all | entries
    symbols: tuple[str, ...] = ()
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderResult:
    client_order_id: str
    order_id: Optional[str]
    status: str  # open | partially_filled | filled | canceled | rejected | expired
    filled: float
    amount: float
    average_price: Optional[float] = None
    # the fee the answer reported: ``fee`` its cost where it is in one currency (None: none
    # reported, or several currencies), ``fees`` its cost per currency (killswitch.orders.Fees;
    # empty: the answer carried no fee)
    fee: Optional[float] = None
    ts_ms: Optional[int] = None
    fees: Fees = ()


@dataclass(frozen=True)
class CancelResult:
    """The venue's answer to a cancel, order by order; or, where the request as a whole failed
    (nothing known cancelled), its reason code and message: set by the runner's one way out
    (``killswitch.runner.venue.port``), never by an adapter, which raises :class:`AdapterError`.

    ``canceled`` holds only what the venue confirmed: named in its answer, or acknowledged as
    "all of them" and no longer listed open after it. ``failed`` gives every other order meant
    to go its reason code — ``ORDER_NOT_FOUND`` (not open at the venue: filled, or cancelled
    elsewhere), ``ORDER_STILL_OPEN`` (listed open after its cancels were answered), the venue's
    refusal mapped — and ``words`` what the venue said of it, its own code and words where it
    gave them (``110001 order not exists or too late to cancel``), else ours. ``still_open``:
    the orders of ``ORDER_STILL_OPEN``, as the last list gave them (symbol, side, amount).

    An adapter's own answer (before the port) may also hold ``unconfirmed`` (sent; its answer
    named them neither way: a cap, a race, a list cut short) and ``acknowledged`` (its answer
    said every order of the request went, naming none): the port lists the open orders again and
    decides them; its result holds neither."""

    canceled: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)  # order id → reason code
    reason: Optional[str] = None
    message: str = ""
    words: dict[str, str] = field(default_factory=dict)  # order id → the venue's code and words, or ours
    still_open: tuple[Order, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    acknowledged: tuple[str, ...] = ()

    def said_of(self, order_id: str) -> str:
        """``REASON: what the venue said`` of one failed order (its reason alone when nothing was said)."""
        why = self.failed.get(order_id, "")
        words = self.words.get(order_id, "")
        return f"{why}: {words}" if words else why

    def said(self) -> str:
        """``REASON: message`` of a request that failed (the reason alone without a message)."""
        return f"{self.reason}: {self.message}" if self.message else str(self.reason)


@dataclass(frozen=True)
class DmsStatus:
    """A venue's answer to arming (or disarming) an account's cancel-all-after countdown."""

    armed: bool
    seconds: Optional[float] = None  # as the venue took it (after its clamp)
    supported: bool = True
    symbols: tuple[str, ...] = ()  # a per-symbol countdown's symbols armed (empty: account-wide)


@dataclass(frozen=True)
class StreamHealth:
    state: str                 # "off" | "connecting" | "live" | "stale" | "down"
    reason: Optional[str]      # why not live: STREAM_UNSUPPORTED, STREAM_DISABLED, STREAM_STALE, STREAM_DOWN, LISTEN_KEY_EXPIRED, STREAM_LOGIN_REFUSED; live: STREAM_MARKS_REFUSED (see unstreamed)  # noqa: E501
    since_ms: Optional[int]    # when it entered this state (UTC ms)
    last_message_ms: Optional[int]
    reconnects: int = 0
    disagreements: int = 0     # REST reconciles that found the stream state wrong
    dropped: Mapping[str, int] = field(default_factory=dict)   # malformed | duplicate | out_of_order | unknown -> count
    reconciles: int = 0
    # the snapshots are the stream's alone (live, and the last REST reconcile agreed with it);
    # False while REST is read in front of each snapshot (connecting, after a reconnect, after a
    # disagreement, while the reconcile is overdue), which at many positions makes each tick a REST read
    answers: bool = False
    reconciled_ms: Optional[int] = None       # when the last good REST reconcile was taken (UTC ms; None: none yet)
    reconcile_every_ms: Optional[int] = None  # the account's reconcile cadence (its stream block's reconcile_every)
    reconcile_failures: int = 0               # REST reconciles that failed since the last good one, in a row
    reconcile_failure_reason: Optional[str] = None  # the reason code of the last of them (None while none failed)
    # the last good reconcile is older than OVERDUE_AFTER × reconcile_every: the stream is not
    # confirmed any more, and the snapshots read REST in front (blind if REST fails too)
    reconcile_overdue: bool = False
    # the symbols held whose marks the venue refused to stream (a refused subscription, reason
    # STREAM_MARKS_REFUSED while live): their prices are REST's, the snapshots read REST in front
    unstreamed: tuple[str, ...] = ()


# A stream unreconciled this many reconcile_every (the cadence's reads failing) stops answering
# alone: one missed read is a hiccup, a second one load; a third is an outage of the check (as a
# stream silent three stale_after is a stall, reconnected).
OVERDUE_AFTER = 3


# The trading permission of one of the bots' keys, as the venue says it is.
REVOKED = "revoked"  # the key may read, not trade
ALLOWED = "allowed"  # the key may trade
UNKNOWN_STATE = "unknown"  # the venue did not say (no answer, an answer we cannot read, no read offered)


class Refusal(NamedTuple):
    """What a venue answered when it refused a revoke, a restore or a read for one key: its own
    code and message, as it sent them (never one of ours), and the reason code it maps to
    (``REVOKE_REFUSED``; ``AUTH`` where the venue refused the master credential itself;
    ``RATE_LIMITED`` for its rate limit)."""

    code: str
    message: str
    reason: Reason = Reason.REVOKE_REFUSED


@dataclass(frozen=True)
class PermissionResult:
    """Every key the account lists (``revoke.api_keys``, public ids: no secret) and what the venue
    says of it after :meth:`ExchangeAdapter.set_trading` or :meth:`ExchangeAdapter.read_trading`.

    * ``states``: every listed key → ``revoked`` | ``allowed`` | ``unknown``. Only what the venue
      said: its answer to the change, or its read; ``unknown`` where it said nothing we can read,
      never a state assumed from what was asked.
    * ``refusals``: key → :class:`Refusal` (the venue's code and message) where it said no.
    * ``failures``: key → (reason, detail) where no answer came back (TIMEOUT,
      EXCHANGE_UNAVAILABLE) or it could not be read (BAD_RESPONSE): the outcome is unknown.
    * ``readable``: the venue offers a read of the permission (False: ``read_trading`` says
      ``unknown`` for every key, and ``set_trading``'s states come from the venue's answer to
      the change alone).
    * ``method``: ``permissions`` (each key's permission) or ``freeze`` (the sub-account frozen:
      every key shares its state).
    """

    states: Mapping[str, str]
    refusals: Mapping[str, Refusal] = field(default_factory=dict)
    failures: Mapping[str, tuple[Reason, str]] = field(default_factory=dict)
    readable: bool = True
    method: str = "permissions"

    def holds(self, allowed: bool) -> bool:
        """Every listed key is in the state asked (``allowed`` or revoked), as the venue says."""
        want = ALLOWED if allowed else REVOKED
        return bool(self.states) and all(s == want for s in self.states.values())

    def reason(self) -> Optional[Reason]:
        """The reason code of the first key not answered well (a refusal before a failure), None
        when every key was: what an error built from this result says."""
        for r in self.refusals.values():
            return r.reason
        for reason, _ in self.failures.values():
            return reason
        return None

    def describe(self) -> str:
        """One line a log, a page or an error says: each key's state, each refusal with the
        venue's code and message."""
        parts = [f"{k}={s}" for k, s in self.states.items()]
        parts += [f"{k} refused: {r.code} {r.message}" for k, r in self.refusals.items()]
        parts += [f"{k}: {reason.value}: {detail}" for k, (reason, detail) in self.failures.items()]
        return f"{self.method}: " + ", ".join(parts)


class WeightCount(Protocol):
    """The REST weight an account's requests cost its venue over the last minute."""

    def used(self) -> float: ...

    def venue_count(self) -> Optional[tuple[float, float]]:
        """(age in seconds, count) of the venue's own latest count of the IP's weight, if any."""


@runtime_checkable
class ExchangeAdapter(Protocol):
    """What the runner asks of one account's venue. The members after :meth:`close` are what only
    some venues or accounts have: an adapter that subclasses this protocol gets their "not
    supported" answers, and overrides what it has."""

    venue: str
    account: str

    @property
    def capabilities(self) -> Capabilities: ...

    async def snapshot(self) -> Snapshot:
        """The account now. A failure is a snapshot too: ``fetch.ok`` false with its reason code."""

    def symbols(self) -> Optional[frozenset[str]]:
        """Every unified symbol the venue lists for this account's market type (what a bot may
        trade there), or None while the markets have not been read (a snapshot or
        :meth:`load_symbols` reads them). The pre-trade gate denies a symbol outside it."""

    def strategy_names(self) -> frozenset[str]:
        """The strategies (bots) the Accounts document declares for this account: scopes an
        operator may lock before the bot has traded or beaten."""

    def client_id_prefixes(self) -> Mapping[str, str]:
        """Client order id prefix → the strategy it names, as the Accounts document declares them
        (a strategy written as its name alone maps to itself): what the gate, the watch and the
        snapshots attribute an order by (:func:`killswitch.attribution.strategy_of`)."""

    async def load_symbols(self) -> None:
        """Read the venue's markets if not read yet (a standby, which takes no snapshots, needs
        them to answer the pre-trade gate). Raises ``AdapterError`` when the venue cannot say."""

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult: ...

    async def submit(self, intent: OrderIntent) -> OrderResult:
        """Send one order. Refuses locally (never sends) a close larger than the position or a
        close without reduce-only. A TIMEOUT means the outcome is unknown: ask :meth:`fetch_order`.
        Calls :func:`last_look` immediately before the order's request leaves (SendWithheld)."""

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult: ...

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus: ...

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus: ...

    async def close(self) -> None: ...

    # --- what only some have, and its "not supported" -------------------------------------------

    # the account's labels as the Accounts document declares them (what its snapshots carry);
    # None: the adapter does not say (then no selector is taken to exclude it)
    labels: Optional[dict[str, str]] = None

    def shed(self, level: int) -> None:
        """Read less often under load (the runner's shed level, ``runner/tick/shed.py``): an
        adapter without reads to space out sheds nothing."""
        return None

    @property
    def trading_keys(self) -> tuple[str, ...]:
        """The bots' keys (public ids) :meth:`set_trading` switches: none without the switch."""
        return ()

    def weight(self) -> Optional[tuple[WeightCount, Optional[WeightLimit]]]:
        """The weight its REST requests cost and the venue's limit it counts against (None: not
        weighed, the simulated one)."""
        return None

    async def set_trading(self, allowed: bool) -> PermissionResult:
        """Allow or revoke trading for every key the account lists, at the venue (capabilities'
        ``revoke_trading``), worked with the account's master credential (``revoke.master_credentials``;
        the bots' secrets are never needed). Idempotent: revoking a revoked key is success. Raise
        :class:`AdapterError` only for what fails the account as a whole before any key is asked
        (``REVOKE_UNSUPPORTED``, an unreadable master credential ``AUTH``, ``REVOKE_OWN_KEY``);
        each key's own outcome is in the result. Each change asks the caller's send gate last
        (:func:`send_gate`): when it closes, :class:`SendWithheld` ends the call."""
        raise AdapterError(Reason.REVOKE_UNSUPPORTED, "no switch of the keys' trading permission")

    async def read_trading(self) -> PermissionResult:
        """Each listed key's permission as the venue reads it now (``readable=False`` and every
        key ``unknown`` where the venue offers no read)."""
        raise AdapterError(Reason.REVOKE_UNSUPPORTED, "no switch of the keys' trading permission")

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        """Every open order of ``symbols`` (all when empty) as the venue lists them now, read
        afresh (never a stream's or a cache's view, which may lag a cancel just answered): what
        the runner's one way out confirms a cancel by. Raises ``AdapterError`` when the venue
        cannot say (``UNSUPPORTED``: no such read)."""
        raise AdapterError(Reason.UNSUPPORTED, "no read of the open orders")

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        """``symbol``'s book, ``depth`` levels a side (what a close is sized against)."""
        raise AdapterError(Reason.UNSUPPORTED, f"{symbol}: no order book")

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """The account's trades of ``symbol`` since ``since_ms`` (the venue's time), oldest first,
        each with its order's client order id (looked up by order id where the venue's trade
        does not carry it) and the strategy its declared prefix names: what attributes a
        position's growth. Raises ``AdapterError`` when the venue cannot say (``UNSUPPORTED``:
        no such read)."""
        raise AdapterError(Reason.UNSUPPORTED, f"{symbol}: no read of the account's trades")

    def position_mode(self) -> Optional[PositionMode]:
        """The account's position mode as the venue read it last (None: not a venue's to read)."""
        return None

    def stream_health(self) -> Optional[StreamHealth]:
        """The private stream's state (None: the adapter has no private stream; it polls)."""
        return None

    async def start_streams(self) -> None:
        """Start the private stream (idempotent); nothing without one."""
        return None

    def set_wake(self, cb: Callable[[str], None]) -> None:
        """``cb(venue/account)`` when a stream update changed a position, a balance or a mark."""
        return None

    def wake_on_entries(self, on: bool) -> None:
        """Whether the runner watches this account's entry orders (a lock that cancels them binds it)."""
        return None

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        """``cb(venue/account, order)`` for each new entry the stream delivers while watched."""
        return None

    def stream_holds_open(self, order_id: str) -> Optional[bool]:
        """Whether the stream holds ``order_id`` open now (None: no stream says)."""
        return None

    def stream_legs(self, symbol: str) -> Optional[dict[str, float]]:
        """The stream's contracts of ``symbol``'s legs by ``SYMBOL|leg`` (None: no stream trusted now)."""
        return None


def order_rates(adapters: Iterable[ExchangeAdapter]) -> dict[str, float]:
    """Orders per second by venue, from the adapters' capabilities: what the planner spaces each
    venue's orders by (``evaluate(..., rates=)``). The planner spaces one venue's orders as one
    sequence, so a venue with several accounts gets the smallest of their budgets."""
    out: dict[str, float] = {}
    for a in adapters:
        rate = a.capabilities.orders_per_second
        out[a.venue] = min(rate, out.get(a.venue, rate))
    return out


def check_close(intent: OrderIntent, market_type: str, position_contracts: Optional[float], venue: str) -> None:
    """The local safety net before an order is sent: on futures every order we send closes, so it
    must be reduce-only and no larger than the position the adapter knows of."""
    if market_type == "futures" and not intent.reduce_only:
        raise AdapterError(Reason.NOT_REDUCE_ONLY, f"{intent.symbol}: a futures close must be reduce-only", venue=venue)
    if market_type == "futures":
        if position_contracts is None or position_contracts <= 0:
            raise AdapterError(Reason.CLOSE_EXCEEDS_POSITION, f"{intent.symbol}: no open position to close",
                               venue=venue)
        if intent.amount > position_contracts * (1 + 1e-9):
            raise AdapterError(
                Reason.CLOSE_EXCEEDS_POSITION,
                f"{intent.symbol}: close of {intent.amount:g} exceeds the position of {position_contracts:g}",
                venue=venue,
            )
