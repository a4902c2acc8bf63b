"""MEXC's contract websocket as the account's stream reads it: the personal pushes, the tickers, the login's refusal.

What it owns
    what one raw frame of MEXC's contract websocket (``wss://contract.mexc.com/edge``) is and the
    events of those the stream reads. ``ccxt.pro.mexc`` (4.5.90) logs the socket in for its
    ``watch_orders`` and ``watch_balance`` of a swap account (``login``: ``apiKey``, ``reqTime``,
    ``signature`` the hex HMAC-SHA256 of the two with the secret), after which MEXC pushes every
    personal channel by default; ccxt has no ``watchPositions`` of MEXC and reads no position
    push, so the frames are read here, as the REST rows are (:mod:`.rows`):

    * ``push.personal.position`` (read by the stream alone, ``state``): one position a push —
      ``symbol``, ``positionType`` 1 long / 2 short, ``holdVol`` in contracts, ``state`` 1
      holding, 2 taken over by the system (held), 3 closed (flat), ``holdAvgPrice`` its entry —
      of the push's ``ts``. The row does not say the account's position mode: its leg is the
      mode the adapter last read (``hedge``: the long or short leg in hedge mode, the one net
      position in one-way mode), and a push before any read is dropped as malformed (the REST
      reconcile that starts each connection reads it);
    * ``push.personal.order``: a regular order's row, read as the open-order list reads it
      (:func:`.rows.order_row`: side codes, ``orderType``, ``state`` 1–2 open, 3 filled,
      4 cancelled, 5 invalid), its leg the row's ``positionMode`` or the account's;
      ``push.personal.plan.order``: a trigger order (:func:`.rows.plan_row`,
      conditional: ``state`` 1 untriggered, else ended); ``push.personal.stop.planorder``: a
      position's or an order's TP/SL (:func:`.rows.stop_row`, tpsl: open while ``state``
      1 and not ``isFinished``). Each keyed by its id, of its ``updateTime`` (else the push's);
    * ``push.personal.asset``: a currency's ``availableBalance``, ``frozenBalance`` and
      ``positionMargin``, which add up to its wallet (the push carries no equity and no
      unrealized PnL: the stream adds the positions' at its marks, as REST's equity is the
      wallet with them);
    * ``push.ticker`` of each held contract (``watch_ticker``, ``sub.ticker``): its
      ``fairPrice``, the mark REST values positions at too, of its ``timestamp``; a flat account
      watches :data:`HEARTBEAT_SYMBOL`'s, since the personal pushes are silent while nothing
      happens and a silent stream is blind;
    * the other personal pushes (fills ``order.deal``, ``stop.order``, ``risk.limit``,
      ``adl.level``, ``liquidate.risk``, ``position.mode``, ``leverage.mode``, ``track.order``)
      are handed to ccxt unread.

    ``pong`` and the ``rs.*`` answers (``rs.login``, ``rs.sub.ticker``, ``rs.personal.filter``)
    are answers. ``rs.error``, the documented answer of a refused login, ends the stream's
    login (STREAM_LOGIN_REFUSED); only a subscription refused for its contract ("Contract
    doesn't exist!", the documented refusal of one) is not the login's, and is dropped as unknown.

    A spot account's frames are the spot websocket's (:mod:`.spot_stream`: protobuf,
    its channels ``spot@...``): each function here hands such a frame to that module's. Only a
    spot account's stream tells its trades (its deals): a contract account's trades are read
    over REST at each read.

    :class:`MexcStream` is the dialect's part that says so (mixed in before
    :class:`adapters.ccxt_exchange.dialects.base.Dialect`).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import sys
from collections.abc import Container, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Awaitable, Callable, ClassVar, Optional

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.channels import ChannelStream
from ....ccxt_exchange.dialects.frames import FrameFields
from ....ccxt_exchange.dialects.stream_events import MarkRows, StreamEvent
from ....ccxt_exchange.parsing import BadField, num
from . import spot_stream as spot
from .rows import order_row, plan_row, stop_row, text

VENUE = "mexc"
FRAME = FrameFields(VENUE)
MARKS = "push.ticker"
POSITIONS = "push.personal.position"
ORDERS = "push.personal.order"
PLANS = "push.personal.plan.order"
STOPS = "push.personal.stop.planorder"
ASSETS = "push.personal.asset"
UNREAD = tuple(f"push.personal.{c}" for c in ("order.deal", "stop.order", "risk.limit", "adl.level", "liquidate.risk",
                                               "position.mode", "leverage.mode", "track.order"))
KINDS: Mapping[str, str] = {MARKS: "marks", POSITIONS: "state", **{c: "ok" for c in (ORDERS, PLANS, STOPS, ASSETS,
                                                                                      *UNREAD)}}
LOGIN_REFUSED = "rs.error"
NOT_THE_LOGINS = ("Contract",)  # the words of an rs.error that refuses a subscription, not the login
# channel → (its rows' reader, the kind of order it lists, whether it triggers on a price)
ORDER_READERS: Mapping[str, tuple[Callable[[Any, Callable[[str], str]], dict], str, bool]] = {
    ORDERS: (order_row, "regular", False), PLANS: (plan_row, "conditional", True), STOPS: (stop_row, "tpsl", True)}
POSITION_TYPES = {"1": ("LONG", "long"), "2": ("SHORT", "short")}
HELD_STATES = {"1": True, "2": True, "3": False}  # holding, taken over by the system, closed
HEARTBEAT_SYMBOL = "BTC/USDT:USDT"


def stream_message(message: Any) -> str:
    """What a MEXC frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`);
    a spot frame is the spot module's."""
    if spot.is_spot(message):
        return spot.stream_message(message)
    channel = message.get("channel") if isinstance(message, Mapping) else None
    if not isinstance(channel, str):
        return "malformed"
    if channel == LOGIN_REFUSED:
        return "unknown" if str(message.get("data") or "").startswith(NOT_THE_LOGINS) else "expired"
    if channel == "pong" or channel.startswith("rs."):
        return "answer"
    return KINDS.get(channel, "unknown")


def stream_ended(message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words of an ``expired`` frame (a spot one's:
    LISTEN_KEY_EXPIRED, :func:`.spot_stream.stream_ended`)."""
    if spot.is_spot(message):
        return spot.stream_ended(message)
    return channels.login_ended(VENUE, "the stream's login", message, "data")


def stream_refused(message: Any, symbol_of: Callable[[str], str]) -> Optional[str]:
    """The pair whose price subscription a spot ``refused`` frame refuses
    (:func:`.spot_stream.stream_refused`); the contract websocket refuses none so."""
    return spot.stream_refused(message, symbol_of) if spot.is_spot(message) else None


def stream_time(message: Any) -> Optional[int]:
    """The push's ``ts``, else its row's ``updateTime`` or ``timestamp``; None without."""
    if not isinstance(message, Mapping):
        return None
    if spot.is_spot(message):
        return spot.stream_time(message)
    row = message.get("data")
    row = row if isinstance(row, Mapping) else {}
    at = num(message.get("ts")) or num(row.get("updateTime")) or num(row.get("timestamp"))
    return int(at) if at is not None and at > 0 else None


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]], hedge: Optional[bool]) -> list[StreamEvent]:
    """The events of a classified MEXC push; a position's leg is the account's mode (``hedge``:
    None not read)."""
    if spot.is_spot(message):
        return spot.stream_events(message, symbol_of, held)
    channel = str(message["channel"])
    if channel not in KINDS or channel in UNREAD:
        return []
    if message.get("data") is None:
        raise FRAME.bad(channel, "data", "missing")
    row = FRAME.row(channel, message["data"], "data")
    if channel == POSITIONS:
        return [_position(channel, row, _stamp(channel, message), symbol_of, hedge)]
    if channel == ASSETS:
        wallet = sum(FRAME.number(channel, row, f) for f in ("availableBalance", "frozenBalance", "positionMargin"))
        currency = FRAME.text(channel, row, "currency")
        return [StreamEvent(("wallet", currency), _stamp(channel, message), row, wallets=((currency, wallet),))]
    if channel == MARKS:
        return _mark(channel, row, message, symbol_of, held)
    return [_order(channel, row, message, symbol_of, hedge)]


def _stamp(channel: str, message: Mapping[str, Any]) -> int:
    at = num(message.get("ts"))
    if at is None or at <= 0:
        raise FRAME.bad(channel, "ts", "missing")
    return int(at)


def _position(channel: str, row: Mapping[str, Any], at: int, symbol_of: Callable[[str], str],
              hedge: Optional[bool]) -> StreamEvent:
    symbol = symbol_of(FRAME.text(channel, row, "symbol"))
    kind = POSITION_TYPES.get(text(row.get("positionType")) or "")
    if kind is None:
        raise FRAME.unknown(channel, "positionType", row.get("positionType"))
    holding = HELD_STATES.get(text(row.get("state")) or "")
    if holding is None:
        raise FRAME.unknown(channel, "state", row.get("state"))
    contracts = FRAME.number(channel, row, "holdVol") if holding else 0.0
    if hedge is None:
        raise FRAME.bad(channel, "positionType", "its leg is unknown: the account's position mode is not read yet")
    leg = kind[0] if hedge else "BOTH"
    side = kind[1] if contracts else None
    return StreamEvent(("position", symbol, leg), at, row,
                       positions=((symbol, leg, side, abs(contracts), num(row.get("holdAvgPrice")) or None),))


def _order(channel: str, row: Mapping[str, Any], message: Mapping[str, Any], symbol_of: Callable[[str], str],
           hedge: Optional[bool]) -> StreamEvent:
    read, kind, price_trigger = ORDER_READERS[channel]
    if row.get("positionMode") in (None, 0, "0") and hedge is not None:  # (trigger and stop rows say none)
        row = {**row, "positionMode": 1 if hedge else 2}
    try:
        parsed = read(row, symbol_of)
    except BadField as e:
        raise FRAME.bad(channel, e.field, e.problem) from None
    oid = str(parsed["id"])
    at = int(num(row.get("updateTime")) or _stamp(channel, message))
    if parsed["status"] != "open" or text(row.get("isFinished")) not in (None, "0"):
        return StreamEvent(("order", oid), at, row, orders=((oid, None),))
    return StreamEvent(("order", oid), at, row, orders=((oid, parsed),), kinds=((oid, kind, price_trigger),))


def _mark(channel: str, row: Mapping[str, Any], message: Mapping[str, Any], symbol_of: Callable[[str], str],
          held: Optional[Container[str]]) -> list[StreamEvent]:
    symbol = symbol_of(FRAME.text(channel, row, "symbol"))
    price = FRAME.number(channel, row, "fairPrice")
    at = num(row.get("timestamp")) or _stamp(channel, message)
    if held is not None and symbol not in held:
        return []
    return [StreamEvent(("mark", symbol), int(at), row, marks=((symbol, price),))]


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """The tickers of the contracts held (a flat account: :data:`HEARTBEAT_SYMBOL`'s, or the
    first linear swap's), one ``sub.ticker`` each; a spot client's: the mini tickers of the pairs
    held (:func:`.spot_stream.watch_marks`)."""
    if (getattr(client, "options", None) or {}).get("defaultType") == "spot":
        return spot.watch_marks(client, held)
    symbols = channels.marks_watched(client, held, HEARTBEAT_SYMBOL)
    return channels.watch_in_chunks(symbols, 1, lambda chunk: client.watch_ticker(chunk[0]))


@dataclass(frozen=True, kw_only=True)
class MexcStream(ChannelStream):
    """The MEXC dialect's stream: ccxt.pro's mexc logs the contract websocket in for its
    ``watch_orders`` and ``watch_balance`` (it has no ``watchPositions`` of MEXC: the position
    pushes are read raw, as every personal push is); the held contracts' tickers on a
    connection of their own shared by the venue's accounts. A spot account's client watches the
    same two on the spot websocket (a listen key's socket: :mod:`.spot_stream`), and its
    trades (``watch_my_trades``: the deals, which the contract stream does not tell), its held
    pairs' mini tickers beside. A websocket costs no REST request; the stream costs the
    reconcile's snapshot (and, on spot, the listen key's requests)."""

    streams: bool = True
    stream_fills: bool = True  # a spot account's deals (:func:`.spot_stream._deal`); the contract's: none
    stream_module: ClassVar[ModuleType] = sys.modules[__name__]

    def stream_fills_for(self, market_type: str) -> bool:
        return self.stream_fills and market_type == "spot"

    def stream_order_rows(self) -> Any:
        return None  # (the account's mode, not known here: see stream_reader)

    def stream_reader(self, hedge: Callable[[], Optional[bool]]) -> Callable[..., list[StreamEvent]]:
        """The frames read with the account's position mode (a position push's leg): ``hedge()``."""
        def read(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                 held: Any = None) -> list[StreamEvent]:
            return stream_events(message, symbol_of, ccxt_order, held, hedge())
        return read

    def stream_watches(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        return (("watch_orders", {}), ("watch_balance", {}))  # one login: every personal push follows

    def stream_watches_for(self, market_type: str) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """A spot account's deals too (``watch_my_trades``: ``spot@private.deals.v3.api.pb`` on
        the listen key's socket); the contract login's pushes come unasked."""
        return self.stream_watches() + ((("watch_my_trades", {}),) if market_type == "spot" else ())


stream_decode = spot.stream_decode  # (the contract websocket's frames are JSON: only the spot one's are binary)


def stream_mark_rows(message: Any, symbol_of: Callable[[str], str],
                     held: Optional[Container[str]] = None) -> Optional[MarkRows]:
    """A spot push of every pair's mini tickers as columns (:func:`.spot_stream.stream_mark_rows`);
    None of any other frame (the contract websocket's tickers are one a push)."""
    return spot.stream_mark_rows(message, symbol_of, held) if spot.is_spot(message) else None


__all__ = ["HEARTBEAT_SYMBOL", "KINDS", "MexcStream", "stream_decode", "stream_ended", "stream_events",
           "stream_mark_rows", "stream_message", "stream_refused", "stream_time", "watch_marks"]
