"""A reader pushes a trusted stream's snapshot before the wake that asked for it, an account's
pushes at least PUSH_SPACING_S apart (a change within it pushed at its end, once), and none while
PUSH_BACKLOG bytes wait unread by the decider (a call's answer never queues behind them)."""

from __future__ import annotations

import asyncio
import time

from adapters.base import StreamHealth
from adapters.remote import reader as reader_module
from adapters.remote.reader import Reader
from killswitch.snapshot import Snapshot

KEY = "binanceusdm/a"
LIVE = StreamHealth(state="live", reason=None, since_ms=1, last_message_ms=2, answers=True)


class Adapter:
    def __init__(self) -> None:
        self.reads = 0

    def stream_health(self) -> StreamHealth:
        return LIVE

    async def snapshot(self) -> Snapshot:
        self.reads += 1
        return Snapshot(venue="binanceusdm", account="a", market_type="futures", ts_event=self.reads, equity=1.0)


class Transport:
    def __init__(self) -> None:
        self.backlog = 0

    def get_write_buffer_size(self) -> int:
        return self.backlog


class Out:
    """The reader's writer and outbox at once: what it sends, with when."""

    def __init__(self) -> None:
        self.transport = Transport()
        self.writer = self
        self.sent: list[tuple[float, tuple]] = []

    def is_closing(self) -> bool:
        return False

    def put(self, message: tuple) -> None:
        self.sent.append((time.monotonic(), message[1:]))


def reader() -> tuple[Reader, Out, Adapter]:
    r = Reader(0, build=lambda: None, sock=None, term=None, level=0)  # type: ignore[arg-type]
    out, adapter = Out(), Adapter()
    r._out, r._outbox = out, out  # type: ignore[assignment]
    r.adapters = {KEY: adapter}
    return r, out, adapter


def kinds(out: Out) -> list[str]:
    return [m[0] for _, m in out.sent]


async def settled(r: Reader) -> None:
    while r._tasks or r._pushes or r._flush_due:
        await asyncio.sleep(0.005)


def test_a_wake_follows_the_snapshot_it_pushed_and_a_burst_is_one_push_at_the_spacings_end(monkeypatch):
    monkeypatch.setattr(reader_module, "PUSH_SPACING_S", 0.2)

    async def case() -> None:
        r, out, adapter = reader()
        r._wake(KEY)
        await settled(r)
        assert kinds(out) == ["snap", "wake"]
        first = out.sent[0][0]
        for _ in range(5):  # five changes within the spacing: one push at its end, one wake after it
            r._wake(KEY)
            await asyncio.sleep(0.01)
        await settled(r)
        assert kinds(out) == ["snap", "wake", "snap", "wake"] and adapter.reads == 2
        assert out.sent[2][0] - first >= 0.2

    asyncio.run(case())


def test_a_burst_of_wakes_is_taken_whole_once_it_pauses_and_a_stream_that_never_pauses_at_the_spacing(monkeypatch):
    # a fall of every held pair's ticker comes as a frame a pair: a tick woken by its first
    # frames saw it half, and the one that saw it whole waited --min-tick-spacing after it
    monkeypatch.setattr(reader_module, "SETTLE_S", 0.15)  # (far above the burst's 10 ms gaps, on a loaded machine)
    monkeypatch.setattr(reader_module, "PUSH_SPACING_S", 0.6)

    async def case() -> None:
        r, out, adapter = reader()
        start = time.monotonic()
        for _ in range(5):  # a burst: each wake within SETTLE_S of the last
            r._wake(KEY)
            await asyncio.sleep(0.01)
        assert out.sent == [] and adapter.reads == 0  # not while it is still coming in
        await settled(r)
        assert kinds(out) == ["snap", "wake"] and adapter.reads == 1  # one push, after the burst
        assert out.sent[0][0] - start >= 0.04 + 0.15 * 0.9  # the last wake, then SETTLE_S quiet
        # a stream that never pauses: pushed at most PUSH_SPACING_S after its first wake
        out.sent.clear()
        first = time.monotonic()
        while time.monotonic() - first < 1.3:
            r._wake(KEY)
            await asyncio.sleep(0.01)
        await settled(r)
        pushes = [at - first for at, m in out.sent if m[0] == "snap"]
        assert 2 <= len(pushes) <= 4 and pushes[0] <= 0.6 + 0.15, pushes

    asyncio.run(case())


def test_a_push_at_the_beat_does_not_hold_back_a_wakes_push(monkeypatch):
    # the beat's push (at least one a second, waking nothing) had held an event's push the rest of
    # PUSH_SPACING_S after it: up to 100 ms more of a reaction, one in ten events
    monkeypatch.setattr(reader_module, "SETTLE_S", 0.0)
    monkeypatch.setattr(reader_module, "PUSH_SPACING_S", 0.5)

    async def case() -> None:
        r, out, adapter = reader()
        r._start_push([KEY], wake=False)  # the beat's
        await settled(r)
        assert kinds(out) == ["snap"]
        beat = out.sent[0][0]
        r._wake(KEY)
        await settled(r)
        assert kinds(out) == ["snap", "snap", "wake"]
        assert out.sent[1][0] - beat < 0.25  # at once, not PUSH_SPACING_S after the beat's
        r._wake(KEY)  # a wake right after a wake's push still waits the spacing
        await settled(r)
        assert kinds(out) == ["snap", "snap", "wake", "snap", "wake"]
        assert out.sent[3][0] - out.sent[1][0] >= 0.5 * 0.9

    asyncio.run(case())


def test_no_push_goes_while_the_decider_has_not_read_what_was_written(monkeypatch):
    monkeypatch.setattr(reader_module, "PUSH_SPACING_S", 0.02)

    async def case() -> None:
        r, out, adapter = reader()
        out.transport.backlog = reader_module.PUSH_BACKLOG + 1
        r._wake(KEY)
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert out.sent == [] and adapter.reads == 0  # held while the backlog stands
        out.transport.backlog = 0
        await settled(r)
        assert kinds(out) == ["snap", "wake"]

    asyncio.run(case())


def test_the_start_is_frozen_once_every_account_has_answered_a_snapshot(monkeypatch):
    # a full collection walked the start's markets and clients: 90-130 ms at 1,000 Hyperliquid
    # positions, between a reaction's first close reaching the reader and its request leaving it
    frozen = []
    monkeypatch.setattr(reader_module.gc, "freeze", lambda: frozen.append(1))
    monkeypatch.setattr(reader_module, "info", lambda adapter: {})  # (what a real adapter says besides)
    monkeypatch.setattr(reader_module, "state", lambda adapter: ())

    async def main() -> None:
        r, out, _ = reader()
        r.adapters["binanceusdm/b"] = Adapter()
        await r._call(1, KEY, "snapshot", (None,), False)
        await r._call(2, KEY, "snapshot", (None,), False)
        assert frozen == []  # one account has not answered yet
        await r._call(3, "binanceusdm/b", "snapshot", (None,), False)
        assert frozen == [1]
        await r._call(4, "binanceusdm/b", "snapshot", (None,), False)
        assert frozen == [1]  # once

    asyncio.run(main())
