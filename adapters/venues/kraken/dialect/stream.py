"""Kraken spot's websocket v2 as the account's stream reads it: executions, balances, tickers, the token's refusal.

What it owns
    what one raw frame of Kraken's spot websocket v2 (``wss://ws-auth.kraken.com/v2`` private,
    ``wss://ws.kraken.com/v2`` public; frames ``{"channel", "type", "data"}``) is
    (:func:`stream_message`) and the events of those the stream reads (:func:`read_frame`), as
    ``ccxt.pro.kraken`` (4.5.90) subscribes them with the token of ``POST
    /0/private/GetWebSocketsToken`` (``watch_orders``: ``executions`` with ``snap_orders``;
    ``watch_balance``: ``balances``):

    * ``executions``: the snapshot lists the open orders, then each update is one event of one
      order (``exec_type`` pending_new, new, trade, filled, canceled, expired, amended,
      restated, status). An update carries only what changed: ``pending_new`` the whole order
      (``symbol``, ``side``, ``order_type``, ``order_qty``, ``limit_price``, ``triggers``,
      ``cl_ord_id``), ``new`` its id and status alone. So each account's reader keeps the row of
      every open order it read (:class:`OpenRows`) and reads an update merged over it; an order
      whose ``order_status`` is filled, canceled or expired is gone (its row forgotten), one
      pending_new, new or partially_filled open; a ``trade`` is also the account's trade
      (``exec_id``, ``last_qty`` at ``last_price``, the order's ``cl_ord_id``). Its kind is
      ``order_type``'s, as the REST list's ``descr.ordertype`` says it
      (:data:`.rows.ORDER_KINDS`: stop-loss, take-profit and their ``-limit`` forms
      conditional, their trigger ``triggers.price``, else the deprecated ``stop_price``;
      trailing-stop(-limit) trailing, its trigger ``triggers.actual_price`` when said); another
      ``order_type``, or an open order's update the reader holds no row of, fails the frame
      (BAD_RESPONSE naming the field), never a kind or a size guessed;
    * ``balances``: an update is a ledger entry of one asset (``asset``, ``balance`` the asset's
      balance after it, ``wallet_type``, ``timestamp``), an event of the asset's wallet; an entry
      of a wallet that is not ``spot`` (Kraken Earn) fails the frame: REST's BalanceEx lists it
      as an asset of its own that no ticker values, and the snapshot fails naming it. The
      snapshot carries no time: its rows are checked (each ``wallets`` entry of an Earn wallet
      held fails it the same way) and give no event — the REST reconcile that starts each
      connection seeds the balances;
    * ``ticker`` of each held asset's ASSET/QUOTE (``watch_tickers``): its ``last``, the price
      the REST snapshot values a holding at (``GET /0/public/Ticker``'s last trade), of its
      ``timestamp`` where the row has one; a stream holding the quote alone watches
      :data:`HEARTBEAT_SYMBOL`'s, since the private channels are silent while nothing happens
      and a silent stream is blind.

    v2 names assets and pairs as ccxt's unified codes do (``BTC``, ``BTC/USD``: not REST's
    ``XXBT``, ``XXBTZUSD``). ``heartbeat``, ``status``, ``pong`` and the ``method`` answers are
    answers. An answer that refuses the token (:data:`AUTH_REFUSALS`: ``ESession:Invalid
    session``, ``EAuth:…``, ``EAccount:Invalid permissions``) ends the stream's authorization
    (``expired``): STREAM_LOGIN_REFUSED with the venue's words, a new token on the next
    connection, made again with a growing backoff.

    :class:`KrakenSpotStream` is the dialect's part that says so (mixed in before
    :class:`adapters.ccxt_exchange.dialects.base.Dialect`).

What it must not do
    import ccxt, or hold account state beyond one account's reader's rows of its open orders
    (the deltas are read over them; see :class:`OpenRows`).
"""

from __future__ import annotations

import sys
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Awaitable, Callable, ClassVar, Optional

from killswitch.fills import Fill

from ....ccxt_exchange.dialects import channels
from ....ccxt_exchange.dialects.frames import FrameFields, latest_ms
from ....ccxt_exchange.dialects.stream_events import StreamEvent
from ....ccxt_exchange.dialects.stream_hooks import ModuleStream
from ....ccxt_exchange.parsing import num
from .rows import ORDER_KINDS, TRIGGER_LIMITS, VENUE, from_cl_ord_id

FRAME = FrameFields(VENUE)
EXECUTIONS = "executions"
BALANCES = "balances"
MARKS = "ticker"
KINDS: Mapping[str, str] = {EXECUTIONS: "state", BALANCES: "state", MARKS: "marks"}
ANSWERS = frozenset({"heartbeat", "status"})  # channels that say the connection is up, nothing of the account
# order_status → whether the order is open
STATUSES: Mapping[str, bool] = {"pending_new": True, "new": True, "partially_filled": True, "filled": False,
                                "canceled": False, "expired": False}
# the words of an answer that refuses the socket's token (ccxt's table of Kraken's websocket errors)
AUTH_REFUSALS = ("ESession:Invalid session", "EAuth:", "EAccount:Invalid permissions")
HEARTBEAT_SYMBOL = "BTC/USD"
MARKS_PER_REQUEST = 50  # pairs a ticker subscription asks for


def stream_message(message: Any) -> str:
    """What a Kraken spot v2 frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`):
    ``executions`` and ``balances`` are read by the stream alone, never handed to ccxt, whose
    order cache files an update without its ``symbol`` under none."""
    if not isinstance(message, Mapping):
        return "malformed"
    error = message.get("error")
    if isinstance(error, str) and error:
        return "expired" if any(error.startswith(w) for w in AUTH_REFUSALS) else "answer"
    channel = message.get("channel")
    if isinstance(channel, str):
        return "answer" if channel in ANSWERS else KINDS.get(channel, "unknown")
    return "answer" if isinstance(message.get("method"), str) else "malformed"


def stream_ended(message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words of an ``expired`` frame."""
    return channels.login_ended(VENUE, "the stream's token", message, "error")


def _ms(value: Any) -> Optional[int]:
    """An RFC 3339 time (``2023-09-22T10:33:05.709950Z``) as UTC ms; None for another value."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def stream_time(message: Any) -> Optional[int]:
    """The latest ``timestamp`` of the frame's rows; None without."""
    rows = message.get("data") if isinstance(message, Mapping) else None
    return latest_ms(_ms(r.get("timestamp")) for r in rows if isinstance(r, Mapping)) \
        if isinstance(rows, list) else None


def _stamp(channel: str, row: Mapping[str, Any]) -> int:
    at = _ms(row.get("timestamp"))
    if at is None:
        raise FRAME.bad(channel, "timestamp", "missing" if row.get("timestamp") in (None, "") else "not RFC 3339")
    return at


class OpenRows:
    """One account's rows of its open orders, as the executions channel last told each (an
    update merged over the row before it): what the next update of an order is read over. A
    frame's rows are read over a copy, kept only when every one of them read."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}


def read_frame(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
               held: Optional[Container[str]], rows: OpenRows) -> list[StreamEvent]:
    """The events of a classified Kraken spot frame; one it cannot read leaves ``rows`` as they
    were."""
    channel = str(message["channel"])
    data = FRAME.rows(channel, message.get("data"), "data")
    if channel == EXECUTIONS:
        return _executions(channel, data, message.get("type") == "snapshot", symbol_of, ccxt_order, rows)
    if channel == BALANCES:
        return _balances(channel, data, message.get("type") == "snapshot")
    if channel == MARKS:
        return [ev for raw in data for ev in _mark(channel, FRAME.row(channel, raw, "data"), symbol_of, held)]
    return []


def _executions(channel: str, data: list, snapshot: bool, symbol_of: Callable[[str], str],
                ccxt_order: Callable[[Any], Any], rows: OpenRows) -> list[StreamEvent]:
    kept = {} if snapshot else dict(rows.rows)  # (a snapshot lists every open order: the rows are its)
    out = []
    for raw in data:
        row = FRAME.row(channel, raw, "data")
        if snapshot and row.get("exec_type") == "trade":
            continue  # (one of the snapshot's last fills, listed where snap_trades asks: not an open order)
        oid = FRAME.text(channel, row, "order_id")
        is_open = FRAME.documented(channel, row, "order_status", STATUSES)
        at = _stamp(channel, row)
        fills = (_fill(channel, {**kept.get(oid, {}), **row}, at, symbol_of),) \
            if row.get("exec_type") == "trade" and not snapshot else ()
        if not is_open:
            kept.pop(oid, None)
            out.append(StreamEvent(("order", oid), at, row, orders=((oid, None),), fills=fills))
            continue
        if oid not in kept and "order_type" not in row:
            raise FRAME.bad(channel, "order_type", f"missing: an update of order {oid}, whose row was never told")
        merged = kept[oid] = {**kept.get(oid, {}), **row}
        kind, parsed = _order(channel, merged, symbol_of, ccxt_order)
        out.append(StreamEvent(("order", oid), at, row, orders=((oid, parsed),), kinds=((oid, kind, True),),
                               fills=fills))
    rows.rows = kept
    return out


def _fill(channel: str, row: Mapping[str, Any], at: int, symbol_of: Callable[[str], str]) -> Fill:
    """A ``trade`` execution (read over its order's row) as the account's trade, as
    ``TradesHistory`` tells it and more: its ``exec_id``, its order's id and client id (the
    row's ``cl_ord_id``, which a trade of the REST history does not carry), the pair, the side,
    ``last_qty`` at ``last_price``, its time."""
    side = FRAME.documented(channel, row, "side", ("buy", "sell"))
    return Fill(id=FRAME.text(channel, row, "exec_id"), order_id=str(row["order_id"]),
                client_id=from_cl_ord_id(row.get("cl_ord_id")), symbol=symbol_of(FRAME.text(channel, row, "symbol")),
                side=side, amount=FRAME.number(channel, row, "last_qty"), price=_positive(row.get("last_price")),
                ts_ms=at)


def _positive(value: Any) -> Optional[float]:
    v = num(value)
    return v if v is not None and v > 0 else None


def _order(channel: str, row: Mapping[str, Any], symbol_of: Callable[[str], str],
           ccxt_order: Callable[[Any], Any]) -> tuple[str, dict]:
    """(kind, the order as the REST list reads it) of an open order's whole row."""
    oid = str(row["order_id"])
    said = row.get("order_type")
    kind = FRAME.documented(channel, row, "order_type", ORDER_KINDS)
    side = FRAME.documented(channel, row, "side", ("buy", "sell"))
    symbol = symbol_of(FRAME.text(channel, row, "symbol"))
    amount = FRAME.number(channel, row, "order_qty")
    said_triggers = row.get("triggers")
    triggers: Mapping[str, Any] = said_triggers if isinstance(said_triggers, Mapping) else {}
    limit = _positive(row.get("limit_price"))
    if kind == "conditional":
        relative = triggers.get("price_type") not in (None, "static")
        trigger = _positive(triggers.get("actual_price" if relative else "price")) or _positive(row.get("stop_price"))
        if trigger is None:
            raise FRAME.bad(channel, "triggers.price", f"no trigger price for {said} (order {oid})")
        price = limit if said in TRIGGER_LIMITS else None
    elif kind == "trailing":
        trigger = _positive(triggers.get("actual_price"))
        price = limit if said == "trailing-stop-limit" else None
    else:
        trigger, price = None, (limit if said != "market" else None)
    parsed = dict(ccxt_order(dict(row)))
    parsed.update({"id": oid, "symbol": symbol, "side": side, "status": "open", "amount": amount,
                   "filled": num(row.get("cum_qty")) or 0.0, "price": price, "triggerPrice": trigger,
                   "type": "limit" if price is not None else "market", "reduceOnly": False,
                   "clientOrderId": from_cl_ord_id(row.get("cl_ord_id")), "info": dict(row)})
    return kind, parsed


def _balances(channel: str, data: list, snapshot: bool) -> list[StreamEvent]:
    out = []
    for raw in data:
        row = FRAME.row(channel, raw, "data")
        asset = FRAME.text(channel, row, "asset")
        if snapshot:
            for w in FRAME.rows(channel, row.get("wallets"), "wallets"):
                w = FRAME.row(channel, w, "wallets")
                if w.get("type") != "spot" and num(w.get("balance")):
                    raise FRAME.bad(channel, "wallets", f"{asset}: a {w.get('type')} wallet held, which REST lists "
                                                        "as an asset of its own no ticker values")
            continue
        wallet = row.get("wallet_type")
        if wallet != "spot":
            if wallet is None or not isinstance(wallet, str):
                raise FRAME.unknown(channel, "wallet_type", wallet)
            raise FRAME.bad(channel, "wallet_type", f"{asset}: an entry of a {wallet} wallet, which REST lists as "
                                                    "an asset of its own no ticker values")
        balance = FRAME.number(channel, row, "balance")
        out.append(StreamEvent(("wallet", asset), _stamp(channel, row), row, wallets=((asset, balance),)))
    return out


def _mark(channel: str, row: Mapping[str, Any], symbol_of: Callable[[str], str],
          held: Optional[Container[str]]) -> list[StreamEvent]:
    symbol = symbol_of(FRAME.text(channel, row, "symbol"))
    price = FRAME.number(channel, row, "last")
    if held is not None and symbol not in held:
        return []
    return [StreamEvent(("mark", symbol), _ms(row.get("timestamp")) or 0, row, marks=((symbol, price),))]


def watch_marks(client: Any, held: frozenset[str]) -> Awaitable[Any]:
    """The tickers of the pairs of the assets held that the client lists (a holding of the
    quote alone: :data:`HEARTBEAT_SYMBOL`'s, or the first pair listed; its markets loaded first,
    as ccxt's watch loads them), :data:`MARKS_PER_REQUEST` a subscription."""
    async def watch() -> Any:
        markets = await client.load_markets() or {}
        symbols = sorted(s for s in held if s in markets) or [
            HEARTBEAT_SYMBOL if HEARTBEAT_SYMBOL in markets or not markets else sorted(markets)[0]]
        return await channels.watch_in_chunks(symbols, MARKS_PER_REQUEST, client.watch_tickers)
    return watch()


@dataclass(frozen=True, kw_only=True)
class KrakenSpotStream(ModuleStream):
    """The Kraken spot dialect's stream: ccxt.pro's kraken asks the token
    (``GetWebSocketsToken``) and subscribes ``executions`` (``watch_orders``, with its open
    orders' snapshot) and ``balances`` (``watch_balance``); their frames are read raw, by one
    reader per account that keeps its open orders' rows; the held pairs' tickers on a
    connection of their own shared by the venue's accounts. A spot account only (the venue's
    margin positions are not streamed)."""

    streams: bool = True
    stream_fills: bool = True  # each ``trade`` execution (:func:`_fill`)
    stream_module: ClassVar[ModuleType] = sys.modules[__name__]

    def streams_for(self, market_type: str) -> bool:
        return market_type == "spot"

    def stream_reader(self, hedge: Callable[[], Optional[bool]]) -> Callable[..., list[StreamEvent]]:
        """One account's reader: its open orders' rows kept (:class:`OpenRows`)."""
        rows = OpenRows()

        def read(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                 held: Any = None) -> list[StreamEvent]:
            return read_frame(message, symbol_of, ccxt_order, held, rows)
        return read

    def stream_events(self, message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                      held: Optional[Container[str]] = None) -> list[StreamEvent]:
        """A frame read with no order told before (a fresh reader's): see :meth:`stream_reader`."""
        return read_frame(message, symbol_of, ccxt_order, held, OpenRows())

    def stream_watches(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        return (("watch_orders", {}), ("watch_balance", {}))


__all__ = ["AUTH_REFUSALS", "HEARTBEAT_SYMBOL", "KINDS", "KrakenSpotStream", "OpenRows", "read_frame", "stream_ended",
           "stream_message", "stream_time", "watch_marks"]
