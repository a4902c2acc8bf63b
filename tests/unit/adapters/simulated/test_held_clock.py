"""``serve --hold``: the scenario clock keeps the wall clock's pace until a harness says go, then
runs at its time scale from the elapsed time asked (never back); ``POST /_sim/go`` answers for
a clock that is not held, and for a time that is no whole number of milliseconds."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from adapters.simulated.held_clock import HeldClock, held_go
from adapters.simulated.http import ScaledClock


class Wall:
    def __init__(self, ms: int = 1_000_000):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_held_the_clock_keeps_the_walls_pace_then_runs_at_its_scale_from_the_time_asked():
    wall = Wall()
    clock = HeldClock(30.0, wall)
    wall.ms += 5_000  # a slow start: 5 s, and the scenario only 5 s in (not 150 s)
    assert clock() == clock.start + 5_000 and not clock.going
    assert clock.go(57_000) == clock.start + 57_000  # 3 scenario seconds before a crash at 60 s
    wall.ms += 100
    assert clock() == clock.start + 57_000 + 3_000
    assert clock.go(0) == clock() and clock.going  # a second go changes nothing


def test_a_go_to_a_time_already_past_goes_from_now_never_back():
    wall = Wall()
    clock = HeldClock(10.0, wall)
    wall.ms += 70_000
    assert clock.go(57_000) == clock.start + 70_000
    wall.ms += 1_000
    assert clock() == clock.start + 80_000
    other = HeldClock(10.0, wall)
    wall.ms += 2_000
    assert other.go() == other.start + 2_000  # no time asked: from now


def test_the_go_endpoints_answers():
    wall = Wall()
    clock = HeldClock(15.0, wall)
    assert held_go(ScaledClock(15.0), "1000")[0] == 409
    assert held_go(clock, "soon") == (400, {"error": "BAD_AT_MS: at_ms='soon' is no whole number of milliseconds"})
    assert held_go(clock, "-1")[0] == 400 and not clock.going
    assert held_go(clock, "57000") == (200, {"now": clock.start + 57_000, "elapsed_ms": 57_000, "time_scale": 15.0})
    with pytest.raises(ValueError):
        HeldClock(0.0)


def test_a_served_held_flash_crash_waits_for_the_go():
    from adapters.simulated.engine import SimExchange
    from adapters.simulated.http import SimServer
    from adapters.simulated.scenarios import build

    async def go() -> None:
        clock = HeldClock(60.0)
        engine: SimExchange = build("flash-crash", clock)
        server = SimServer(engine, port=0, admin_state=True)
        url = await server.start()
        try:
            def post(path: str) -> tuple[int, dict]:
                req = urllib.request.Request(url + path, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        return r.status, json.loads(r.read())
                except urllib.error.HTTPError as e:
                    return e.code, json.loads(e.read())

            flat = engine.mark("BTCUSDT")
            await asyncio.sleep(0.3)  # held: 0.3 scenario seconds, still flat (at 60x: 18 s)
            assert abs(engine.mark("BTCUSDT") / flat - 1) < 0.001  # the flat minute's noise only
            status, body = await asyncio.to_thread(post, "/_sim/go?at_ms=60000")
            assert status == 200 and body["time_scale"] == 60.0 and body["elapsed_ms"] >= 60_000
            await asyncio.sleep(0.5)  # 30 scenario seconds into the crash
            assert engine.mark("BTCUSDT") < flat * 0.99
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(go(), 20))
