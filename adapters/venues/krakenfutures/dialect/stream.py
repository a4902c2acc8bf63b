"""Kraken Futures' websocket API v1 as the account's stream reads it: the private feeds, the tickers, the alerts.

What it owns
    what one raw frame of Kraken Futures' websocket (``wss://futures.kraken.com/ws/v1``) is and
    the events of those the stream reads, as ``ccxt.pro.krakenfutures`` (4.5.90) subscribes
    them after its signed challenge (each private subscribe carries ``original_challenge`` and
    ``signed_challenge``):

    * ``open_positions`` (``watch_positions``): every push is the account's open positions,
      whole (``instrument``, ``balance`` signed, ``entry_price``), of the push's ``timestamp``:
      a held contract the push does not list is flat (the venue keeps one net position a
      contract: the leg is ``BOTH``). A push older than the last is out of order; one of the
      same millisecond is applied again, changing nothing (a snapshot is never a duplicate).
      Read by the stream alone (``state``);
    * ``open_orders_snapshot`` and ``open_orders`` (``watch_orders``): the snapshot's ``orders``
      are the open orders; a delta's ``order`` is an order's row (``order_id``, ``instrument``,
      ``qty`` what is left of it, ``filled``, ``limit_price``, ``stop_price``, ``type``,
      ``direction`` 0 buy / 1 sell, ``reduce_only``, ``cli_ord_id``, ``last_update_time``)
      open while ``is_cancel`` is false and gone (filled, cancelled, fired or refused:
      ``reason`` says which) when it is true; a delta without ``order`` (``order_id`` and
      ``is_cancel`` true) is an order gone. ``type`` says its kind as the REST list's
      ``orderType`` does: ``limit`` / ``market`` regular, ``stop`` / ``take_profit``
      conditional, ``trailing_stop`` trailing; another value is BAD_RESPONSE;
    * ``balances_snapshot`` and ``balances`` (``watch_balance``): the multi-collateral
      ``flex_futures`` account's ``portfolio_value`` (the equity, as REST's ``portfolioValue``)
      and ``total_unrealized``: the wallet is their difference, in USD; a frame without
      ``flex_futures`` (the cash or single-collateral accounts alone) says no wallet, and the
      REST reconcile's stands;
    * ``ticker`` of each held contract (``watch_tickers``, ``product_ids``): its ``markPrice``
      of its ``time``; a flat account watches :data:`HEARTBEAT_SYMBOL`'s, since the private
      feeds are silent while nothing happens and a silent stream is blind;
    * ``fills`` and ``fills_snapshot`` are handed to ccxt unread (the orders and positions say
      what a fill changed).

    The venue's answers are ``event`` challenge, subscribed, unsubscribed, pong, info; an
    ``alert`` or ``error`` that refuses the socket's signed challenge (:data:`AUTH_REFUSALS`:
    "Failed to subscribe to authenticated feed", an invalid API key) ends the stream's
    authorization (STREAM_LOGIN_REFUSED). Another alert reaches ccxt, which fails the
    connection's watches with it: a reconnect.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Awaitable, Callable, Optional

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.frames import FrameFields, latest_ms
from ....ccxt_exchange.dialects.stream_events import StreamEvent, flat_legs
from ....ccxt_exchange.parsing import num

VENUE = "krakenfutures"
FRAME = FrameFields(VENUE)
QUOTE = "USD"  # the flex account's values are in USD
MARKS = "ticker"
POSITIONS = "open_positions"
ORDERS = ("open_orders", "open_orders_snapshot")
BALANCES = ("balances", "balances_snapshot")
UNREAD = ("fills", "fills_snapshot")
KINDS: Mapping[str, str] = {MARKS: "marks", POSITIONS: "state", **{f: "ok" for f in (*ORDERS, *BALANCES, *UNREAD)}}
ANSWERS = frozenset({"challenge", "subscribed", "unsubscribed", "pong", "info", "subscribed_failed"})
# the venue's words that refuse a socket's signed challenge (its authorization)
AUTH_REFUSALS = ("Failed to subscribe to authenticated feed", "Invalid API key", "Authentication failed")
# the feed's order ``type`` → the order's kind (the REST list's orderType says the same)
ORDER_KINDS: Mapping[str, str] = {"limit": "regular", "market": "regular", "lmt": "regular", "mkt": "regular",
                                  "stop": "conditional", "stp": "conditional", "take_profit": "conditional",
                                  "trailing_stop": "trailing"}
HEARTBEAT_SYMBOL = "BTC/USD:USD"
MARKS_PER_REQUEST = 50  # product ids a subscription asks for


class _Push:
    """One ``open_positions`` push, equal to itself only (a snapshot is never a duplicate)."""

    __slots__ = ()


def _feed(message: Any) -> Optional[str]:
    feed = message.get("feed") if isinstance(message, Mapping) else None
    return feed if isinstance(feed, str) else None


def stream_message(message: Any) -> str:
    """What a Kraken Futures frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`):
    an alert that does not refuse the authorization is an answer."""
    if not isinstance(message, Mapping):
        return "malformed"
    event = message.get("event")
    if event is not None:
        if event in ("alert", "error"):
            said = str(message.get("message") or "")
            return "expired" if any(said.startswith(w) for w in AUTH_REFUSALS) else "answer"
        return "answer" if event in ANSWERS else "unknown"
    feed = _feed(message)
    if feed is None:
        return "malformed"
    if feed == "heartbeat":
        return "answer"
    return KINDS.get(feed, "unknown")


def stream_ended(message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words of an ``expired`` frame."""
    return channels.login_ended(VENUE, "the stream's signed challenge", message, "message")


def stream_time(message: Any) -> Optional[int]:
    """The push's own time, or the latest of its order rows'; None without."""
    if not isinstance(message, Mapping):
        return None
    rows = message.get("orders")
    rows = rows if isinstance(rows, list) else [message.get("order")]
    return latest_ms([num(message.get("timestamp")) or message.get("time")]
                     + [num(r.get("last_update_time")) or r.get("time") for r in rows if isinstance(r, Mapping)])


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]]) -> list[StreamEvent]:
    """The events of a classified Kraken Futures push; of an ``open_positions`` push, every
    held symbol it does not list flat."""
    feed = str(message["feed"])
    if feed == POSITIONS:
        return _positions(feed, message, symbol_of, held)
    if feed in ORDERS:
        return _orders(feed, message, symbol_of, ccxt_order)
    if feed in BALANCES:
        return _balances(feed, message)
    if feed == MARKS:
        return _mark(feed, message, symbol_of, held)
    return []


def _stamp(feed: str, message: Mapping[str, Any], name: str = "timestamp") -> int:
    at = num(message.get(name))
    if at is None or at <= 0:
        raise FRAME.bad(feed, name, "missing")
    return int(at)


def _positions(feed: str, message: Mapping[str, Any], symbol_of: Callable[[str], str],
               held: Optional[Container[str]]) -> list[StreamEvent]:
    at = _stamp(feed, message)
    push = _Push()
    out: list[StreamEvent] = []
    for raw in FRAME.rows(feed, message.get("positions"), "positions"):
        row = FRAME.row(feed, raw, "positions")
        symbol = symbol_of(FRAME.text(feed, row, "instrument").upper())
        balance = FRAME.number(feed, row, "balance")
        entry = num(row.get("entry_price")) or None
        side = "long" if balance > 0 else "short" if balance < 0 else None
        out.append(StreamEvent(("position", symbol, "BOTH"), at, (push, row),
                               positions=((symbol, "BOTH", side, abs(balance), entry),)))
    return out + flat_legs(held, out, at, push)


def _balances(feed: str, message: Mapping[str, Any]) -> list[StreamEvent]:
    flex = message.get("flex_futures")
    if flex is None:
        if not any(isinstance(message.get(k), Mapping) for k in ("holding", "futures")):
            raise FRAME.bad(feed, "flex_futures", "missing")
        return []  # (the cash or single-collateral accounts alone: no wallet; REST's stands)
    flex = FRAME.row(feed, flex, "flex_futures")
    equity = FRAME.number(feed, flex, "portfolio_value")
    upnl = FRAME.number(feed, flex, "total_unrealized")
    return [StreamEvent(("wallet", QUOTE), _stamp(feed, message), flex, wallets=((QUOTE, equity - upnl),))]


def _orders(feed: str, message: Mapping[str, Any], symbol_of: Callable[[str], str],
            ccxt_order: Callable[[Any], Any]) -> list[StreamEvent]:
    if feed == "open_orders_snapshot":
        return [_order(feed, FRAME.row(feed, raw, "orders"), symbol_of, ccxt_order, False)
                for raw in FRAME.rows(feed, message.get("orders"), "orders")]
    gone = message.get("is_cancel")
    if not isinstance(gone, bool):
        raise FRAME.unknown(feed, "is_cancel", gone)
    row = message.get("order")
    if row is None:  # an order gone, named by its id alone
        oid = FRAME.text(feed, message, "order_id")
        at = stream_time(message) or 0
        return [StreamEvent(("order", oid), at, message, orders=((oid, None),))]
    return [_order(feed, FRAME.row(feed, row, "order"), symbol_of, ccxt_order, gone)]


def _order(feed: str, row: Mapping[str, Any], symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
           gone: bool) -> StreamEvent:
    oid = FRAME.text(feed, row, "order_id")
    symbol = symbol_of(FRAME.text(feed, row, "instrument").upper())
    said = row.get("type")
    kind = FRAME.documented(feed, row, "type", ORDER_KINDS)
    reduce_only = row.get("reduce_only")
    if not isinstance(reduce_only, bool):
        raise FRAME.unknown(feed, "reduce_only", reduce_only)
    direction = FRAME.documented(feed, row, "direction", (0, 1))
    at = int(FRAME.number(feed, row, "last_update_time", "time"))
    if gone:
        return StreamEvent(("order", oid), at, row, orders=((oid, None),))
    left = FRAME.number(feed, row, "qty")
    limit, stop = num(row.get("limit_price")) or None, num(row.get("stop_price")) or None
    parsed = dict(ccxt_order(dict(row)))
    parsed.update({"id": oid, "symbol": symbol, "side": "buy" if direction == 0 else "sell", "status": "open",
                   "amount": left, "remaining": left, "price": limit, "triggerPrice": stop,
                   "reduceOnly": reduce_only, "info": dict(row)})
    if kind != "regular" or said in ("limit", "market"):
        parsed["type"] = "limit" if limit is not None else "market"
    if isinstance(row.get("cli_ord_id"), str) and row["cli_ord_id"]:
        parsed["clientOrderId"] = row["cli_ord_id"]
    return StreamEvent(("order", oid), at, row, orders=((oid, parsed),), kinds=((oid, kind, True),))


def _mark(feed: str, message: Mapping[str, Any], symbol_of: Callable[[str], str],
          held: Optional[Container[str]]) -> list[StreamEvent]:
    symbol = symbol_of(FRAME.text(feed, message, "product_id").upper())
    price = FRAME.number(feed, message, "markPrice")
    at = _stamp(feed, message, "time")
    if held is not None and symbol not in held:
        return []
    return [StreamEvent(("mark", symbol), at, message, marks=((symbol, price),))]


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """The tickers of the contracts held (a flat account: :data:`HEARTBEAT_SYMBOL`'s, or the
    first linear swap's), :data:`MARKS_PER_REQUEST` a subscription."""
    symbols = channels.marks_watched(client, held, HEARTBEAT_SYMBOL)
    return channels.watch_in_chunks(symbols, MARKS_PER_REQUEST, client.watch_tickers)


__all__ = ["AUTH_REFUSALS", "HEARTBEAT_SYMBOL", "ORDER_KINDS", "QUOTE", "stream_ended", "stream_events",
           "stream_message", "stream_time", "watch_marks"]
