"""An operator's unlock while a policy also holds the scope while blind (``spec.while_blind``):
the operator's halt is lifted, the policy's hold stays, and the answer names it truly (what it
is and that it ends when the scope is armed again), never as a stage waiting for a reset."""

from __future__ import annotations

import asyncio

import aiohttp

from killswitch.face.api.api import make_app, start_api, stop_api
from tests.integration.runner.rig import POLICY, setup
from tests.integration.runner.test_api import ALICE, PEOPLE
from tests.unit.engine_helpers import compile_graph

ACCOUNT = "simulated/sim-main"
WHILE_BLIND = POLICY.replace("  unwind: {chunk_notional: 200k}\n",
                             "  unwind: {chunk_notional: 200k}\n  while_blind: {lock_trading: reducing}\n")
HOLDS = "reducing by policy crash-ladder while blind until the scope is armed again (spec.while_blind; expected at "


def test_unlock_lifts_the_operators_halt_and_names_the_while_blind_hold_that_stays(tmp_path):
    assert "while_blind" in WHILE_BLIND
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=compile_graph(WHILE_BLIND, "p.yaml"))

    async def go():
        await runner.start()
        await runner.tick()  # blind: the window is still filling, the policy holds the account reducing
        site, url = await start_api(make_app(desk, tokens=PEOPLE))
        auth = {"Authorization": f"Bearer {ALICE}"}
        try:
            async with aiohttp.ClientSession() as http:
                async def post(path, body):
                    async with http.post(url + path, json=body, headers=auth) as r:
                        return r.status, await r.json()

                async def lock():
                    async with http.get(url + "/v1/lock?scope=" + ACCOUNT) as r:
                        return await r.json()

                assert (await lock())["mode"] == "reducing"
                st, body = await post("/v1/lock", {"scope": ACCOUNT, "mode": "halted", "reason": "bot ignores limits"})
                assert st == 200 and body["done"], body
                assert (await lock())["mode"] == "halted"
                st, preview = await post("/v1/preview/unlock", {"scope": ACCOUNT, "reason": "handled"})
                assert st == 200 and preview["allowed"], preview
                st, body = await post("/v1/unlock", {"scope": ACCOUNT, "reason": "handled"})
                after = await lock()
                st2, again = await post("/v1/unlock", {"scope": ACCOUNT, "reason": "again"})
                return preview, st, body, after, st2, again
        finally:
            await stop_api(site)
            await runner.aclose()

    preview, st, body, after, st2, again = asyncio.run(go())
    assert st == 200 and body["done"], body
    assert body["reason"].startswith(f"UNLOCKED: {ACCOUNT} (operator lock lifted); {ACCOUNT} stays {HOLDS}"), body
    assert preview["reason"] == body["reason"], preview
    assert (after["mode"], after["policy"]) == ("reducing", "crash-ladder"), after
    # nothing of the operator's left to lift: refused, naming what holds it, not "stage 0 … until its stage resets"
    assert st2 == 409 and not again["done"], again
    assert again["reason"].startswith(f"POLICY_LOCK: no operator or dead man's switch lock on {ACCOUNT}; it is {HOLDS}")
    for text in (body["reason"], again["reason"]):
        assert "stage 0" not in text and "stage resets" not in text, text
    store.close()
