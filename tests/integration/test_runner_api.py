"""The runner behind its HTTP API, after a flash crash: what bots and operators see and may do."""

from __future__ import annotations

import asyncio

import aiohttp

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from killswitch.runner.api import make_app, start_api, stop_api

from .test_runner import POLICY, TICK_MS, setup

TOKEN = "t0ken-for-tests-only"


def test_halt_then_a_two_approver_reset_through_the_api(tmp_path, monkeypatch):
    text = POLICY.replace("reset: manual,", "reset: manual, approvals: 2,")
    graph = compile_documents(load_text(text, "p.yaml")).graph
    runner, engine, clock, store, _ = setup(tmp_path)
    runner.graph = graph

    async def go():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        app = make_app(runner, token=TOKEN)
        site, url = await start_api(app)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        order = {"account": "simulated/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}
        try:
            async with aiohttp.ClientSession() as http:
                async def get(path):
                    async with http.get(url + path) as r:
                        return r.status, await r.json()

                async def post(path, body, headers=auth):
                    async with http.post(url + path, json=body, headers=headers) as r:
                        return r.status, (await r.json() if r.content_type == "application/json" else None)

                st, status = await get("/v1/status")
                assert st == 200 and status["mode"] == "live"
                [scope] = status["scopes"]
                assert scope["stage"] == 3 and scope["manual"] and scope["approvals_needed"] == 2
                assert (await get("/v1/lock"))[1]["mode"] == "halted"
                st, d = await post("/v1/check-order", order, headers={})
                assert st == 200 and d["allow"] is False and d["reason"].startswith("HALTED")
                reset = {"policy": "crash-ladder", "scope": "simulated/sim-main", "approver": "alice",
                         "reason": "post-incident review done"}
                assert (await post("/v1/reset", reset, headers={}))[0] == 401
                st, r1 = await post("/v1/reset", reset)
                assert st == 200 and r1["done"] is False and r1["reason"].startswith("APPROVAL_RECORDED: 1/2")
                st, r2 = await post("/v1/reset", reset)
                assert r2["done"] is False and r2["reason"].startswith("DUPLICATE_APPROVER")
                st, r3 = await post("/v1/reset", {**reset, "approver": "bob"})
                assert r3["done"] is True and r3["reason"].startswith("MANUAL_RESET")
                assert (await get("/v1/lock"))[1]["locked"] is False
                st, d = await post("/v1/check-order", order, headers={})
                assert d["allow"] is True
                st, c = await post("/v1/close", {"scope": "simulated/sim-main", "reason": "drill", "dry_run": True})
                assert st == 202 and c["reason"].startswith("DRY_RUN")
                async with http.post(url + "/v1/heartbeat/strategy-a", headers=auth) as r:
                    assert r.status == 204
                async with http.get(url + "/metrics") as r:
                    body = await r.text()
                assert 'killswitch_stage{policy="crash-ladder",scope="simulated/sim-main"} 0' in body
                assert TOKEN not in body
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))
    assert "strategy-a" in runner.state.heartbeats
    assert store.verify_audit()[0]
