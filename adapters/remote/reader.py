"""A reader process: the venue adapters of some accounts, their connections and their parsing,
answering the process that decides over a socket.

What it owns
    * the adapters of its accounts, built here by the builder the pool hands it (the same one a
      runner without readers calls), and every byte they read: REST answers, stream frames,
      ccxt's parsing of them;
    * the calls the decider makes of an adapter (:data:`CALLS`), each a task of its own, its
      answer sent back under the call's number; a snapshot sent as a change of the one the
      decider holds (:class:`~.wire.SnapshotSender`);
    * what the adapters say on their own, sent as it happens: a wake (a stream changed a position,
      a balance, a mark), an entry order the venue watch is to judge (with the stream's legs of
      its symbol then), entry orders handed over that the stream no longer holds open, the
      accounts' stream health, position mode and request weight when they change, and a beat
      every :data:`BEAT_S` that shows the decider this loop runs;
    * the last look before an order leaves (:func:`adapters.base.last_look`): the lease term the
      decider publishes in shared memory (``term``: the monotonic time until which it may send;
      every process on the machine reads the same monotonic clock), read at that moment;
    * its log records, sent to the decider's log (its handlers, its scrubber, its format);
    * what its start made (every account's markets, clients and first snapshot), kept out of the
      collector's full walks once every account has answered a snapshot (:func:`gc.freeze`, as
      the decider does after its first tick): a full collection walked it all, 90-130 ms at
      1,000 Hyperliquid positions, and landed between a reaction's first close reaching this
      process and its request leaving it.

What it must not do
    decide anything, journal anything, or outlive the decider: the end of the link ends it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable, Iterable, Optional

from ..base import send_gate
from .wire import Outbox, SnapshotSender, error_of, read_frame

BEAT_S = 0.25
# a trusted stream's snapshot is pushed when the stream changes it, and at least this often (the
# push is also what starts the stream's REST reconcile at its cadence, beside)
PUSH_EVERY_S = 1.0
# an account's snapshot is pushed at most this often (the decider's ticks are at least the runner's
# --min-tick-spacing apart, 100 ms by default: more would be read by no tick); a change within it is
# pushed at its end
PUSH_SPACING_S = 0.1
# a stream's wakes are taken together once it has been quiet this long (a burst of frames, a fall
# of every held pair's ticker, is read whole before the decider is woken: a tick woken by its
# first frames would see it half, and the next waits --min-tick-spacing), and at most
# PUSH_SPACING_S after the first (a stream that never pauses pushes as often as before)
SETTLE_S = 0.003
# while this much is written and not yet read by the decider, pushes wait (a call's answer must
# not queue behind megabytes of snapshots nobody reads: the link is one ordered stream)
PUSH_BACKLOG = 256 * 1024
# the adapter calls the decider may make (nothing else is called by name)
CALLS = frozenset({
    "snapshot", "load_symbols", "submit", "fetch_order", "cancel_orders", "arm_cancel_all_after",
    "disarm_cancel_all_after", "set_trading", "read_trading", "open_orders", "fetch_order_book", "fills",
    "start_streams"})
SETS = frozenset({"wake_on_entries", "shed"})
GONE_KEPT = 4096  # entry orders handed over, per account, whose end is watched


def main(index: int, build: Callable[[], Any], sock: socket.socket, term: Any, level: int) -> None:
    """The process's entry (multiprocessing's target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the decider's to act on
    try:
        asyncio.run(Reader(index, build, sock, term, level).serve())
    except Exception:  # noqa: BLE001 - said on the inherited stderr: the decider restarts this reader
        traceback.print_exc(file=sys.stderr)
        sys.exit(3)


def info(adapter: Any) -> dict:
    """What the decider asks of an adapter without a call: what it is and what it holds."""
    labels = adapter.labels
    return {"capabilities": adapter.capabilities, "symbols": adapter.symbols(),
            "strategy_names": adapter.strategy_names(), "client_id_prefixes": dict(adapter.client_id_prefixes()),
            "labels": dict(labels) if isinstance(labels, dict) else None,
            "trading_keys": tuple(adapter.trading_keys or ())}


def trusted(health: Any) -> bool:
    """The stream answers the account's snapshots alone: live, confirmed by its last REST
    reconcile, which is not overdue (its snapshot then reads nothing over REST)."""
    return health is not None and health.state == "live" and bool(health.answers) and not health.reconcile_overdue


def state(adapter: Any) -> tuple:
    """What changes of an account as it is read: its stream's health, its position mode, its weight."""
    weighed = adapter.weight()
    weight = None
    if weighed is not None:
        count, limit = weighed
        venue_count = getattr(count, "venue_count", None)
        waits = getattr(count, "endpoint_waits", None)
        weight = (count.used(), venue_count() if callable(venue_count) else None, limit,
                  waits() if callable(waits) else {})
    return adapter.stream_health(), adapter.position_mode(), weight


class _Forward(logging.Handler):
    """Log records sent to the decider, from whichever thread logs."""

    def __init__(self, reader: "Reader", loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.reader, self.loop = reader, loop
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + self._formatter.formatException(record.exc_info)
            message = ("log", record.name, record.levelno, text, record.created)
        except Exception:  # noqa: BLE001 - a record that cannot be said is dropped, as logging does
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.reader.send(message)
        else:
            try:
                self.loop.call_soon_threadsafe(self.reader.send, message)
            except RuntimeError:  # the loop has ended: the process is ending with it
                pass


class Reader:
    """The reader's loop (see the module doc): its adapters, the calls in flight and the pushes
    under way, the snapshots sent, and what each account was last said to be (its info, its
    state), so that only changes cross."""

    def __init__(self, index: int, build: Callable[[], Any], sock: socket.socket, term: Any, level: int):
        self.index = index
        self._build = build
        self._sock = sock
        self._term = term
        self._level = level
        self._out: Optional[asyncio.StreamWriter] = None
        self._outbox: Optional[Outbox] = None
        self._seq = 0
        self.adapters: dict[str, Any] = {}
        self._tasks: dict[int, asyncio.Task] = {}  # the calls in flight, by number
        self._pushes: set[asyncio.Task] = set()  # the pushes under way
        self._sender = SnapshotSender()
        self._said: dict[str, tuple] = {}  # account → its state as last sent
        self._told: dict[str, dict] = {}  # account → its info as last sent
        self._watched: dict[str, dict[str, None]] = {}  # account → entry orders handed over, oldest first
        self._woken: set[str] = set()  # accounts whose stream changed since their last push
        self._flush_due = False
        self._first_wake = self._last_wake = 0.0  # (monotonic) the wakes waiting for a flush
        self._pushing: dict[str, bool] = {}  # accounts being pushed → a wake to send after it
        self._pushed: dict[str, float] = {}  # account → when its snapshot was last pushed (monotonic)
        self._woke_at: dict[str, float] = {}  # account → when a push of it last woke the decider (monotonic)
        self._started: Optional[set[str]] = set()  # accounts that answered a snapshot; None once frozen

    def send(self, message: tuple) -> None:
        out = self._outbox
        if out is None or out.writer.is_closing():
            return
        self._seq += 1
        try:
            out.put((self._seq, *message))
        except BaseException:
            self._seq -= 1  # nothing of it went: the next frame takes its number
            raise

    def may_send(self) -> bool:
        """The lease term the decider published holds now (:mod:`module doc <.reader>`)."""
        until = self._term.value
        return math.isinf(until) or time.monotonic() < until

    async def serve(self) -> None:
        reader, self._out = await asyncio.open_connection(sock=self._sock)
        self._outbox = Outbox(self._out)
        root = logging.getLogger()
        root.handlers[:] = [_Forward(self, asyncio.get_running_loop())]
        root.setLevel(self._level)
        built = self._build()
        self.adapters = dict(built.by_key)
        for adapter in self.adapters.values():
            adapter.set_wake(self._wake)
            adapter.set_entry_watch(self._entry)
        unreadable = {f"{acc.venue}/{acc.name}": (e.reason.value, e.message) for acc, e in built.unreadable}
        self._told = {k: info(a) for k, a in self.adapters.items()}
        said = {k: dict(v, unreadable=unreadable.get(k), state=state(self.adapters[k])) for k, v in self._told.items()}
        self._said = {k: v["state"] for k, v in said.items()}
        self.send(("ready", said))
        beat = asyncio.create_task(self._beat())
        try:
            while True:
                message = await read_frame(reader)
                if message is None or message[0] == "stop":
                    break
                self._take(message)
        finally:
            beat.cancel()
            tasks = [*self._tasks.values(), *self._pushes]
            for task in tasks:
                task.cancel()
            await asyncio.gather(beat, *tasks, return_exceptions=True)
            for adapter in self.adapters.values():
                try:
                    await asyncio.wait_for(adapter.close(), 10)
                except Exception:  # noqa: BLE001 - closing is best effort: the process ends
                    pass
            if self._out is not None:
                if self._outbox is not None:
                    self._outbox.flush()
                self._out.close()

    def _take(self, message: tuple) -> None:
        kind = message[0]
        if kind == "call":
            _, number, key, method, args, gated = message
            self._tasks[number] = asyncio.create_task(self._call(number, key, method, args, gated))
        elif kind == "cancel":
            task = self._tasks.get(message[1])
            if task is not None:
                task.cancel()
        elif kind == "set":
            _, key, what, value = message
            adapter = self.adapters.get(key)
            if adapter is not None and what in SETS:
                getattr(adapter, what)(value)

    async def _call(self, number: int, key: str, method: str, args: tuple, gated: bool) -> None:
        try:
            adapter = self.adapters[key]
            if method not in CALLS:
                raise ValueError(f"not a call: {method}")
            if method == "snapshot":
                value: Any = self._sender.encode(key, await adapter.snapshot(), args[0])
                self._answered(key)
            elif gated:
                with send_gate(self.may_send):
                    value = await getattr(adapter, method)(*args)
            else:
                value = await getattr(adapter, method)(*args)
            reply: tuple = ("reply", number, True, value)
        except asyncio.CancelledError:
            reply = ("reply", number, False, ("timeout",))
        except BaseException as e:  # noqa: BLE001 - every failure is the caller's to read
            reply = ("reply", number, False, error_of(e))
        finally:
            self._tasks.pop(number, None)
        if key in self.adapters:  # what the call changed, read by the decider before its answer
            self._info(key)
            self._states((key,))
        try:
            self.send(reply)
        except Exception as e:  # noqa: BLE001 - an answer that cannot be pickled is a failure of the call
            self.send(("reply", number, False, ("other", f"unsendable answer: {type(e).__name__}")))
        if self._out is not None and self._out.transport.get_write_buffer_size() > 1 << 20:
            await self._out.drain()  # the decider reads slower than this answers: wait for it here

    def _answered(self, key: str) -> None:
        """``key`` answered a snapshot: once every account has, what the start made is frozen
        (see the module doc; the collector then walks only what came after)."""
        if self._started is None:
            return
        self._started.add(key)
        if self._started >= self.adapters.keys():
            self._started = None
            gc.freeze()

    def _info(self, key: str) -> None:
        """The account's info sent again when it changed: its markets are loaded by the first call
        that needs them (a snapshot), its symbols then listed."""
        now = info(self.adapters[key])
        if self._told.get(key) != now:
            self._told[key] = now
            self.send(("info", key, now))

    def _states(self, keys: Iterable[str] = ()) -> None:
        """Every account's state (``keys``' where given) that changed since it was sent, in one frame."""
        changed = {}
        for key in keys or self.adapters:
            now = state(self.adapters[key])
            if self._said.get(key) != now:
                self._said[key] = changed[key] = now
        if changed:
            self.send(("states", changed))

    async def _beat(self) -> None:
        """The beat, the states that changed, and the pushes a second without a change made due:
        never waiting on a push (a stream's snapshot may wait for its legs to be made)."""
        while True:
            now = time.monotonic()
            self.send(("beat", now))
            self._states()
            due = [k for k in self.adapters if now - self._pushed.get(k, 0.0) >= PUSH_EVERY_S]
            if due:
                self._start_push(due, wake=False)
            await asyncio.sleep(BEAT_S)

    def _wake(self, key: str) -> None:
        """A stream changed the account: its snapshot pushed, then the decider woken — the wakes
        that come less than :data:`SETTLE_S` apart together, once they pause (at most
        :data:`PUSH_SPACING_S` after the first)."""
        self._gone(key)
        self._woken.add(key)
        self._last_wake = now = time.monotonic()
        if not self._flush_due:
            self._flush_due = True
            self._first_wake = now
            asyncio.get_running_loop().call_later(SETTLE_S, self._flush)

    def _flush(self) -> None:
        now = time.monotonic()
        due = min(self._last_wake + SETTLE_S, self._first_wake + PUSH_SPACING_S)
        if now < due:
            asyncio.get_running_loop().call_later(due - now, self._flush)  # still coming in
            return
        self._flush_due = False
        keys, self._woken = self._woken, set()
        self._start_push(sorted(keys), wake=True)

    def _start_push(self, keys: list[str], wake: bool) -> None:
        """A push of each of ``keys`` not being pushed already (one at a time per account); a wake
        for one being pushed is sent after that push, the snapshot it carries being as new."""
        for key in keys:
            if key in self._pushing:
                if wake:
                    self._pushing[key] = True
                continue
            self._pushing[key] = wake
            task = asyncio.create_task(self._push(key))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    def _backlog(self) -> int:
        return self._out.transport.get_write_buffer_size() if self._out is not None else 0

    async def _push(self, key: str) -> None:
        """The account's snapshot sent unasked where its stream answers alone (no REST read is made
        for it here), then the decider woken for it where a wake asked for the push: no sooner
        than :data:`PUSH_SPACING_S` after its last push — for one that wakes the decider, its last
        that woke it (a push at the beat's second wakes no tick: an event 0-100 ms after one waited
        out the rest, the tail of a reaction) — and not while :data:`PUSH_BACKLOG` waits to be read."""
        adapter = self.adapters[key]
        last = self._woke_at.get(key, 0.0) if self._pushing.get(key) else self._pushed.get(key, 0.0)
        wait = last + PUSH_SPACING_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        while self._backlog() > PUSH_BACKLOG:
            await asyncio.sleep(PUSH_SPACING_S / 4)
        try:
            if trusted(adapter.stream_health()):
                try:
                    snap = await adapter.snapshot()
                except Exception:  # noqa: BLE001 - the decider's next call reads it and says why
                    snap = None
                if snap is not None and snap.fetch.ok:
                    self._pushed[key] = time.monotonic()
                    self.send(("snap", key, self._sender.encode(key, snap, self._sender.held(key))))
            else:
                self._pushed[key] = time.monotonic()  # asked for by the decider's calls meanwhile
        finally:
            if self._pushing.pop(key, False):
                self._woke_at[key] = time.monotonic()
                self.send(("wake", key))

    def _entry(self, key: str, order: Any) -> None:
        watched = self._watched.setdefault(key, {})
        watched[str(order.id)] = None
        while len(watched) > GONE_KEPT:
            del watched[next(iter(watched))]
        self.send(("entry", key, order, self.adapters[key].stream_legs(order.symbol)))

    def _gone(self, key: str) -> None:
        """Entry orders handed over that the stream no longer holds open, said and forgotten."""
        watched = self._watched.get(key)
        if not watched:
            return
        adapter = self.adapters[key]
        gone = [oid for oid in watched if adapter.stream_holds_open(oid) is False]
        for oid in gone:
            del watched[oid]
        if gone:
            self.send(("gone", key, gone))


__all__ = ["BEAT_S", "CALLS", "Reader", "main"]
