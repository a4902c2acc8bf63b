"""A heartbeat's source through the API of a real runner: a path's name (``%2e%2e``) is refused
and stored nowhere; so is a well-formed source that no policy, armed dead man's switch or
Accounts document names (404 ``UNKNOWN_SOURCE``, with the names it resembles): a typo is not a
new strategy, and the bot hears that its beats go nowhere."""

from __future__ import annotations

import asyncio

import aiohttp
import yarl

from killswitch.face.api.api import make_app, start_api, stop_api
from tests.integration.runner.rig import TICK_MS, parts_of, setup

TOKEN = "t0ken-for-heartbeat-tests"


def test_a_source_of_dots_or_one_nothing_names_is_refused_and_an_armed_one_is_taken(tmp_path):
    runner, engine, clock, store, _, desk = setup(tmp_path)
    parts = parts_of(runner)
    answers: dict[str, tuple[int, object]] = {}

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        site, url = await start_api(make_app(desk, token=TOKEN))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(url + "/v1/dms/arm", json={"source": "strategy-a", "timeout_s": 600},
                                     headers=auth) as r:
                    assert r.status == 200
                for source in ("%2e%2e", "%2E", "..%2F..", "strategy-z", "strategy-a"):
                    async with http.post(yarl.URL(url + "/v1/heartbeat/" + source, encoded=True), headers=auth) as r:
                        answers[source] = (r.status, await r.json() if r.status != 204 else None)
                async with http.post(url + "/v1/dms/arm", json={"source": "..", "timeout_s": 60}, headers=auth) as r:
                    answers["arm .."] = (r.status, await r.json())
        finally:
            await stop_api(site)
        clock.advance(TICK_MS)
        await runner.tick()

    asyncio.run(asyncio.wait_for(go(), 60))
    for source in ("%2e%2e", "%2E", "..%2F..", "arm .."):
        status, body = answers[source]
        assert status == 400 and body["error"] == "BAD_SOURCE", (source, body)
    status, body = answers["strategy-z"]
    assert status == 404 and body["error"] == "UNKNOWN_SOURCE", body
    assert body["reason"] == ("UNKNOWN_SOURCE: 'strategy-z' is not named by a policy (heartbeat_age source, scope "
                              "strategies), an armed dead man's switch or the Accounts document; did you mean "
                              "'strategy-a'?")
    assert answers["strategy-a"] == (204, None)
    heard = set(parts.book.state.heartbeats) | set(parts.book.dms.sources)
    assert heard == {"strategy-a"}, heard
    assert "strategy-z" not in parts.known.catalog().strategies and ".." not in parts.known.catalog().strategies


def test_disarming_a_source_that_is_not_armed_names_the_armed_ones_it_resembles(tmp_path):
    runner, engine, clock, store, _, desk = setup(tmp_path)

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        assert (await desk.dms_arm("strategy-z", 60)).done
        return await desk.dms_disarm("strategy-y"), await desk.dms_disarm("unrelated")

    typo, other = asyncio.run(asyncio.wait_for(go(), 60))
    assert not typo.done and typo.reason == "NOT_ARMED: source strategy-y is not armed; did you mean 'strategy-z'?"
    assert other.reason == "NOT_ARMED: source unrelated is not armed"
