"""The API's reads: where it listens, its probes and metrics, the status, the lock document,
the pre-trade check and a close's progress (``rig.py``'s fake view, served for real)."""

from __future__ import annotations

from urllib.parse import quote

import yarl

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runner.gate.request import Decision

from ..rig import ORDER, TOKEN, FakeView, _auth, run, serve


def test_start_api_binds_loopback_on_a_free_port():
    async def main():
        runner, base = await start_api(make_app(FakeView(), token=TOKEN))
        try:
            url = yarl.URL(base)
            assert url.host == "127.0.0.1" and url.port and url.port > 0
        finally:
            await stop_api(runner)
    run(main())


def test_healthz_answers_without_touching_the_view():
    async def main():
        async with serve() as c:
            status, body, resp = await c.get("/healthz")
            assert (status, body) == (200, {"ok": True})
            assert resp.headers["Cache-Control"] == "no-store"
            assert c.view.calls == []
    run(main())


def test_readyz_200_and_503_with_the_reason():
    async def main():
        async with serve() as c:
            assert (await c.get("/readyz"))[:2] == (200, {"ready": True, "reason": "READY: leader"})
            c.view.ready_answer = (False, "NOT_READY: state store unreachable")
            status, body, resp = await c.get("/readyz")
            assert (status, body) == (503, {"ready": False, "reason": "NOT_READY: state store unreachable"})
            assert resp.headers["Cache-Control"] == "no-store"
            c.view.ready_answer = (1, "truthy is not ready")  # only a real True is ready
            assert (await c.get("/readyz"))[0] == 503
            assert c.view.names() == ["ready"] * 3
    run(main())


def test_metrics_is_prometheus_text():
    async def main():
        async with serve() as c:
            status, body, resp = await c.get("/metrics")
            assert status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert body == b"# TYPE ks_ticks_total counter\nks_ticks_total 42\n"
            assert resp.headers["Cache-Control"] == "no-store"
    run(main())


def test_status_renders_the_dataclass_as_json():
    async def main():
        async with serve() as c:
            status, body, _ = await c.get("/v1/status", auth=_auth("token"))
            assert status == 200
            assert body["mode"] == "dry-run" and body["leader"] is True and body["fence"] == 7
            assert body["scopes"] == [{"policy": "p1", "scope": "binance/main", "stage": 2, "stage_name": "reduce",
                                       "manual": True, "approvals": ["alice"], "approvals_needed": 2,
                                       "entered_ms": 123, "ack": None, "acks": [], "removed": None, "removed_ms": None,
                                       "leaves_ms": None, "quiet_s": None, "firing": False,
                                       "own_lock_ended": None, "continues": None}]
            assert body["data_age_s"] == {"binance/main": 1.5, "never": None}  # inf is not JSON
    run(main())


def test_lock_document_with_and_without_scope():
    async def main():
        async with serve() as c:
            status, body, _ = await c.get("/v1/lock")
            assert status == 200 and body["mode"] == "active" and body["scope"] is None
            status, body, _ = await c.get("/v1/lock?scope=binance%2Fmain")
            assert status == 200 and body["scope"] == "binance/main"
            assert c.view.calls == [("lock_document", (None,)), ("lock_document", ("binance/main",))]
            for bad in ("?scope=", "?scope=a&scope=b", "?other=1", "?scope=" + "x" * 300):
                status, body, _ = await c.get("/v1/lock" + bad)
                assert status == 400 and body["error"] == "BAD_REQUEST", bad
            assert len(c.view.calls) == 2
    run(main())


def test_a_read_names_the_query_parameters_it_knows_when_given_another():
    async def main():
        async with serve() as c:
            for path, known in (("/v1/lock", "scope"), ("/v1/status", "dms"), ("/v1/runbooks", "since_ms, limit")):
                status, body, _ = await c.get(path + "?zz=1&aa=2", auth=_auth("token"))
                said = f"unknown query parameter(s) 'aa', 'zz'; known: {known}"
                assert status == 400 and body["reason"].endswith(said), body
    run(main())


def test_check_order_allow_and_deny_are_both_200_without_a_token():
    async def main():
        async with serve() as c:
            status, body, _ = await c.post("/v1/check-order", ORDER, auth=None)
            assert (status, body) == (200, {"allow": True, "reason": "ACTIVE"})
            status, body, _ = await c.post("/v1/check-order", {**ORDER, "side": "buy"}, auth=None)
            assert (status, body) == (200, {"allow": False, "reason": "HALTED: test"})
            assert c.view.calls == [("check_order", (ORDER,)), ("check_order", ({**ORDER, "side": "buy"},))]
    run(main())


def test_check_order_on_an_unguarded_account_says_so_beside_the_answer():
    said = "UNGUARDED: binance/main: no policy's scope selects it; nothing watches it or limits its orders"

    class Loose(FakeView):
        def check_order(self, request: dict) -> Decision:
            return Decision(True, "ACTIVE", unguarded=True, warnings=(said,))

    async def main():
        async with serve(Loose()) as c:
            status, body, _ = await c.post("/v1/check-order", ORDER, auth=None)
            assert (status, body) == (200, {"allow": True, "reason": "ACTIVE", "unguarded": True, "warnings": [said]})
    run(main())


def test_close_progress_by_its_id_and_404_for_an_unknown_one():
    async def main():
        async with serve() as c:
            status, body, _ = await c.get("/v1/close/" + quote("manual/binance/main/m1", safe=""), auth=_auth("token"))
            assert (status, body) == (200, {"id": "manual/binance/main/m1", "state": "settled"})
            status, body, _ = await c.get("/v1/close/nope", auth=_auth("token"))
            assert status == 404 and body["error"] == "UNKNOWN_CLOSE" and body["reason"].startswith("UNKNOWN_CLOSE: ")
            assert c.view.calls == [("close_progress", ("manual/binance/main/m1",)), ("close_progress", ("nope",))]
    run(main())
