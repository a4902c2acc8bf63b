"""What a request's body must be: its size (413), strict JSON in UTF-8 (400), each endpoint's
fields as its rules say, and the names of heartbeat sources."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import pytest

from ..rig import ARM, CLOSE, DISARM, LOCK, ORDER, RESET, UNLOCK, _auth, run, serve


def test_oversized_bodies_are_413():
    async def main():
        async with serve(max_body_bytes=256) as c:
            big = {**ORDER, "symbol": "X" * 300}
            status, body, _ = await c.post("/v1/check-order", big, auth=None)
            assert status == 413 and body["error"] == "BODY_TOO_LARGE" and body["allow"] is False
            status, body, _ = await c.post("/v1/reset", {**RESET, "reason": "r" * 400})
            assert status == 413 and body["error"] == "BODY_TOO_LARGE"

            async def chunks():  # no Content-Length: the limit holds while reading
                for _ in range(10):
                    yield b" " * 100

            status, body, _ = await c.request("POST", "/v1/check-order", data=chunks(),
                                              headers={"Content-Type": "application/json"})
            assert status == 413 and body["error"] == "BODY_TOO_LARGE"
            assert c.view.calls == []
            # just under the limit is fine
            assert (await c.post("/v1/check-order", ORDER, auth=None))[0] == 200
    run(main())


@pytest.mark.parametrize("path,auth", [("/v1/check-order", None), ("/v1/reset", "token"), ("/v1/close", "token")])
def test_malformed_bodies_are_400_with_a_reason(path, auth):
    cases = [
        (b"", "application/json", "BAD_JSON"),
        (b"{", "application/json", "BAD_JSON"),
        (b"\xff\xfe{}", "application/json", "BAD_JSON"),
        (b'{"a": NaN}', "application/json", "BAD_JSON"),
        (b'{"a": 1, "a": 2}', "application/json", "BAD_JSON"),
        (b"[" * 5000 + b"]" * 5000, "application/json", "BAD_JSON|BAD_REQUEST"),
        (b"1" * 5000, "application/json", "BAD_JSON"),
        (b"[]", "application/json", "BAD_REQUEST"),
        (b'"text"', "application/json", "BAD_REQUEST"),
        (b"null", "application/json", "BAD_REQUEST"),
        (b"{}", "text/plain", "BAD_CONTENT_TYPE"),
        (b"{}", "application/x-www-form-urlencoded", "BAD_CONTENT_TYPE"),
        (b"{}", "application/json; charset=latin-1", "BAD_CONTENT_TYPE"),
        (b"{}", None, "BAD_CONTENT_TYPE"),
    ]

    async def main():
        async with serve() as c:
            for data, ctype, code in cases:
                headers = {"Content-Type": ctype} if ctype else {}
                status, body, _ = await c.request("POST", path, data=data, headers=headers, auth=_auth(auth))
                assert status == 400, (data[:20], ctype)
                assert body["error"] in code.split("|") and body["reason"].startswith(body["error"])
                if path == "/v1/check-order":
                    assert body["allow"] is False
            assert c.view.calls == []
            # utf-8 declared explicitly is fine
            status, _, _ = await c.request("POST", "/v1/check-order", data=json.dumps(ORDER).encode(),
                                           headers={"Content-Type": "application/json; charset=UTF-8"})
            assert status == 200
    run(main())


def test_check_order_fields_are_validated_by_the_gate_rules():
    bad = [{**ORDER, "colour": "red"}, {**ORDER, "amount": -1}, {**ORDER, "amount": "1"}, {**ORDER, "side": "hold"},
           {k: v for k, v in ORDER.items() if k != "symbol"}, {"symbol": "BTCUSDT", "side": "buy", "amount": 1},
           {**ORDER, "reduce_only": "yes"}, {**ORDER, "price": 0}]

    async def main():
        async with serve() as c:
            for req in bad:
                status, body, _ = await c.post("/v1/check-order", req, auth=None)
                assert status == 400 and body["allow"] is False and body["error"] == "BAD_REQUEST", req
                assert len(body["reason"]) > len("BAD_REQUEST: ")
            status, body, _ = await c.post("/v1/check-order", {**ORDER, "colour": "red"}, auth=None)
            assert "unknown field" in body["reason"] and "'colour'" in body["reason"]
            assert c.view.calls == []
    run(main())


def test_reset_and_close_fields_are_validated():
    resets = [({**RESET, "extra": 1}, "unknown field"),
              ({k: v for k, v in RESET.items() if k != "reason"}, "missing field"),
              ({**RESET, "policy": ""}, '"policy"'), ({**RESET, "scope": "   "}, '"scope"'),
              ({**RESET, "approver": 7}, '"approver"'), ({**RESET, "reason": None}, '"reason"'),
              ({**RESET, "reason": "r" * 501}, "longer than 500"), ({**RESET, "scope": "a\nb"}, "one line"),
              ({**RESET, "scope": "s" * 257}, "longer than 256")]
    closes = [({**CLOSE, "dry_run": "true"}, '"dry_run"'), ({**CLOSE, "dry_run": 0}, '"dry_run"'),
              ({k: v for k, v in CLOSE.items() if k != "dry_run"}, "missing field"),
              ({**CLOSE, "scope": ["a"]}, '"scope"'), ({**CLOSE, "force": True}, "unknown field"),
              ({**CLOSE, "reason": ""}, '"reason"')]

    async def main():
        async with serve() as c:
            for path, cases in (("/v1/reset", resets), ("/v1/close", closes)):
                for body, words in cases:
                    status, answer, _ = await c.post(path, body)
                    assert status == 400 and answer["error"] == "BAD_REQUEST", body
                    assert words in answer["reason"], (answer, words)
            status, answer, _ = await c.post("/v1/heartbeat/bot", {"at": 1})
            assert status == 400 and "unknown field" in answer["reason"]
            assert c.view.calls == []
    run(main())


@pytest.mark.parametrize("source", ["", "a" * 65, "bad source", "semi;colon", "sl%2Fash", "a/b", "ünï", "%00",
                                    "tab%09"])
def test_bad_source_names_are_400(source):
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("POST", "/v1/heartbeat/" + quote(source, safe="/%"),
                                              auth=_auth("token"), encoded=True)
            assert status == 400 and body["error"] == "BAD_SOURCE" and "source" in body["reason"]
            assert c.view.calls == []
    run(main())


def test_a_64_character_source_is_fine():
    async def main():
        async with serve() as c:
            source = (string.ascii_letters + string.digits + "._-")[:64]
            assert (await c.post("/v1/heartbeat/" + source))[0] == 204
            assert c.view.calls == [("heartbeat", (source, None))]
    run(main())


@pytest.mark.parametrize("path,body,words", [
    ("/v1/lock", {**LOCK, "mode": "active"}, '"mode"'),
    ("/v1/lock", {**LOCK, "mode": None}, '"mode"'),
    ("/v1/lock", {**LOCK, "ttl_s": 0}, '"ttl_s"'),
    ("/v1/lock", {**LOCK, "ttl_s": -5}, '"ttl_s"'),
    ("/v1/lock", {**LOCK, "ttl_s": "6h"}, '"ttl_s"'),
    ("/v1/lock", {**LOCK, "ttl_s": True}, '"ttl_s"'),
    ("/v1/lock", {**LOCK, "ttl_s": 10**400}, '"ttl_s"'),
    ("/v1/lock", {**LOCK, "ttl_s": 31 * 86_400}, "at most 2592000, not 2678400"),
    ("/v1/lock", {k: v for k, v in LOCK.items() if k != "reason"}, "missing field(s) reason"),
    ("/v1/lock", {**LOCK, "scope": ""}, '"scope"'),
    ("/v1/lock", {**LOCK, "by": "alice"}, "unknown field"),
    ("/v1/lock", {**LOCK, "enforce": True}, '"enforce" must be an object'),
    ("/v1/lock", {**LOCK, "enforce": {"cancel": "no"}}, '"enforce.cancel"'),
    ("/v1/lock", {**LOCK, "enforce": {"revert": False}}, "unknown field"),
    ("/v1/unlock", {**UNLOCK, "mode": "halted"}, "unknown field"),
    ("/v1/unlock", {"scope": "binance/main"}, "missing field(s) reason"),
    ("/v1/dms/arm", {**ARM, "timeout_s": 0}, '"timeout_s"'),
    ("/v1/dms/arm", {**ARM, "timeout_s": 8 * 86_400}, '"timeout_s"'),
    ("/v1/dms/arm", {**ARM, "timeout_s": "300s"}, '"timeout_s"'),
    ("/v1/dms/arm", {**ARM, "source": "bad source"}, '"source"'),
    ("/v1/dms/arm", {**ARM, "source": "a" * 65}, '"source"'),
    ("/v1/dms/arm", {"source": "bot-a"}, "missing field(s) timeout_s"),
    ("/v1/dms/disarm", {"source": 7}, '"source"'),
    ("/v1/dms/disarm", {**DISARM, "timeout_s": 1}, "unknown field"),
])
def test_lock_and_dms_fields_are_validated(path, body, words):
    async def main():
        async with serve() as c:
            status, answer, _ = await c.post(path, body)
            assert status == 400 and answer["error"] == ("BAD_SOURCE" if words == '"source"' else "BAD_REQUEST"), answer
            assert words in answer["reason"], (answer, words)
            assert c.view.calls == []
    run(main())
