"""A lock by the clock in a runner over the simulated exchange, on its clock: ``POST
/v1/check-order`` refuses an order that grows a position inside the window and lets it through
outside, the lock ends at the window's edge without a tick, and ``GET /v1/status`` and ``ksctl
status`` say the next change."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.client import LockDocument
from killswitch.compile.compiler import compile_documents
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.policy.load import load_text
from killswitch.render.status import status_text
from killswitch.view import RunnerStatus
from killswitch.view.decode import decode
from killswitch.zones import zone
from tests.integration.runner.rig import POLICY, T0, TICK_MS, parts_of, setup

# T0 is Monday 2026-03-02 13:00 UTC; the window is the minute from 13:01
WINDOW = """\
  time_intervals:
    - name: fixing
      time_intervals: [{times: [{start_time: "13:01", end_time: "13:02"}]}]
  lock_trading: {mode: reducing, during: [fixing]}
"""
BTC = "BTC/USDT:USDT"
TOKEN = "t0ken-for-tests-only"
OPENS, CLOSES = T0 + 60_000, T0 + 120_000
NO_LOCKS = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def test_a_window_lock_refuses_inside_and_allows_outside_and_status_says_the_next_change(tmp_path):
    result = compile_documents(load_text(POLICY + WINDOW, "p.yaml"), zones=zone)
    assert result.graph is not None, result.errors
    clock = ManualClock(T0)
    runner, _, clock, _, _, desk = setup(tmp_path, policies=result.graph, engine=build("calm", clock), clock=clock)
    buy = {"account": "simulated/sim-main", "symbol": BTC, "side": "buy", "amount": 0.5, "price": 60_000}

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        site, url = await start_api(make_app(desk, token=TOKEN))
        try:
            async with aiohttp.ClientSession() as http:
                async def check(**change):
                    async with http.post(url + "/v1/check-order", json={**buy, **change}) as r:
                        assert r.status == 200
                        return await r.json()

                async def status() -> RunnerStatus:
                    headers = {"Authorization": f"Bearer {TOKEN}"}
                    async with http.get(url + "/v1/status", headers=headers) as r:
                        assert r.status == 200
                        return decode(RunnerStatus, await r.json())

                assert (await check())["allow"] is True
                # the daemon's wait ends at the edge
                assert parts_of(runner).pace.window_edge_s() == (OPENS - clock() + 1) / 1000
                st = await status()
                [row] = st.windows
                assert row["open"] is False and row["next_change_ms"] == OPENS
                assert "  WINDOW crash-ladder: reducing lock from Mon 13:01 UTC (during fixing)" in \
                    status_text(st, NO_LOCKS).splitlines()
                clock.set(OPENS)
                await runner.tick()
                d = await check()
                assert d["allow"] is False and d["reason"].startswith("REDUCING"), d
                assert (await check(side="sell", amount=0.5, reduce_only=True))["allow"] is True
                lock = await (await http.get(url + "/v1/lock")).json()
                assert lock["mode"] == "reducing" and lock["reason"].startswith("TRADING_WINDOW: policy=crash-ladder")
                [row] = (await status()).windows
                assert row["open"] is True and row["next_change_ms"] == CLOSES
                assert row["text"] == "reducing lock until Mon 13:02 UTC (during fixing)"
                clock.set(CLOSES)  # no tick: the hold ends at the window's edge by its expiry
                assert (await check())["allow"] is True
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))
