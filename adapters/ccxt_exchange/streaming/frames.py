"""An account's private stream, frame by frame: what the venue's messages say, applied to the stream's state.

What it owns (:class:`StreamFrames`, a part of :class:`~.stream.AccountStream`)
    * the events of a message (the dialect's :meth:`~..dialects.base.Dialect.stream_events`)
      applied to a :class:`~.state.StreamState`: ccxt resolves a watch with one message,
      and a second one ccxt reads before the watch is awaited again reaches ccxt's cache only —
      read from the frames, no update is lost;
    * each event checked against the last one of its key (an account's updates, one order's,
      one symbol's marks on one subscription) before ccxt sees it: the same key, event time and
      body again is a duplicate, an older event time is out of order; either is dropped and
      counted in ``dropped``, and logged once per kind;
    * marks read from their raw frames only: a mark frame never reaches ccxt (its ticker
      parsing of every symbol's mark, every second, was most of the loop's time at 10,000
      symbols), and of an array of every mark only the rows of the symbols held are read, as
      columns;
    * a ``state`` message (the account's whole state in one frame: Hyperliquid's clearinghouse
      state) read by its events alone; an order whose frame does not say its kind
      (:data:`~.state.STREAM_KIND` None) keeps the kind known of it, or, never known, is
      asked of the venue at once where the dialect can (:mod:`.kinds`), else puts the stream
      in doubt and has the next REST read list every open order (``orders_due``);
    * the wake callback, called when a position, a balance or a mark changed (never for a
      duplicate or an update that changed nothing) — and, while the runner watches entries
      (``wake_on_entries``: a lock that cancels them binds the account), when an open order that
      is not reduce-only came or changed, handed to the entry watch as it comes;
    * when each symbol's position last changed, so that a close is checked against a position
      read after it; when the last message came (the stream is live); the trades the frames
      told (``told_fills``, where the dialect reads them), for the adapter's reads of the trades;
    * what is dropped (malformed, unknown, a duplicate, out of order), counted and logged once
      per kind per account, the message named by its event, topic or channel, never its body
      (:func:`event_name`).

What it must not do
    read REST, import ccxt, or log anything but scrubbed text.

Known limit: an account update older than the last one (Binance sends them in order on one
socket) is dropped whole, and what it said of a symbol no later update mentioned waits for the
REST reconcile (every ``reconcile_every``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable, Mapping, Optional

from killswitch.fills import Fill
from killswitch.snapshot import Order

from ...base import AdapterError
from ..errors import scrub
from .kinds import OrderKinds
from .state import CHANGED, DUPLICATE, OUT_OF_ORDER, STREAM_KIND, MarkRows, StreamEvent, fresh_events

log = logging.getLogger(__package__)


class StreamFrames(OrderKinds):
    """The stream's messages read and applied (a part of :class:`~.stream.AccountStream`)."""

    wake_on_entries: bool
    _parse_order: Callable[..., Order]
    _events: Callable[[Any, Callable[[Any], Any], Optional[set[str]]], list[StreamEvent]]
    _mark_rows: Optional[Callable[[Any, set[str]], Optional[MarkRows]]]
    _order_parser: str
    _describe: Callable[[Any], Optional[str]]
    _on_entry: Optional[Callable[[str, Order], None]]
    _connected_at: Optional[int]
    _expired: asyncio.Event
    _frames: dict[tuple, tuple[int, Any]]
    _position_changed: dict[str, int]
    told_fills: deque[Fill]  # the trades the frames told (the newest), where the dialect reads them
    fills_told: int  # how many in all
    _array_at: dict[str, int]
    _array_px: dict[str, float]
    _in_connection: bool  # this account's own connection runs (its watches are up or coming up)

    def _read(self, ex: Any, message: Any) -> Any:
        """The events of ``message`` applied; the message ccxt may have (None: every event in it
        was a duplicate or out of order; an array of marks without those)."""
        try:
            events = self._events(message, getattr(ex, self._order_parser), self._held)
        except Exception as e:  # noqa: BLE001 — an event it cannot read is malformed, never applied
            # the dialect's BAD_RESPONSE names the channel and the field
            why = str(e) if isinstance(e, AdapterError) else type(e).__name__
            self._dropped("malformed", self._describe(message) or f"{event_name(message)}: {why}")
            return None
        if not events:
            return message
        fresh = fresh_events(events, self._frames, self._stale)
        if not fresh:
            return None
        self._apply(fresh)
        if len(fresh) < len(events) and isinstance(message, list):
            return [ev.body for ev in fresh]
        return message

    def _stale(self, kind: str, ev: StreamEvent, held_ms: int) -> None:
        self._dropped(kind, f"{ev.key[0]} at {ev.event_ms}" + (f" after {held_ms}" if kind == OUT_OF_ORDER else ""))

    def _read_marks(self, ex: Any, message: Any) -> None:
        """A ``marks`` message applied: an array of them as columns (the dialect's
        ``stream_mark_rows``), each row checked against the last one of its symbol in an array
        (an older event time is out of order, the same time and price a duplicate: dropped,
        counted); anything else as events (:meth:`_read`)."""
        rows = None
        if self._mark_rows is not None:
            try:
                rows = self._mark_rows(message, self._held)
            except Exception as e:  # noqa: BLE001 — a row it cannot read makes the array malformed, never applied
                self._dropped("malformed", f"{event_name(message)}: {type(e).__name__}")
                return
        if rows is None:
            self._read(ex, message)
            return
        self._apply_rows(rows)

    def _apply_rows(self, rows: MarkRows) -> None:
        """An array's rows of the symbols held applied (the others skipped: a venue's shared mark
        subscription reads the rows of every account's symbols, :mod:`.hub`)."""
        seen_at, seen_px, held = self._array_at, self._array_px, self._held
        symbols: list[str] = []
        times: list[int] = []
        prices: list[float] = []
        bad = late = again = 0
        for symbol, at, price in zip(rows.symbols, rows.times, rows.prices):
            if symbol not in held:
                continue
            if not price > 0:
                bad += 1
                continue
            last = seen_at.get(symbol)
            if last is not None and at < last:
                late += 1
                continue
            if last is not None and at == last and seen_px.get(symbol) == price:
                again += 1
                continue
            seen_at[symbol] = at
            seen_px[symbol] = price
            symbols.append(symbol)
            times.append(at)
            prices.append(price)
        for kind, n in (("malformed", bad), (OUT_OF_ORDER, late), (DUPLICATE, again)):
            if n:
                self._dropped(kind, f"{n} of {len(rows.symbols)} marks of an array", n)
        if symbols and self.state.apply_marks(MarkRows(symbols, times, prices)):
            self.wake_runner()

    def hub_marks(self, rows: Optional[MarkRows], events: list[StreamEvent], at: Optional[int]) -> None:
        """A mark frame of the venue's shared subscription (:mod:`.hub`), read once for
        every account on it: its array's rows or its marks' events (checked by the hub for
        duplicates and order, once for all), of which this account applies the marks of the
        symbols it holds. It keeps the stream live as its own mark socket did, but only
        while this account's own connection runs (a mark never makes a private stream that is
        down or connecting look live)."""
        if not self._in_connection:
            return
        self._message()
        if at is not None and (self._event_ms is None or at > self._event_ms):
            self._event_ms = at
        if rows is not None:
            self._apply_rows(rows)
            return
        state, held = self.state, self._held
        changed = False
        for ev in events:  # (the hub dropped duplicates and events out of order, once for all)
            for symbol, price in ev.marks:
                if symbol in held and price is not None and price > 0:
                    changed = state.apply_mark(symbol, price, ev.event_ms) == CHANGED or changed
        if changed:
            self.wake_runner()

    def _apply(self, events: list[StreamEvent]) -> None:
        """Events to the state; the runner woken when a position, a wallet or a mark changed."""
        state = self.state
        moved = False
        changed = False
        for ev in events:
            for symbol, leg, side, contracts, entry in ev.positions:
                if state.apply_position(symbol, leg, side, contracts, entry, ev.event_ms) == CHANGED:
                    changed = moved = True
                    self._position_changed[symbol] = self._clock()
            for asset, balance in ev.wallets:
                if state.apply_wallet(asset, balance, ev.event_ms) == CHANGED:
                    changed = True
                    moved = moved or state.spot  # (a spot account's assets are what it holds)
            changed = self._apply_orders(ev) or changed
            if ev.fills:
                self.told_fills.extend(ev.fills)
                self.fills_told += len(ev.fills)
            for symbol, price in ev.marks:
                if price is None or price <= 0:
                    self._dropped("malformed", f"mark {symbol!r}")
                elif symbol in self._held:
                    changed = state.apply_mark(symbol, price, ev.event_ms) == CHANGED or changed
                # (the marks of symbols without a position keep the stream live; they are not kept)
        if moved:  # (not per mark frame: at 10,000 positions a set of them costs a millisecond)
            self._held = state.held()
        if changed:
            self.wake_runner()

    def _apply_orders(self, ev: StreamEvent) -> bool:
        """An event's orders to the state; True when one should wake the runner: while it watches
        entries (a lock in force), a new open order that is not reduce-only."""
        state = self.state
        changed = False
        kinds = {k[0]: k[1:] for k in ev.kinds}
        for oid, o in ev.orders:
            order: Optional[Order] = None
            told = True  # its kind is known: the frame says it, or an earlier read did
            if isinstance(o, Mapping) and o.get("status") == "open":
                try:  # of the kind the venue's own field says, where it says one
                    order = self._parse_order(o, *kinds[oid]) if oid in kinds \
                        else self._parse_order(o, o.get(STREAM_KIND))
                except Exception as e:  # noqa: BLE001 — an order it cannot read is malformed, never applied
                    self._dropped("malformed", f"order {oid}: {type(e).__name__}: {e}")
                    continue
                if STREAM_KIND in o and o[STREAM_KIND] is None:  # the frame does not say its kind
                    told = oid in state.orders and oid not in self.in_doubt and oid not in self.asking
                    order = self._known_kind(oid, order, told)
            if state.apply_order(oid, order, ev.event_ms) == CHANGED and self.wake_on_entries \
                    and order is not None and not order.reduce_only and order.kind != "tpsl":
                if told:  # (one of a kind not known may be a stop that only reduces: the venue's word
                    changed = True  # on it (:mod:`.kinds`), or the tick's after REST)
                    self._entry(order)
                elif oid not in self.asking:
                    changed = True
        return changed

    def _entry(self, order: Order) -> None:
        if self._on_entry is not None:
            try:
                self._on_entry(self.key, order)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: entry watch: %s", self.key, type(e).__name__)

    def _known_kind(self, oid: str, order: Order, known: bool = True) -> Order:
        """An order whose kind its frame does not say: the kind, trigger and reduce-only flag
        known of it (a REST list's, or the venue's answer to a look-up); never known (or
        ``known`` false: still in doubt, or asked), asked of the venue where the dialect can
        (:mod:`.kinds`), else the stream is in doubt until REST lists it."""
        held = self.state.orders.get(oid)
        if held is None or not known:
            if oid not in self.in_doubt and not self._ask_kind(oid, order):
                self._in_doubt(oid)
            return order
        return order.model_copy(update={"kind": held.kind, "trigger_price": held.trigger_price,
                                        "reduce_only": held.reduce_only or order.reduce_only})

    def _undecodable(self) -> None:
        self._message()  # the socket delivers: only this frame is bad
        self._dropped("malformed", "a frame that cannot be decoded (not JSON, or binary it cannot read)")

    def _message(self) -> None:
        now = self._clock()
        self._last_message = now
        if self._connected_at is None:
            self._connected_at = now
        if self._state != "down" or not self._expired.is_set():
            self._enter("live", None)

    def _dropped(self, kind: str, what: str, n: int = 1) -> None:
        self.state.drop(kind, n)
        self._once("drop:" + kind, logging.WARNING, "%s: stream message dropped (%s): %s; counted from now on, "
                   "the next REST reconcile wins", self.key, kind, scrub(what, self._secrets()))


def event_name(message: Any) -> str:
    """What a dropped message was, for its log line: its event name (Binance ``e``), topic
    (Bybit) or channel (OKX ``arg.channel``), never its body."""
    if isinstance(message, Mapping):
        arg = message.get("arg")
        if "e" not in message and isinstance(arg, Mapping) and "channel" in arg:
            return f"channel {str(arg.get('channel'))[:40]!r}"
        if "e" not in message and "topic" in message:
            return f"topic {str(message.get('topic'))[:40]!r}"
        if "e" not in message and "channel" in message:
            return f"channel {str(message.get('channel'))[:40]!r}"
        return f"event {str(message.get('e'))[:40]!r}"
    if isinstance(message, list):
        return f"a list of {len(message)}"
    return f"a {type(message).__name__}"


__all__ = ["StreamFrames", "event_name"]
