"""The decider's adapter answers a streamed account's snapshot from what its reader pushed while
the stream answers alone (live, confirmed, its reconcile not overdue) and the push is fresh; it
asks the reader otherwise (a stream that is not trusted, a push older than PUSHED_FRESH_S, a
reader down, a push that was a change of a snapshot it did not hold)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

import pytest

from adapters.base import AdapterError, Capabilities, Reason, StreamHealth
from adapters.remote import adapter as remote_module
from adapters.remote.adapter import RemoteAdapter, reader_down
from adapters.remote.wire import SnapshotSender
from killswitch.snapshot import Position, PositionList, Snapshot, with_positions

KEY = "binanceusdm/a"
LIVE = StreamHealth(state="live", reason=None, since_ms=1, last_message_ms=2, answers=True)


class Link:
    """A reader's link that answers every snapshot call from a sender of its own, counted."""

    index = 0

    def __init__(self, sender: SnapshotSender, snap: Snapshot):
        self.sender, self.snap, self.calls, self.down = sender, snap, 0, None

    async def call(self, key: str, method: str, args: tuple, gated: bool) -> Any:
        assert method == "snapshot"
        self.calls += 1
        if self.down is not None:
            raise reader_down(key, f"reader 0 {self.down}")
        return self.sender.encode(key, self.snap, args[0])

    def tell(self, key: str, what: str, value: Any) -> None:
        pass

    def down_reason(self) -> Optional[str]:
        return self.down

    def down_since_ms(self) -> Optional[int]:
        return None


def snapshot(mark: float) -> Snapshot:
    p = Position(symbol="BTC/USDT:USDT", side="long", contracts=1.0, notional=mark, mark_price=mark,
                 unrealized_pnl=0.0)
    base = Snapshot(venue="binanceusdm", account="a", market_type="futures", ts_event=1, equity=100.0)
    return with_positions(base, PositionList.of([p]))


def adapter(health: StreamHealth) -> tuple[RemoteAdapter, Link, SnapshotSender]:
    sender = SnapshotSender()
    link = Link(sender, snapshot(100.0))
    remote = RemoteAdapter(KEY, link, {"capabilities": Capabilities(), "symbols": None, "strategy_names": frozenset(),
                                       "labels": None, "trading_keys": ()})
    remote.took_state((health, None, None))
    return remote, link, sender


def marks(snap: Snapshot) -> list[float]:
    return [p.mark_price for p in snap.positions]


def test_a_trusted_streams_pushed_snapshot_is_the_answer_without_a_call():
    remote, link, sender = adapter(LIVE)
    remote.pushed(sender.encode(KEY, snapshot(101.0), sender.held(KEY)))
    assert marks(asyncio.run(remote.snapshot())) == [101.0] and link.calls == 0
    remote.pushed(sender.encode(KEY, snapshot(102.0), sender.held(KEY)))  # a change of the one pushed
    assert marks(asyncio.run(remote.snapshot())) == [102.0] and link.calls == 0


@pytest.mark.parametrize("health", [
    StreamHealth(state="live", reason=None, since_ms=1, last_message_ms=2, answers=False),  # REST read in front
    StreamHealth(state="stale", reason="STREAM_STALE", since_ms=1, last_message_ms=2, answers=True),
    StreamHealth(state="live", reason=None, since_ms=1, last_message_ms=2, answers=True, reconcile_overdue=True),
    StreamHealth(state="off", reason="STREAM_DISABLED", since_ms=None, last_message_ms=None),
])
def test_a_stream_not_trusted_is_asked_of_the_reader_whatever_was_pushed(health):
    remote, link, sender = adapter(health)
    remote.pushed(sender.encode(KEY, snapshot(101.0), sender.held(KEY)))
    assert marks(asyncio.run(remote.snapshot())) == [100.0] and link.calls == 1


def test_a_push_older_than_its_freshness_or_a_reader_down_is_asked_again(monkeypatch):
    remote, link, sender = adapter(LIVE)
    remote.pushed(sender.encode(KEY, snapshot(101.0), sender.held(KEY)))
    now = time.monotonic()
    monkeypatch.setattr(remote_module.time, "monotonic", lambda: now + remote_module.PUSHED_FRESH_S + 0.1)
    assert marks(asyncio.run(remote.snapshot())) == [100.0] and link.calls == 1
    monkeypatch.undo()
    remote.pushed(sender.encode(KEY, snapshot(103.0), sender.held(KEY)))
    link.down = "ended"  # the pushed snapshot is fresh, but its reader is down: asked, refused at once
    with pytest.raises(AdapterError) as refused:
        asyncio.run(remote.snapshot())
    assert refused.value.reason is Reason.READER_DOWN and link.calls == 2


def test_a_push_that_changes_a_snapshot_the_mirror_does_not_hold_is_dropped_and_the_next_is_asked():
    remote, link, sender = adapter(LIVE)
    other = SnapshotSender()
    other.encode(KEY, snapshot(99.0), None)
    remote.pushed(other.encode(KEY, snapshot(101.0), other.held(KEY)))  # a change of a base never received
    assert marks(asyncio.run(remote.snapshot())) == [100.0] and link.calls == 1
