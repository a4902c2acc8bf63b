"""The adapter's side of the private stream: built for the account, asked by the runner, its snapshot answered.

What it owns
    * the account's :class:`~.streaming.stream.AccountStream`, where its ``stream`` block asks for one and
      its dialect streams: the streaming client built and configured as the REST one
      (credentials, timeout, strict JSON, ``urls``), its requests metered against the venue's
      weight, the markets shared, the dialect's readers of the frames handed in;
    * the optional calls of :class:`adapters.base.StreamHealth`'s contract (``stream_health()``,
      ``set_wake()``, ``start_streams()``) and what the runner's venue watch asks of the stream:
      the entries watched, an order held open, a symbol's legs;
    * :meth:`StreamedSnapshots.snapshot`: the stream's state while it is live and confirmed (no
      REST call), REST read at the reconcile cadence beside the ticks; REST read in front after
      a reconnect, while the stream is stale or down and while its reconcile is overdue, and put
      in the stream's place (REST wins).

What it must not do
    read the stream's frames (:mod:`.streaming.stream` does) or REST's answers (:mod:`.snapshots`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from typing import Any, Callable, Optional

from killswitch.snapshot import Order, Snapshot
from killswitch.weights import WeightLimit

from ..base import StreamHealth
from .budget import RequestPacer, WeightMeter, meter_requests, urgent_reads
from .calls import Op
from .client import Factory, Urls, configure_client, create_client
from .dialects.base import Dialect
from .parsing import num
from .snapshots import RestSnapshots
from .streaming.stream import AccountStream

log = logging.getLogger(__package__)


class StreamedSnapshots(RestSnapshots):
    """The private stream of the account, and the snapshot that reads it (a part of
    :class:`~.adapter.CcxtAdapter`)."""

    weight_limit: Optional[WeightLimit]  # the venue's REST limit the account counts against
    weight_meter: WeightMeter  # the weight its requests cost over the last minute
    _stream_spec: Any  # the account's ``stream`` block (None: none)
    _stream_clock: Callable[[], int]
    _share_marks: bool  # the marks read from the venue's subscription shared with its other accounts
    _stream_said: bool  # a venue that does not stream said so once
    _behind: Optional[asyncio.Future]  # the cadence's reconcile under way beside the ticks
    _behind_reading: bool  # it has its lane (:func:`beside_lanes`) and reads; False: it waits for one

    # --- the private stream ---------------------------------------------------------------------------

    def _make_stream(self, config: dict, factory: Factory, *, urls: Urls, sandbox: bool) -> AccountStream:
        def build() -> Any:
            ex = create_client(factory, dict(config, options=dict(config["options"])), venue=self.venue,
                               secrets=self._secrets)
            configure_client(ex, self.dialect, market_type=self.market_type, sandbox=sandbox, urls=urls,
                             secrets=self._secrets)
            if self.dialect.limits.ceiling is not None and isinstance(getattr(self._ex, "throttle", None),
                                                                       RequestPacer):
                ex.throttle = self._ex.throttle  # one counter a key: its stream's token call spends it too
            if getattr(self._ex, "endpoint_windows", None) is not None and hasattr(ex, "endpoint_windows"):
                ex.endpoint_windows = self._ex.endpoint_windows  # one count of each endpoint a UID
            # its REST requests (the listen key's) count against the venue's limit too
            meter_requests(ex, self.weight_meter, self.weight_limit, self.dialect.request_weight)
            opts = getattr(ex, "options", None)
            if isinstance(opts, dict):  # no REST read of ccxt's own: the adapter's reconcile seeds the state
                opts["watchPositions"] = {**opts.get("watchPositions", {}), "fetchPositionsSnapshot": False,
                                          "awaitPositionsSnapshot": False}
            markets = getattr(self._ex, "markets", None)
            if markets and callable(getattr(ex, "set_markets", None)):
                ex.set_markets(markets, getattr(self._ex, "currencies", None))
            return ex

        spec = self._stream_spec
        assert spec is not None  # only an account with a stream block streams
        read = self.dialect.stream_reader(lambda: self._mode.hedge)
        return AccountStream(
            f"{self.venue}/{self.account}", quote=self.dialect.stream_quote or self.quote_currency, build=build,
            parse_order=self._parse_order,
            contract_size=lambda s: num((self._markets.get(s) or {}).get("contractSize")) or 1.0,
            rules=self.market_rules, classify=self.dialect.stream_message,
            events=lambda message, order, held: read(message, self._markets.symbol_of, order, held),
            secrets=lambda: self._secrets, event_time=self.dialect.stream_time, describe=self.dialect.stream_problem,
            mark_rows=lambda message, held: self.dialect.stream_mark_rows(message, self._markets.symbol_of, held),
            watch_marks=None if type(self.dialect).watch_marks is Dialect.watch_marks else self.dialect.watch_marks,
            order_parser=self.dialect.stream_order_parser, ended=self.dialect.stream_ended,
            refused=lambda message: self.dialect.stream_refused(message, self._markets.symbol_of),
            watches=self.dialect.stream_watches_for(self.market_type),
            stale_after_s=spec.stale_after.seconds, reconcile_every_s=spec.reconcile_every.seconds,
            clock=self._stream_clock,
            hub=self._hub_key(urls, sandbox) if self._share_marks and self.dialect.stream_marks_shared else None,
            kind_of=None if type(self.dialect).stream_order_kind is Dialect.stream_order_kind else self._order_kind,
            decode=self.dialect.stream_decode, spot=self.market_type == "spot")

    async def _order_kind(self, order_id: str, symbol: str) -> Optional[Order]:
        """One open order the stream cannot say the kind of, asked of the venue by its id (the
        dialect's ``stream_order_kind``) on the REST client: through the account's budget,
        retries and deadline, its weight on the account's meter; read as a list's row is. None:
        the venue does not know the order. Raises on a failure (the stream keeps it in doubt)."""
        async def body(op: Op) -> Optional[Order]:
            with urgent_reads():  # a bot's order waits on it for its cancel: not behind a list or a fills read
                row = await self.dialect.stream_order_kind(self._calls.bind(op), order_id, symbol)
            if row is None:
                return None
            return self._read_row("order", row.endpoint, self._parse_order, row.order, row.kind, row.price_trigger)

        result: Optional[Order] = await self._calls.run("order kind", body)
        return result

    def _hub_key(self, urls: Urls, sandbox: bool) -> tuple[Any, str]:
        """The venue endpoint whose marks this account shares with the others on it (the same
        ccxt id, market type, sandbox or not, and urls), and its name in the log."""
        where = json.dumps(urls, sort_keys=True, default=str) if urls else ""
        name = f"{self.venue} {self.market_type}" + (" sandbox" if sandbox else "") + (f" at {urls}" if isinstance(
            urls, str) else "")
        return (self.venue, self.market_type, sandbox, where), name

    def shed(self, level: int) -> None:
        """The runner's load level (killswitch/runner/tick/shed.py): the stream's REST reconcile
        and a calm account's list of every open order read ``2 ** level`` times less often.
        Nothing that acts is slowed: a stream not to be trusted still reads REST in front, and
        a watched account's orders are listed as soon as before."""
        self._shed_factor = 2 ** max(0, int(level))
        if self._stream is not None:
            self._stream.stretch = self._shed_factor

    def weight(self) -> tuple[WeightMeter, Optional[WeightLimit]]:
        return self.weight_meter, self.weight_limit

    def stream_health(self) -> StreamHealth:
        """The private stream's state: off (STREAM_UNSUPPORTED on a dialect that does not stream,
        STREAM_DISABLED without an enabled ``stream`` block), else the stream's own."""
        if self._stream is not None:
            return self._stream.health()
        streams = self.dialect.streams_for(self.market_type)
        return StreamHealth(state="off", reason="STREAM_DISABLED" if streams else "STREAM_UNSUPPORTED",
                            since_ms=None, last_message_ms=None)

    def set_wake(self, cb: Callable[[str], None]) -> None:
        if self._stream is not None:
            self._stream.set_wake(cb)

    def wake_on_entries(self, on: bool) -> None:
        """Whether the runner watches this account's entry orders (a lock that cancels them binds
        it): a new open order that is not reduce-only wakes the runner (the cancel comes at the
        stream event's tick), and a snapshot lists every open order when its last list is
        ``WATCHED_ORDERS_MAX_AGE_S`` old, not the dialect's longer age (a bot's order placed since
        is not in a list kept) — the first one after it is turned on at once, whatever the age:
        the list kept was read before the lock, and a bot's entry placed since would wait a tick
        more for its cancel than the growth it made waits for its revert. Both sooner lists are
        read out of the request weight the venue has to spare (see ``_orders_due``)."""
        if on and not self._watching_entries:
            self._watch_list_due = True
            self._watch_deferral_said = False
        self._watching_entries = bool(on)
        if self._stream is not None:
            self._stream.wake_on_entries = bool(on)

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        """``cb(venue/account, order)`` for each new open order that is not reduce-only the
        stream delivers while :meth:`wake_on_entries` is on (the venue watch's fast path)."""
        if self._stream is not None:
            self._stream.set_entry_watch(cb)

    def stream_holds_open(self, order_id: str) -> Optional[bool]:
        """Whether the stream holds ``order_id`` open now (None without a stream): an order it
        handed over that filled since is not cancelled (a cancel of an order not known lists
        every open order, the venue's heaviest read)."""
        return self._stream.holds_open(order_id) if self._stream is not None else None

    def stream_legs(self, symbol: str) -> Optional[dict[str, float]]:
        """The stream's contracts of ``symbol``'s legs by ``SYMBOL|leg``; None without a stream
        whose word is trusted now (it polls, or a reconcile is due)."""
        return self._stream.legs_of(symbol) if self._stream is not None else None

    async def start_streams(self) -> None:
        """Start the private stream's watch tasks (idempotent); a venue that does not stream says
        so here, once, and is polled."""
        if self._stream is not None:
            self._stream.start()
        elif not self._stream_said:
            self._stream_said = True
            asked = self._stream_spec is not None and self._stream_spec.enabled
            if not self.dialect.streams_for(self.market_type):
                log.log(logging.WARNING if asked else logging.INFO,
                        "%s/%s: %s has no private stream in this adapter (STREAM_UNSUPPORTED): polled over REST",
                        self.venue, self.account, self.venue)

    # --- snapshot ---------------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The account now. With a live private stream, its state (no REST call, ``fetch.calls``
        0); REST when the stream is off, stale or down, after a reconnect and while the last good
        reconcile is overdue (the cadence's reads beside the ticks failing for 3× reconcile_every:
        a failed read then is a failed snapshot, blind) — then compared with the stream's state,
        and put in its place (REST wins). The cadence's read of a stream that answers runs beside."""
        stream = self._stream
        if stream is not None:  # the legs a reconcile beside the ticks is making: waited for, the loop free
            await stream.made()
        if stream is not None and self._behind is not None and stream.needs_rest():
            if not self._behind_reading:  # still waiting for a lane: this snapshot reads in front instead
                self._behind.cancel()
                await asyncio.gather(self._behind, return_exceptions=True)
            else:  # one REST read at a time: the one under way may be the one needed
                await asyncio.shield(self._behind)
        if stream is None or stream.needs_rest():
            return await self._rest_reconcile(stream)
        if stream.reconcile_aged() and self._behind is None:
            # the cadence's check of a live, confirmed stream reads REST beside the ticks, never
            # in front of one: at 10,000 positions the read and its parsing hold the loop for a
            # second, which a reaction landing in it would wait out
            self._behind = asyncio.ensure_future(self._reconcile_behind(stream))
        return stream.snapshot() or await self._rest_snapshot()

    async def _rest_reconcile(self, stream: Optional[AccountStream], *, beside: bool = False) -> Snapshot:
        """A REST snapshot, put in the stream's place (REST wins) where there is one; ``beside``
        (the cadence's read beside the ticks): the stream's legs made again a slice at a time."""
        token = stream.reconcile_token() if stream is not None else None
        mark = stream.state.order_mark() if stream is not None else None  # orders updated after: newer than the read
        began = time.monotonic()
        snap = await self._rest_snapshot()
        if stream is not None:  # (the open orders are listed on their own cadence: this read's, or older)
            stream.reconcile(snap, token, orders=self._orders_at is not None and self._orders_at >= began,
                             orders_since=mark, prepare=not beside)
            if beside:
                await stream.prepare_stepwise()
        return snap

    async def _reconcile_behind(self, stream: AccountStream) -> None:
        """The cadence's reconcile, run beside the ticks; the runner woken when REST disagreed
        (its state took the stream's place, and the next snapshots read REST until one agrees).
        A failed read is the stream's to count (:meth:`AccountStream.reconcile`); once the last
        good one is overdue the next snapshot reads REST in front."""
        try:
            async with beside_lanes():
                self._behind_reading = True
                disagreed = stream.disagreements
                snap = await self._rest_reconcile(stream, beside=True)
            if snap.fetch.ok and stream.disagreements != disagreed:
                stream.wake_runner()
        except Exception as e:  # noqa: BLE001 — a snapshot never raises; this task never ends the stream
            stream.reconcile_failed(type(e).__name__)
        finally:
            self._behind = None
            self._behind_reading = False


# How many of a process's accounts read their cadence's reconcile at once. Every account seeded
# at start-up falls due in the same tick, and their answers parsed together held the loop (the
# reader's, or the deciding one's without readers) while stream frames waited: 50 accounts of
# 50 positions, a first close's p99 957 ms against 321 ms without reconciles. Through a few
# lanes the reads follow each other, a frame waits one answer's parse at most, and as each
# account's cadence runs from its own read the accounts stay spread in the rounds after.
BESIDE_LANES = 2
_lanes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def beside_lanes() -> asyncio.Semaphore:
    """The running loop's lanes for reconciles beside the ticks (:data:`BESIDE_LANES`)."""
    return _lanes.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(BESIDE_LANES))


__all__ = ["StreamedSnapshots"]
