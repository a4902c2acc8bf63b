"""The runner behind its HTTP API, after a flash crash: what bots and operators see and may do."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from tests.integration.runner.rig import POLICY, TICK_MS, parts_of, setup
from tests.unit.engine_helpers import compile_graph

TOKEN = "t0ken-for-tests-only"
ALICE, BOB = "alice-t0ken-for-tests-only", "bob-t0ken-for-tests-only"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["approver"], "sha256": token_digest(BOB)}]})


def test_halt_then_a_two_approver_reset_through_the_api(tmp_path, monkeypatch):
    text = POLICY.replace("reset: manual,", "reset: manual, approvals: 2,")
    graph = compile_graph(text, "p.yaml")
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=graph)
    parts = parts_of(runner)

    async def go():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        app = make_app(desk, token=TOKEN, tokens=PEOPLE)
        site, url = await start_api(app)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        as_alice = {"Authorization": f"Bearer {ALICE}"}
        as_bob = {"Authorization": f"Bearer {BOB}"}
        order = {"account": "simulated/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}
        try:
            async with aiohttp.ClientSession() as http:
                async def get(path, headers=None):
                    async with http.get(url + path, headers=headers) as r:
                        return r.status, await r.json()

                async def post(path, body, headers=auth):
                    async with http.post(url + path, json=body, headers=headers) as r:
                        return r.status, (await r.json() if r.content_type == "application/json" else None)

                st, status = await get("/v1/status", auth)
                assert st == 200 and status["mode"] == "live"
                [scope] = status["scopes"]
                assert scope["stage"] == 3 and scope["manual"] and scope["approvals_needed"] == 2
                assert (await get("/v1/lock"))[1]["mode"] == "halted"
                st, d = await post("/v1/check-order", order, headers={})
                assert st == 200 and d["allow"] is False and d["reason"].startswith("HALTED")
                reset = {"policy": "crash-ladder", "scope": "simulated/sim-main", "reason": "post-incident review done",
                         "confirm_relatch": True}
                assert (await post("/v1/reset", reset, headers={}))[0] == 401
                st, bad = await post("/v1/reset", {**reset, "confirm_relatch": "yes"}, headers=as_alice)
                assert st == 400 and '"confirm_relatch" must be true or false' in bad["reason"], bad
                st, r1 = await post("/v1/reset", reset, headers=as_alice)
                assert st == 200 and r1["done"] is False and r1["reason"].startswith("APPROVAL_RECORDED: 1/2")
                # alice again, under another name in the body: the approver is the caller, not the body
                st, r2 = await post("/v1/reset", {**reset, "approver": "bob"}, headers=as_alice)
                assert st == 403 and r2["error"] == "APPROVER_NOT_CALLER"
                st, r2 = await post("/v1/reset", {**reset, "approver": "Alice"}, headers=as_alice)
                assert r2["done"] is False and r2["reason"].startswith("DUPLICATE_APPROVER")
                st, r2 = await post("/v1/lock", {"scope": "global", "reason": "not hers"}, headers=as_bob)
                assert st == 403 and r2["error"] == "ROLE_REQUIRED"
                st, r3 = await post("/v1/reset", reset, headers=as_bob)
                assert r3["done"] is True and r3["reason"] == "MANUAL_RESET: stage=3 approvers=alice,bob"
                assert (await get("/v1/lock"))[1]["locked"] is False
                st, d = await post("/v1/check-order", order, headers={})
                assert d["allow"] is True
                st, c = await post("/v1/close", {"scope": "simulated/sim-main", "reason": "drill", "dry_run": True})
                assert st == 202 and c["reason"].startswith("PREVIEW")  # a live runner: its preview
                async with http.post(url + "/v1/heartbeat/strategy-a", headers=auth) as r:
                    assert r.status == 404  # nothing names it: refused, never a strategy of its own
                    body = await r.json()
                    assert body["error"] == "UNKNOWN_SOURCE" and "'strategy-a' is not named by" in body["reason"]
                async with http.get(url + "/metrics") as r:
                    body = await r.text()
                assert 'killswitch_stage{policy="crash-ladder",scope="simulated/sim-main"} 0.0' in body
                assert TOKEN not in body
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))
    assert "strategy-a" not in parts.book.state.heartbeats and "strategy-a" not in parts.book.dms.sources
    assert store.verify_audit()[0]


RESUME = "  resume: {start: 10%, step: x2, every: 1d, from_level: 3, max_positions: 10, max_gross_exposure: 1M}\n"


def test_unlock_lock_dead_mans_switch_and_resumption_through_the_api(tmp_path):
    """After the flash crash latches stage 3: an unlock is refused, an operator lock and a dead
    man's switch come and go, and the reset leaves the gate at the resumed limits."""
    graph = compile_graph(POLICY + RESUME, "p.yaml")
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=graph)

    async def go():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        site, url = await start_api(make_app(desk, token=TOKEN))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with aiohttp.ClientSession() as http:
                async def get(path, headers=None):
                    async with http.get(url + path, headers=headers) as r:
                        return r.status, await r.json()

                async def post(path, body, headers=auth):
                    async with http.post(url + path, json=body, headers=headers) as r:
                        return r.status, await r.json()

                account = "simulated/sim-main"
                st, body = await post("/v1/unlock", {"scope": account, "reason": "want to trade"})
                assert st == 409 and body["reason"].startswith("MANUAL_RESET_REQUIRED: simulated/sim-main is held "
                                                               "by stage 3 of policy crash-ladder")
                assert (await get("/v1/lock?scope=" + account))[1]["mode"] == "halted"

                st, body = await post("/v1/lock", {"scope": "strategy-b", "reason": "bad fills"})
                assert st == 404 and body["reason"].startswith("UNKNOWN_SCOPE: 'strategy-b'")  # never seen yet
                async with http.post(url + "/v1/heartbeat/strategy-b", headers=auth) as r:
                    assert r.status == 404  # a bot that beats a name nothing names is refused
                assert (await post("/v1/dms/arm", {"source": "strategy-b", "timeout_s": 3600}))[0] == 200
                async with http.post(url + "/v1/heartbeat/strategy-b", headers=auth) as r:
                    assert r.status == 204  # an armed source is named: its beats are taken, it is a strategy
                st, body = await post("/v1/lock", {"scope": "strategy-b", "reason": "bad fills", "mode": "reducing",
                                                   "ttl_s": 3600})
                assert st == 200 and body["reason"].startswith("LOCKED: scope=strategy-b mode=reducing until ")
                st, lock = await get("/v1/lock?scope=strategy-b")
                assert lock["mode"] == "reducing" and lock["policy"] == "@operator" and "bad fills" in lock["reason"]
                assert json.loads((tmp_path / "lock.json").read_text())["scopes"]["strategy-b"]["mode"] == "reducing"
                assert (await post("/v1/unlock", {"scope": "strategy-b", "reason": "fixed"}))[0] == 200
                assert (await get("/v1/lock?scope=strategy-b"))[1]["locked"] is False

                assert (await post("/v1/dms/arm", {"source": "bot-a", "timeout_s": 10}))[0] == 200
                st, dms = await get("/v1/dms")
                assert st == 200 and dms["sources"]["bot-a"]["fires_in_s"] == 10 and dms["sources"]["bot-a"]["armed"]
                for _ in range(3):
                    clock.advance(TICK_MS)
                    await runner.tick()
                st, dms = await get("/v1/dms")
                assert dms["sources"]["bot-a"]["fired"] and dms["sources"]["bot-a"]["locked"]
                order = {"account": account, "strategy": "bot-a", "symbol": "BTC/USDT:USDT", "side": "buy",
                         "amount": 1, "price": 60_000}
                st, d = await post("/v1/check-order", order, headers={})
                assert d["allow"] is False and d["reason"].startswith("HALTED")
                st, body = await post("/v1/dms/arm", {"source": "bot-a", "timeout_s": 600})
                assert st == 200 and "lifted" in body["reason"]
                assert (await post("/v1/dms/disarm", {"source": "bot-a"}))[0] == 200
                st, body = await post("/v1/dms/disarm", {"source": "bot-a"})
                assert st == 409 and body["reason"].startswith("NOT_ARMED")

                reset = {"policy": "crash-ladder", "scope": account, "reason": "reviewed", "confirm_relatch": True}
                assert (await post("/v1/reset", reset))[1]["done"] is True
                st, lock = await get("/v1/lock?scope=" + account)
                assert lock["locked"] is False
                limits = lock["resuming"][account]
                assert limits["max_gross_exposure"] == 100_000 and limits["day"] == 1
                st, status = await get("/v1/status", auth)
                assert [r["scope"] for r in status["resuming"]] == [account] and status["dms"]["sources"]["bot-a"]
                st, d = await post("/v1/check-order", {**order, "strategy": "strategy-b"}, headers={})
                assert d["allow"] is True and d["reason"].startswith("RESUMING: gross exposure 60,000.00 <= limit")
                st, d = await post("/v1/check-order", {**order, "amount": 2}, headers={})
                assert d["allow"] is False and "> limit 100,000.00 (day 1 of 4)" in d["reason"]
                async with http.get(url + "/metrics") as r:
                    assert "killswitch_dms_fired_total 1.0" in await r.text()
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))
    assert store.verify_audit()[0]
