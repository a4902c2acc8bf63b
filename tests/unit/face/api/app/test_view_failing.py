"""The view failing under the API: an exception or an answer of the wrong shape is a bare 500
``INTERNAL`` (the detail in the operator's log only), an async method is awaited."""

from __future__ import annotations

import asyncio
import json

from killswitch.view import ResetResult

from ..rig import ARM, CLOSE, DISARM, LOCK, ORDER, RESET, UNLOCK, FakeView, _auth, run, serve

FAILING = [("GET", "/readyz", None, None, "ready"), ("GET", "/metrics", None, None, "metrics_text"),
           ("GET", "/v1/status", None, "token", "status"), ("GET", "/v1/lock", None, None, "lock_document"),
           ("POST", "/v1/check-order", ORDER, None, "check_order"),
           ("POST", "/v1/heartbeat/bot", None, "token", "heartbeat"),
           ("POST", "/v1/reset", RESET, "token", "reset"), ("POST", "/v1/close", CLOSE, "token", "close"),
           ("GET", "/v1/close/manual%2Fa%2Fm1", None, "token", "close_progress"),
           ("POST", "/v1/lock", LOCK, "token", "lock_scope"), ("POST", "/v1/unlock", UNLOCK, "token", "unlock_scope"),
           ("GET", "/v1/dms", None, None, "dms_status"), ("POST", "/v1/dms/arm", ARM, "token", "dms_arm"),
           ("POST", "/v1/dms/disarm", DISARM, "token", "dms_disarm")]


def test_a_view_that_raises_is_a_bare_500_internal(caplog):
    async def main():
        view = FakeView()
        view.fail = {name for *_, name in FAILING}
        async with serve(view) as c:
            for method, path, body, auth, _name in FAILING:
                status, answer, resp = await c.request(method, path, json_body=body, auth=_auth(auth))
                assert status == 500, path
                assert answer["error"] == "INTERNAL" and answer["reason"] == "INTERNAL"
                raw = json.dumps(answer)
                assert "Traceback" not in raw and "Boom" not in raw and "exploded" not in raw
                assert resp.headers["Cache-Control"] == "no-store"
                if path == "/v1/check-order":
                    assert answer["allow"] is False
            assert view.names() == [name for *_, name in FAILING]
            assert (await c.get("/healthz"))[0] == 200  # still serving
    run(main())
    assert "exploded" in caplog.text  # the operator's log has it


def test_a_view_answering_garbage_is_500_not_a_crash():
    class Garbage(FakeView):
        def status(self):
            return object()

        def lock_document(self, scope=None):
            return ["not", "a", "dict"]

        def ready(self):
            return None

        def check_order(self, request):
            return {"allow": True}

    async def main():
        async with serve(Garbage()) as c:
            for method, path, body in (("GET", "/v1/status", None), ("GET", "/v1/lock", None),
                                       ("GET", "/readyz", None), ("POST", "/v1/check-order", ORDER)):
                status, answer, _ = await c.request(method, path, json_body=body, auth=_auth("token"))
                assert status == 500 and answer["reason"] == "INTERNAL", path
    run(main())


def test_an_async_view_method_is_awaited():
    class AsyncView(FakeView):
        async def reset(self, policy, scope, approver, reason, confirm_relatch=False):
            await asyncio.sleep(0)
            return ResetResult(True, "MANUAL_RESET: async")

    async def main():
        async with serve(AsyncView()) as c:
            assert (await c.post("/v1/reset", RESET))[:2] == (200, {"done": True, "reason": "MANUAL_RESET: async",
                                                                     "warnings": [], "silences": []})
    run(main())
