"""One account's private stream through ccxt's streaming API (``ccxt.pro``): watch loops, health.

What it owns
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
      (:func:`watch_held_marks`): they open and keep ccxt's subscriptions, their answers are
      not read;
    * marks read from their raw frames only: a mark frame never reaches ccxt (its ticker
      parsing of every symbol's mark, every second, was most of the loop's time at 10,000
      symbols), and of an array of every mark only the rows of the symbols held are read;
    * the raw messages before ccxt reads them (its ``handle_message``): when the last one came,
      and the dialect's verdict — an unknown or malformed message dropped and counted, a listen
      key that expired ending the connection (``down``, LISTEN_KEY_EXPIRED, until reconnected;
      where the venue ends or refuses a login, the dialect's reason and the venue's words, OKX's
      STREAM_LOGIN_REFUSED, reconnected with a growing backoff);
      a frame that is not JSON dropped and counted malformed at each of ccxt's sockets, whose
      receive loop it would end;
    * a ``state`` message (the account's whole state in one frame: Hyperliquid's clearinghouse
      state) read by its events alone, never handed to ccxt; an order whose frame does not say
      its kind (:data:`~.streamstate.STREAM_KIND` None) keeps the kind known of it, or, never
      known, puts the stream in doubt and has the next REST read list every open order
      (``orders_due``);
    * every event of those messages applied to a :class:`~.streamstate.StreamState` (the
      dialect's :meth:`~.dialects.base.Dialect.stream_events`): ccxt resolves a watch with one
      message, and a second one ccxt reads before the watch is awaited again reaches ccxt's
      cache only — read from the frames, no update is lost;
    * each event checked against the last one of its key (an account's updates, one order's,
      one symbol's marks on one subscription) before ccxt sees it: the same key, event time and
      body again is a duplicate, an older event time is out of order; either is dropped and
      counted in ``dropped``, and logged once per kind;
    * reconnecting with backoff (``backoff_s · 2^n`` capped at ``max_backoff_s``), counted; a
      stream silent for three times ``stale_after`` reconnected too (a stall the socket's
      keepalive did not see);
    * :meth:`AccountStream.health`: off | connecting | live | stale | down, with its reason; a
      stream asked for and not started yet is ``connecting`` (it starts when the runner leads;
      ``off`` is for an account that polls, and for a stream stopped with its adapter);
    * the wake callback, called when a position, a balance or a mark changed (never for a
      duplicate or an update that changed nothing) — and, while the runner watches entries
      (``wake_on_entries``: a lock that cancels them binds the account), when an open order that
      is not reduce-only came or changed — and the one-time log of each kind of dropped message
      per account;
    * when each symbol's position last changed (:meth:`AccountStream.position_changed`), so
      that a close is checked against a position read after it.
    * when the stream's state may be trusted: not until a REST reconcile read wholly after the
      connection's sockets opened (ccxt's ``on_connected``: a fill between a REST read and the
      user data socket's opening reaches neither) has found nothing wrong; a disagreement, or
      a close the adapter found larger than the position (:meth:`AccountStream.distrust`),
      sends the snapshots back to REST until one agrees; a connection given up is down at
      once and what its closing client still delivers is not read;
    * the REST reconciles' bookkeeping: when the last good one was taken, and the failed ones
      since (how many, the last one's reason code: a run of failures is keyed to the count of
      good reconciles, so a good one ends it without being told); a stream whose last good
      reconcile is older than ``OVERDUE_AFTER`` × ``reconcile_every`` is *overdue*: not
      confirmed any more, its snapshots read REST in front until a reconcile agrees (blind, as
      any failed snapshot, while REST fails too);
    * the venue's latest event time (``E``, the dialect's ``stream_time``), the snapshot's
      ``ts_event``: the venue's clock, as a REST snapshot's, never our receipt time.

What it must not do
    read REST (the adapter does, and hands its snapshot to :meth:`AccountStream.reconcile`),
    import ccxt (the ``build`` callable does, lazily), or log anything but scrubbed text.

Known limit: an account update older than the last one (Binance sends them in order on one
socket) is dropped whole, and what it said of a symbol no later update mentioned waits for the
REST reconcile (every ``reconcile_every``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping, Optional, Sequence

from killswitch.snapshot import MarketRules, Order, Snapshot

from ..base import OVERDUE_AFTER, AdapterError, StreamHealth
from .errors import reason_for, scrub
from .streamstate import (CHANGED, DUPLICATE, OUT_OF_ORDER, STREAM_KIND, MarkRows, StreamEvent, StreamState,
                          prepare_stepwise)

log = logging.getLogger(__package__)


def now_ms() -> int:
    return int(time.time() * 1000)


class ListenKeyExpired(Exception):
    """The venue said the stream's authorization ended (Binance's listen key expired, OKX's login
    refused or dropped): the connection is over."""


# what a venue's end of the stream's authorization is, where its dialect does not say:
# (reason code, the venue's words)
LISTEN_KEY = ("LISTEN_KEY_EXPIRED", "the stream's listen key expired")
# the watches that keep the private subscriptions, where the dialect does not name others
WATCHES: tuple[tuple[str, Mapping[str, Any]], ...] = (("watch_positions", {}), ("watch_balance", {}),
                                                     ("watch_orders", {}))


class Stalled(Exception):
    """No message for three times ``stale_after``: the connection is given up."""


class AccountStream:
    """The private stream of one account (``key`` is the runner's ``venue/account``).

    ``build()`` makes a streaming client; ``parse_order(ccxt_order[, kind, price_trigger])``
    reads an open order as the REST snapshot does (of the kind an event says, see
    :class:`StreamEvent`); ``contract_size(symbol)`` and ``rules(symbol)`` come from the
    markets; ``classify(message)`` is the dialect's
    :meth:`~.dialects.base.Dialect.stream_message`, ``events(message, ccxt_order, held)`` its
    :meth:`~.dialects.base.Dialect.stream_events` (with the market ids' symbols bound),
    ``event_time(message)`` its ``stream_time``, ``ended(message)`` its ``stream_ended`` (the
    reason code and the venue's words of an ``expired`` message) and ``watches`` its
    ``stream_watches`` (the watch methods, with their parameters, that keep the private
    subscriptions).

    Size: about 540 lines, one connection's life and what it may be trusted with — the watch
    loops, the raw frames' checks and their events applied (an array of marks as columns),
    health, and when a REST reconcile ends the REST reads (sockets opened, disagreements,
    doubt) — which share the connection's state; the state itself, pure, is :mod:`.streamstate`'s.
    """

    FRAMES_KEPT = 50_000  # the last event of this many keys (orders come and go) is kept for the checks

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
                 watches: Sequence[tuple[str, Mapping[str, Any]]] = WATCHES,
                 describe: Callable[[Any], Optional[str]] = lambda message: None,
                 stale_after_s: float = 10.0, reconcile_every_s: float = 30.0,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0, clock: Callable[[], int] = now_ms):
        self.key = key
        self.state = StreamState(quote)
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
        self._watches = tuple(watches)
        self._expiry = LISTEN_KEY  # (reason, the venue's words) of the last authorization the venue ended
        self._describe = describe  # what is wrong with a malformed message (channel and field), if known
        # an order came whose kind the stream does not say: the next REST read lists every open order
        self.orders_due = False
        self.stale_after_ms = int(stale_after_s * 1000)
        self.reconcile_every_ms = int(reconcile_every_s * 1000)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._clock = clock
        self._wake: Optional[Callable[[str], None]] = None
        # a new open order that is not reduce-only wakes the runner too (set while a lock binds the account)
        self.wake_on_entries = False
        # and is handed to the runner's venue watch as it comes (``set_entry_watch``), before the wake
        self._on_entry: Optional[Callable[[str, Order], None]] = None
        self._preparing: Optional[asyncio.Future] = None  # the legs being made a slice at a time
        self._task: Optional[asyncio.Task] = None
        self._state: str = "connecting"  # asked for, started when the runner leads: not off
        self._reason: Optional[str] = None
        self._since: Optional[int] = None
        self._last_message: Optional[int] = None
        self._connected_at: Optional[int] = None  # when the current connection began (None: none)
        self.reconnects = 0
        self.disagreements = 0
        self.reconciles = 0
        self._reconciled_at: Optional[int] = None
        # the failed REST reconciles since the good one numbered ``after`` (the value of
        # ``reconciles`` when the first of them failed): (after, how many, the last one's reason)
        self._failed: Optional[tuple[int, int, str]] = None
        self._reconcile_due = True  # after each (re)connect, each socket opened, each disagreement: REST wins first
        # bumped as each connection begins and as each of its sockets opens: a REST read begun
        # before (a fill in between reached neither it nor the stream) does not end the REST reads
        self._epoch = 0
        self._base_epoch = -1  # the epoch the last reconcile's read began in
        self._conn = 0  # the current connection's number: a message of one given up is not read
        self._event_ms: Optional[int] = None  # the venue's latest event time (E) the stream delivered
        self._closing: set[asyncio.Future] = set()  # the clients of connections given up, being closed
        self._held: set[str] = set()  # the symbols of the positions held: whose marks are read
        self._expired = asyncio.Event()
        self._logged: set[str] = set()
        self._frames: dict[tuple, tuple[int, Any]] = {}  # event key → (event time, body) of the last applied
        self._position_changed: dict[str, int] = {}  # symbol → when the stream last changed its position
        # an array of marks' last applied row of each symbol: its event time and price (what
        # _frames keeps of other events, kept apart so that no object is made per row)
        self._array_at: dict[str, int] = {}
        self._array_px: dict[str, float] = {}

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

    def health(self) -> StreamHealth:
        state, reason, since = self._state, self._reason, self._since
        now = self._clock()
        if state == "live" and self._last_message is not None and now - self._last_message > self.stale_after_ms:
            state, reason, since = "stale", "STREAM_STALE", self._last_message + self.stale_after_ms
        overdue = self._overdue(now)
        failures, failure = self.reconcile_failures()
        return StreamHealth(state=state, reason=reason, since_ms=since, last_message_ms=self._last_message,
                            reconnects=self.reconnects, disagreements=self.disagreements,
                            dropped=dict(self.state.dropped), reconciles=self.reconciles,
                            answers=state == "live" and not self._reconcile_due and self._reconciled_at is not None
                            and not overdue,
                            reconciled_ms=self._reconciled_at, reconcile_every_ms=self.reconcile_every_ms,
                            reconcile_failures=failures, reconcile_failure_reason=failure, reconcile_overdue=overdue)

    def reconcile_failures(self) -> tuple[int, Optional[str]]:
        """The REST reconciles that failed since the last good one, and the last one's reason code
        ((0, None) when the last read was good, or none failed)."""
        if self._failed is None or self._failed[0] != self.reconciles:
            return 0, None  # none failed, or a good reconcile came after them
        return self._failed[1], self._failed[2]

    def _overdue(self, now: int) -> bool:
        """The last good reconcile is older than ``OVERDUE_AFTER`` × ``reconcile_every``."""
        return self._reconciled_at is not None and \
            now - self._reconciled_at > OVERDUE_AFTER * self.reconcile_every_ms

    def position_changed(self, symbol: str) -> Optional[int]:
        """When (this stream's clock, ms) an update last changed ``symbol``'s position, if one did."""
        return self._position_changed.get(symbol)

    def position_of(self, symbol: str, leg: str) -> Optional[float]:
        """The contracts the stream holds for ``symbol``'s leg (``long``/``short``; 0 when none)."""
        for (s, key), sp in self.state.positions.items():
            if s == symbol and (key == leg.upper() or key == "BOTH" and sp.side == leg):
                return sp.contracts
        return 0.0

    def needs_rest(self) -> bool:
        """Whether the next snapshot must read REST before it can answer: the stream is not live,
        a reconnect or a disagreement has not been reconciled yet, nothing has been, or the last
        good reconcile is overdue (the cadence's reads beside the ticks have failed for
        ``OVERDUE_AFTER`` × ``reconcile_every``: the stream's word is not confirmed any more)."""
        return self.health().state != "live" or self._reconcile_due or self._reconciled_at is None or \
            self._overdue(self._clock())

    def reconcile_aged(self) -> bool:
        """Whether the cadence's reconcile is due: the last one is ``reconcile_every`` old. The
        stream still answers (it is live and was confirmed); the REST read runs beside it."""
        return self._reconciled_at is not None and self._clock() - self._reconciled_at >= self.reconcile_every_ms

    def wake_runner(self) -> None:
        """The runner woken (a reconcile beside the ticks changed what the next one reads)."""
        if self._wake is not None:
            try:
                self._wake(self.key)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: wake: %s", self.key, type(e).__name__)

    def reconcile_failed(self, reason: Optional[str]) -> None:
        """A REST read for a reconcile failed: counted with its reason code until a good one; the
        read is tried again at the next snapshot. A confirmed live stream goes on answering until
        the reconcile is overdue (``OVERDUE_AFTER`` × ``reconcile_every`` since the last good
        one), then REST is read in front of each snapshot. Said once per account (the runner says
        when it is overdue, and when it is not any more)."""
        code = reason or "unknown"
        if self._failed is not None and self._failed[0] == self.reconciles:
            self._failed = (self.reconciles, self._failed[1] + 1, code)
        else:
            self._failed = (self.reconciles, 1, code)
        self._once("reconcile-failed", logging.WARNING, "%s: the reconcile's REST read failed (%s); tried again "
                   "at the next snapshot, a live stream answering alone for %d× reconcile_every at most meanwhile",
                   self.key, code, OVERDUE_AFTER)

    def snapshot(self) -> Optional[Snapshot]:
        """The account from the stream's state (None before a REST snapshot gave its base).

        ``ts_event`` is the venue's time, as a REST snapshot's is: the latest event time (``E``)
        the stream delivered, or the REST base's own when that is later — never our receipt
        time, which is another clock (a simulated venue's runs apart from ours, and a data age
        taken between the two would be wrong). ``ts_observed`` is our clock's now."""
        now = self._clock()
        base = self.state.base
        ts = self._event_ms
        if base is not None and (ts is None or base.ts_event > ts):
            ts = base.ts_event
        return self.state.snapshot(now, ts if ts is not None else now, self._contract_size, self._rules)

    async def prepare_stepwise(self) -> None:
        """The legs made after a reconcile beside the ticks, the loop free every few hundred; a
        snapshot asked meanwhile waits for them (:meth:`made`) rather than make them at once."""
        done = asyncio.get_running_loop().create_future()
        self._preparing = done
        try:
            await prepare_stepwise(self.state, self._contract_size, self._rules)
        finally:
            self._preparing = None
            done.set_result(None)

    async def made(self) -> None:
        """Once the legs being made a slice at a time are (at once when none are)."""
        if self._preparing is not None:
            await asyncio.shield(self._preparing)

    def reconcile_token(self) -> int:
        """Taken before a REST read and handed back with it to :meth:`reconcile`: whether the
        connection began or a socket of it opened while the read was under way."""
        return self._epoch

    def distrust(self, why: str) -> None:
        """The stream's state was found wrong outside a reconcile (a close it sized was larger
        than the position): the next snapshot reads REST, and REST reads go on until one agrees."""
        self._reconcile_due = True
        self._once("distrust", logging.WARNING, "%s: the stream's state is in doubt (%s): snapshots read REST until "
                   "a reconcile agrees with the stream", self.key, scrub(why, self._secrets()))

    def reconcile(self, rest: Snapshot, token: Optional[int] = None, *, orders: bool = True,
                  orders_since: Optional[int] = None, prepare: bool = True) -> None:
        """A good REST snapshot: compared with the stream's state (each kind of disagreement
        logged once per account, every one counted) and put in its place.

        The stream answers snapshots again only after a reconcile that found nothing wrong,
        read wholly after the connection's sockets were open (``token`` from
        :meth:`reconcile_token`; None: taken now): a disagreement says the stream missed or
        misread something — its next state is not to be trusted until REST confirms it — and a
        REST read begun before a socket opened cannot cover the fills in between, which the
        stream never delivers.

        A disagreement is counted only where the stream's state was its word: live, on the same
        sockets since the last reconcile's read began (a stream down or reconnected since
        missed what it missed; REST takes its place without a count). ``orders`` false: the
        REST snapshot's open orders are an earlier read's (the adapter lists them on its own
        cadence), neither compared nor taken. A failed REST snapshot is a failed reconcile
        (:meth:`reconcile_failed`, with its reason code)."""
        if not rest.fetch.ok:
            self.reconcile_failed(rest.fetch.error_code)
            return
        token = self._epoch if token is None else token
        compare = self._state == "live" and self._base_epoch == token == self._epoch
        self._base_epoch = token
        found = self.state.reconcile(rest, self._clock(), self._contract_size, compare=compare, orders=orders,
                                     orders_since=orders_since)
        self.orders_due = self.orders_due and not orders
        # every leg is made anew after a reconcile: now, in the tick that read REST, not in the
        # next one, which a stream update starts and waits on (a quarter of a second at 10,000);
        # ``prepare`` false: the caller makes them a slice at a time (:meth:`prepare_stepwise`)
        if prepare:
            self.state.prepare(self._contract_size, self._rules)
        self.reconciles += 1
        self._reconciled_at = self._clock()
        self._reconcile_due = bool(found) or token != self._epoch
        if found:
            self.disagreements += 1
        for d in found:
            self._once("disagree:" + d.kind, logging.WARNING, "%s: stream and REST disagree on %s (REST wins): %s",
                       self.key, d.kind, scrub(d.detail, self._secrets()))
        self._held = {s for s, _ in self.state.positions}

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the connection's supervisor (idempotent)."""
        if self._task is None or self._task.done():
            self._enter("connecting", None)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"stream {self.key}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._enter("off", "STREAM_DISABLED")

    def _enter(self, state: str, reason: Optional[str]) -> None:
        if (state, reason) != (self._state, self._reason):
            self._state, self._reason, self._since = state, reason, self._clock()

    def _once(self, what: str, level: int, msg: str, *args: Any) -> None:
        if what not in self._logged:
            self._logged.add(what)
            log.log(level, msg, *args)

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
            self._connected_at = None
            reason = "STREAM_DOWN"
            ex: Any = None
            try:
                ex = self._build()
                self._tap(ex)
                await self._connection(ex)
            except asyncio.CancelledError:
                self._conn += 1
                await self._close(ex)
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
            # closed beside the next connection, not before it (ccxt's close of a client whose
            # socket the venue dropped can take seconds: a reconnect waited for it, down)
            closing = asyncio.ensure_future(self._close(ex))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            if self._connected_at is not None and reason != self._expiry[0]:
                # it was live: the next try is not a retry of a failing one (unless the venue
                # ended its authorization: a login it refuses is not asked again every backoff_s)
                attempt = 0
            self._enter("down", reason)
            await asyncio.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** attempt))
            attempt += 1

    async def _close(self, ex: Any) -> None:
        closer = getattr(ex, "close", None)
        if closer is not None:
            try:
                await asyncio.wait_for(closer(), 5.0)
            except Exception as e:  # noqa: BLE001
                log.debug("%s: stream close: %s", self.key, reason_for(e).value)

    async def _connection(self, ex: Any) -> None:
        """The watch loops of one connection, until one ends it (a disconnect raises)."""
        loops = [*(self._loop(ex, method, params) for method, params in self._watches), self._marks(ex),
                 self._watchdog()]
        tasks = [asyncio.ensure_future(c) for c in loops]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, ex: Any, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Keeps ccxt's subscription of ``method`` (with ``params``: OKX's algo orders are
        ``watch_orders`` with ``trigger``; its answers are the frames, read raw; the mark watch
        never answers, its frames are not handed to ccxt: a disconnect still fails it)."""
        watch = getattr(ex, method)
        while True:
            await (watch(params=dict(params)) if params else watch())

    async def _marks(self, ex: Any) -> None:
        if self._watch_marks is None:
            return await self._loop(ex, "watch_mark_prices")
        await watch_held_marks(self._watch_marks, ex, lambda: self._held)

    async def _watchdog(self) -> None:
        """Ends the connection when the venue said the listen key expired, or after a long stall."""
        while True:
            try:
                await asyncio.wait_for(self._expired.wait(), max(self.stale_after_ms / 4000, 0.05))
            except (asyncio.TimeoutError, TimeoutError):
                pass
            if self._expired.is_set():
                raise ListenKeyExpired()
            last = self._last_message if self._last_message is not None else self._since
            if last is not None and self._clock() - last > 3 * self.stale_after_ms:
                raise Stalled()

    def _tap(self, ex: Any) -> None:
        """See every raw message before ccxt does: the last message's time, and the dialect's
        verdict (an unknown or malformed one never reaches ccxt; an expiry ends the connection)."""
        handle = getattr(ex, "handle_message", None)
        if handle is None:
            return
        conn = self._conn
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

        def tapped(client: Any, message: Any) -> Any:
            if conn != self._conn:  # the connection was given up: what it still delivers is not read
                return None
            kind = self._classify(message)
            if kind == "answer":  # a new connection's subscriptions are answered even when no data flows
                return handle(client, message)
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
            if kind in ("unknown", "malformed"):
                self._dropped(kind, (kind == "malformed" and self._describe(message)) or _event_name(message))
                return None
            if kind == "marks":  # read here; ccxt never needs them
                self._read_marks(ex, message)
                return None
            if kind == "state":  # the account's whole state: read here, never parsed by ccxt again
                self._read(ex, message)
                return None
            message = self._read(ex, message)
            return None if message is None else handle(client, message)

        ex.handle_message = tapped
        guard_clients(ex, self._undecodable)

    def _read(self, ex: Any, message: Any) -> Any:
        """The events of ``message`` applied; the message ccxt may have (None: every event in it
        was a duplicate or out of order; an array of marks without those)."""
        try:
            events = self._events(message, getattr(ex, self._order_parser), self._held)
        except Exception as e:  # noqa: BLE001 — an event it cannot read is malformed, never applied
            # the dialect's BAD_RESPONSE names the channel and the field
            why = str(e) if isinstance(e, AdapterError) else type(e).__name__
            self._dropped("malformed", self._describe(message) or f"{_event_name(message)}: {why}")
            return None
        if not events:
            return message
        fresh = []
        for ev in events:
            held = self._frames.get(ev.key)
            if held is not None and ev.event_ms < held[0]:
                self._dropped(OUT_OF_ORDER, f"{ev.key[0]} at {ev.event_ms} after {held[0]}")
            elif held is not None and ev.event_ms == held[0] and ev.body == held[1]:
                self._dropped(DUPLICATE, f"{ev.key[0]} at {ev.event_ms}")
            else:
                self._frames.pop(ev.key, None)  # kept in the order last seen: the oldest go first
                self._frames[ev.key] = (ev.event_ms, ev.body)
                fresh.append(ev)
        while len(self._frames) > self.FRAMES_KEPT:
            del self._frames[next(iter(self._frames))]
        if not fresh:
            return None
        self._apply(fresh)
        if len(fresh) < len(events) and isinstance(message, list):
            return [ev.body for ev in fresh]
        return message

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
                self._dropped("malformed", f"{_event_name(message)}: {type(e).__name__}")
                return
        if rows is None:
            self._read(ex, message)
            return
        seen_at, seen_px = self._array_at, self._array_px
        symbols: list[str] = []
        times: list[int] = []
        prices: list[float] = []
        bad = late = again = 0
        for symbol, at, price in zip(rows.symbols, rows.times, rows.prices):
            if not price > 0:
                bad += 1
                continue
            held = seen_at.get(symbol)
            if held is not None and at < held:
                late += 1
                continue
            if held is not None and at == held and seen_px.get(symbol) == price:
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
        if symbols and self.state.apply_marks(MarkRows(symbols, times, prices)) and self._wake is not None:
            try:
                self._wake(self.key)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: wake: %s", self.key, type(e).__name__)

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
                changed = state.apply_wallet(asset, balance, ev.event_ms) == CHANGED or changed
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
                        told = oid in state.orders
                        order = self._known_kind(oid, order)
                # an order wakes the runner only while it watches entries (a lock in force): a new
                # open one that is not reduce-only
                if state.apply_order(oid, order, ev.event_ms) == CHANGED and self.wake_on_entries \
                        and order is not None and not order.reduce_only and order.kind != "tpsl":
                    changed = True
                    if told:  # (one of a kind not known may be a stop that only reduces: the tick's, after REST)
                        self._entry(order)
            for symbol, price in ev.marks:
                if price is None or price <= 0:
                    self._dropped("malformed", f"mark {symbol!r}")
                elif symbol in self._held:
                    changed = state.apply_mark(symbol, price, ev.event_ms) == CHANGED or changed
                # (the marks of symbols without a position keep the stream live; they are not kept)
        if moved:  # (not per mark frame: at 10,000 positions a set of them costs a millisecond)
            self._held = {s for s, _ in state.positions}
        if changed and self._wake is not None:
            try:
                self._wake(self.key)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: wake: %s", self.key, type(e).__name__)

    def _entry(self, order: Order) -> None:
        if self._on_entry is not None:
            try:
                self._on_entry(self.key, order)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: entry watch: %s", self.key, type(e).__name__)

    def _known_kind(self, oid: str, order: Order) -> Order:
        """An order whose kind its frame does not say: the kind, trigger and reduce-only flag
        known of it (a REST list's); never known, the stream is in doubt until REST lists it."""
        known = self.state.orders.get(oid)
        if known is None:
            self.orders_due = True
            self.distrust(f"order {oid}: the stream does not say its kind")
            return order
        return order.model_copy(update={"kind": known.kind, "trigger_price": known.trigger_price,
                                        "reduce_only": known.reduce_only or order.reduce_only})

    def _undecodable(self) -> None:
        self._message()  # the socket delivers: only this frame is bad
        self._dropped("malformed", "a frame that is not JSON")

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


async def watch_held_marks(watch: Callable[[Any, frozenset], Awaitable[Any]], ex: Any,
                           held: Callable[[], set[str]]) -> None:
    """The marks' subscription where the venue subscribes them by symbol: ``watch(ex, held())``,
    watched again when the held symbols change (the earlier watches stay pending until the
    connection ends: their frames are read raw, and a disconnect fails them all, which raises
    here). Where the venue has every symbol's mark in one subscription it is
    ``watch_mark_prices``, watched once."""
    watches: list[asyncio.Future] = []
    try:
        while True:
            now = frozenset(held())
            watches.append(asyncio.ensure_future(watch(ex, now)))
            while frozenset(held()) == now and watches:
                done, _ = await asyncio.wait(watches, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
                for w in done:
                    watches.remove(w)
                    w.result()
    finally:
        for w in watches:
            w.cancel()
        await asyncio.gather(*watches, return_exceptions=True)


def guard_clients(ex: Any, on_bad: Callable[[], None]) -> None:
    """Every websocket client the streaming client ``ex`` makes (one per url) guarded by
    :func:`guard_decode`."""
    make_client = getattr(ex, "client", None)
    if callable(make_client):
        def client(url: str) -> Any:
            c = make_client(url)
            guard_decode(c, on_bad)
            return c

        ex.client = client


def guard_decode(client: Any, on_bad: Callable[[], None]) -> None:
    """A frame ccxt cannot decode (cut JSON) raises inside its receive callback, which ends that
    socket's receive loop without failing a watch: its user data would be dead while the mark
    socket keeps the stream live. ``client`` (a ccxt websocket client) drops such a frame
    instead, calls ``on_bad()`` and reads the next one."""
    decode = getattr(client, "handle_text_or_binary_message", None)
    if decode is None or getattr(decode, "_ks_guarded", False):
        return

    def guarded(data: Any) -> Any:
        try:
            return decode(data)
        except ValueError:  # json's and orjson's decode errors
            on_bad()
            return None

    guarded._ks_guarded = True  # type: ignore[attr-defined]
    client.handle_text_or_binary_message = guarded


def _event_name(message: Any) -> str:
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


__all__ = ["AccountStream", "ListenKeyExpired", "Stalled"]
