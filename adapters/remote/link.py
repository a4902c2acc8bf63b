"""The reader processes as the decider holds them: each one's link, and the pool of them.

What it owns
    * :class:`ReaderPool`: the accounts dealt to ``readers`` processes (the accounts of one
      venue endpoint kept together where they can be, so that they share its marks'
      subscription), each started with the builder of its adapters (multiprocessing's ``spawn``:
      a fresh interpreter, no thread of the decider copied into it), and the lease term published
      to them in shared memory (:meth:`ReaderPool.follow_term`);
    * :class:`ReaderLink`: one reader's socket, the calls in flight on it (a number each, their
      futures), and the frames it sends, applied in their order — a frame out of sequence is a
      gap: every snapshot of the reader is read whole again;
    * a reader that ends, or sends nothing (not even its beat) for ``stall_s``, is *down*: its
      calls in flight fail with ``READER_DOWN``, and every call fails so at once until it answers
      again; it is ended (SIGKILL where it stalled) and started again after a back-off that
      doubles to :data:`MAX_BACKOFF_S`, its accounts told again what they were told (markets
      loaded, streams started, entries watched, the load level). Said once each way in the
      log (``READER_DOWN``, ``READER_UP``), counted for ``/metrics``.

What it must not do
    read a venue's bytes (the readers do), or let a call wait on a reader that is down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import multiprocessing
import os
import socket
import threading
import time
from typing import Any, Callable, Iterable, Optional

from ..base import AdapterError, Reason
from . import reader as reader_process
from .adapter import RemoteAdapter, reader_down
from .wire import Outbox, error_of, pack, raise_error, read_frame

log = logging.getLogger("killswitch.runner.readers")

START_S = 120.0  # a reader's first ready: a fresh interpreter imports ccxt and builds the adapters
STALL_S = 10.0  # a reader silent this long (its beat is every 0.25 s) is wedged: ended and started again
MAX_BACKOFF_S = 10.0
TERM_EVERY_S = 0.01  # how often the lease term is published to the readers
# what a reader says of one account → the adapter's method that takes it
_TO_ADAPTER = {"wake": "woke", "entry": "entered", "gone": "ended", "info": "took_info",
               "snap": "pushed"}


CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "QUOTA PERIOD" or "max PERIOD" (a pod's CPU limit)
CFS = "/sys/fs/cgroup/cpu"  # cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us


def _quota(cpu_max: str, cfs: str) -> Optional[float]:
    """The CPU quota of this process's cgroup in cores (v2's cpu.max, else v1's CFS quota); None:
    none set, or none readable."""
    try:
        quota, period = open(cpu_max).read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(open(os.path.join(cfs, "cpu.cfs_quota_us")).read())
        period_us = int(open(os.path.join(cfs, "cpu.cfs_period_us")).read())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError, ZeroDivisionError):
        return None


def usable_cores(cpu_max: str = CPU_MAX, cfs: str = CFS) -> int:
    """The cores this process may use: those it may run on, fewer where its cgroup's CPU quota
    (a Kubernetes pod's CPU limit) allows fewer, rounded up."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = _quota(cpu_max, cfs)
    return cores if quota is None else min(cores, max(1, math.ceil(quota)))


def default_readers(accounts: int, cpu_max: str = CPU_MAX, cfs: str = CFS) -> int:
    """One reader per usable core beyond the decider's (:func:`usable_cores`), at least one, never
    more than the accounts."""
    cores = usable_cores(cpu_max, cfs)
    return max(1, min(accounts, cores - 1 if cores > 1 else 1))


def deal(keys: Iterable[tuple[str, Any]], readers: int) -> list[list[str]]:
    """The account keys in ``readers`` runs of (almost) equal length, in the order of their
    ``(key, endpoint)`` sorted by endpoint: an endpoint's accounts stay together where they can."""
    ordered = [k for k, _ in sorted(keys, key=lambda kv: (repr(kv[1]), kv[0]))]
    n = max(1, min(readers, len(ordered)))
    size, extra = divmod(len(ordered), n)
    out, at = [], 0
    for i in range(n):
        take = size + (1 if i < extra else 0)
        out.append(ordered[at:at + take])
        at += take
    return out


class ReaderLink:
    """One reader process and its socket (see the module doc)."""

    def __init__(self, index: int, keys: list[str], build: Callable[[], Any], term: Any, *,
                 stall_s: float = STALL_S, context: Any = None):
        self.index = index
        self.keys = keys
        self._build = build
        self._term = term
        self._stall_s = stall_s
        self._ctx = context or multiprocessing.get_context("spawn")
        self.adapters: dict[str, RemoteAdapter] = {}
        self.process: Optional[Any] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._outbox: Optional[Outbox] = None
        self._pending: dict[int, asyncio.Future] = {}
        self._numbers = itertools.count(1)
        self._seq = 0
        self._heard = time.monotonic()
        self._down: Optional[str] = "starting"
        self._down_since_ms: Optional[int] = int(time.time() * 1000)
        self._ready: Optional[asyncio.Future] = None
        self._task: Optional[asyncio.Task] = None
        self._closing = False
        self.restarting = False  # the pool's restart of this reader is under way
        self.restarts = 0
        self.gaps = 0

    # --- what the adapters ask ----------------------------------------------------------------------

    def down_reason(self) -> Optional[str]:
        return self._down

    def down_since_ms(self) -> Optional[int]:
        return self._down_since_ms

    async def call(self, key: str, method: str, args: tuple, gated: bool) -> Any:
        if self._down is not None or self._writer is None:
            raise reader_down(key, f"reader {self.index} {self._down or 'not started'}")
        number = next(self._numbers)
        future = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        self._out(("call", number, key, method, args, gated))
        try:
            ok, value = await future
        except asyncio.CancelledError:
            if self._writer is not None and not self._writer.is_closing():
                self._out(("cancel", number))
            raise
        finally:
            self._pending.pop(number, None)
        if ok:
            return value
        raise_error(value, key.partition("/")[0])

    def tell(self, key: str, what: str, value: Any) -> None:
        if self._down is None and self._writer is not None:
            self._out(("set", key, what, value))

    def _out(self, message: tuple) -> None:
        if self._outbox is None or self._outbox.writer is not self._writer:
            assert self._writer is not None
            self._outbox = Outbox(self._writer)
        self._outbox.put(message)

    # --- the process ---------------------------------------------------------------------------------

    async def start(self, level: int) -> dict:
        """Start the reader and wait for its ready (its adapters' info by account)."""
        ours, theirs = socket.socketpair()
        process = self._ctx.Process(target=reader_process.main, args=(self.index, self._build, theirs, self._term,
                                                                      level),
                                    name=f"killswitch-reader-{self.index}", daemon=True)
        await asyncio.to_thread(process.start)
        theirs.close()
        self.process = process
        stream, self._writer = await asyncio.open_connection(sock=ours)
        self._seq = 0
        self._heard = time.monotonic()
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(stream), name=f"reader {self.index}")
        return await asyncio.wait_for(asyncio.shield(self._ready), START_S)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        why = "ended"
        try:
            while True:
                message = await read_frame(stream)
                if message is None:
                    break
                self._heard = time.monotonic()
                seq, kind = message[0], message[1]
                if seq != self._seq + 1:
                    self.gaps += 1
                    log.warning("READER_GAP: reader %d sent frame %d after %d; its accounts' snapshots are read "
                                "whole again", self.index, seq, self._seq)
                    for adapter in self.adapters.values():
                        adapter.restarted()
                self._seq = seq
                self._apply(kind, message[2:])
        except Exception as e:  # noqa: BLE001 - a link that cannot be read is a reader down
            why = f"unreadable ({type(e).__name__})"
        self._went_down(why)

    def _apply(self, kind: str, body: tuple) -> None:
        if kind == "reply":
            number, ok, value = body
            future = self._pending.get(number)
            if future is not None and not future.done():
                future.set_result((ok, value))
        elif kind in _TO_ADAPTER:
            adapter = self.adapters.get(body[0])
            if adapter is not None:
                getattr(adapter, _TO_ADAPTER[kind])(*body[1:])
        elif kind == "states":
            for key, said in body[0].items():
                adapter = self.adapters.get(key)
                if adapter is not None:
                    adapter.took_state(said)
        elif kind == "log":
            name, level, text, created = body
            logger = logging.getLogger(name)
            if logger.isEnabledFor(level):
                record = logging.LogRecord(name, level, "reader", 0, text, None, None)
                record.created = created
                logger.handle(record)
        elif kind == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(body[0])

    def stalled(self) -> bool:
        """Silent for ``stall_s`` while up: then taken for down (the pool ends and restarts it)."""
        if self._down is None and time.monotonic() - self._heard > self._stall_s:
            self._went_down(f"sent nothing for {self._stall_s:g}s (stalled)")
            return True
        return False

    def _went_down(self, why: str) -> None:
        if self._down is None:
            self._down, self._down_since_ms = why, int(time.time() * 1000)
        if self._writer is not None:  # (end() waits for the process; the socket is closed now)
            self._writer.close()
        self._writer = None
        down = error_of(AdapterError(Reason.READER_DOWN, f"reader {self.index} {why} with the call in flight"))
        for future in list(self._pending.values()):
            if not future.done():
                future.set_result((False, down))
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeError(f"reader {self.index} {why} before it was ready"))

    def up(self) -> None:
        self._down, self._down_since_ms = None, None

    async def end(self, *, kill: bool = False, timeout_s: float = 10.0) -> Optional[int]:
        """The process ended: told to stop (or killed), waited for; its exit code."""
        process, writer = self.process, self._writer
        if process is None:
            return None
        if writer is not None and not kill:
            try:
                if self._outbox is not None:
                    self._outbox.flush()  # the calls and settings of this turn, before the stop
                writer.write(pack(("stop",)))
                await asyncio.wait_for(writer.drain(), 2)
            except Exception:  # noqa: BLE001 - it is ended below
                pass
        if kill and process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join, timeout_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        if writer is not None:
            writer.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        return process.exitcode


class ReaderPool:
    """The reader processes of a runner's accounts (see the module doc)."""

    def __init__(self, builds: list[tuple[list[str], Callable[[], Any]]], *, stall_s: float = STALL_S):
        self._ctx = multiprocessing.get_context("spawn")
        # the monotonic time until which an order may leave: infinite until a term is followed
        self.term = self._ctx.RawValue("d", math.inf)
        self.links = [ReaderLink(i, keys, build, self.term, stall_s=stall_s, context=self._ctx)
                      for i, (keys, build) in enumerate(builds)]
        self._watch: Optional[asyncio.Task] = None
        self._term_stop = threading.Event()
        self._term_thread: Optional[threading.Thread] = None
        self._level = logging.getLogger().getEffectiveLevel()
        self.closed = False

    async def start(self) -> dict[str, RemoteAdapter]:
        """Every reader started, and each account's adapter: the readers' answers to come."""
        infos = await asyncio.gather(*(link.start(self._level) for link in self.links))
        out: dict[str, RemoteAdapter] = {}
        for link, info in zip(self.links, infos):
            for key, said in info.items():
                link.adapters[key] = out[key] = RemoteAdapter(key, link, said)
            link.up()
        log.info("READERS: %d reader process(es) read %d account(s): %s", len(self.links), len(out),
                 "; ".join(f"reader {link.index}: {len(link.adapters)} (pid {link.process.pid})"
                           for link in self.links if link.process is not None))
        self._watch = asyncio.create_task(self._supervise(), name="readers")
        return out

    def follow_term(self, until: Callable[[], float]) -> None:
        """Publish ``until()`` (the monotonic time until which this runner may send; 0: it may
        not) to the readers every :data:`TERM_EVERY_S`, from a thread of its own: no loop hold
        delays it."""
        def run() -> None:
            while not self._term_stop.is_set():
                try:
                    self.term.value = float(until())
                except Exception:  # noqa: BLE001 - closed: nothing may leave
                    self.term.value = 0.0
                self._term_stop.wait(TERM_EVERY_S)
            self.term.value = 0.0

        self.term.value = float(until())
        self._term_thread = threading.Thread(target=run, name="readers-term", daemon=True)
        self._term_thread.start()

    async def _supervise(self) -> None:
        backoff = {link.index: 0.5 for link in self.links}
        while not self.closed:
            await asyncio.sleep(0.25)
            for link in self.links:
                link.stalled()
                if link.down_reason() is not None and not self.closed and not link.restarting:
                    link.restarting = True
                    asyncio.create_task(self._restart(link, backoff))

    async def _restart(self, link: ReaderLink, backoff: dict[int, float]) -> None:
        try:
            code = await link.end(kill=True, timeout_s=2)
            log.warning("READER_DOWN: reader %d (%d account(s): %s) %s (exit code %s); its accounts are blind "
                        "until it answers again; started again in %.1fs", link.index, len(link.adapters),
                        ", ".join(sorted(link.adapters)[:5]) + (" …" if len(link.adapters) > 5 else ""),
                        link.down_reason(), code, backoff[link.index])
            await asyncio.sleep(backoff[link.index])
            backoff[link.index] = min(MAX_BACKOFF_S, backoff[link.index] * 2)
            if self.closed:
                return
            try:
                infos = await link.start(self._level)
            except Exception as e:  # noqa: BLE001 - tried again at the next look
                log.warning("READER_DOWN: reader %d did not start again (%s)", link.index, type(e).__name__)
                await link.end(kill=True, timeout_s=2)
                return
            link.restarts += 1
            for key, adapter in link.adapters.items():
                adapter.restarted()
                if key in infos:
                    adapter.took_info(infos[key])
            link.up()
            await self._retell(link)
            backoff[link.index] = 0.5
            log.info("READER_UP: reader %d answers again (pid %s, restart %d); its accounts are read whole again",
                     link.index, link.process.pid if link.process else "?", link.restarts)
        finally:
            link.restarting = False

    async def _retell(self, link: ReaderLink) -> None:
        """What the accounts were told before, told to the reader started again."""
        for key, adapter in link.adapters.items():
            try:
                if adapter.loaded:
                    await link.call(key, "load_symbols", (), False)
                if adapter.streaming:
                    await link.call(key, "start_streams", (), False)
            except Exception as e:  # noqa: BLE001 - its snapshots say what fails
                log.warning("READER_UP: %s: %s not told again (%s)", key, "markets/streams", type(e).__name__)
            if adapter.watching:
                link.tell(key, "wake_on_entries", True)
            if adapter.shed_level:
                link.tell(key, "shed", adapter.shed_level)

    async def close(self) -> None:
        self.closed = True
        self._term_stop.set()
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await asyncio.gather(*(link.end() for link in self.links), return_exceptions=True)

    def pids(self) -> list[int]:
        return [link.process.pid for link in self.links if link.process is not None and link.process.pid]

    def collect_metrics(self, registry: Any) -> None:
        up = registry.sampled("killswitch_reader_up", "gauge",
                              "1 while a reader process answers, 0 while it is down (its accounts blind).",
                              ("reader",))
        restarts = registry.sampled("killswitch_reader_restarts_total", "counter",
                                    "Reader processes started again after they ended or stalled.", ("reader",))
        accounts = registry.sampled("killswitch_reader_accounts", "gauge", "Accounts a reader process reads.",
                                    ("reader",))
        gaps = registry.sampled("killswitch_reader_gaps_total", "counter",
                                "Frames a reader sent out of sequence (its snapshots then read whole).", ("reader",))
        for link in self.links:
            r = str(link.index)
            up.add(int(link.down_reason() is None), reader=r)
            restarts.add(link.restarts, reader=r)
            accounts.add(len(link.keys), reader=r)
            gaps.add(link.gaps, reader=r)


__all__ = ["ReaderLink", "ReaderPool", "deal", "default_readers"]
