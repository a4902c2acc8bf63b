"""Who may call what: the routes (405 with ``Allow``, 404 in JSON) and the bearer token (401,
403 without one, compared in constant time, never printed)."""

from __future__ import annotations

import hmac

import pytest
from multidict import CIMultiDict

from adapters.credentials import Secret
from killswitch.face.api.api import make_app

from ..rig import MUTATIONS, ORDER, RESET, TOKEN, FakeView, _auth, run, serve

# --- routing -------------------------------------------------------------------------------------------


def test_wrong_method_is_405_and_unknown_path_is_404_json():
    async def main():
        async with serve() as c:
            for method, path in (("POST", "/healthz"), ("DELETE", "/v1/status"), ("GET", "/v1/reset"),
                                 ("PUT", "/v1/close"), ("GET", "/v1/heartbeat/bot"), ("DELETE", "/v1/lock"),
                                 ("GET", "/v1/unlock"), ("POST", "/v1/dms"), ("GET", "/v1/dms/arm"),
                                 ("POST", "/v1/close/manual%2Fa%2Fm1")):
                status, body, resp = await c.request(method, path, auth=_auth("token"))
                assert status == 405 and body["error"] == "METHOD_NOT_ALLOWED", (method, path)
                assert "Allow" in resp.headers and resp.headers["Cache-Control"] == "no-store"
            status, body, _ = await c.request("GET", "/v1/check-order")
            assert status == 405 and body["allow"] is False
            # "/" is the console (tests/unit/face/console/test_console.py)
            for path in ("/v2/status", "/healthz/", "/v1/heartbeat", "/admin", "/v1/dms/", "/v1/close/"):
                status, body, resp = await c.request("GET", path)
                assert status == 404 and body == {"error": "NOT_FOUND", "reason": "NOT_FOUND"}, path
                assert resp.headers["Cache-Control"] == "no-store"
            assert c.view.calls == []
    run(main())


# --- authentication ------------------------------------------------------------------------------------


def test_missing_and_wrong_tokens_are_401_and_reach_nothing():
    async def main():
        async with serve() as c:
            for path, body in MUTATIONS:
                status, answer, resp = await c.post(path, body, auth=None)
                assert status == 401 and answer["error"] == "AUTH_REQUIRED", path
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                for bad in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN,
                            "Bearer wrong", f"Bearer {TOKEN.upper()}"):
                    status, answer, _ = await c.post(path, body, auth=bad)
                    assert status == 401 and answer["error"] == "AUTH_INVALID", (path, bad)
                status, _, _ = await c.post(path, body, auth=f"bearer {TOKEN}")  # the scheme is case-blind
                assert status in (200, 202, 204), path
            assert c.view.names() == ["heartbeat", "reset", "close", "lock_scope", "unlock_scope", "dms_arm",
                                      "dms_disarm"]
    run(main())


def test_two_authorization_headers_are_refused():
    async def main():
        async with serve() as c:
            h = CIMultiDict([("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer x")])
            async with c.session.post(c.base + "/v1/heartbeat/bot", headers=h) as resp:
                assert resp.status == 401 and (await resp.json())["error"] == "AUTH_INVALID"
            assert c.view.calls == []
    run(main())


def test_unauthenticated_requests_are_refused_before_the_body_is_read():
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("POST", "/v1/reset", data=b"{not json", auth=None,
                                              headers={"Content-Type": "text/plain"})
            assert status == 401 and body["error"] == "AUTH_REQUIRED"
            status, body, _ = await c.request("POST", "/v1/close", data=b"x" * 100_000, auth="Bearer nope")
            assert status == 401 and body["error"] == "AUTH_INVALID"
    run(main())


def test_a_secret_token_works_like_a_string():
    async def main():
        async with serve(token=Secret(TOKEN)) as c:
            assert (await c.post("/v1/heartbeat/bot"))[0] == 204
            assert (await c.post("/v1/heartbeat/bot", auth="Bearer nope"))[0] == 401
    run(main())


def test_the_token_is_compared_with_hmac_compare_digest(monkeypatch):
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)

    async def main():
        async with serve() as c:
            assert (await c.post("/v1/heartbeat/bot"))[0] == 204
            assert (await c.post("/v1/heartbeat/bot", auth="Bearer wrong"))[0] == 401
            assert (await c.post("/v1/reset", RESET, auth="Bearer wrong"))[0] == 401
        # the three requests' tokens, and the refused reset's two typed values (policy, scope),
        # each checked for being a token before the audit row names it as its target
        assert len(seen) == 5
        assert all(isinstance(a, bytes) and isinstance(b, bytes) and len(a) == len(b) for a, b in seen)
        assert all(TOKEN.encode() not in a + b for a, b in seen)  # digests, not the token itself
    run(main())


def test_compare_digest_alone_decides(monkeypatch):
    # If compare_digest says yes, the API says yes: no other comparison sits beside it.
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)

    async def main():
        async with serve() as c:
            assert (await c.post("/v1/heartbeat/bot", auth="Bearer anything"))[0] == 204
    run(main())


@pytest.mark.parametrize("token", [None, "", Secret("")])
def test_without_a_token_mutations_are_disabled(token):
    async def main():
        async with serve(token=token) as c:
            for path, body in MUTATIONS:
                for auth in (None, "token", "Bearer ", "Bearer anything"):
                    status, answer, _ = await c.post(path, body, auth=auth)
                    assert status == 403 and answer["error"] == "MUTATIONS_DISABLED", (path, auth)
            # what bots read, check-order included, still works; the reads that show the book
            # are the console's, shown to no one without a token or --console-public
            assert (await c.get("/v1/lock"))[0] == 200
            assert (await c.post("/v1/check-order", ORDER, auth=None))[0] == 200
            assert (await c.get("/v1/dms"))[0] == 200
            for path in ("/v1/status", "/v1/close/manual%2Fa%2Fm1", "/v1/runbooks/d-1"):
                status, answer, _ = await c.get(path)
                assert status == 403 and answer["error"] == "CONSOLE_CLOSED", path
            assert c.view.names() == ["lock_document", "check_order", "dms_status"]
    run(main())


def test_make_app_refuses_a_token_it_could_never_match():
    for bad in (" padded ", "two words", "line\nbreak"):
        with pytest.raises(ValueError):
            make_app(FakeView(), token=bad)
    with pytest.raises(TypeError):
        make_app(FakeView(), token=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_app(FakeView(), token=TOKEN, max_body_bytes=0)


def test_the_token_never_prints():
    app = make_app(FakeView(), token=TOKEN)
    for value in app.router.routes():
        handler = value.handler  # a bound method, or the handler an operation's entry made (what it closes over)
        held = [handler.__self__] if hasattr(handler, "__self__") else [c.cell_contents for c in handler.__closure__]
        assert TOKEN not in repr([getattr(h, "__dict__", h) for h in held])
