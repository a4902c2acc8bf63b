"""MEXC spot's websocket as a spot account's stream reads it: the orders and account pushes, the mini tickers.

What it owns
    what one frame of MEXC's spot websocket (``wss://wbs-api.mexc.com/ws``, beside the contract
    websocket of :mod:`.stream`) is (:func:`stream_message`) and the events of those the
    stream reads (:func:`stream_events`). ``ccxt.pro.mexc`` (4.5.90) opens it for a spot client's
    ``watch_orders`` and ``watch_balance``: a listen key (``POST /api/v3/userDataStream``, kept
    alive by ``PUT`` every 20 minutes; MEXC's lasts 60), the user data socket
    ``/ws?listenKey=<key>`` and ``{"method": "SUBSCRIPTION", "params": [<channel>]}``. Its
    pushes are protobuf (``PushDataV3ApiWrapper``), decoded by the streaming client's own
    decoder before anything reads them (:func:`stream_decode`: ccxt's ``decode_proto_msg``,
    protobuf's ``MessageToDict``: the fields camelCase, 64-bit integers as text, a field at its
    default value left out). ccxt's own reading of the spot orders leaves the kind of an
    IMMEDIATE_OR_CANCEL or FILL_OR_KILL order unsaid and takes any other order type quietly, so
    the frames are read here, as the spot API's rows are (:mod:`.spot`):

    * ``spot@private.orders.v3.api.pb`` (``privateOrders``): one order a push — ``id``, its
      client id ``clientId``, ``orderType`` 1 LIMIT, 2 LIMIT_MAKER (post only), 3
      IMMEDIATE_OR_CANCEL, 4 FILL_OR_KILL, 5 MARKET (read as the REST types, each regular:
      another, the documented 100 of a stop among them, which the spot API's open orders do not
      list, drops the frame as malformed naming ``orderType``), ``tradeType`` 1 buy, 2 sell,
      ``status`` 1 new and 3 partially filled (open), 2 filled, 4 cancelled, 5 partially
      cancelled (ended), ``price``, ``quantity``, ``cumulativeQuantity``; keyed by its id, of
      the push's ``sendTime`` (MEXC's documented event time; the order's ``createTime`` stays);
    * ``spot@private.account.v3.api.pb`` (``privateAccount``): one asset a push — ``vcoinName``,
      ``balanceAmount`` (free) and ``frozenAmount`` (locked), whose sum is the asset's wallet as
      ``GET /api/v3/account`` gives it (``free`` + ``locked``); of the push's ``sendTime``;
    * ``spot@public.miniTicker.v3.api.pb@<SYMBOL>@UTC+8`` (``publicMiniTicker``): the pair's
      ``price``, "the latest price" — what ``GET /api/v3/ticker/price`` values a held asset at —
      pushed every 3 seconds, so that a book streamed is valued as the polled one is; one
      subscription per asset held while they fit the socket's allowance (:func:`watch_marks`;
      past it, the next channel's; a flat account: :data:`HEARTBEAT_SYMBOL`'s,
      since the private pushes are silent while nothing happens and a silent stream is blind);
    * ``spot@public.miniTickers.v3.api.pb@UTC+8`` (``publicMiniTickers``): every pair's mini
      ticker in one push every 3 seconds (``items``, each a ``publicMiniTicker``'s row), of the
      push's ``sendTime``. MEXC takes at most :data:`ALLOWANCE` (30) subscriptions a connection
      ("One ws connection supports a maximum of 30 subscriptions"): a book of more pairs than one
      connection's allowance (less one) is valued from this one subscription instead, read as
      columns (:func:`stream_mark_rows`) for the pairs held only — an item of a pair not held is
      not read past its symbol, one of a held pair without a price drops the push as malformed.
      It is decoded here (:func:`stream_decode`: the wrapper parsed, the items' ``symbol`` and
      ``price`` taken), not by ``MessageToDict``: at 2,000 pairs (a 197 kB push) that took a
      median 39 ms of the loop (to 230 ms; on 2 loaded cores), the lean read 3.5 ms;
    * ``spot@private.deals.v3.api.pb`` (``privateDeals``, ccxt's ``watch_my_trades``): one trade
      of the account a push — ``tradeId``, its order's ``orderId`` and ``clientOrderId`` (the
      client id the trade rows of ``GET /api/v3/myTrades`` do not carry), ``tradeType`` 1 buy, 2
      sell, ``quantity`` at ``price``, of its ``time`` (else the push's ``sendTime``), the pair
      the wrapper's ``symbol`` — read as the account's trade (:func:`_deal`, a
      :class:`killswitch.fills.Fill`), so that the adapter reads a symbol's trades over REST once
      and then from the stream (:mod:`adapters.ccxt_exchange.fills`); the orders and account
      pushes say what the trade did to the book.

    A binary frame that is no ``PushDataV3ApiWrapper`` is malformed. The text answers ``{"id",
    "code", "msg"}`` (a subscription's echo, ``PONG``) are answers; a ``msg`` that refuses a
    private subscription ("Not Subscribed ...") and the text ``Invalid listen key`` (as ccxt
    reads MEXC's refusal of one) end the listen key (``expired``: LISTEN_KEY_EXPIRED with the
    venue's words), and the stream, down, reconnects with a new one while the account is polled.
    One that refuses a mini ticker's (``refused``, :func:`stream_refused`: the pair it names,
    :data:`EVERY` of every pair's) leaves that pair's price unstreamed: the stream says so
    (STREAM_MARKS_REFUSED, the pairs named) and the account's snapshots read REST while it holds
    one (ccxt sends the channel no more on that socket; a reconnect asks again).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`), or read a
    trade's strategy (the adapter reads it off the client id).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Callable, Optional

from killswitch.fills import Fill

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.frames import FrameFields, latest_ms
from ....ccxt_exchange.dialects.stream_events import MarkRows, StreamEvent
from ....ccxt_exchange.dialects.stream_hooks import EVERY
from .spot import ORDER_TYPES

VENUE = "mexc"
FRAME = FrameFields(VENUE)
PREFIX = "spot@"
ORDERS = "spot@private.orders.v3.api.pb"
ACCOUNT = "spot@private.account.v3.api.pb"
DEALS = "spot@private.deals.v3.api.pb"
TICKER = "spot@public.miniTicker.v3.api.pb"
TICKERS = "spot@public.miniTickers.v3.api.pb"  # every pair's mini ticker, one subscription
ALLOWANCE = 30  # MEXC's subscriptions a connection
ZONE = "UTC+8"  # a mini ticker's time zone (its rates only: the price is the latest, whatever the zone)
# channel → the frame's body (the wrapper's ``oneof``) and its kind
BODIES: Mapping[str, str] = {ORDERS: "privateOrders", ACCOUNT: "privateAccount", DEALS: "privateDeals",
                             TICKER: "publicMiniTicker", TICKERS: "publicMiniTickers"}
KINDS: Mapping[str, str] = {ORDERS: "ok", ACCOUNT: "ok", DEALS: "ok", TICKER: "marks", TICKERS: "marks"}
# the websocket's order types → the spot API's (spot.ORDER_TYPES reads them into the kind)
WS_TYPES: Mapping[str, str] = {"1": "LIMIT", "2": "LIMIT_MAKER", "3": "IMMEDIATE_OR_CANCEL", "4": "FILL_OR_KILL",
                               "5": "MARKET"}
SIDES: Mapping[str, str] = {"1": "buy", "2": "sell"}
OPEN: Mapping[str, bool] = {"1": True, "3": True, "2": False, "4": False, "5": False}  # status → still open
INVALID_KEY = "Invalid listen key"
NOT_SUBSCRIBED = "Not Subscribed"
HEARTBEAT_SYMBOL = "BTC/USDT"
WRAPPER = "PushDataV3ApiWrapper"


def is_spot(message: Any) -> bool:
    """Whether a frame is the spot websocket's: a text, a ``{"id", "code", "msg"}`` answer or a
    push whose ``channel`` begins ``spot@`` (the contract websocket's never does)."""
    if isinstance(message, (str, bytes, bytearray)):
        return True
    if not isinstance(message, Mapping):
        return False
    channel = message.get("channel")
    return channel.startswith(PREFIX) if isinstance(channel, str) else "msg" in message


def channel_of(channel: str) -> str:
    """A push's channel less its symbol and zone (``spot@public.miniTicker.v3.api.pb@BTCUSDT@UTC+8``)."""
    return "@".join(channel.split("@", 2)[:2])


def stream_decode(client: Any, message: bytes) -> Any:
    """A binary push as the streaming client decodes it (``decode_proto_msg``: the wrapper as a
    dict) — every pair's mini tickers, which ccxt reads none of, as :func:`_all_tickers` does;
    raises where it is no wrapper."""
    decoded = _all_tickers(message) if TICKERS_WIRE in message[:64] else None
    decoded = client.decode_proto_msg(message) if decoded is None else decoded
    if not isinstance(decoded, Mapping) or not decoded.get("channel"):
        raise ValueError("a binary frame that is no PushDataV3ApiWrapper")
    return decoded


TICKERS_WIRE = TICKERS.encode()  # (the wrapper's first field, its channel, within its first bytes)


def _all_tickers(message: bytes) -> Optional[dict[str, Any]]:
    """Every pair's mini tickers as ``decode_proto_msg`` gives them, but for the items' fields
    other than ``symbol`` and ``price`` (left out: :func:`stream_mark_rows` reads none) — the
    wrapper class ccxt's decoder registered, found by name (None before its first decode:
    that push goes through ccxt's); None of another push. Raises where it is no wrapper."""
    from google.protobuf import descriptor_pool, message_factory  # type: ignore[import-untyped]

    try:
        wrapper = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(WRAPPER))()
    except KeyError:
        return None
    wrapper.ParseFromString(message)
    if wrapper.WhichOneof("body") != BODIES[TICKERS]:
        return None
    items = [{k: v for k, v in (("symbol", i.symbol), ("price", i.price)) if v}
             for i in wrapper.publicMiniTickers.items]
    out: dict[str, Any] = {"channel": wrapper.channel, BODIES[TICKERS]: {"items": items} if items else {}}
    for name in ("sendTime", "createTime"):
        if getattr(wrapper, name):
            out[name] = str(getattr(wrapper, name))  # (64-bit integers as text, as MessageToDict writes them)
    return out


def stream_message(message: Any) -> str:
    """What a spot frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`)."""
    if isinstance(message, str):
        return "expired" if message.startswith(INVALID_KEY) else "malformed"
    if not isinstance(message, Mapping):
        return "malformed"
    channel = message.get("channel")
    if not isinstance(channel, str):
        said = str(message.get("msg") or "")
        if NOT_SUBSCRIBED not in said:
            return "answer"
        return "expired" if "private" in said else "refused" if _refused_channel(said) is not None else "answer"
    return KINDS.get(channel_of(channel), "unknown")


def _refused_channel(said: str) -> Optional[str]:
    """The mini ticker's channel a refusal names (``Not Subscribed successfully! [<channel>].
    Reason: ...``); None of another channel's."""
    channel = said.partition("[")[2].partition("]")[0]
    return channel if channel_of(channel) in (TICKER, TICKERS) else None


def stream_refused(message: Any, symbol_of: Callable[[str], str]) -> Optional[str]:
    """The pair whose mini ticker a ``refused`` frame refuses (:data:`EVERY` where it is every
    pair's); None of another frame."""
    said = str(message.get("msg") or "") if isinstance(message, Mapping) else ""
    channel = _refused_channel(said) if NOT_SUBSCRIBED in said else None
    if channel is None:
        return None
    parts = channel.split("@")
    return EVERY if channel_of(channel) == TICKERS or len(parts) < 3 else symbol_of(parts[2])


def stream_ended(message: Any) -> tuple[str, str]:
    """LISTEN_KEY_EXPIRED and the venue's words of an ``expired`` frame."""
    said = message if isinstance(message, str) else str(message.get("msg") or "") \
        if isinstance(message, Mapping) else ""
    return "LISTEN_KEY_EXPIRED", f"{VENUE} refused or ended the spot stream's listen key: {said[:200]}".rstrip()


def stream_time(message: Any) -> Optional[int]:
    """The push's ``sendTime`` (else its ``createTime``, its row's ``time``); None without."""
    if not isinstance(message, Mapping):
        return None
    row = message.get(BODIES.get(channel_of(str(message.get("channel") or "")), ""))
    row = row if isinstance(row, Mapping) else {}
    return latest_ms((message.get("sendTime"),)) or latest_ms((message.get("createTime"), row.get("time")))


def _stamp(channel: str, message: Mapping[str, Any]) -> int:
    at = stream_time(message)
    if at is None:
        raise FRAME.bad(channel, "sendTime", "missing")
    return at


def stream_events(message: Any, symbol_of: Callable[[str], str],
                  held: Optional[Container[str]]) -> list[StreamEvent]:
    """The events of a classified spot push; a mini ticker's price of a pair held only, when
    ``held`` is given."""
    channel = channel_of(str(message["channel"]))
    body = BODIES.get(channel)
    if body is None:
        return []
    row = FRAME.row(channel, message.get(body), body)
    at = _stamp(channel, message)
    if channel == ACCOUNT:
        asset = FRAME.text(channel, row, "vcoinName")
        wallet = FRAME.number(channel, row, "balanceAmount") + FRAME.number(channel, row, "frozenAmount")
        return [StreamEvent(("wallet", asset), at, row, wallets=((asset, wallet),))]
    if channel == TICKERS:
        rows = stream_mark_rows(message, symbol_of, held)
        return [StreamEvent(("mark", s), t, message, marks=((s, p),)) for s, t, p in zip(*(rows or ((), (), ())))]
    symbol = symbol_of(FRAME.text(channel, message if channel in (ORDERS, DEALS) else row, "symbol"))
    if channel == DEALS:
        return [_deal(row, symbol, at)]
    if channel == TICKER:
        price = FRAME.number(channel, row, "price")
        if held is not None and symbol not in held:
            return []
        return [StreamEvent(("mark", symbol), at, row, marks=((symbol, price),))]
    return [_order(channel, row, symbol, at)]


def stream_mark_rows(message: Any, symbol_of: Callable[[str], str],
                     held: Optional[Container[str]] = None) -> Optional[MarkRows]:
    """Every pair's mini tickers (a ``marks`` push of :data:`TICKERS`) as columns, of the items
    whose pair is ``held`` (None: all), all of the push's ``sendTime``; None of another push."""
    if not isinstance(message, Mapping) or channel_of(str(message.get("channel") or "")) != TICKERS:
        return None
    row = FRAME.row(TICKERS, message.get(BODIES[TICKERS]), BODIES[TICKERS])
    at = _stamp(TICKERS, message)
    symbols: list[str] = []
    prices: list[float] = []
    for item in FRAME.rows(TICKERS, row.get("items", []), "items"):
        item = FRAME.row(TICKERS, item, "items")
        symbol = symbol_of(FRAME.text(TICKERS, item, "symbol"))
        if held is None or symbol in held:  # (every pair, every 3 s: no more read of one not held)
            symbols.append(symbol)
            prices.append(FRAME.number(TICKERS, item, "price"))
    return MarkRows(symbols, [at] * len(symbols), prices)


def _code(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)  # (an int32 of the wrapper; its text, as a documented example may write it)
    return "" if isinstance(value, bool) else str(value) if isinstance(value, (int, str)) else ""


def _deal(row: Mapping[str, Any], symbol: str, at: int) -> StreamEvent:
    """One trade's push as the account's trade (as ``myTrades`` lists it, and its order's client
    id): keyed by its ``tradeId``, of its ``time`` (else the push's)."""
    side = SIDES.get(_code(row, "tradeType"))
    if side is None:
        raise FRAME.unknown(DEALS, "tradeType", row.get("tradeType"))
    tid = FRAME.text(DEALS, row, "tradeId")
    amount = FRAME.number(DEALS, row, "quantity")
    price = FRAME.number(DEALS, row, "price")
    if amount <= 0 or price <= 0:
        raise FRAME.bad(DEALS, "quantity" if amount <= 0 else "price", "not a positive number")
    ts = latest_ms((row.get("time"),)) or at
    fill = Fill(id=tid, order_id=FRAME.text(DEALS, row, "orderId"), client_id=str(row.get("clientOrderId") or "")
                or None, symbol=symbol, side=side, amount=amount, price=price, ts_ms=ts)
    return StreamEvent(("deal", tid), ts, row, fills=(fill,))


def _order(channel: str, row: Mapping[str, Any], symbol: str, at: int) -> StreamEvent:
    """One order's push as the spot API's ``openOrders`` row reads it (:func:`.spot.read_open_order`)."""
    oid = FRAME.text(channel, row, "id")
    rest_type = WS_TYPES.get(_code(row, "orderType"))
    if rest_type is None:
        raise FRAME.unknown(channel, "orderType", row.get("orderType"))
    kind = ORDER_TYPES[rest_type]
    side = SIDES.get(_code(row, "tradeType"))
    if side is None:
        raise FRAME.unknown(channel, "tradeType", row.get("tradeType"))
    status = OPEN.get(_code(row, "status"))
    if status is None:
        raise FRAME.unknown(channel, "status", row.get("status"))
    if not status:
        return StreamEvent(("order", oid), at, row, orders=((oid, None),))
    amount = FRAME.number(channel, row, "quantity")
    filled = FRAME.number(channel, row, "cumulativeQuantity") if "cumulativeQuantity" in row else 0.0
    price = FRAME.number(channel, row, "price") if kind == "limit" else None
    if kind == "limit" and not (price and price > 0):
        raise FRAME.bad(channel, "price", f"no price for a {rest_type} order")
    order = {"id": oid, "clientOrderId": row.get("clientId") or None, "symbol": symbol, "type": kind, "side": side,
             "status": "open", "amount": amount, "filled": filled, "remaining": max(amount - filled, 0.0),
             "price": price, "triggerPrice": None, "reduceOnly": False,
             "timestamp": latest_ms((row.get("createTime"),)), "info": row}
    return StreamEvent(("order", oid), at, row, orders=((oid, order),), kinds=((oid, "regular", False),))


async def watch_marks(client: Any, held: frozenset[str]) -> Any:
    """The mini tickers of the pairs held that MEXC lists (a flat account: :data:`HEARTBEAT_SYMBOL`'s,
    or the first spot pair's), one subscription each while the socket's mini tickers, those it
    has and these, stay under MEXC's :data:`ALLOWANCE` (at most 29: the 30th is kept for this
    move) — else, and from then on, every pair's in one (:data:`TICKERS`), read for the pairs held
    (:func:`stream_mark_rows`): never a subscription the venue refuses, none past the allowance
    as the book grows. Their frames are read raw (ccxt reads none). An asset without a pair has
    no ticker to watch: the book values it at REST's price, as the snapshot does (a stablecoin at
    1, else the snapshot fails naming it)."""
    if not getattr(client, "markets", None):
        await client.load_markets()
    symbols = sorted(s for s in held if s in client.markets)
    if not symbols:
        markets = client.markets
        symbols = [HEARTBEAT_SYMBOL if HEARTBEAT_SYMBOL in markets else
                   next((s for s, m in markets.items() if m.get("spot")), HEARTBEAT_SYMBOL)]
    wanted = [f"{TICKER}@{client.market(s)['id']}@{ZONE}" for s in symbols]
    had = _subscribed(client)
    every = f"{TICKERS}@{ZONE}"
    if every in had or len(had | set(wanted)) >= ALLOWANCE:
        wanted = [every]
    return await channels.watch_in_chunks(wanted, 1, lambda chunk: client.watch_spot_public(chunk[0], f"ks:{chunk[0]}"))


def _subscribed(client: Any) -> set[str]:
    """The mini tickers' channels the streaming client's public spot socket has subscribed
    (ccxt's ``subscriptions`` of that socket, keyed ``ks:<channel>`` by :func:`watch_marks`)."""
    url = ((getattr(client, "urls", None) or {}).get("api") or {}).get("ws", {}).get("spot")
    socket = (getattr(client, "clients", None) or {}).get(url)
    hashes = getattr(socket, "subscriptions", None) or {}
    return {h[3:] for h in hashes if isinstance(h, str) and h.startswith(f"ks:{PREFIX}public.miniTicker")}


__all__ = ["ACCOUNT", "ALLOWANCE", "DEALS", "EVERY", "HEARTBEAT_SYMBOL", "ORDERS", "TICKER", "TICKERS", "WS_TYPES",
           "is_spot", "stream_decode", "stream_ended", "stream_events", "stream_mark_rows", "stream_message",
           "stream_refused", "stream_time", "watch_marks"]
