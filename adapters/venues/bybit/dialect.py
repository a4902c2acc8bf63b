"""Bybit (``bybit``, the v5 unified API).

What it owns
    the Bybit forms the adapter needs: the hedge-mode leg as ``positionIdx`` 1 / 2 (``reduceOnly``
    kept), the leg read from ``positionIdx``, the equity read from the unified account's
    ``totalEquity``, the order lookup by ``orderLinkId`` over open then closed orders (Bybit has
    no single-order endpoint by client id), the disconnected-cancel-all (DCP) endpoint, its
    credential headers and its reduce-only refusals (110017, 140017), its refusal table
    (:data:`REFUSALS`), and the account's position mode as its positions say it: Bybit keeps the
    mode per symbol (or per settle coin) and has no read of it, each position row's
    ``positionIdx`` is 0 in one-way mode and 1 / 2 (the long / short leg) in hedge mode.

    The lists, read by settle coin and by page: Bybit lists positions (``GET /v5/position/list``)
    and open orders (``GET /v5/order/realtime``) one settle coin a call (ccxt asks USDT alone
    unless told) and one page a call (``nextPageCursor``; ccxt leaves it in the first row's
    ``info``). Both are read for every settle coin of the account (``Account.settle_coins``;
    none declared: USDT and USDC, linear), each to its last page (200 positions, 50 orders a
    page) or the snapshot is LIST_INCOMPLETE. An inverse contract's coin (BTC, ETH, ...) is read
    as category ``inverse``, only when the account declares it. The open-order list holds every
    kind of order (regular, conditional, TP/SL, trailing, OCO); each row's ``stopOrderType``
    says which, and a value not known here fails the snapshot (BAD_RESPONSE), never an order
    read as regular. An order that closes on trigger (``closeOnTrigger``) counts as reducing.
    Cancels need no parameter of their kind: ``/v5/order/cancel`` takes any order's id and
    ``/v5/order/cancel-all`` of a symbol cancels every kind when no ``orderFilter`` is given.

    The private stream (v5 ``/v5/private``: ``position``, ``order`` — every kind of order, a
    conditional one from Untriggered to Triggered or Deactivated —, ``wallet``; ``execution``
    read by ccxt alone) and the marks of the linear tickers (``/v5/public/linear``).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import sys
from collections.abc import Container
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Awaitable, Callable, ClassVar, Mapping, Optional, Sequence

from killswitch.weights import PER_IP, Read, WeightLimit

from ...base import MODE, PERMANENT, TRANSIENT
from ...ccxt_exchange.dialects.base import (
    Dialect,
    Listed,
    ModeRead,
    Reads,
    clamp_seconds,
    documented,
    named_rows,
    unnamed,
    unread,
)
from ...ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ...ccxt_exchange.dialects.channels import marks_watched
from ...ccxt_exchange.dialects.frames import has_field, latest_ms
from ...ccxt_exchange.dialects.limits import Limits
from ...ccxt_exchange.dialects.refusals import Rule
from ...ccxt_exchange.dialects.stream_events import StreamEvent
from ...ccxt_exchange.dialects.stream_hooks import ModuleStream
from ...ccxt_exchange.parsing import dig, num
from .switches import BybitFreeze, BybitPermissions

DCP_RANGE = (3, 300)  # seconds

# Bybit's refusals of an order (https://bybit-exchange.github.io/docs/v5/error): the answer's
# {"retCode": 110017, "retMsg": "Reduce-only rule not satisfied", ...}
REFUSALS: tuple[Rule, ...] = (
    # params error: position idx not match position mode (a leg sent in one-way mode, or none in hedge)
    Rule("10001", "POSITION_MODE_MISMATCH", MODE, r"position\s*idx|positionidx|position mode"),
    Rule("10001", "INVALID_ORDER", PERMANENT),  # params error
    Rule("110017", "REDUCE_ONLY_REJECTED", PERMANENT),  # Reduce-only rule not satisfied
    Rule("140017", "REDUCE_ONLY_REJECTED", PERMANENT),  # (classic account) the same
    Rule("110007", "INSUFFICIENT_MARGIN", TRANSIENT),  # Insufficient available balance
    Rule("110004", "INSUFFICIENT_MARGIN", TRANSIENT),  # Insufficient wallet balance
    Rule("110012", "INSUFFICIENT_MARGIN", TRANSIENT),  # Available balance not enough
    Rule("110094", "INVALID_ORDER", PERMANENT),  # Order does not meet minimum order value
    Rule("110072", "INVALID_ORDER", PERMANENT),  # OrderLinkedID is duplicate
    Rule("110003", "INVALID_ORDER", TRANSIENT),  # Order price is out of permissible range
    Rule("110020", "INVALID_ORDER", TRANSIENT),  # number of active orders greater than 500
    Rule("10006", "RATE_LIMITED", TRANSIENT),  # Too many visits
    Rule("10016", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Server Error
)


def bybit_refusal(body: Any) -> Optional[tuple[str, str]]:
    """``retCode`` / ``retMsg`` of an answer whose retCode is not 0."""
    if isinstance(body, Mapping) and "retCode" in body and str(body.get("retCode")) != "0":
        return str(body.get("retCode")), str(body.get("retMsg") or "")
    return None


def mode_of_positions(raw_positions: Any) -> ModeRead:
    """Hedge where every position row's ``positionIdx`` is 1 or 2, one-way where every one is 0;
    not read without a row that says it (a flat account), or where symbols differ (Bybit keeps
    the mode per symbol: each close then follows its position's own leg)."""
    seen: set[bool] = set()
    for p in raw_positions or ():
        info = p.get("info") if isinstance(p, Mapping) else None
        idx = str(info.get("positionIdx")) if isinstance(info, Mapping) and "positionIdx" in info else None
        if idx in ("0", "1", "2"):
            seen.add(idx != "0")
    source = f"{POSITIONS_ENDPOINT} positionIdx"
    if len(seen) == 1:
        return ModeRead(seen.pop(), source)
    if not seen:
        return unread("no position row says it (Bybit keeps the mode per symbol, in its positions' positionIdx)",
                      source)
    return unread("its positions differ by symbol (positionIdx 0 and 1/2): each close follows its own leg", source)

POSITIONS_ENDPOINT = "GET /v5/position/list"
ORDERS_ENDPOINT = "GET /v5/order/realtime"
CANCEL = "POST /v5/order/cancel"
CANCEL_ALL = "POST /v5/order/cancel-all"
POSITIONS_PAGE = 200  # the most /v5/position/list gives a page
ORDERS_PAGE = 50  # the most /v5/order/realtime gives a page

# The settle coins of Bybit's linear (USDT and USDC perpetuals and futures) and inverse
# (coin-settled: BTCUSD, ETHUSD, ... perpetuals and BTC / ETH futures) contracts. An inverse coin
# is listed apart (category inverse) and only when an account declares it.
LINEAR_SETTLE_COINS = ("USDT", "USDC")
INVERSE_SETTLE_COINS = ("BTC", "ETH")  # the inverse coins the venue's documentation names; others refused until checked

# An open order's ``stopOrderType`` → its kind (killswitch.snapshot.Order.kind). "" is a regular
# order, and so is "UNKNOWN" (Bybit's documented answer of /v5/order/realtime shows a plain
# limit order with it). MmRateClose closes the position at a maintenance margin rate: a
# conditional order the venue triggers.
STOP_ORDER_KINDS: Mapping[str, str] = {
    "": "regular", "UNKNOWN": "regular",
    "Stop": "conditional", "MmRateClose": "conditional",
    "TakeProfit": "tpsl", "StopLoss": "tpsl", "PartialTakeProfit": "tpsl", "PartialStopLoss": "tpsl",
    "tpslOrder": "tpsl", "BidirectionalTpslOrder": "tpsl",
    "TrailingStop": "trailing",
    "OcoOrder": "oco",
}


# The private topics the stream reads, and the fields (a number: ``#``) each row must carry;
# ``execution`` (fills) is ccxt's alone: a fill reaches the state by its order and position.
STREAM_TOPICS: Mapping[str, tuple[str, ...]] = {
    "position": ("symbol", "size#", "positionIdx#"),
    "order": ("symbol", "orderId", "orderStatus", "side"),
    "wallet": ("coin",),
    "execution": (),
}
# An order row's ``orderStatus`` (https://bybit-exchange.github.io/docs/v5/enum#orderstatus): open
# (New, PartiallyFilled, Untriggered: a conditional order waiting for its trigger; Created, Active
# and PendingCancel, which the order history's filter also names, are still at the venue) or ended
# (Rejected, PartiallyFilledCanceled, Filled, Cancelled, Deactivated: a conditional order cancelled
# before it triggered; Triggered, "instantaneous state for conditional orders from Untriggered to
# New": the order that follows is told of by its own row). Any other is malformed, never guessed.
OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered", "Created", "Active", "PendingCancel"})
ENDED_STATUSES = frozenset({"Rejected", "PartiallyFilledCanceled", "Filled", "Cancelled", "Deactivated",
                            "Triggered"})
TICKERS = "tickers."
LEG_OF_IDX: Mapping[str, str] = {"0": "BOTH", "1": "LONG", "2": "SHORT"}
# the linear ticker a flat account's stream watches: Bybit's private topics are silent while
# nothing happens, and a silent stream is blind, so one ticker (pushed every 100 ms) says the
# connection delivers
HEARTBEAT_SYMBOL = "BTC/USDT:USDT"


def stream_message(message: Any) -> str:
    """What a Bybit v5 frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`):
    a ``tickers.*`` delta carries only what changed, its mark perhaps not. Bybit has no listen
    key: never ``expired``."""
    if not isinstance(message, Mapping):
        return "malformed"
    topic = message.get("topic")
    if topic is None:
        return "answer" if "op" in message or "success" in message or "ret_msg" in message else "unknown"
    if not isinstance(topic, str):
        return "malformed"
    if topic.startswith(TICKERS):
        data = message.get("data")
        ok = isinstance(data, Mapping) and has_field(data, "symbol") and num(message.get("ts")) is not None
        return "marks" if ok else "malformed"
    fields = STREAM_TOPICS.get(topic)
    if fields is None:
        return "unknown"
    rows = message.get("data")
    if not isinstance(rows, list) or num(message.get("creationTime")) is None:
        return "malformed"
    if not all(isinstance(r, Mapping) and all(has_field(r, f) for f in fields) for r in rows):
        return "malformed"
    if topic == "wallet":
        coins = [c for r in rows for c in (r.get("coin") or ())]
        if not all(isinstance(c, Mapping) and has_field(c, "coin") and has_field(c, "walletBalance#") for c in coins):
            return "malformed"
    if topic == "order" and not all(str(r["orderStatus"]) in OPEN_STATUSES | ENDED_STATUSES
                                    and str(r.get("stopOrderType") or "") in STOP_ORDER_KINDS for r in rows):
        return "malformed"  # a status or an order kind not known here
    return "ok"


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]] = None) -> list[StreamEvent]:
    """The events of a classified Bybit frame, each at the message's ``creationTime`` (a
    ticker's ``ts``); a ticker's mark of a held symbol only when ``held`` is given."""
    if not isinstance(message, Mapping):
        return []
    topic = message.get("topic")
    if isinstance(topic, str) and topic.startswith(TICKERS):
        data = message["data"]
        mark = num(data.get("markPrice"))
        symbol = symbol_of(str(data["symbol"]))
        if mark is None or (held is not None and symbol not in held):
            return []
        return [StreamEvent(("mark", symbol), int(num(message["ts"]) or 0), data, marks=((symbol, mark),))]
    at = num(message.get("creationTime"))
    if at is None:
        return []
    rows = message.get("data") or []
    if topic == "position":
        out = []
        for row in rows:
            size, leg = num(row["size"]) or 0.0, LEG_OF_IDX.get(str(row["positionIdx"]), "BOTH")
            raw_side = row.get("side")
            side = "long" if raw_side == "Buy" else "short" if raw_side == "Sell" else None
            if leg in ("LONG", "SHORT") and size:
                side = leg.lower()
            entry = num(row.get("entryPrice")) or num(row.get("avgPrice")) or None
            symbol = symbol_of(str(row["symbol"]))
            out.append(StreamEvent(("position", symbol, leg), int(at), row,
                                   positions=((symbol, leg, side, abs(size), entry),)))
        return out
    if topic == "wallet":
        wallets = tuple((str(c["coin"]), float(num(c["walletBalance"]) or 0.0))
                        for r in rows for c in (r.get("coin") or ()))
        return [StreamEvent(("wallet",), int(at), rows, wallets=wallets)]
    if topic == "order":
        return [order_event(row, int(at), ccxt_order) for row in rows]
    return []


def order_event(row: Mapping[str, Any], at: int, ccxt_order: Callable[[Any], Any]) -> StreamEvent:
    """One ``order`` row, of the kind its ``stopOrderType`` says as the open-order list reads it
    (a MmRateClose has no trigger price)."""
    oid = str(row["orderId"])
    stop = str(row.get("stopOrderType") or "")
    parsed = ccxt_order(dict(row)) if str(row["orderStatus"]) in OPEN_STATUSES else None
    return StreamEvent(("order", oid), at, row, orders=((oid, parsed),),
                       kinds=((oid, STOP_ORDER_KINDS[stop], stop != "MmRateClose"),))


def next_cursor(page: list) -> Optional[dict]:
    """The next page's parameters: the cursor ccxt copies into the venue's first row (its
    ``info``); None when there is none (an empty page, an absent or empty cursor). Any row is
    looked at: ccxt sorts the orders it parses by time, oldest first, and Bybit lists them
    newest first, so the row that carries the cursor is the last of a page of orders placed at
    different times (read as first only, every page after the first was never asked)."""
    for row in page:
        cursor = dig(row, "info", "nextPageCursor")
        if isinstance(cursor, str) and cursor:
            return {"cursor": cursor}
    return None


def order_kind(order: Any, venue: str) -> str:
    """An open order's kind from its ``stopOrderType``; an unknown value is BAD_RESPONSE."""
    value = dig(order, "info", "stopOrderType")
    if value is None:
        value = ""  # (a row without the field is an order without a trigger)
    return documented(venue, ORDERS_ENDPOINT, "stopOrderType", value, STOP_ORDER_KINDS)


def margin_rate_close(order: Any) -> bool:
    """Whether an open order is a MmRateClose: it closes the position when the account's
    maintenance margin rate reaches a level, so it has no trigger price to read."""
    return dig(order, "info", "stopOrderType") == "MmRateClose"


@dataclass(frozen=True)
class DisconnectedCancelAll:
    """``order/disconnected-cancel-all``: account-wide, ``timeWindow`` clamped to 3–300 s."""

    product: str  # DERIVATIVES or SPOT
    per_symbol = False
    # the window can only be turned off through the account manager
    disarm_refusal = "bybit DCP cannot be disarmed over the API; it only fires on a private websocket disconnect"

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        n = clamp_seconds(seconds, *DCP_RANGE)
        await call("privatePostV5OrderDisconnectedCancelAll", {"product": self.product, "timeWindow": n})
        return float(n)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        raise NotImplementedError(self.disarm_refusal)


@dataclass(frozen=True, kw_only=True)
class BybitDialect(ModuleStream, Dialect):
    max_client_id_length: int = 36
    client_id_alphabet: str = r"A-Za-z0-9_\-"  # orderLinkId: letters, digits, dashes and underscores
    default_settle_coins: tuple[str, ...] = LINEAR_SETTLE_COINS
    supported_settle_coins: tuple[str, ...] = LINEAR_SETTLE_COINS + INVERSE_SETTLE_COINS
    position_size_field: Optional[str] = "size"
    client_id_lookup: Optional[str] = None  # through the order lists, whatever ccxt says of fetchOrder
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "orderId", ("order", "type"): "orderType", ("order", "amount"): "qty"})
    # ("" in portfolio margin mode: not said)
    position_fields: Mapping[str, str] = field(default_factory=lambda: {"maintenance_margin": "positionMM"})
    secret_headers: tuple[str, ...] = ("x-bapi-api-key", "x-bapi-sign")
    reduce_only_rejections: tuple[str, ...] = (
        r'"retCode"\s*:\s*"?1(10017|40017)\b',  # Reduce-only rule not satisfied (UTA / classic)
        r"reduce\s*-?\s*only rule not satisfied",
    )

    # A snapshot: the unified account's balance, then positions and open orders one settle coin
    # a call (one page each up to 200 positions / 50 orders). Bybit counts requests: 600 in any
    # 5 s per IP, and each endpoint per UID (50 a second for these reads):
    # https://bybit-exchange.github.io/docs/v5/rate-limit
    snapshot_reads: tuple[Read, ...] = (Read("GET /v5/account/wallet-balance", 1), Read(POSITIONS_ENDPOINT, 1),
                                        Read(ORDERS_ENDPOINT, 1))
    weight_limit: Optional[WeightLimit] = WeightLimit(
        600, 5.0, "requests", PER_IP, "https://bybit-exchange.github.io/docs/v5/rate-limit", counts_requests=True,
        endpoint_limits={"GET /v5/account/wallet-balance": (50, 1.0), POSITIONS_ENDPOINT: (50, 1.0),
                         ORDERS_ENDPOINT: (50, 1.0)})

    # Streams: Bybit counts requests per IP and UID: a stream has no listen key to keep alive, so
    # it costs the reconcile's snapshot and, at each connect, the two requests of ccxt's
    # isUnifiedEnabled (GET /v5/user/query-api and /v5/account/info) — once, not a rate.
    streams: bool = True
    stream_module: ClassVar[ModuleType] = sys.modules[__name__]  # its frames read here (ModuleStream)
    stream_open_weight: float = 2.0
    stream_keepalive_weight: float = 0.0
    stream_order_parser: str = "parse_order"  # ccxt.pro's bybit reads order rows with its REST parser

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """``POST /v5/order/cancel-all`` answers ``result.list``: the orders it cancelled, at most
        500 a call on futures (an order not in it is still live); spot answers ``result.success``
        "1", naming none. A futures answer without its list is BAD_RESPONSE. ``/v5/order/cancel``
        answers the order it cancelled (``result.orderId``, ccxt's parsed order's ``info``): done
        only when it names the order sent; an answer without it is BAD_RESPONSE."""
        if how == "one":
            named = dig(answer, "info", "orderId")
            if named in (None, ""):
                raise self.bad_field(CANCEL, "result.orderId", "missing")
            return CancelAnswer(frozenset({sent[0].id}) if str(named) == sent[0].id else frozenset())
        if how != "symbol":
            return super().cancel_answer(how, answer, sent)
        info = unnamed(answer)  # ccxt's answer when result.list is not a list
        if info is not None and "retCode" in info:  # the whole answer, not a row
            result = info.get("result")
            if isinstance(result, Mapping) and str(result.get("success")) == "1":
                return CancelAnswer(frozenset(), whole=True)
            raise self.bad_field(CANCEL_ALL, "result.list", "missing")
        return named_rows(self.id, CANCEL_ALL, answer, "orderId", lambda row: None, self.refusal_rules)

    def stream_time(self, message: Any) -> Optional[int]:
        """The venue's stamp of a frame: ``creationTime`` of a private topic, ``ts`` of a public one."""
        return latest_ms([message.get("creationTime") or message.get("ts")]) if isinstance(message, Mapping) else None

    def watch_marks(self, client: Any, held: frozenset[str]) -> Awaitable[Any]:
        """The tickers of the symbols held (a flat account: :data:`HEARTBEAT_SYMBOL`'s, or the
        first linear market's): Bybit has no stream of every symbol's mark, and watching every
        ticker would be ten frames a second a symbol."""
        return client.watch_tickers(marks_watched(client, held, HEARTBEAT_SYMBOL))

    def snapshot_reads_for(self, settle_coins: tuple[str, ...]) -> tuple[Read, ...]:
        n = max(1, len(settle_coins))
        return tuple(r if r.endpoint not in (POSITIONS_ENDPOINT, ORDERS_ENDPOINT) else Read(r.endpoint, r.weight, n)
                     for r in self.snapshot_reads)

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        return {"positionIdx": 1 if leg == "LONG" else 2}, True

    refusal_rules: tuple[Rule, ...] = REFUSALS


    def mode_from_positions(self, raw_positions: Any) -> Optional[ModeRead]:
        return mode_of_positions(raw_positions)

    # --- the lists, by settle coin and page -----------------------------------------------------

    def settle_params(self, reads: Reads) -> list[tuple[str, dict]]:
        """(settle coin, ccxt parameters) of each settle coin the account is read by: its
        declared ones, else the default (linear) ones; ``subType`` selects ccxt's category."""
        coins = reads.settle_coins or self.default_settle_coins
        return [(c, {"subType": "inverse" if c in INVERSE_SETTLE_COINS else "linear", "settleCoin": c})
                for c in coins]

    async def fetch_positions(self, reads: Reads) -> Any:
        rows: list = []
        for coin, params in self.settle_params(reads):
            rows += await self.read_pages(reads, f"{POSITIONS_ENDPOINT} settleCoin={coin}", "fetch_positions",
                                     (None,), {**params, "limit": POSITIONS_PAGE}, next_cursor)
        return rows

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        if symbol is not None:
            rows = await self.read_pages(reads, f"{ORDERS_ENDPOINT} symbol={symbol}", "fetch_open_orders",
                                    (symbol, None, ORDERS_PAGE), {}, next_cursor)
        else:
            rows = []
            for coin, params in self.settle_params(reads):
                rows += await self.read_pages(reads, f"{ORDERS_ENDPOINT} settleCoin={coin}", "fetch_open_orders",
                                         (None, None, ORDERS_PAGE), params, next_cursor)
        return [Listed(order_kind(o, self.id), o, ORDERS_ENDPOINT, price_trigger=not margin_rate_close(o))
                for o in rows]

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        # the open list, then the history of every final status: ccxt's fetch_closed_orders asks
        # /v5/order/history for orderStatus=Filled alone, so an IOC that expired or a close that
        # was cancelled, filled in part or not at all, read as "no such order" and was sent again
        for method in ("fetch_open_orders", "fetch_canceled_and_closed_orders"):
            got = await call(method, symbol, None, None, {"orderLinkId": client_order_id})
            match = [o for o in (got or []) if isinstance(o, Mapping)
                     and o.get("clientOrderId") in (None, client_order_id)]
            if match:
                return match[0]
        return None

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        return LEG_OF_IDX.get(str(info.get("positionIdx")))

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        value = info.get("closeOnTrigger")
        return value is True or str(value).lower() == "true"

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [dig(info, "result", "list", 0, "totalEquity")]

    countdown_method: Optional[str] = "privatePostV5OrderDisconnectedCancelAll"
    # DCP fires when a private websocket subscribed to the "dcp" topic drops, not on a REST
    # silence: without such a socket it would never fire, so it is not offered
    countdown_needs_websocket: bool = True

    def venue_countdown(self, client: Any, market_type: str, method: str) -> DisconnectedCancelAll:
        return DisconnectedCancelAll("DERIVATIVES" if market_type == "futures" else "SPOT")

    def permission_switches(self) -> Mapping[str, Any]:
        return {"permissions": BybitPermissions(), "freeze": BybitFreeze()}


# Bybit's limits: 10 orders a second of ours. The trade endpoints count against the UID's trade
# limit (futures: 10 a second by default, https://bybit-exchange.github.io/docs/v5/rate-limit),
# which the order budget keeps to, not against the request pacing of reads: ccxt charges a
# cancel-all 50 units (one a second), so a flatten's cancel of five symbols waited five seconds
# behind its own pacing.
LIMITS = Limits(orders=10.0, counted_as_orders=frozenset(
    {("private", "POST", f"v5/order/{p}") for p in ("create", "cancel", "cancel-all")}))

BYBIT = BybitDialect(
    id="bybit", limits=LIMITS, read_endpoints={"*": (POSITIONS_ENDPOINT, ORDERS_ENDPOINT)}, refusal_of=bybit_refusal)

DIALECTS = (BYBIT,)
