"""The API's writes with no audit sink taking rows (``--audit-sink-required``): what adds risk
waits (503 ``AUDIT_SINK_DOWN``), what reduces it goes on, the view told why."""

from __future__ import annotations

import pytest

from killswitch.view import ChangeResult

from ..rig import CLOSE, LOCK, UNLOCK, run, serve

SINK_DOWN = "no audit sink takes rows (siem: CONNECT_FAILED) and --audit-sink-required is set"
# every operator write with an empty body: one that adds risk waits for the sink (503) before its
# body is read; one that reduces risk (or an acknowledgement) reaches its handler, which finds the
# body lacking (400)
WAITS = ["/v1/unlock", "/v1/reset", "/v1/close-rejections/accept", "/v1/dms/arm", "/v1/dms/disarm",
         "/v1/revoke/restore", "/v1/firm/kill/release", "/v1/silences", "/v1/silences/change",
         "/v1/overrides", "/v1/overrides/approve", "/v1/policy-drift"]
GOES = ["/v1/lock", "/v1/close", "/v1/revoke", "/v1/firm/kill", "/v1/silences/expire", "/v1/overrides/end",
        "/v1/ack"]


@pytest.mark.parametrize("path", WAITS + GOES)
def test_with_no_audit_sink_what_adds_risk_waits_and_what_reduces_it_goes_on(path):
    async def main():
        async with serve(refusal=lambda: SINK_DOWN) as c:
            status, body, resp = await c.post(path, {})
            if path in WAITS:
                assert (status, body["error"], resp.headers["Retry-After"]) == (503, "AUDIT_SINK_DOWN", "5"), body
                assert SINK_DOWN in body["reason"]
            else:
                assert status == 400 and body["error"] == "BAD_REQUEST", body
    run(main())


def test_with_no_audit_sink_a_halt_with_its_cancel_is_applied_and_a_loosening_lock_answers_503():
    async def main():
        async with serve(refusal=lambda: SINK_DOWN) as c:
            halt = {"scope": "global", "reason": "fat finger", "mode": "halted", "enforce": {"cancel": True}}
            assert (await c.post("/v1/lock", halt))[:2] == (200, {"done": True, "reason": "DONE: test"})
            assert (await c.post("/v1/close", CLOSE))[0] == 202
            # the view refuses a lock that would loosen the operator's halt: answered as the gate answers
            c.view.change_answer = ChangeResult(False, "AUDIT_SINK_DOWN: a reducing lock would replace the "
                                                       "operator's halted lock of global; " + SINK_DOWN)
            status, body, resp = await c.post("/v1/lock", {**halt, "mode": "reducing"})
            assert (status, body["error"], resp.headers["Retry-After"]) == (503, "AUDIT_SINK_DOWN", "5"), body
            assert (await c.post("/v1/unlock", UNLOCK))[0] == 503
            assert c.view.calls == [
                ("lock_scope", ("global", "halted", "fat finger", None, {"cancel": True}, SINK_DOWN)),
                ("close", ("binance/main", "drawdown", True)),
                ("lock_scope", ("global", "reducing", "fat finger", None, {"cancel": True}, SINK_DOWN))]
        async with serve(refusal=lambda: None) as c:  # a sink takes rows: nothing said to the view
            assert (await c.post("/v1/lock", LOCK))[0] == 200 and (await c.post("/v1/unlock", UNLOCK))[0] == 200
            assert c.view.calls[0] == ("lock_scope", ("binance/main", "reducing", "exchange incident", 21600.0))
    run(main())
