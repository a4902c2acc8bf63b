"""Hyperliquid's websocket channels as the account's stream reads them (``ccxt.pro.hyperliquid``).

What it owns
    what the stream reads of each frame ``{"channel": ..., "data": ...}`` of
    ``wss://api.hyperliquid.xyz/ws`` that ccxt's streaming client subscribes for the adapter's
    watches (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions):

    * ``clearinghouseState`` (ccxt's ``watchPositions`` and ``watchBalance`` share it, per
      ``user``): the account's whole perp state, each frame a snapshot. A position the frame
      does not list is flat. The marks of the held positions are read here: ``positionValue`` /
      ``|szi|``, the price the venue values each position at (ccxt's REST ``fetchPositions``
      reads the same quotient), so no subscription of marks is kept (``activeAssetCtx`` is one a
      coin, and carries no time to order its frames by). The frame is read by the stream alone
      (``state``): ccxt never parses it again;
    * ``orderUpdates`` (``watchOrders``): each row ``{"order": {coin, side, limitPx, sz, oid,
      timestamp, origSz, cloid?}, "status", "statusTimestamp"}``. The documented row does not
      say whether an order waits on a trigger, nor its trigger price: a row that carries
      ``frontendOpenOrders``' fields (``orderType``, ``isTrigger``, ``triggerPx``,
      ``isPositionTpsl``) is read as that list reads it; one that does not keeps the kind
      known of its oid, and an order the stream never knew is asked of the venue by its oid
      (``orderStatus``: :meth:`..dialect.HyperliquidDialect.stream_order_kind`), or left in
      doubt until REST lists it where that fails
      (:data:`adapters.ccxt_exchange.dialects.stream_events.STREAM_KIND`). ``triggered``
      ends a trigger order: what
      executes after it comes by its own updates. Trigger and TP/SL orders come on this
      channel as every other order;
    * ``userFills``: read by ccxt alone (a fill reaches the state by its order's update and the
      next clearinghouse state);
    * the connection's answers (``subscriptionResponse``, ``pong``, ``post``, ``error``).

    Hyperliquid's websocket has no authorization (a user's channels are named by address) and
    so nothing that expires: never ``expired``. Where a channel cannot answer, the stream says
    so and REST fills it: no time of the venue on a frame other than those three channels, no
    liquidation price or margin on the stream (the last REST read's), no push of a flat and
    idle account's state promised by the venue's documentation (a silent stream is stale, and
    read over REST).

A frame it cannot read is ``malformed``, :func:`stream_problem` naming its channel and field.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Container
from typing import Any, Awaitable, Callable, Mapping, Optional

from ....ccxt_exchange.dialects.frames import latest_ms, missing_field
from ....ccxt_exchange.dialects.stream_events import STREAM_KIND, StreamEvent, flat_legs
from ....ccxt_exchange.parsing import BadData, dig, num
from .orders import ORDER_TYPE_TRIGGERS, listed_kind, with_our_id

ANSWERS = frozenset({"subscriptionResponse", "pong", "post", "error"})
STATE = "clearinghouseState"
ORDERS = "orderUpdates"
FILLS = "userFills"
QUOTE = "USDC"  # the main perp dex's collateral: the account's equity is in it
SIDES = ("A", "B")
# an order's status that leaves it open (ccxt's reading: ``triggered`` too, which ends a
# trigger order here, see the module docstring)
OPEN = "open"


def symbol_of_coin(coin: str) -> str:
    """The unified symbol of a main-dex perp coin, as ccxt's ``coinToMarketId`` makes it."""
    return f"{coin}/{QUOTE}:{QUOTE}"


def _problem(message: Any) -> Optional[tuple[str, str]]:
    """(channel, what is wrong) of a frame the stream reads and cannot; None when it reads it."""
    if not isinstance(message, Mapping):
        return "?", f"the frame is a {type(message).__name__}, not an object"
    channel = message.get("channel")
    if not isinstance(channel, str):
        return "?", "field channel: missing" if channel is None else f"field channel: not a string: {channel!r:.20}"
    check = _CHECKS.get(channel)
    bad = check(message.get("data")) if check is not None else None
    return None if bad is None else (channel, f"field {bad}")


def _state_problem(data: Any) -> Optional[str]:
    state = data.get(STATE) if isinstance(data, Mapping) else None
    if not isinstance(state, Mapping):
        return f"data.{STATE}: missing"
    bad = missing_field(state, ("time#",))
    summary = state.get("marginSummary")
    if bad is None and isinstance(summary, Mapping):
        wrong = missing_field(summary, ("accountValue#",))
        bad = wrong and "marginSummary." + wrong
    elif bad is None:
        bad = "marginSummary: missing"
    rows = state.get("assetPositions")
    if bad is None and not isinstance(rows, list):
        bad = "assetPositions: missing"
    for i, row in enumerate(rows if bad is None and isinstance(rows, list) else ()):
        p = row.get("position") if isinstance(row, Mapping) else None
        where = f"assetPositions[{i}].position"
        if not isinstance(p, Mapping):
            return f"{where}: missing"
        held = num(p.get("szi")) not in (None, 0.0)
        wrong = missing_field(p, ("coin", "szi#") + (("entryPx#", "positionValue#") if held else ()))
        if wrong:
            return f"{where}.{wrong}"
    return bad


def _orders_problem(data: Any) -> Optional[str]:
    if not isinstance(data, list):
        return "data: missing"
    for i, row in enumerate(data):
        o = row.get("order") if isinstance(row, Mapping) else None
        if not isinstance(o, Mapping):
            return f"data[{i}].order: missing"
        bad = missing_field(row, ("status", "statusTimestamp#")) or missing_field(
            o, ("coin", "oid#", "limitPx#", "sz#", "origSz#", "timestamp#"))
        if bad is None and o.get("side") not in SIDES:
            bad = f"side: {'missing' if o.get('side') is None else 'unknown value ' + repr(o.get('side'))}"
        if bad is None and "orderType" in o and o.get("orderType") not in ORDER_TYPE_TRIGGERS:
            bad = f"orderType: unknown value {o.get('orderType')!r}"
        if bad is not None:
            return f"data[{i}].{'' if bad.startswith(('status', 'statusT')) else 'order.'}{bad}"
    return None


def _fills_problem(data: Any) -> Optional[str]:
    fills = data.get("fills") if isinstance(data, Mapping) else None
    if not isinstance(fills, list):
        return "data.fills: missing"
    for i, f in enumerate(fills):
        bad = missing_field(f, ("coin", "oid#", "px#", "sz#", "time#")) if isinstance(f, Mapping) else "missing"
        if bad is not None:
            return f"data.fills[{i}].{bad}"
    return None


# a channel the stream reads → what a frame of it lacks (any other channel is not read: no problem)
_CHECKS: dict[str, Callable[[Any], Optional[str]]] = {STATE: _state_problem, ORDERS: _orders_problem,
                                                      FILLS: _fills_problem}


def stream_message(message: Any) -> str:
    """What a Hyperliquid frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`);
    never ``expired``: nothing authorizes the socket."""
    if not isinstance(message, Mapping):
        return "malformed"
    channel = message.get("channel")
    if not isinstance(channel, str):
        return "malformed"
    if channel in ANSWERS:
        return "answer"
    if channel not in (STATE, ORDERS, FILLS):
        return "unknown"
    if channel == STATE:  # its rows are checked as they are read (a book's worth: one pass, not two)
        return "state" if _state_frame(message) else "malformed"
    return "ok" if _problem(message) is None else "malformed"


def _state_frame(message: Mapping[str, Any]) -> bool:
    """A clearinghouse state's frame as a whole: its state, time, equity and list of positions
    (each position is checked by :func:`stream_events`, which raises on one it cannot read)."""
    state = dig(message, "data", STATE)
    if not isinstance(state, Mapping) or num(state.get("time")) is None:
        return False
    summary = state.get("marginSummary")
    return isinstance(summary, Mapping) and num(summary.get("accountValue")) is not None and \
        isinstance(state.get("assetPositions"), list)


def stream_problem(message: Any) -> Optional[str]:
    """``BAD_RESPONSE: hyperliquid <channel>: field <field>: <problem>`` of a malformed frame."""
    found = _problem(message)
    if found is None:
        return None
    return f"BAD_RESPONSE: hyperliquid {found[0]}: {found[1]}"


def stream_time(message: Any) -> Optional[int]:
    """The venue's time of a frame: its state's ``time``, else the latest of its rows'."""
    if not isinstance(message, Mapping):
        return None
    channel, data = message.get("channel"), message.get("data")
    times: list[Any] = []
    if channel == STATE and isinstance(data, Mapping) and isinstance(data.get(STATE), Mapping):
        times = [data[STATE].get("time")]
    elif channel == ORDERS and isinstance(data, list):
        times = [r.get("statusTimestamp") for r in data if isinstance(r, Mapping)]
    elif channel == FILLS and isinstance(data, Mapping):
        times = [f.get("time") for f in data.get("fills") or () if isinstance(f, Mapping)]
    return latest_ms(times)


def stream_events(message: Any, ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]] = None) -> list[StreamEvent]:
    """The events of a classified frame: a clearinghouse state's positions (leg ``BOTH``: one
    position a coin), each with its mark, every held symbol it does not list flat, and the
    wallet (``accountValue`` less the positions' unrealized PnL, so that the stream's equity is
    the venue's at the stream's marks); each ``orderUpdates`` row, the engine's id for its cloid."""
    channel = message.get("channel") if isinstance(message, Mapping) else None
    if channel == STATE:
        return _state_events(message["data"][STATE], held)
    if channel == ORDERS:
        return [_order_event(row, ccxt_order) for row in message["data"]]
    return []


def _state_events(state: Mapping[str, Any], held: Optional[Container[str]]) -> list[StreamEvent]:
    at = int(num(state["time"]) or 0)
    out: list[StreamEvent] = []
    upnl = 0.0
    for row in state["assetPositions"]:
        p = row["position"]
        size = num(p["szi"])
        coin = p["coin"]
        if size is None or not isinstance(coin, str) or not coin:
            raise BadData("a position without its coin or size")  # (stream_problem names the field)
        symbol = symbol_of_coin(coin)
        if not size:
            out.append(StreamEvent(("position", symbol, "BOTH"), at, row,
                                   positions=((symbol, "BOTH", None, 0.0, None),)))
            continue
        entry, value = num(p["entryPx"]), num(p["positionValue"])
        if entry is None or value is None:
            raise BadData("a position without its entry price or value")
        mark = abs(value / size)
        upnl += num(p.get("unrealizedPnl")) or 0.0
        out.append(StreamEvent(("position", symbol, "BOTH"), at, row,
                               positions=((symbol, "BOTH", "long" if size > 0 else "short", abs(size), entry),),
                               marks=((symbol, mark),) if mark else ()))
    out.extend(flat_legs(held, out, at, None))  # a snapshot: a held position not listed is flat
    equity = num(state["marginSummary"]["accountValue"]) or 0.0
    out.append(StreamEvent(("wallet",), at, state["marginSummary"], wallets=((QUOTE, equity - upnl),)))
    return out


def _order_event(row: Mapping[str, Any], ccxt_order: Callable[[Any], Any]) -> StreamEvent:
    o = row["order"]
    oid = str(o["oid"])
    parsed = with_our_id(ccxt_order(dict(row)))
    if row.get("status") == "triggered":
        parsed["status"] = "triggered"  # the trigger order's wait is over: not open as a trigger order
    if "orderType" in o:  # frontendOpenOrders' fields: its kind as that list says it
        trigger = ORDER_TYPE_TRIGGERS[o["orderType"]]
        kind, parsed = listed_kind({**parsed, "info": o}, trigger)
        parsed[STREAM_KIND] = kind
    else:
        parsed.setdefault("type", "limit")  # every Hyperliquid order has a limit price
        parsed["type"] = parsed["type"] or "limit"
        parsed[STREAM_KIND] = None  # not said: the kind known of this oid (see the module docstring)
    return StreamEvent(("order", oid), int(num(row["statusTimestamp"]) or 0), row, orders=((oid, parsed),))


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """No subscription: the held positions' marks come in the clearinghouse state (see the
    module docstring). A wait that ends only with the connection."""
    return asyncio.get_running_loop().create_future()


__all__ = ["ANSWERS", "FILLS", "ORDERS", "QUOTE", "STATE", "stream_events", "stream_message", "stream_problem",
           "stream_time", "symbol_of_coin", "watch_marks"]
