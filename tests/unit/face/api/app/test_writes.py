"""The API's writes reaching the view: heartbeats, resets, closes, locks and unlocks, the
dead-man's switch; a write a standby cannot take answered 503 so that clients retry."""

from __future__ import annotations

import dataclasses
import json

from killswitch.view import ChangeResult, CloseResult, PlannedOrder, ResetResult

from ..rig import CLOSE, DISARM, LOCK, RESET, UNLOCK, FakeView, run, serve


def test_heartbeat_204():
    async def main():
        async with serve() as c:
            status, body, resp = await c.post("/v1/heartbeat/bot-1.main_A")
            assert status == 204 and body == b""
            assert resp.headers["Cache-Control"] == "no-store"
            status, _, _ = await c.post("/v1/heartbeat/feed", {})  # an empty object is fine too
            assert status == 204
            assert c.view.calls == [("heartbeat", ("bot-1.main_A", None)), ("heartbeat", ("feed", None))]
    run(main())


def test_reset_passes_the_fields_and_returns_the_result():
    async def main():
        async with serve() as c:
            status, body, _ = await c.post("/v1/reset", RESET)
            assert (status, body) == (200, {"done": True, "reason": "MANUAL_RESET: ok", "warnings": [], "silences": []})
            c.view.reset_answer = ResetResult(False, "APPROVAL_RECORDED: 1/2")
            status, body, _ = await c.post("/v1/reset", {**RESET, "reason": "r" * 500})
            assert (status, body) == (200, {"done": False, "reason": "APPROVAL_RECORDED: 1/2", "warnings": [],
                                            "silences": []})
            # the approver is the caller: the shared token is one identity
            assert c.view.calls == [("reset", ("p1", "binance/main", "shared-token", "flat, reviewed")),
                                    ("reset", ("p1", "binance/main", "shared-token", "r" * 500))]
    run(main())


def _plain(answer) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(answer)))


def test_close_202_when_accepted_409_when_not():
    async def main():
        async with serve() as c:
            status, body, _ = await c.post("/v1/close", CLOSE)
            assert (status, body) == (202, {**_plain(c.view.close_answer), "accepted": True, "reason": "CLOSE_QUEUED",
                                            "orders": 3, "id": "manual/binance/main/m1", "plan": []})
            order = PlannedOrder("binance/main", "BTC/USDT", "sell", None, 0.5, 30_000.0, 59_000.0, True, 1, 1)
            c.view.close_answer = CloseResult(True, "DRY_RUN: 1 order(s) would be sent", 1, None, (order,))
            status, body, _ = await c.post("/v1/close", CLOSE)
            assert (status, body["plan"]) == (202, [{
                "account": "binance/main", "symbol": "BTC/USDT", "side": "sell", "position_side": None, "amount": 0.5,
                "notional": 30_000.0, "limit_price": 59_000.0, "reduce_only": True, "chunk": 1, "chunks": 1,
                "price_tick": None}])
            c.view.close_answer = CloseResult(False, "NOT_LEADER")
            status, body, _ = await c.post("/v1/close", {**CLOSE, "dry_run": False})
            assert (status, body) == (409, {**_plain(c.view.close_answer), "accepted": False, "reason": "NOT_LEADER",
                                            "orders": 0, "id": None, "plan": []})
            assert c.view.calls == [("close", ("binance/main", "drawdown", True)),
                                    ("close", ("binance/main", "drawdown", True)),
                                    ("close", ("binance/main", "drawdown", False))]
    run(main())


def test_lock_and_unlock_pass_their_fields_and_answer_200_done_409_refused():
    async def main():
        async with serve() as c:
            assert (await c.post("/v1/lock", LOCK))[:2] == (200, {"done": True, "reason": "DONE: test"})
            status, _, _ = await c.post("/v1/lock", {"scope": "global", "reason": "fat finger"})  # defaults
            assert status == 200
            c.view.change_answer = ChangeResult(False, "MANUAL_RESET_REQUIRED: held by stage 3")
            status, body, _ = await c.post("/v1/unlock", UNLOCK)
            assert (status, body) == (409, {"done": False, "reason": "MANUAL_RESET_REQUIRED: held by stage 3"})
            assert c.view.calls == [("lock_scope", ("binance/main", "reducing", "exchange incident", 21600.0)),
                                    ("lock_scope", ("global", "halted", "fat finger", None)),
                                    ("unlock_scope", ("binance/main", "incident over"))]
    run(main())


def test_a_lock_passes_what_it_enforces_at_the_venue_when_given():
    async def main():
        async with serve() as c:
            body = {**LOCK, "enforce": {"cancel": False, "revert_growth": True}}
            assert (await c.post("/v1/lock", body))[0] == 200
            assert c.view.calls == [("lock_scope", ("binance/main", "reducing", "exchange incident", 21600.0,
                                                    {"cancel": False, "revert_growth": True}))]
    run(main())


def test_dms_endpoints_pass_their_fields():
    async def main():
        async with serve() as c:
            status, body, _ = await c.get("/v1/dms")
            assert status == 200 and body["sources"]["bot-a"]["fires_in_s"] == 12.5
            assert (await c.post("/v1/dms/arm", {"source": "bot-a", "timeout_s": 0.5}))[0] == 200
            c.view.change_answer = ChangeResult(False, "NOT_ARMED: source bot-a is not armed")
            status, body, _ = await c.post("/v1/dms/disarm", DISARM)
            assert (status, body) == (409, {"done": False, "reason": "NOT_ARMED: source bot-a is not armed"})
            assert c.view.calls == [("dms_status", ()), ("dms_arm", ("bot-a", 0.5)), ("dms_disarm", ("bot-a",))]
    run(main())


def test_a_heartbeat_a_standby_cannot_store_and_a_reset_it_refuses_are_503_so_clients_retry():
    from killswitch.state.store import StoreError

    class Standby(FakeView):
        def heartbeat(self, source, now_ms=None):
            raise StoreError("postgresql://ks:s3cret@db/ks: OperationalError: connection refused")

    async def main():
        view = Standby()
        view.reset_answer = ResetResult(False, "NOT_LEADER: this runner (b) is a standby")
        async with serve(view) as c:
            status, body, resp = await c.post("/v1/heartbeat/bot-1")
            assert status == 503 and resp.headers["Retry-After"] == "1"
            assert body["error"] == "STATE_UNREACHABLE" and "s3cret" not in json.dumps(body)
            status, body, _ = await c.post("/v1/reset", {"policy": "p", "scope": "s", "reason": "checked"})
            assert status == 503 and body["done"] is False
    run(main())
