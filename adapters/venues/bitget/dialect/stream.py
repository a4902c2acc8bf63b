"""Bitget's v2 websocket as the account's stream reads it: the private channels, the marks, the errors.

What it owns
    what one raw frame of Bitget's classic-account websocket is and the events of those the
    stream reads, as ``ccxt.pro.bitget`` (4.5.90) subscribes them for USDT-M futures (``instType``
    USDT-FUTURES), after ``login`` on ``wss://ws.bitget.com/v2/ws/private``:

    * ``positions`` (``watch_positions``): every push is ``action`` snapshot, the account's open
      positions of the product type, as ccxt reads it (it drops its cache at each snapshot): a
      held leg the push does not list is flat. The push's own ``ts`` is the time of the whole
      snapshot, the event time of every leg in it: a push older than the last is out of order,
      and one of the same millisecond, every row of which the book repeats, is applied again,
      changing nothing (a snapshot is never a duplicate). Read by the stream alone (``state``):
      ccxt never parses the frame (at 10,000 positions each push is the whole book);
    * ``orders`` (``watch_orders``): each row an order's state, read by ccxt's ``parse_ws_order``
      and then as the REST list reads its rows (:func:`..dialect.read_row`: the true side of a
      hedge-mode row, whether it only closes), of its own ``uTime``;
    * ``orders-algo`` (``watch_orders`` with ``trigger``): plan and TP/SL orders, read as the
      REST plan list reads the same order under its REST name (:data:`PLAN_TYPES`); ``status``
      live / not_trigger waits, executing / executed / fail_execute / cancelled ended it.
      ccxt.pro's bitget resolves such a push under ``order:linear``, never the
      ``triggerOrder:linear`` its watch waits on: the watch only keeps the subscription, the
      frames are read raw;
    * ``account`` (``watch_balance``): each margin coin's ``equity`` and ``unrealizedPL`` (the
      wallet is their difference, so that the stream's equity is the venue's at the stream's
      marks); a row without ``unrealizedPL`` (the push as Bitget first documented it) says no
      wallet, and the REST reconcile's stands;
    * ``ticker`` of each held symbol on ``/v2/ws/public`` (``watch_tickers``): its ``markPrice``;
      a flat account watches :data:`HEARTBEAT_SYMBOL`'s, since the private channels are silent
      while nothing happens and a silent stream is blind.

    The errors that end or refuse the socket's login are :data:`LOGIN_ERRORS` (the stream is
    down, STREAM_LOGIN_REFUSED); any other (30001 a channel that does not exist, 30006 too many
    requests) reaches ccxt, which fails the connection's watches with the venue's words: a reconnect.

Known limit: Bitget documents at most 1,000 channels a connection, and ccxt keeps one public
connection: an account holding more than some 1,000 symbols asks more ``ticker`` channels than
the venue serves on it (the simulator does not refuse them); :data:`MARKS_PER_REQUEST` keeps each
subscription under the venue's 4,096 bytes a request.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Awaitable, Callable, NamedTuple, Optional

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.frames import FrameFields, latest_ms
from ....ccxt_exchange.dialects.stream_events import StreamEvent, flat_legs
from ....ccxt_exchange.parsing import BadData, num

VENUE = "bitget"
FRAME = FrameFields(VENUE)  # its rows' fields, read as every streaming dialect reads them
MARKS = "ticker"
POSITIONS = "positions"
PRIVATE = ("orders", "orders-algo", "account")
KINDS = {MARKS: "marks", POSITIONS: "state", **{channel: "ok" for channel in PRIVATE}}  # a push's kind by its channel
# the codes that end or refuse the socket's login, from ccxt's bitget list of Bitget's websocket
# codes: 30004 a request that needs login, 30005 login failed, 30011 / 30012 / 30013 an invalid
# key, passphrase or timestamp, 30014 a timestamp expired, 30015 an invalid sign
LOGIN_ERRORS = frozenset({"30004", "30005", "30011", "30012", "30013", "30014", "30015"})
POS_MODES = ("one_way_mode", "hedge_mode")
HOLD_SIDES = ("long", "short")
LEGS = ("LONG", "SHORT", "BOTH")
ORDER_TYPES = frozenset({"limit", "market"})
ORDER_STATUSES = frozenset({"live", "new", "partially_filled", "filled", "canceled", "cancelled"})
# the websocket's planType → the REST plan list's name of the same order: pl a trigger order, tp / sl
# a partial take-profit / stop-loss, ptp / psl a position's, track a trailing stop, mtpsl a trailing TP/SL
PLAN_TYPES: Mapping[str, str] = {"pl": "normal_plan", "tp": "profit_plan", "sl": "loss_plan", "ptp": "pos_profit",
                                 "psl": "pos_loss", "track": "track_plan", "mtpsl": "moving_plan"}
ALGO_STATUSES = frozenset({"live", "not_trigger", "executing", "executed", "fail_execute", "cancelled", "canceled"})
# the linear perpetual whose mark a flat account watches
HEARTBEAT_SYMBOL = "BTC/USDT:USDT"
# the tickers one subscription asks for: Bitget refuses a request of more than 4,096 bytes (an
# arg {"instType":"USDT-FUTURES","channel":"ticker","instId":"BTCUSDT"} is some 65)
MARKS_PER_REQUEST = 50


class OrderRows(NamedTuple):
    """How the Bitget dialect reads an order row of its lists (:mod:`..dialect`), handed in (that
    module imports this one): a regular row (``read_row(venue, endpoint, order)``) and a plan row
    (``read_plan(venue, endpoint, order)``, a ``Listed`` of its kind)."""

    regular: Callable[[str, str, Any], Any]
    plan: Callable[[str, str, Any], Any]


class _Push:
    """One ``positions`` push, equal to itself only: the body of its legs' events with the row,
    so that a row the next push of the same millisecond repeats unchanged (the book is whole in
    every push) is applied again, changing nothing, not counted a duplicate."""

    __slots__ = ()


class _Read(NamedTuple):
    """What a channel's reader is handed beside the row."""

    symbol_of: Callable[[str], str]
    ccxt_order: Callable[[Any], Any]
    held: Optional[Container[str]]
    rows: OrderRows
    ts: int  # the push's own time
    push: _Push


def stream_message(message: Any) -> str:
    """What a Bitget frame is (:func:`adapters.ccxt_exchange.dialects.channels.frame_kind`)."""
    return channels.frame_kind(message, LOGIN_ERRORS, KINDS)


def stream_ended(message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words of an ``expired`` frame."""
    return channels.login_refused(VENUE, message)


def stream_time(message: Any) -> Optional[int]:
    """The push's own ``ts``, or the latest of its rows' (``uTime``, ``ts``); None without."""
    if not isinstance(message, Mapping):
        return None
    rows = message.get("data")
    rows = rows if isinstance(rows, list) else []
    return latest_ms([message.get("ts")] + [num(r.get("uTime")) or r.get("ts") for r in rows if isinstance(r, Mapping)])


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]], rows_of: OrderRows) -> list[StreamEvent]:
    """The events of a classified Bitget push, each row read by its channel's reader below; of a
    ``positions`` push, every held leg it does not list flat."""
    ts = num(message.get("ts"))
    ctx = _Read(symbol_of, ccxt_order, held, rows_of, int(ts) if ts is not None else 0, _Push())
    out = channels.channel_events(FRAME, _READERS, message, ctx)
    if message["arg"]["channel"] == POSITIONS and ctx.held is not None:
        out.extend(flat_legs(ctx.held, out, _stamp(POSITIONS, ctx), ctx.push, LEGS))
    return out


def _stamp(channel: str, ctx: _Read) -> int:
    if ctx.ts <= 0:
        raise FRAME.bad(channel, "ts", "missing")
    return ctx.ts


def _position(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    symbol = ctx.symbol_of(FRAME.text(channel, row, "instId"))
    mode = FRAME.documented(channel, row, "posMode", POS_MODES)
    hold = FRAME.documented(channel, row, "holdSide", HOLD_SIDES)
    size = abs(FRAME.number(channel, row, "total"))
    leg = "BOTH" if mode == "one_way_mode" else str(hold).upper()
    entry = num(row.get("openPriceAvg")) or None
    return [StreamEvent(("position", symbol, leg), _stamp(channel, ctx), (ctx.push, row),
                        positions=((symbol, leg, str(hold) if size else None, size, entry),))]


def _account(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    coin = FRAME.text(channel, row, "marginCoin")
    equity = FRAME.number(channel, row, "equity")
    if row.get("unrealizedPL") in (None, ""):
        return []  # (the push's earlier documented shape: equity alone says no wallet; REST's stands)
    upnl = FRAME.number(channel, row, "unrealizedPL")
    return [StreamEvent(("wallet", coin), _stamp(channel, ctx), row, wallets=((coin, equity - upnl),))]


def _order(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    algo = channel == "orders-algo"
    oid = FRAME.text(channel, row, "orderId")
    for name in ("instId", "side"):
        FRAME.text(channel, row, name)
    FRAME.documented(channel, row, "status", ALGO_STATUSES if algo else ORDER_STATUSES)
    at = FRAME.number(channel, row, "uTime", "cTime")
    endpoint = f"websocket {channel}"
    info = dict(row)
    if algo:
        info["planType"] = FRAME.documented(channel, row, "planType", PLAN_TYPES)
    else:
        FRAME.documented(channel, row, "orderType", ORDER_TYPES)
    parsed = dict(ctx.ccxt_order(dict(row)))
    parsed["info"] = info
    if not parsed.get("clientOrderId") and isinstance(row.get("clientOId"), str):
        parsed["clientOrderId"] = row["clientOId"] or None  # (the spelling of Bitget's documented push)
    try:
        if algo:
            listed = ctx.rows.plan(VENUE, endpoint, parsed)
            kind, order = listed.kind, listed.order
        else:
            kind, order = "regular", ctx.rows.regular(VENUE, endpoint, parsed)
    except BadData as e:
        raise FRAME.bad(channel, "row", str(e)) from None
    return [StreamEvent(("order", oid), int(at), row, orders=((oid, order),), kinds=((oid, kind, True),))]


def _mark(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    return channels.mark_event(FRAME, channel, row, ctx.symbol_of, ctx.held, "markPrice")


_READERS: Mapping[str, channels.Reader] = {
    POSITIONS: _position, "account": _account, "orders": _order, "orders-algo": _order, MARKS: _mark}


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """The tickers of the symbols held (a flat account: :data:`HEARTBEAT_SYMBOL`'s, or the first
    linear swap's), :data:`MARKS_PER_REQUEST` a subscription: Bitget has no channel of every
    symbol's mark."""
    symbols = channels.marks_watched(client, held, HEARTBEAT_SYMBOL)
    return channels.watch_in_chunks(symbols, MARKS_PER_REQUEST, client.watch_tickers)


__all__ = ["HEARTBEAT_SYMBOL", "LOGIN_ERRORS", "MARKS_PER_REQUEST", "OrderRows", "PLAN_TYPES", "stream_ended",
           "stream_events", "stream_message", "stream_time", "watch_marks"]
