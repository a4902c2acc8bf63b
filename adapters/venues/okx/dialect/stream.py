"""OKX's websocket as the stream reads it: the private and business channels, the marks, the errors.

What it owns
    what one raw OKX v5 websocket frame is and the events of those the stream reads, as
    ``ccxt.pro.okx`` (4.5.90) subscribes them: ``positions`` (``instType`` ANY), ``orders`` and
    ``account`` on ``/ws/v5/private``, ``orders-algo`` on ``/ws/v5/business`` (``watch_orders``
    with ``trigger``: the algo service's TP/SL, OCO and trigger orders), ``mark-price`` of each
    held symbol on ``/ws/v5/public``. Each row carries its own time, the event time its key is
    ordered by. The rows are read as the REST lists read them (:mod:`..dialect`).

    The errors that end or refuse the socket's login are :data:`LOGIN_ERRORS` (the stream is
    down, STREAM_LOGIN_REFUSED); any other (60012 illegal request, 60018 a channel that does not
    exist) and a ``notice`` (64008: the connection will be closed for an upgrade) reach ccxt,
    which fails the connection's watches with the venue's words: a reconnect.
    connection's watches with the venue's words: a reconnect.

Known limit: OKX keeps trailing stops (``move_order_stop``), iceberg and TWAP orders on its
``algo-advance`` channel, which ccxt's streaming client does not subscribe: they reach the runner
at the REST reconcile (every ``reconcile_every``), as before.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Awaitable, Callable, NamedTuple, Optional

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.frames import FrameFields, latest_ms
from ....ccxt_exchange.dialects.stream_events import StreamEvent
from ....ccxt_exchange.parsing import num

VENUE = "okx"
FRAME = FrameFields(VENUE)  # its rows' fields, read as every streaming dialect reads them
MARKS = "mark-price"
PRIVATE = ("positions", "orders", "orders-algo", "account")
KINDS = {MARKS: "marks", **{channel: "ok" for channel in PRIVATE}}  # a push's kind by its channel
# the error codes of a socket whose login the venue refused or does not hold
# (https://www.okx.com/docs-v5/en/#error-code-websocket-public): invalid timestamp, invalid
# apiKey, timestamp expired, invalid sign, login failure, please log in, wrong passphrase, API
# key doesn't exist, login failed (internal error)
LOGIN_ERRORS = frozenset({"60004", "60005", "60006", "60007", "60009", "60011", "60024", "60031", "63999"})
LEGS = {"net": "BOTH", "long": "LONG", "short": "SHORT"}
# the linear perpetual whose mark a flat account watches: OKX's private channels are silent while
# nothing happens, and a silent stream is blind, so one mark (pushed every 200 ms while it moves)
# says the connection delivers
HEARTBEAT_SYMBOL = "BTC/USDT:USDT"
# the marks one subscription asks for: OKX refuses a request longer than 64 KB (some 1,400 args)
MARKS_PER_REQUEST = 100


class OrderRows(NamedTuple):
    """How the OKX dialect reads an order row of its lists (:mod:`..dialect`), handed in (that module
    imports this one): the ``ordType`` values each list documents, and the readers of a regular
    row (its own id) and of an algo row (its kind, client id, trigger and whether it closes)."""

    regular_types: frozenset[str]
    algo_types: frozenset[str]
    regular: Callable[[Any], Any]
    algo: Callable[[Any], tuple[str, Any]]


class _Read(NamedTuple):
    """What a channel's reader is handed beside the row."""

    symbol_of: Callable[[str], str]
    ccxt_order: Callable[[Any], Any]
    held: Optional[Container[str]]
    rows: OrderRows


def stream_message(message: Any) -> str:
    """What an OKX frame is (:func:`adapters.ccxt_exchange.dialects.channels.frame_kind`); a trade
    op's answer is an answer."""
    return channels.frame_kind(message, LOGIN_ERRORS, KINDS, op_answers=True)


def stream_ended(message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words of an ``expired`` frame."""
    return channels.login_refused(VENUE, message)


def stream_time(message: Any) -> Optional[int]:
    """The latest of a push's rows' own times (``pTime``, ``uTime``, ``ts``); None without."""
    rows = message.get("data") if isinstance(message, Mapping) else None
    rows = rows if isinstance(rows, list) else []
    return latest_ms([num(r.get("pTime")) or num(r.get("uTime")) or r.get("ts")
                      for r in rows if isinstance(r, Mapping)])


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]], rows_of: OrderRows) -> list[StreamEvent]:
    """The events of a classified OKX push, each row read by its channel's reader below."""
    return channels.channel_events(FRAME, _READERS, message, _Read(symbol_of, ccxt_order, held, rows_of))


def _position(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    symbol = ctx.symbol_of(FRAME.text(channel, row, "instId"))
    leg = FRAME.documented(channel, row, "posSide", LEGS)
    pos = FRAME.number(channel, row, "pos")
    at = FRAME.number(channel, row, "pTime", "uTime")
    side = leg.lower() if leg != "BOTH" else "long" if pos > 0 else "short" if pos < 0 else None
    entry = num(row.get("avgPx")) or None
    return [StreamEvent(("position", symbol, leg), int(at), row, positions=((symbol, leg, side, abs(pos), entry),))]


def _account(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    at = FRAME.number(channel, row, "uTime")
    wallets = []
    for d in FRAME.rows(channel, row.get("details"), "details"):
        coin = FRAME.row(channel, d, "details")
        wallets.append((FRAME.text(channel, coin, "ccy"), FRAME.number(channel, coin, "cashBal")))
    return [StreamEvent(("wallet",), int(at), row, wallets=tuple(wallets))]


def _order(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    algo = channel == "orders-algo"
    oid = FRAME.text(channel, row, "algoId" if algo else "ordId")
    for name in ("instId", "state", "side"):
        FRAME.text(channel, row, name)
    at = FRAME.number(channel, row, "uTime", "cTime")
    FRAME.documented(channel, row, "ordType", ctx.rows.algo_types if algo else ctx.rows.regular_types)
    parsed = ctx.ccxt_order(dict(row))
    if algo:
        kind, order = ctx.rows.algo(parsed)
    else:
        kind, order = "regular", ctx.rows.regular(parsed)
    return [StreamEvent(("order", oid), int(at), row, orders=((oid, order),), kinds=((oid, kind, True),))]


def _mark(channel: str, row: Mapping[str, Any], ctx: _Read) -> list[StreamEvent]:
    return channels.mark_event(FRAME, channel, row, ctx.symbol_of, ctx.held, "markPx")


_READERS: Mapping[str, channels.Reader] = {
    "positions": _position, "account": _account, "orders": _order, "orders-algo": _order, MARKS: _mark}


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """The marks of the symbols held (a flat account: :data:`HEARTBEAT_SYMBOL`'s, or the first
    linear swap's), :data:`MARKS_PER_REQUEST` a subscription: OKX has no channel of every
    symbol's mark, and refuses a request of more than 64 KB."""
    symbols = channels.marks_watched(client, held, HEARTBEAT_SYMBOL)
    return channels.watch_in_chunks(symbols, MARKS_PER_REQUEST, client.watch_mark_prices)


__all__ = ["HEARTBEAT_SYMBOL", "LOGIN_ERRORS", "OrderRows", "stream_ended", "stream_events", "stream_message",
           "stream_time", "watch_marks"]
