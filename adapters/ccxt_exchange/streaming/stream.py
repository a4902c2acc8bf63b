"""One account's private stream through ccxt's streaming API (``ccxt.pro``): its connection.

What it owns
    * :class:`AccountStream`, built from its parts, which share the connection's state: what its
      frames say, applied to the stream's state (:mod:`.frames`), the kind of an order they
      do not say asked of the venue (:mod:`.kinds`), and when it may be trusted — health, REST
      reconciles, the snapshot it answers (:mod:`.trust`);
    * the streaming client's life: built by ``build()`` (a ``ccxt.pro.<venue>`` client configured
      as the REST one: credentials, timeout, strict JSON, rehosted urls), one per connection, so
      that a reconnect authenticates afresh (a new listen key on Binance), closed when its
      connection ends;
    * the watch loops: ``watch_positions``, ``watch_balance``, ``watch_orders`` (and what else the
      dialect's ``stream_watches`` names: OKX's algo orders, ``watch_orders`` with ``trigger``) and
      ``watch_mark_prices`` of every symbol (Binance's ``!markPrice@arr@1s``: one subscription
      per connection, never restarted as positions come and go, and a live stream is never
      silent, flat or not) — or, where the venue subscribes marks by symbol (Bybit's tickers),
      the dialect's ``watch_marks`` of the held symbols, watched again as they change
      (:func:`~.sockets.watch_marks`): they open and keep ccxt's subscriptions, their answers are
      not read;
    * the raw messages before ccxt reads them (its ``handle_message``): when the last one came,
      and the dialect's verdict — an unknown or malformed message dropped and counted, marks and
      a ``state`` message read by the stream alone, never handed to ccxt, a listen key that
      expired ending the connection (``down``, LISTEN_KEY_EXPIRED, until reconnected; where the
      venue ends or refuses a login, the dialect's reason and the venue's words, OKX's
      STREAM_LOGIN_REFUSED, reconnected with a growing backoff), a subscription of marks the
      venue refused kept until the connection ends (:mod:`.trust`); a frame that is not JSON
      dropped and counted malformed at each of ccxt's sockets, whose receive loop it would end
      (:func:`~.sockets.guard_decode`); a binary frame (MEXC spot's protobuf) decoded by the
      dialect's ``stream_decode`` first, dropped and counted where it cannot be
      (:func:`~.sockets.decode_binary`);
    * reconnecting with backoff (``backoff_s · 2^n`` capped at ``max_backoff_s``), counted; a
      stream silent for three times ``stale_after`` reconnected too (a stall the socket's
      keepalive did not see);
    * what the adapter reads of it beside the snapshot: the wake callback and the entry watch
      it sets, whether an order is held open, a symbol's legs, when (and to what) each
      symbol's position last changed, and the trades it told (where the dialect reads them)
      with what they are whole under (:meth:`AccountStream.fills_stamp`).

What it must not do
    read REST (the adapter does, and hands its snapshot to :meth:`AccountStream.reconcile`),
    import ccxt (the ``build`` callable does, lazily), or log anything but scrubbed text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Awaitable, Callable, Hashable, Iterable, Mapping, Optional, Sequence

from killswitch.fills import Fill
from killswitch.snapshot import MarketRules, Order, Position

from ..errors import reason_for, scrub
from .frames import StreamFrames, event_name
from .hub import MarkHub, close_beside, close_client, hub_for
from .kinds import KindOf
from .sockets import ListenKeyExpired, Stalled, built_in_turn, run_connection, tap_messages, watch_marks
from .state import DUPLICATE, MarkRows, StreamEvent, StreamState

log = logging.getLogger(__package__)


def now_ms() -> int:
    return int(time.time() * 1000)


# what a venue's end of the stream's authorization is, where its dialect does not say:
# (reason code, the venue's words)
LISTEN_KEY = ("LISTEN_KEY_EXPIRED", "the stream's listen key expired")
FILLS_KEPT = 1_000  # the trades told kept (the newest), for the adapter's reads of a symbol's trades
# the watches that keep the private subscriptions, where the dialect does not name others
WATCHES: tuple[tuple[str, Mapping[str, Any]], ...] = (("watch_positions", {}), ("watch_balance", {}),
                                                     ("watch_orders", {}))


class AccountStream(StreamFrames):
    """The private stream of one account (``key`` is the runner's ``venue/account``).

    ``build()`` makes a streaming client; ``parse_order(ccxt_order[, kind, price_trigger])``
    reads an open order as the REST snapshot does (of the kind an event says, see
    :class:`StreamEvent`); ``contract_size(symbol)`` and ``rules(symbol)`` come from the
    markets; ``classify(message)`` is the dialect's
    :meth:`~..dialects.base.Dialect.stream_message`, ``events(message, ccxt_order, held)`` its
    :meth:`~..dialects.base.Dialect.stream_events` (with the market ids' symbols bound),
    ``event_time(message)`` its ``stream_time``, ``ended(message)`` its ``stream_ended`` (the
    reason code and the venue's words of an ``expired`` message), ``refused(message)`` its
    ``stream_refused`` (the symbol whose marks a ``refused`` message refuses) and ``watches`` its
    ``stream_watches`` (the watch methods, with their parameters, that keep the private
    subscriptions); ``kind_of(order_id, symbol)`` the adapter's look-up of one order whose
    frame does not say its kind (the dialect's ``stream_order_kind``; None: the dialect has
    none).

    Its parts share the connection's state: what its frames say (:mod:`.frames`), the
    kinds of orders asked of the venue (:mod:`.kinds`) and when it may be trusted
    (:mod:`.trust`); the state itself, pure, is :mod:`.state`'s.
    """

    def __init__(self, key: str, *, quote: str, build: Callable[[], Any], parse_order: Callable[..., Order],
                 contract_size: Callable[[str], float], rules: Callable[[str], Optional[MarketRules]],
                 classify: Callable[[Any], str],
                 events: Callable[[Any, Callable[[Any], Any], Optional[set[str]]], list[StreamEvent]],
                 secrets: Callable[[], Iterable[str]],
                 watch_marks: Optional[Callable[[Any, frozenset], Awaitable[Any]]] = None,
                 mark_rows: Optional[Callable[[Any, set[str]], Optional[MarkRows]]] = None,
                 order_parser: str = "parse_ws_order",
                 event_time: Callable[[Any], Optional[int]] = lambda message: None,
                 ended: Callable[[Any], tuple[str, str]] = lambda message: LISTEN_KEY,
                 refused: Callable[[Any], Optional[str]] = lambda message: None,
                 watches: Sequence[tuple[str, Mapping[str, Any]]] = WATCHES,
                 describe: Callable[[Any], Optional[str]] = lambda message: None,
                 stale_after_s: float = 10.0, reconcile_every_s: float = 30.0,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0, clock: Callable[[], int] = now_ms,
                 hub: Optional[tuple[Hashable, str]] = None, kind_of: Optional[KindOf] = None,
                 decode: Optional[Callable[[Any, Any], Any]] = None, spot: bool = False):
        self.key = key
        self.state = StreamState(quote, spot=spot)
        self._decode = decode  # (client, a binary frame) → the frame read (None: the venue's frames are JSON)
        self._build = build
        self._parse_order = parse_order
        self._contract_size = contract_size
        self._rules = rules
        self._classify = classify
        self._events = events
        self._secrets = secrets
        self._watch_marks = watch_marks  # (client, held symbols) → the watch of their marks (None: every mark)
        self._mark_rows = mark_rows  # (message, held symbols) → an array of marks as columns (None: not one)
        self._order_parser = order_parser
        self._event_time = event_time
        self._ended = ended
        self._refused_of = refused  # the symbol whose marks a ``refused`` message refuses (None: not said)
        self._refused: set[str] = set()  # ... those this connection was refused (cleared as each begins)
        self._watches = tuple(watches)
        self._expiry = LISTEN_KEY  # (reason, the venue's words) of the last authorization the venue ended
        self._describe = describe  # what is wrong with a malformed message (channel and field), if known
        # an order came whose kind the stream does not say: the next REST read lists every open order
        self.orders_due = False
        self.in_doubt: set[str] = set()  # those orders' ids, until a REST list that began after them names them
        # (order id, symbol) → the order as the venue lists it: the dialect's look-up of one such
        # order (:mod:`.kinds`; None: none, the order is in doubt), and those under way
        self._kind_of = kind_of
        self.asking: dict[str, asyncio.Task] = {}
        self.stale_after_ms = int(stale_after_s * 1000)
        self.reconcile_every_ms = int(reconcile_every_s * 1000)
        self.stretch = 1  # the runner's load shed stretches the reconcile cadence (and its overdue bound) by this
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._clock = clock
        self._wake = None
        # a new open order that is not reduce-only wakes the runner too (set while a lock binds the account)
        self.wake_on_entries = False
        # and is handed to the runner's venue watch as it comes (``set_entry_watch``), before the wake
        self._on_entry = None
        self._preparing = None  # the legs being made a slice at a time
        self._task: Optional[asyncio.Task] = None
        # (endpoint key, name) of the venue's shared mark subscription this stream reads its marks
        # from (:mod:`.hub`); None: its own connection watches them
        self._hub_key = hub
        self._hub: Optional[MarkHub] = None
        self._in_connection = False
        self._state = "connecting"  # asked for, started when the runner leads: not off
        self._reason = None
        self._since = None
        self._last_message = None
        self._connected_at = None  # when the current connection began (None: none)
        self.reconnects = 0
        self.disagreements = 0
        self.reconciles = 0
        self._reconciled_at = None
        # the failed REST reconciles since the good one numbered ``after`` (the value of
        # ``reconciles`` when the first of them failed): (after, how many, the last one's reason)
        self._failed = None
        self._reconcile_due = True  # after each (re)connect, each socket opened, each disagreement: REST wins first
        # bumped as each connection begins and as each of its sockets opens: a REST read begun
        # before (a fill in between reached neither it nor the stream) does not end the REST reads
        self._epoch = 0
        self._base_epoch = -1  # the epoch the last reconcile's read began in
        self._conn = 0  # the current connection's number: a message of one given up is not read
        self._event_ms = None  # the venue's latest event time (E) the stream delivered
        self._closing: set[asyncio.Future] = set()  # the clients of connections given up, being closed
        self._held = set()  # the symbols of the positions held: whose marks are read
        self._expired = asyncio.Event()
        self._logged = set()
        self._frames = {}  # event key → (event time, body) of the last applied
        self._position_changed = {}  # symbol → when the stream last changed its position
        self.told_fills: deque[Fill] = deque(maxlen=FILLS_KEPT)  # the trades the frames told, the newest
        self.fills_told = 0  # ... and how many in all
        # an array of marks' last applied row of each symbol: its event time and price (what
        # _frames keeps of other events, kept apart so that no object is made per row)
        self._array_at = {}
        self._array_px = {}

    # --- what the adapter reads -------------------------------------------------------------------

    def set_wake(self, cb: Optional[Callable[[str], None]]) -> None:
        self._wake = cb

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        """``cb(key, order)``, on the loop, for each open order that is not reduce-only and came
        or changed while ``wake_on_entries`` is on (the runner's venue watch decides its cancel
        from the order alone, without waiting for a tick)."""
        self._on_entry = cb

    def holds_open(self, order_id: str) -> bool:
        """Whether the stream's state holds ``order_id`` open now (not filled, cancelled or unknown)."""
        return order_id in self.state.orders

    def legs_of(self, symbol: str) -> Optional[dict[str, float]]:
        """The contracts the stream holds of ``symbol``'s legs, by ``SYMBOL|leg`` (a hedge leg,
        else the side), or None when the stream's word is not to be trusted now (see
        :meth:`needs_rest`)."""
        if self.needs_rest():
            return None
        out: dict[str, float] = {}
        for key in ("BOTH", "LONG", "SHORT"):
            sp = self.state.positions.get((symbol, key))
            if sp is not None and sp.side in ("long", "short"):
                leg = f"{symbol}|{key if key != 'BOTH' else sp.side}"
                out[leg] = out.get(leg, 0.0) + sp.contracts
        return out

    def position_changed(self, symbol: str) -> Optional[int]:
        """When (this stream's clock, ms) an update last changed ``symbol``'s position, if one did."""
        return self._position_changed.get(symbol)

    def made_position(self, symbol: str, side: str) -> Optional[Position]:
        """``symbol``'s position on ``side`` as the stream's last snapshot made it, while the
        stream's word is trusted (None otherwise, or none made)."""
        return None if self.needs_rest() else self.state.made_position(symbol, side)

    def fills_stamp(self) -> Optional[tuple[int, int]]:
        """What the trades told since are every trade under, while the stream's word is trusted
        (None otherwise, :meth:`needs_rest`): its connection's last socket opened (the epoch)
        and the frames dropped but as duplicates (a malformed one, or one out of order, may have
        been a trade). A REST read of the trades begun under the same stamp as now, and the
        trades told since it began, are every trade."""
        if self.needs_rest():
            return None
        return self._epoch, sum(n for kind, n in self.state.dropped.items() if kind != DUPLICATE)

    def holding_of(self, asset: str) -> Optional[float]:
        """The stream's wallet balance of ``asset`` (a spot account's holding), None where it told none."""
        return self.state.wallet.get(asset)

    def position_of(self, symbol: str, leg: str) -> Optional[float]:
        """The contracts the stream holds for ``symbol``'s leg (``long``/``short``; 0 when none)."""
        for (s, key), sp in self.state.positions.items():
            if s == symbol and (key == leg.upper() or key == "BOTH" and sp.side == leg):
                return sp.contracts
        return 0.0

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the connection's supervisor (idempotent)."""
        if self._task is None or self._task.done():
            self._enter("connecting", None)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"stream {self.key}")
        if self._hub_key is not None:
            self._hub = hub_for(*self._hub_key)
            self._hub.join(self)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.stop_asking()
        hub, self._hub = self._hub, None
        if hub is not None:
            await hub.leave(self)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._enter("off", "STREAM_DISABLED")

    async def _run(self) -> None:
        attempt = 0
        first = True
        while True:
            if not first:
                self.reconnects += 1
            first = False
            self._enter("connecting", None)
            self._epoch += 1
            self._reconcile_due = True
            self._expired.clear()
            self._refused = set()  # (a new connection asks for every mark again)
            self._connected_at = None
            reason = "STREAM_DOWN"
            ex: Any = None
            try:
                ex = await built_in_turn(self._build, self._tap)
                await self._connection(ex)
            except asyncio.CancelledError:
                self._conn += 1
                await close_client(ex, f"{self.key}: stream")
                raise
            except ListenKeyExpired:
                reason, words = self._expiry
                log.warning("%s: %s (%s); reconnecting", self.key, scrub(words, self._secrets()), reason)
            except Exception as e:  # noqa: BLE001 — every end of a connection is a reconnect
                what = "stalled" if isinstance(e, Stalled) else reason_for(e).value
                log.warning("%s: stream down (%s): %s", self.key, what,
                            scrub(f"{type(e).__name__}: {e}", self._secrets()))
            # down at once, not after the client's close (up to 5 s): a snapshot taken meanwhile
            # reads REST, and the frames the closing client still hands over are not read
            self._conn += 1
            self._reconcile_due = True
            self._enter("down", reason)
            close_beside(ex, self._closing, f"{self.key}: stream")
            if self._connected_at is not None and reason != self._expiry[0]:
                # it was live: the next try is not a retry of a failing one (unless the venue
                # ended its authorization: a login it refuses is not asked again every backoff_s)
                attempt = 0
            await asyncio.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** attempt))
            attempt += 1

    async def _connection(self, ex: Any) -> None:
        """The watch loops of one connection, until one ends it (a disconnect raises), and its
        watchdog: the venue said the listen key expired, or a long stall."""
        loops = [self._loop(ex, method, params) for method, params in self._watches]
        if self._hub_key is None:
            loops.append(watch_marks(self._watch_marks, ex, lambda: self._held))
        self._in_connection = True
        try:
            await run_connection(loops, self.stale_after_ms, self._silent_ms, self._expired)
        finally:
            self._in_connection = False

    async def _loop(self, ex: Any, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Keeps ccxt's subscription of ``method`` (with ``params``: OKX's algo orders are
        ``watch_orders`` with ``trigger``; its answers are the frames, read raw)."""
        watch = getattr(ex, method)
        while True:
            await (watch(params=dict(params)) if params else watch())

    def _silent_ms(self) -> Optional[int]:
        """How long no message came (since the connection began, before its first; None: the
        stream never began one)."""
        last = self._last_message if self._last_message is not None else self._since
        return None if last is None else self._clock() - last

    def _tap(self, ex: Any) -> None:
        """See every raw message before ccxt does (:func:`~.sockets.tap_messages`): the last
        message's time, and the dialect's verdict (an unknown or malformed one never reaches
        ccxt; an expiry ends the connection)."""
        conn = self._conn
        if not tap_messages(ex, lambda: conn == self._conn, self._decode, self._classify,
                            lambda kind, message: self._read_message(ex, kind, message),
                            lambda what: self._undecodable()):
            return
        opened = getattr(ex, "on_connected", None)
        if callable(opened):  # ccxt's hook as each socket opens (the user data one after the listen key)
            def connected(client: Any, message: Any = None) -> Any:
                if conn == self._conn:
                    self._epoch += 1
                    self._reconcile_due = True
                    if self._wake is not None and self.state.base is not None:
                        # the REST read that lets the stream answer again is taken now, by a tick
                        # of its own: not by the one a market event starts later and waits on
                        self._wake(self.key)
                return opened(client, message)

            ex.on_connected = connected

    def _read_message(self, ex: Any, kind: str, message: Any) -> Any:
        """A message that is not a subscription's answer, by the dialect's verdict ``kind``: what
        ccxt is handed of it (None: nothing)."""
        self._message()
        if kind in ("ok", "marks", "state"):
            at = self._event_time(message)
            if at is not None and (self._event_ms is None or at > self._event_ms):
                self._event_ms = at
        if kind == "expired":
            self._expiry = self._ended(message)
            self._expired.set()
            self._enter("down", self._expiry[0])
            return None
        if kind == "refused":  # a subscription of marks refused (ccxt reads nothing of it)
            self.marks_refused(self._refused, message)
            return None
        if kind in ("unknown", "malformed"):
            self._dropped(kind, (kind == "malformed" and self._describe(message)) or event_name(message))
            return None
        if kind == "marks":  # read here; ccxt never needs them
            self._read_marks(ex, message)
            return None
        if kind == "state":  # the account's whole state: read here, never parsed by ccxt again
            self._read(ex, message)
            return None
        return self._read(ex, message)


__all__ = ["AccountStream", "ListenKeyExpired", "Stalled"]
