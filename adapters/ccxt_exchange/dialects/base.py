"""The dialect of one ccxt venue: what still differs between venues once ccxt has unified the rest.

What it owns
    * the client order id: the parameter it travels in, the longest the venue takes, and how an
      order is looked up by it;
    * a close's order parameters: reduce-only and, in hedge mode, the leg in the venue's own field;
    * reading the venue's raw answer (ccxt's ``info``) where ccxt leaves something out: the leg of
      a position or an order, the account equity;
    * the venue's cancel-all-after (countdown) endpoint, when it has one, as a :class:`Countdown`;
    * its cancels and how their answers read, from :class:`.cancel_hooks.CancelHooks` (the
      stream's hooks, from :class:`.stream_hooks.StreamHooks`);
    * the ccxt options an account's credentials give (a vault address), and what the venue's ccxt
      client must be kept from sending of its own accord;
    * the venue's limits, one table (``limits``, a :class:`.limits.Limits`: its orders and cancels
      a second, its request ceiling and endpoint windows, the endpoints ccxt must charge
      otherwise), and each rate tier's where the venue's limits are the account's
      (:meth:`Dialect.for_tier`), how often a snapshot lists every open order, the ccxt options it needs, the
      headers that carry its credentials, and the texts of its reduce-only refusals.

What it must not do
    import ccxt, keep any state of an account, or reach the venue other than through the ``call``
    the adapter hands it (which spends the order budget, retries and keeps the deadline). The
    adapter and the parsing code ask the dialects; they never test a venue's name.

:class:`Dialect` itself is the generic dialect of a ccxt id without a module of its own: ccxt's
unified parameters, no raw fields of its own, no countdown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Container, Mapping, Optional, Protocol

from killswitch.weights import Read, SnapshotCost, WeightLimit

from ...base import AdapterError, Reason, VenueRefusal
from ..parsing import BadData, BadField, dig, num
from .cancel_hooks import Call, CancelAnswer, CancelHooks
from .limits import DEFAULT_ORDER_RATE as DEFAULT_ORDER_RATE, Limits
from .listed import Listed as Listed
from .read_hooks import YIELD_EVERY as YIELD_EVERY, ReadHooks, Reads as Reads, read_each as read_each
from .refusals import Rule, mapped, refusal
from .stream_hooks import StreamHooks

# ``call(method, *args)``: one call of the account's ccxt client, through the adapter's budget,
# retries and deadline.
# ``has(name)``: ccxt's ``has`` flag of the account's client.
Has = Callable[[str], bool]
# ``refusal_of(body)``: the venue's (code, message) in its parsed answer, None where it says none.
RefusalReader = Callable[[Any], Optional[tuple[str, str]]]


# The most pages one list of a snapshot is read over: a list longer than that is not read to
# its end, and the snapshot is incomplete (LIST_INCOMPLETE), never silently short.
MAX_PAGES = 50


def bad_field(venue: str, endpoint: str, field: str, problem: str) -> AdapterError:
    """A venue answer the adapter does not understand (an unknown order type, a missing field, a
    new enum value): BAD_RESPONSE naming the venue, the endpoint and the field, so the snapshot is
    incomplete, never an order or a position read as absent or flat."""
    return AdapterError(Reason.BAD_RESPONSE, f"{venue} {endpoint}: field {field}: {problem}", venue=venue)


def unnamed(answer: Any) -> Optional[Mapping[str, Any]]:
    """The venue's whole answer where ccxt gave it as one order without an id (``[{"info":
    response}]``: an answer naming no order), else None."""
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], Mapping):
        info = answer[0].get("info")
        if answer[0].get("id") is None and isinstance(info, Mapping):
            return info
    return None


def named_rows(venue: str, endpoint: str, answer: Any, id_field: str | tuple[str, ...],
               refused_of: Callable[[Mapping[str, Any]], Optional[tuple[Any, Any]]],
               rules: tuple[Rule, ...]) -> "CancelAnswer":
    """What a cancel's answer that lists its orders says (ccxt's parsed orders, each venue row
    in ``info``): a row is done unless ``refused_of(row)`` gives its (code, words), mapped by
    ``rules``. A row without its id is BAD_RESPONSE naming the field; an id named twice counts once."""
    if not isinstance(answer, list):
        raise bad_field(venue, endpoint, "the answer", "not a list of orders")
    done: set[str] = set()
    refused: dict[str, VenueRefusal] = {}
    for parsed in answer:
        # ccxt's parsed order (the venue's row in ``info``), or the venue's raw row
        row = parsed.get("info", parsed) if isinstance(parsed, Mapping) else None
        fields = (id_field,) if isinstance(id_field, str) else id_field
        oid = next((row[f] for f in fields if row.get(f) not in (None, "")), None) if isinstance(row, Mapping) else None
        if oid is None or not isinstance(row, Mapping):
            raise bad_field(venue, endpoint, " or ".join(fields), "missing")
        said = refused_of(row)
        if said is None:
            done.add(str(oid))
        else:
            refused[str(oid)] = mapped(said[0], said[1], rules)
    return CancelAnswer(frozenset(done - set(refused)), refused)


def unknown_value(venue: str, endpoint: str, field: str, value: Any) -> AdapterError:
    """:func:`bad_field` of a value outside the venue's documented enum (or absent)."""
    return bad_field(venue, endpoint, field, "missing" if value is None else f"unknown value {value!r}")


def documented(venue: str, endpoint: str, field: str, value: Any, known: Container[Any]) -> Any:
    """``value`` of the venue's ``field`` read through the values its documentation lists
    (``known``): what ``known`` maps it to where it is a mapping (a kind, a leg), else the value
    itself; any other value, or none, is :func:`unknown_value` (never a row read as a default)."""
    try:
        listed = value in known
    except TypeError:  # an unhashable value (a list, an object) is none of them
        listed = False
    if not listed:
        raise unknown_value(venue, endpoint, field, value)
    return known[value] if isinstance(known, Mapping) else value


def incomplete(venue: str, endpoint: str, why: str) -> AdapterError:
    """A list that could not be read to its end: the snapshot is incomplete, never short."""
    return AdapterError(Reason.LIST_INCOMPLETE, f"{endpoint}: {why}", venue=venue)


def before_oldest(endpoint: str, page_size: int, id_field: str,
                  param: str) -> Callable[[list], Optional[Mapping[str, Any]]]:
    """The ``next_params`` of :meth:`VenueNamed.read_pages` for a venue that lists newest first and pages
    by id: after a full page (``page_size`` rows), ``param`` the page's oldest (smallest) id,
    its raw row's ``id_field`` (OKX's ``after``, Bitget's ``idLessThan``). The smallest id, not
    the last order: ccxt sorts a page by time before handing it over. A row of a full page
    without a numeric id is :class:`..parsing.BadData` naming the endpoint and the field."""

    def next_params(page: list) -> Optional[Mapping[str, Any]]:
        if len(page) < page_size:
            return None
        ids = []
        for o in page:
            raw_id = dig(o, "info", id_field)
            if not isinstance(raw_id, str) or not raw_id.isdigit():
                raise BadData(f"{endpoint}: an order of a full page has no {id_field}")
            ids.append(raw_id)
        return {param: min(ids, key=int)}

    return next_params


# How often an account's position mode is read again where the venue has a read of its own
# (besides at start, after a refusal for the mode, and whenever a REST snapshot finds it due)
MODE_EVERY_S = 300.0


@dataclass(frozen=True)
class ModeRead:
    """What a dialect read of an account's position mode: ``hedge`` (None: not read, ``error``
    says why), the endpoint or field it came from, and the margin mode where the venue says it."""

    hedge: Optional[bool]
    source: str = ""
    margin: Optional[str] = None
    error: Optional[str] = None


def unread(why: str, source: str = "") -> ModeRead:
    """A mode not read: ``POSITION_MODE_UNREAD: why``."""
    return ModeRead(None, source, error=f"POSITION_MODE_UNREAD: {why}")


def generic_refusal(body: Any) -> Optional[tuple[str, str]]:
    """(code, message) of an answer in one of the common shapes (``code``/``msg``,
    ``retCode``/``retMsg``, ``code``/``message``), None when it reads as success or has none."""
    if not isinstance(body, Mapping):
        return None
    for code_key, msg_key in (("retCode", "retMsg"), ("code", "msg"), ("code", "message")):
        code = body.get(code_key)
        if code is not None and str(code) not in ("0", "", "200") and msg_key in body:
            return str(code), str(body.get(msg_key) or "")
    error = body.get("error")  # {"error": ["EOrder:Insufficient funds"]} (Kraken), {"error": "text"}
    if isinstance(error, list) and error and isinstance(error[0], str):
        error = error[0]
    if isinstance(error, str) and error:
        return error.split(" ", 1)[0][:60], error
    return None


class Countdown(Protocol):
    """A venue's cancel-all-after endpoint (a dead man's switch kept by the venue)."""

    # read-only (properties), so that frozen dataclasses implement it
    @property
    def per_symbol(self) -> bool:
        """One countdown per symbol, or one for the whole account."""

    @property
    def disarm_refusal(self) -> Optional[str]:
        """Why it cannot be turned off over the API; None when it can."""


    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        """Arm it for ``seconds`` (for ``market_id`` when per symbol); the seconds the venue was given."""

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        """Turn it off (for ``market_id`` when per symbol)."""


def clamp_seconds(seconds: float, low: int, high: int) -> int:
    """Whole seconds within what the venue accepts, rounded up so a countdown never fires early."""
    return int(min(max(math.ceil(seconds), low), high))


class VenueNamed:
    """A dialect's reads of its venue's lists and its refusals of an answer, each failure naming
    the venue (the dialect's ``id``; :func:`bad_field`, :func:`unknown_value` and :func:`documented` of it)."""

    if TYPE_CHECKING:  # the dialect's own field (:class:`Dialect`)
        id: str

    def bad_field(self, endpoint: str, field: str, problem: str) -> AdapterError:
        """:func:`bad_field` of this dialect's venue."""
        return bad_field(self.id, endpoint, field, problem)

    def check_spot_values(self, balances: Any, quote: str) -> None:
        """Raises (BAD_RESPONSE naming them) where the venue's dialect values every asset a spot
        account holds and some held asset has no price in ``quote``. Nothing by default: such an
        asset is left out of equity."""

    async def spot_prices(self, reads: Reads, symbols: list[str]) -> Optional[Mapping[str, float]]:
        """The last price of each spot symbol (ASSET/QUOTE) of ``symbols``, symbol → price, where
        the venue has a lighter read of them than ccxt's tickers; None: ccxt's tickers read them."""
        return None

    def unknown_value(self, endpoint: str, field: str, value: Any) -> AdapterError:
        """:func:`unknown_value` of this dialect's venue."""
        return unknown_value(self.id, endpoint, field, value)

    def documented(self, endpoint: str, field: str, value: Any, known: Container[Any]) -> Any:
        """:func:`documented` of this dialect's venue."""
        return documented(self.id, endpoint, field, value, known)

    async def read(self, reads: Reads, endpoint: str, method: str, *args: Any) -> Any:
        """One read of a list, its failure naming the venue's endpoint (``GET /fapi/v1/...``)."""
        try:
            return await reads.call(method, *args)
        except AdapterError as e:
            raise AdapterError(e.reason, f"{endpoint}: {e.message}", venue=self.id,
                               retry_after_s=e.retry_after_s) from None

    async def read_pages(self, reads: Reads, endpoint: str, method: str, args: tuple, params: Mapping[str, Any],
                         next_params: Callable[[list], Optional[Mapping[str, Any]]],
                         rows_of: Optional[Callable[[Any], list]] = None) -> list:
        """Every row of a paged list: ``method(*args, params)`` again with ``next_params(page)``
        merged in while it gives any (None: that page was the last), at most :data:`MAX_PAGES`
        pages, else LIST_INCOMPLETE naming the endpoint. ``rows_of``: a page's rows in the venue's
        own answer (a raw method's envelope). A page that is not a list is BAD_RESPONSE."""
        rows: list = []
        query = dict(params)
        for _ in range(MAX_PAGES):
            page = await self.read(reads, endpoint, method, *args, dict(query))
            if rows_of is not None:
                page = rows_of(page)
            if page is None:
                page = []
            if not isinstance(page, list):
                raise AdapterError(Reason.BAD_RESPONSE, f"{endpoint}: the answer is not a list", venue=self.id)
            rows.extend(page)
            more = next_params(page)
            if more is None:
                return rows
            query.update(more)
        raise incomplete(self.id, endpoint, f"more than {MAX_PAGES} pages ({len(rows)} rows read)")


@dataclass(frozen=True, kw_only=True)
class Dialect(StreamHooks, CancelHooks, ReadHooks, VenueNamed):
    """How the adapter speaks to one ccxt exchange id. The defaults are ccxt's unified forms."""

    id: str  # the ccxt exchange id (``Account.venue``)
    limits: Limits  # the venue's limits, declared once in its dialect module (:mod:`.limits`)
    # The venue's rate tiers, where its limits are the account's (Kraken spot's verification tiers:
    # the key's call counter): tier → its limits, the lowest first. An account names its own
    # (``Account.rate_tier``; ``ksctl validate`` refuses another, KS225, from the table ``make
    # schemas`` writes); one that names none is paced at the lowest (fail closed: KS226 and
    # RATE_TIER_ASSUMED say so). Empty: :attr:`limits` for every account.
    rate_tiers: Mapping[str, Limits] = field(default_factory=dict)
    client_id_param: str = "clientOrderId"
    max_client_id_length: int = 32
    # the characters the venue takes in a client order id (letters and digits everywhere)
    client_id_alphabet: str = "A-Za-z0-9"
    # the client order id's key when fetching one order (None: ``client_id_param``), and ccxt's
    # ``has`` flag that lookup needs (None: the dialect's own lookup needs none)
    fetch_order_param: Optional[str] = None
    client_id_lookup: Optional[str] = "fetchOrder"
    # the order parameter naming the margin mode of the position a close reduces (OKX: tdMode,
    # which ccxt otherwise sends as "cross"); None: the venue takes it from the position
    margin_mode_param: Optional[str] = None
    client_options: Mapping[str, Any] = field(default_factory=dict)  # merged into ccxt's ``options``
    # How old, in seconds, the list of every open order a snapshot carries may be: 0 lists them at
    # every snapshot; more where that list is the heavy read of a snapshot for the venue's weight
    # limit. Whatever the age, an order sent or cancelled through the adapter makes the next
    # snapshot list them again.
    open_orders_max_age_s: float = 0.0
    # A list of the open orders of fewer symbols than this reads each symbol's list apart, where
    # one symbol's list costs the venue far less than every symbol's (Binance: 1 of weight, 40); 0:
    # a list of several symbols is the list of every symbol (what a cancel's confirmation reads)
    symbol_lists_below: int = 0
    secret_headers: tuple[str, ...] = ()  # header names whose value is a credential or a signature
    reduce_only_rejections: tuple[str, ...] = ()  # regular expressions (case-insensitive) of the
    # venue's "reduce-only order refused" answers, matched in ccxt's message (it carries the body)
    book_limits: tuple[int, ...] = ()  # the depths the venue's order book endpoint takes (empty: any)
    # The settle coins the venue lists positions and orders by, one list a coin: those read when
    # the account declares none, and every one an account may declare (``Account.settle_coins``).
    # Empty: the venue lists every settle coin at once, and an account's settle_coins is not read
    # (``ksctl validate`` refuses one, KS220, from the same data: killswitch.compile.settle_check).
    default_settle_coins: tuple[str, ...] = ()
    supported_settle_coins: tuple[str, ...] = ()
    # The REST weight budget (killswitch.weights): what one futures snapshot reads, endpoint by
    # endpoint in the venue's unit, as :meth:`~adapters.ccxt_exchange.adapter.CcxtAdapter.snapshot`
    # calls them (tests/unit/adapters/ccxt/test_weights.py counts the requests a real ccxt client sends against
    # the simulator and holds the two equal); the venue's limit; and what a stream (:attr:`streams`)
    # costs over REST. Empty / None: not known, not checked. ``ksctl validate`` reads them from the
    # dialects' tables (adapters/ccxt_exchange/declared.py, handed over at run time by
    # killswitch/dialect_tables.py: it must not import the adapters).
    snapshot_reads: tuple[Read, ...] = ()
    weight_limit: Optional[WeightLimit] = None
    stream_open_weight: float = 0.0
    stream_keepalive_weight: float = 0.0
    stream_keepalive_every_s: float = 3600.0
    # ("order" | "position", ccxt's unified field) → the venue's own field(s) ccxt reads it from,
    # so that a message naming a field a row lacks names the one in the venue's answer (a
    # position's contracts: ``position_size_field`` unless named here)
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # The venue's endpoints of the positions and of the open orders its reads ask, as a message
    # names them (``GET /v5/position/list``), by market type ("*": every other); ccxt's methods
    # where none is named
    read_endpoints: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    # The venue's own field of a position's size in ccxt's ``info`` (a dotted path), where ccxt
    # reads it: a row without it as a number is refused (:meth:`checked_position`), because ccxt
    # makes a size up from the notional and the mark price when the venue gives none
    position_size_field: Optional[str] = None
    # A field of the snapshot's Position that ccxt's unified structure does not give as the venue
    # says it → the venue's own field in ccxt's ``info`` (a dotted path):
    # read as a number by :func:`..parsing.parse_position`; a field not named here is None (the
    # venue does not say it), never ccxt's estimate of it
    position_fields: Mapping[str, str] = field(default_factory=dict)

    # The venue's refusals of an order, code by code (:mod:`.refusals`), from its documented
    # error list: the reason code each maps to and how a retry fares. A code not listed is
    # VENUE_REFUSED, shown verbatim.
    refusal_rules: tuple[Rule, ...] = ()
    # The venue's (code, message) in its parsed answer; None: no refusal there. The common shapes
    # (:func:`generic_refusal`) unless the venue reads its own.
    refusal_of: RefusalReader = generic_refusal
    # How often the account's position mode is read again (:meth:`read_position_mode`), besides
    # at start and after a refusal for the mode; the read's cost is in ``snapshot_reads`` at
    # that rate where the venue has one
    mode_every_s: float = MODE_EVERY_S
    # A venue without a hedge mode (one position a contract): the account's mode is one-way,
    # read without a request, this the source it names; None: the venue's mode is read
    one_way_source: Optional[str] = None

    # The venue's cancel-all-after (:meth:`countdown`): ccxt's method of it on the account's
    # client (None: the venue has none), whether only a futures account has it, and whether it
    # fires only when a private websocket drops (then offered only to a caller keeping one)
    countdown_method: Optional[str] = None
    countdown_futures_only: bool = False
    countdown_needs_websocket: bool = False
    # Where the dialect arms no countdown: market type → why, in the venue's terms: a row of the
    # tables ``ksctl validate`` reads (KS262); a dialect without a countdown method that says
    # nothing is said in general terms (adapters/ccxt_exchange/declared.py)
    no_countdown: Mapping[str, str] = field(default_factory=dict)
    # The quote currency of an account that declares none (``Account.quote_currency``): what its
    # equity, notionals and PnL are in at this venue
    quote_currency: str = "USDT"

    def venue_refusal(self, text: str) -> Optional[VenueRefusal]:
        """The venue's refusal in ccxt's error message ``text``, mapped by :attr:`refusal_rules`."""
        return refusal(text, self.refusal_of, self.refusal_rules)

    async def read_position_mode(self, reads: Reads) -> ModeRead:
        """The account's position mode read from the venue (hedge or one-way), and its margin mode
        where the venue says it. Raises AdapterError (BAD_RESPONSE naming the endpoint and field)
        for an answer it cannot read. A venue without a hedge mode (:attr:`one_way_source`) is
        one-way, no request made. The generic dialect has no read: not read, said so."""
        if self.one_way_source is not None:
            return ModeRead(False, self.one_way_source)
        return unread(f"the {self.id} dialect has no read of the position mode; closes follow the positions' legs")

    def mode_from_positions(self, raw_positions: Any) -> Optional[ModeRead]:
        """The position mode as the positions' own fields say it (Bybit's ``positionIdx``), for a
        venue that has no read of its own: None where the dialect reads it otherwise."""
        return None

    def checked_position(self, position: Any) -> Any:
        """ccxt's position as it is, once its raw row is seen to carry the venue's size
        (:attr:`position_size_field`); raises :class:`..parsing.BadField` naming it otherwise."""
        if self.position_size_field is None or not isinstance(position, Mapping):
            return position
        value = dig(position.get("info"), *self.position_size_field.split("."))
        if num(value) is None:
            raise BadField(self.position_size_field, "missing" if value is None else f"not a number: {value!r}")
        return position

    def position_number(self, info: Mapping[str, Any], name: str) -> Any:
        """The venue's own value of a position's field ``name`` (:attr:`position_fields`) in a
        row's ``info``; None where the dialect names none or the row has none."""
        path = self.position_fields.get(name)
        return None if path is None else dig(info, *path.split("."))

    def tier_of(self, named: Optional[str]) -> Optional[str]:
        """The tier an account naming ``named`` is paced at: ``named`` where the venue declares it,
        else the lowest (fail closed: ``ksctl validate`` refuses an unknown one); None where the
        venue has no tiers."""
        if not self.rate_tiers:
            return None
        return named if named in self.rate_tiers else next(iter(self.rate_tiers))

    def for_tier(self, named: Optional[str]) -> "Dialect":
        """This dialect as it paces an account naming ``named`` (:meth:`tier_of`): its tier's
        limits and what else the tier sets (:meth:`tier_fields`); itself where the venue has no tiers."""
        tier = self.tier_of(named)
        if tier is None:
            return self
        return replace(self, limits=self.rate_tiers[tier], **self.tier_fields(tier))

    def tier_fields(self, tier: str) -> Mapping[str, Any]:
        """The fields besides :attr:`limits` a rate tier sets (a weight limit of its own)."""
        return {}

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        """What one snapshot of a ``market_type`` account reading ``settle_coins`` (empty: the
        dialect's default) costs the venue; None where the dialect does not declare it."""
        if market_type != "futures" or not self.snapshot_reads:
            return None
        return SnapshotCost(self.snapshot_reads_for(settle_coins or self.default_settle_coins),
                            self.open_orders_max_age_s, streams=self.streams,
                            stream_open=self.stream_open_weight, stream_keepalive=self.stream_keepalive_weight,
                            keepalive_every_s=self.stream_keepalive_every_s)

    def request_weight(self, api: str, method: str, path: str, params: Any, ccxt_cost: float) -> float:
        """What one request costs the venue's limit, from ccxt's cost of it (the runner's count of
        the weight used, :class:`..budget.WeightMeter`): ccxt's, unless the venue publishes
        another for it."""
        return ccxt_cost

    def weight_limit_for(self, market_type: str) -> Optional[WeightLimit]:
        """The REST limit an account of ``market_type`` counts against (a venue may keep its
        spot and its futures APIs apart): :attr:`weight_limit` unless the dialect says more."""
        return self.weight_limit

    def snapshot_reads_for(self, settle_coins: tuple[str, ...]) -> tuple[Read, ...]:
        """:attr:`snapshot_reads` for an account reading ``settle_coins`` (a venue that lists
        by settle coin calls its lists once a coin)."""
        return self.snapshot_reads

    def field_name(self, row: str, unified: str) -> str:
        """How a message names ccxt's ``unified`` field of a ``row`` ("order", "position"): the
        venue's field, with ccxt's beside it, where the dialect knows it."""
        raw = self.raw_field_names.get((row, unified))
        if raw is None and (row, unified) == ("position", "contracts"):
            raw = self.position_size_field
        return f"{raw} (ccxt {unified})" if raw and raw != unified else unified

    def open_orders_endpoint(self, market_type: str) -> str:
        """The venue's endpoint of the open-order list ccxt's ``fetch_open_orders`` reads, as a
        message names it; ccxt's method where the dialect does not know the venue's path
        (:attr:`read_endpoints`)."""
        return self._read_endpoints(market_type)[1]

    def positions_endpoint(self, market_type: str) -> str:
        """The venue's endpoint of the positions :meth:`fetch_positions` reads (as above)."""
        return self._read_endpoints(market_type)[0]

    def _read_endpoints(self, market_type: str) -> tuple[str, str]:
        known = self.read_endpoints
        return known.get(market_type) or known.get("*") or ("fetch_positions", "fetch_open_orders")

    def client_id_fits(self, client_order_id: str) -> bool:
        """Whether the venue takes this client order id: its length and its characters."""
        return 0 < len(client_order_id) <= self.max_client_id_length and re.fullmatch(
            f"[{self.client_id_alphabet}]+", client_order_id) is not None

    # --- the account's client ----------------------------------------------------------------

    def account_options(self, credentials: Any) -> Mapping[str, Any]:
        """ccxt options of one account's client read from its credentials (``Account.credentials``,
        None without): on Hyperliquid the vault or sub-account a key trades for. Raises
        ``AdapterError(AUTH)`` for credentials the venue cannot take. None by default."""
        return {}

    def prepare_client(self, client: Any) -> None:
        """What the account's ccxt client is told beyond its options, on that client only: a
        venue whose ccxt client would send requests of its own making turns them off here.
        Nothing by default."""

    def book_limit(self, depth: int) -> int:
        """The depth to ask the venue's book for: the smallest it takes that covers ``depth``
        (the largest it takes when none does)."""
        if not self.book_limits:
            return depth
        return next((n for n in sorted(self.book_limits) if n >= depth), max(self.book_limits))

    # --- orders ------------------------------------------------------------------------------

    def order_params(self, client_order_id: str, *, futures: bool, hedge_leg: Optional[str],
                     reduce_only: bool) -> dict:
        """The parameters of one order: the client order id; on futures the leg (``hedge_leg``,
        LONG / SHORT, in hedge mode only) and the reduce-only flag where the venue takes it."""
        params: dict[str, Any] = {self.client_id_param: client_order_id}
        if not futures:
            return params  # spot: no reduce-only, no legs
        if hedge_leg is not None:
            leg_params, keeps_reduce_only = self.leg_params(hedge_leg)
            params.update(leg_params)
            reduce_only = reduce_only and keeps_reduce_only
        if reduce_only:
            params["reduceOnly"] = True
        return params

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        """The order parameters naming a hedge-mode leg (LONG / SHORT), and whether the venue
        still takes ``reduceOnly`` beside them."""
        return {"hedged": True}, True

    def order_answer(self, answer: Any) -> Any:
        """ccxt's answer to ``create_order`` as the adapter reads it: the client order id the
        engine sent where the venue writes it another way (as it is, here)."""
        return answer

    def can_fetch_by_client_id(self, has: Has) -> bool:
        return self.client_id_lookup is None or has(self.client_id_lookup)

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        """The venue's answer for the order with this client order id; None when it has none.
        ccxt's ``OrderNotFound`` may be raised instead."""
        key = self.fetch_order_param or self.client_id_param
        return await call("fetch_order", None, symbol, {key: client_order_id})

    # --- the venue's raw answers -------------------------------------------------------------

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        """LONG / SHORT / BOTH from the venue's own field of a position or an order, else None."""
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        """The venue's account equity fields of a balance answer (unrealized PnL included), most
        trusted first; the first one that is a number wins over ccxt's unified quote total."""
        return []

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        """Whether the venue's own field of an open order says it only closes its position (an
        order ccxt does not mark reduce-only: Binance ``closePosition``, Bybit ``closeOnTrigger``)."""
        return False

    # --- the venue's switch of its keys' trading permission ------------------------------------

    def permission_switches(self) -> Mapping[str, Any]:
        """Method (``permissions``, ``freeze``) → the venue's switch of its API keys' trading
        permission, worked with a master credential (:mod:`.switches`); empty: the venue has
        none (the generic dialect; Hyperliquid's agent keys)."""
        return {}

    @property
    def revoke_methods(self) -> tuple[str, ...]:
        """The methods of :meth:`permission_switches` (``killswitch.compile.revoke_check``
        holds the same table, for ``ksctl validate``)."""
        return tuple(self.permission_switches())

    # --- dead man's switch -------------------------------------------------------------------

    def countdown(self, client: Any, market_type: str, *, keeps_private_websocket: bool) -> Optional[Countdown]:
        """The venue's cancel-all-after for this market type, when it has one and ccxt exposes it
        on ``client``. ``keeps_private_websocket``: the caller declares it holds a private
        websocket open (some venues only cancel when such a socket drops). Offered as
        :attr:`countdown_method` and its gates say; built by :meth:`venue_countdown`."""
        method = self.countdown_method
        if method is None or not hasattr(client, method):
            return None
        if self.countdown_futures_only and market_type != "futures":
            return None
        if self.countdown_needs_websocket and not keeps_private_websocket:
            return None
        return self.venue_countdown(client, market_type, method)

    def venue_countdown(self, client: Any, market_type: str, method: str) -> Countdown:
        """The venue's countdown on ``client`` for ``market_type``, called through ``method``
        (:attr:`countdown_method`) once :meth:`countdown` offers it: each dialect with a
        countdown method builds its own."""
        raise NotImplementedError(f"the {self.id} dialect names a countdown method and builds no countdown")
