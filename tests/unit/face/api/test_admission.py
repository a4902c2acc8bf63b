"""Admission of the API's writes (killswitch/face/api/admission.py) and the coalesced heartbeats
(killswitch/face/api/beats.py): a rate per identity, a bounded queue no single identity can fill,
429 with Retry-After before the body is read, counted and logged once a minute; a storm of
beats handed to the runner in a few calls, each answered only once its batch was taken."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from killswitch.face.api.admission import (
    HEARTBEAT,
    QUEUE_FULL,
    RATE_LIMITED,
    WRITE,
    Admission,
    Limits,
    Shed,
    parse_limits,
)
from killswitch.face.api.beats import HeartbeatBatches
from killswitch.metrics import Registry
from tests.procs import until

from .rig import ORDER, TOKEN, FakeView, serve


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_an_identity_gets_its_burst_then_429_with_the_wait_until_its_next_token():
    clock = Clock()
    a = Admission(Limits(write_rate=2, write_burst=4, queue=100), clock)
    tickets = [a.admit("alice", WRITE) for _ in range(4)]
    with pytest.raises(Shed) as e:
        a.admit("alice", WRITE)
    assert e.value.code == RATE_LIMITED and e.value.retry_after_s == 1 and e.value.reason.startswith(RATE_LIMITED)
    a.admit("bob", WRITE).done()  # another identity has its own bucket
    clock.t += 0.5  # one token back at 2 a second
    for t in tickets:
        t.done()
    a.admit("alice", WRITE).done()
    with pytest.raises(Shed):
        a.admit("alice", WRITE)
    assert a.shed == {(RATE_LIMITED, WRITE, "alice"): 2}


def test_a_slow_rate_says_how_long_to_wait():
    a = Admission(Limits(write_rate=0.1, write_burst=1), Clock())
    a.admit("alice", WRITE).done()
    with pytest.raises(Shed) as e:
        a.admit("alice", WRITE)
    assert e.value.retry_after_s == 10


def test_the_queue_sheds_when_full_and_one_identity_never_fills_it():
    a = Admission(Limits(write_rate=1000, write_burst=1000, queue=8), Clock())
    alice = [a.admit("alice", WRITE) for _ in range(2)]  # a quarter of the queue
    with pytest.raises(Shed) as e:
        a.admit("alice", WRITE)
    assert e.value.code == RATE_LIMITED and "quarter" in e.value.reason
    others = [a.admit(f"op-{i}", WRITE) for i in range(6)]
    assert a.pending == 8
    with pytest.raises(Shed) as e:
        a.admit("carol", WRITE)
    assert e.value.code == QUEUE_FULL and e.value.retry_after_s >= 1
    alice[0].done()
    alice[0].done()  # answered once, counted once
    assert a.pending == 7
    a.admit("carol", WRITE)
    for t in alice[1:] + others:
        t.done()
    assert a.pending == 1


def test_heartbeats_have_their_own_rate_and_take_no_place_in_the_queue():
    a = Admission(Limits(write_rate=1, write_burst=1, heartbeat_rate=100, heartbeat_burst=50, queue=1), Clock())
    a.admit("bot", WRITE)  # the queue is full now
    for _ in range(50):
        a.admit("bot", HEARTBEAT).done()
    assert a.pending == 1
    with pytest.raises(Shed) as e:
        a.admit("bot", HEARTBEAT)
    assert e.value.code == RATE_LIMITED and "heartbeats a second" in e.value.reason


def test_load_shed_is_said_once_a_minute_per_identity_with_the_count(caplog):
    clock = Clock()
    a = Admission(Limits(write_rate=1, write_burst=1), clock)
    a.admit("alice", WRITE).done()
    with caplog.at_level(logging.WARNING, logger="killswitch.face.api"):
        for _ in range(100):
            with pytest.raises(Shed):
                a.admit("alice", WRITE)
            clock.t += 0.1 / 100
        a.admit("mallory", WRITE).done()
        with pytest.raises(Shed):
            a.admit("mallory", WRITE)
        clock.t += 61
        a.admit("alice", WRITE).done()
        with pytest.raises(Shed):
            a.admit("alice", WRITE)
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "alice" in m]) == 2, lines
    assert len([m for m in lines if "mallory" in m]) == 1
    assert "API_LOAD_SHED: alice: 1 request" in lines[0]
    assert "alice: 100 request" in [m for m in lines if "alice" in m][1]  # the 99 said nothing, then counted


def test_the_counters_are_on_the_metrics():
    a = Admission(Limits(write_rate=1, write_burst=1), Clock())
    a.admit("alice", WRITE)
    with pytest.raises(Shed):
        a.admit("alice", WRITE)
    reg = Registry()
    a.collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_api_shed_total{identity="alice",kind="write",reason="RATE_LIMITED"} 1.0' in text
    assert 'killswitch_api_admitted_total{kind="write"} 1.0' in text
    assert "killswitch_api_write_queue 1.0" in text


@pytest.mark.parametrize("kw", [dict(write_rate=0), dict(write_rate=float("nan")), dict(queue=0),
                                dict(write_burst=True), dict(heartbeat_rate=-1)])
def test_bad_limits_are_refused(kw):
    with pytest.raises(ValueError):
        Limits(**kw)


def test_the_command_line_limits_burst_twice_their_rate():
    assert parse_limits(5, 50, 16) == Limits(5, 10, 50, 100, 16)
    assert parse_limits() == Limits()


# --- through the API ----------------------------------------------------------------------------------


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


LOCK = {"scope": "binanceusdm/a", "reason": "drill", "mode": "halted"}


def test_the_api_answers_429_with_retry_after_before_reading_the_body():
    async def main():
        view = FakeView()
        async with serve(view, admission=Admission(Limits(write_rate=0.5, write_burst=2))) as c:
            assert (await c.post("/v1/lock", LOCK))[0] == 200
            assert (await c.post("/v1/lock", LOCK))[0] == 200
            status, body, resp = await c.post("/v1/lock", {"not": "even valid"})
            assert status == 429 and resp.headers["Retry-After"] == "2"
            assert body["error"] == RATE_LIMITED and body["reason"].startswith(RATE_LIMITED)
            assert TOKEN not in json.dumps(body)
            # reads and previews are never shed; nor is a caller without a token counted
            assert (await c.get("/v1/status", auth=f"Bearer {TOKEN}"))[0] == 200
            assert (await c.post("/v1/check-order", ORDER, auth=None))[0] == 200
            assert (await c.post("/v1/lock", LOCK, auth=None))[0] == 401
            assert view.names().count("lock_scope") == 2

    run(main())


def test_a_standby_that_cannot_store_a_batch_answers_every_beat_in_it_503():
    from killswitch.state.store import StoreError

    class Standby(FakeView):
        def heartbeats(self, sources, now_ms=None):
            raise StoreError("connection refused")

    async def main():
        async with serve(Standby()) as c:
            answers = await asyncio.gather(*(c.post(f"/v1/heartbeat/bot-{i % 3}") for i in range(20)))
            assert {a[0] for a in answers} == {503}

    run(main())


def test_a_storm_of_beats_reaches_the_runner_in_a_few_calls_each_answered_after_its_batch():
    async def main():
        taken: list[tuple[str, ...]] = []
        gate = asyncio.Event()

        async def take(sources):
            taken.append(sources)
            await gate.wait()

        beats = HeartbeatBatches(take)
        first = asyncio.ensure_future(beats.beat("bot-a"))
        await asyncio.sleep(0)  # the first batch is handed over and waits on the runner
        storm = [asyncio.ensure_future(beats.beat(f"bot-{i % 5}")) for i in range(500)]
        await until(lambda: beats.beats == 501, "every beat of the storm joined its batch", 60)
        assert not first.done() and not any(s.done() for s in storm)  # nothing answered before its batch
        gate.set()
        await asyncio.gather(first, *storm)
        return taken, beats

    taken, beats = run(main())
    assert taken == [("bot-a",), ("bot-0", "bot-1", "bot-2", "bot-3", "bot-4")]
    assert beats.batches == 2 and beats.beats == 501


def test_concurrent_status_polls_share_one_call_on_the_runner():
    class Slow(FakeView):
        def __init__(self):
            super().__init__()
            self.gate = asyncio.Event()

        async def status(self):
            await self.gate.wait()
            return FakeView.status(self)

    async def main():
        view, arrivals = Slow(), []
        async with serve(view, arrivals=arrivals) as c:
            polls = [asyncio.ensure_future(c.get("/v1/status", auth=f"Bearer {TOKEN}")) for _ in range(50)]
            await until(lambda: len(arrivals) == 50, "the fifty polls in, waiting on the view", 60)
            view.gate.set()
            answers = await asyncio.gather(*polls)
            assert {a[0] for a in answers} == {200}
            assert view.names().count("status") == 1  # one call answered the fifty
            assert (await c.get("/v1/status", auth=f"Bearer {TOKEN}"))[0] == 200
            assert view.names().count("status") == 2  # a poll after it asks again

    run(main())
