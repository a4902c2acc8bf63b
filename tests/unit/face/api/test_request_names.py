"""Names taken from a path or a body (killswitch/face/request.py): read after URL decoding,
refused with a reason code when they are a path's (``.``, ``..``), hold a ``/`` or a control
character, or leave the alphabet; nothing reaches the view. Against the fake view of
tests/integration/runner/test_api.py, served for real on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.unit.face.api.rig import ARM, _auth, run, serve

DOTS = ["%2e%2e", "%2E%2E", "..", ".", "...", "%2e", ".%2e", "%2e%2e%2e%2e"]


@pytest.mark.parametrize("source", DOTS + ["a%2Fb", "%2e%2e%2Fx", "a%00", "a%0Db", "a%7f", "%20a", "b%C3%BCt"])
def test_a_heartbeat_source_of_dots_slashes_or_control_characters_is_refused(source):
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("POST", "/v1/heartbeat/" + source, auth=_auth("token"), encoded=True)
            assert (status, body["error"]) == (400, "BAD_SOURCE"), body
            assert body["reason"].startswith("BAD_SOURCE: a source is 1 to 64 of A-Z a-z 0-9 . _ - and not only dots")
            assert c.view.calls == []
    run(main())


@pytest.mark.parametrize("source", ["bot.1", ".hidden", "a..b", "strategy-a", "_x"])
def test_a_source_with_dots_among_other_characters_is_fine(source):
    async def main():
        async with serve() as c:
            assert (await c.post("/v1/heartbeat/" + source))[0] == 204
            assert c.view.calls == [("heartbeat", (source, None))]
    run(main())


@pytest.mark.parametrize("path,body", [
    ("/v1/dms/arm", {**ARM, "source": ".."}), ("/v1/dms/arm", {**ARM, "source": "."}),
    ("/v1/dms/disarm", {"source": "..."}), ("/v1/dms/disarm", {"source": "a/b"})])
def test_a_dead_mans_switch_source_follows_the_same_rules(path, body):
    async def main():
        async with serve() as c:
            status, answer, _ = await c.post(path, body)
            assert (status, answer["error"]) == (400, "BAD_SOURCE"), answer
            assert answer["reason"].startswith('BAD_SOURCE: "source" is 1 to 64 of')
            assert c.view.calls == []
    run(main())


@pytest.mark.parametrize("route", ["/v1/close/", "/v1/runbooks/"])
@pytest.mark.parametrize("name", ["%2e%2e", "manual%2F..%2Fm1", "manual%2F%2Fm1", "%2Fmanual", "manual%2F.",
                                  "a%00b", "a%0Db", "%20a"])
def test_an_id_in_the_path_has_no_empty_or_all_dots_part_and_no_control_character(route, name):
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("GET", route + name, auth=_auth("token"), encoded=True)
            assert (status, body["error"]) == (400, "BAD_NAME"), body
            assert c.view.calls == []
    run(main())


def test_ids_made_of_scopes_still_resolve():
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("GET", "/v1/close/manual%2Fbinance%2Fmain%2Fm1", auth=_auth("token"),
                                              encoded=True)
            assert status == 200 and body["id"] == "manual/binance/main/m1"
            status, body, _ = await c.request("GET", "/v1/close/manual%2FBTC%2FUSDT:USDT%2Fm1.5",
                                              auth=_auth("token"), encoded=True)
            assert status == 200 and body["id"] == "manual/BTC/USDT:USDT/m1.5"
    run(main())


@pytest.mark.parametrize("path", ["/v1/heartbeat/a%0Ab", "/v1/close/a%0Ab", "/v1/runbooks/a%0A"])
def test_a_newline_in_a_path_matches_no_route(path):
    async def main():
        async with serve() as c:
            status, body, _ = await c.request("POST" if "heartbeat" in path else "GET", path, auth=_auth("token"),
                                              encoded=True)
            assert (status, body["error"]) == (404, "NOT_FOUND"), body
            assert c.view.calls == []
    run(main())
