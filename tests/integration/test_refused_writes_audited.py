"""Every refused operator write is audited with its author and code, one rule for every verb:
refused before any command (no role, a refused token) by the API, bounded against a flood;
refused by its command (an unknown incident, no revoke to restore, no rejected close) by the
command. The closure report's *Operator actions* lists each."""

from __future__ import annotations

import asyncio

import aiohttp

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runbooks.operator_actions import operator_actions
from tests.integration.runner.rig import TICK_MS, setup
from tests.integration.runner.test_api import ALICE, BOB, PEOPLE

ACCOUNT = "simulated/sim-main"


def test_refused_writes_of_every_verb_are_audited_with_their_author_and_reported(tmp_path):
    runner, engine, clock, store, _, desk = setup(tmp_path)

    async def go():
        await runner.start()
        for _ in range(3):
            clock.advance(TICK_MS)
            await runner.tick()
        site, url = await start_api(make_app(desk, tokens=PEOPLE))
        as_alice, as_bob = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
        answers = []
        try:
            async with aiohttp.ClientSession() as http:
                async def post(path, body, headers):
                    async with http.post(url + path, json=body, headers=headers) as r:
                        answers.append((path, r.status, (await r.json())["reason"].split(":")[0]))

                # an approver trying an operator's writes: refused before any command
                await post("/v1/lock", {"scope": ACCOUNT, "reason": "halt"}, as_bob)
                await post("/v1/lock", {"scope": ACCOUNT, "reason": "halt, again"}, as_bob)  # folded: same action
                await post("/v1/unlock", {"scope": ACCOUNT, "reason": "go"}, as_bob)
                await post("/v1/close-rejections/accept", {"account": ACCOUNT, "reason": "flat"}, as_bob)
                await post("/v1/lock", {"scope": ACCOUNT, "reason": "x"}, {"Authorization": "Bearer wr0ng-t0ken"})
                # a token typed where a target goes is never named: the caller's own, or one the runner knows
                await post("/v1/dms/arm", {"source": BOB, "timeout_s": 60}, as_bob)
                await post("/v1/silences", {"matchers": [ALICE], "duration_s": 60, "comment": "x"}, as_bob)
                # refused by the command itself
                await post("/v1/revoke/restore", {"scope": ACCOUNT, "reason": "back"}, as_bob)
                await post("/v1/close-rejections/accept", {"account": ACCOUNT, "reason": "flat"}, as_alice)
                await post("/v1/ack", {"policy": "crash-ladr", "scope": ACCOUNT}, as_alice)
                await post("/v1/close", {"scope": ACCOUNT, "reason": "flat", "dry_run": False}, as_alice)
                await post("/v1/dms/disarm", {"source": "bot-x"}, as_alice)
                await post("/v1/silences/expire", {"id": "0123456789ab"}, as_alice)
                for _ in range(100):  # the API's rows are written beside the answer
                    if len(store.audit_rows(kinds=["api_write_refused"])) >= 6:
                        break
                    await asyncio.sleep(0.02)
        finally:
            await stop_api(site)
            await runner.aclose()
        return answers

    answers = asyncio.run(go())
    assert [a[1:] for a in answers] == [
        (403, "ROLE_REQUIRED"), (403, "ROLE_REQUIRED"), (403, "ROLE_REQUIRED"), (403, "ROLE_REQUIRED"),
        (401, "AUTH_INVALID"), (403, "ROLE_REQUIRED"), (403, "ROLE_REQUIRED"), (409, "NOT_REVOKED"),
        (404, "UNKNOWN_REJECTION"), (404, "UNKNOWN_POLICY"),
        (409, "PREVIEW_REQUIRED"), (409, "NOT_ARMED"), (404, "UNKNOWN_SILENCE")], answers
    rows = store.audit_rows()
    refused = [(r.kind, r.payload.get("by") or r.payload.get("approver"), str(r.payload.get("refused")).split(":")[0])
               for r in rows if r.payload.get("refused")]
    assert sorted(refused, key=str) == sorted([
        ("api_write_refused", "bob", "ROLE_REQUIRED"),  # lock (its second try folded into the next row)
        ("api_write_refused", "bob", "ROLE_REQUIRED"),  # unlock
        ("api_write_refused", "bob", "ROLE_REQUIRED"),  # close accept
        ("api_write_refused", None, "AUTH_INVALID"),
        ("api_write_refused", "bob", "ROLE_REQUIRED"),  # dms arm
        ("api_write_refused", "bob", "ROLE_REQUIRED"),  # silence
        ("trading_restore_approval", "bob", "NOT_REVOKED"),
        ("close_rejection_accepted", "alice", "UNKNOWN_REJECTION"),
        ("incident_acknowledged", "alice", "UNKNOWN_POLICY"),
        ("manual_close_refused", "alice", "PREVIEW_REQUIRED"),
        ("dms_disarmed", "alice", "NOT_ARMED"),
        ("silence_expired", "alice", "UNKNOWN_SILENCE")], key=str), refused
    api = {r.payload["action"]: r.payload for r in rows if r.kind == "api_write_refused" and r.payload["by"]}
    assert set(api) == {"lock", "unlock", "close accept", "dms arm", "silence"}
    assert api["lock"]["route"] == "POST /v1/lock" and api["lock"]["refused"].startswith("ROLE_REQUIRED: bob ")
    # what the person typed is named (walk 9 of issue 65: the route alone said nothing of it)
    assert (api["lock"]["target"], api["close accept"]["target"]) == (f"scope={ACCOUNT}", f"account={ACCOUNT}"), api
    assert "target" not in api["dms arm"] and "target" not in api["silence"], api  # tokens: never named
    assert ALICE not in str([r.payload for r in rows]) and BOB not in str([r.payload for r in rows])
    assert "wr0ng" not in str([r.payload for r in rows])  # a refused token is never quoted
    # the report's operator actions: each refused attempt, its author and code
    actions = operator_actions(rows, clock() + 1, lambda seq: True, {}, {})
    shown = {(a["action"], a["by"], a["outcome"]) for a in actions if a["outcome"].startswith("refused")}
    assert {(a["action"], a["target"]) for a in actions if a["by"] == "bob" and a["kind"] == "api_write_refused"} \
        >= {("lock", f"scope={ACCOUNT} (POST /v1/lock)"),
            ("close accept", f"account={ACCOUNT} (POST /v1/close-rejections/accept)")}, actions
    assert {("lock", "bob", "refused: ROLE_REQUIRED"), ("unlock", "bob", "refused: ROLE_REQUIRED"),
            ("close accept", "bob", "refused: ROLE_REQUIRED"),
            ("lock", "no identity (127.0.0.1)", "refused: AUTH_INVALID"),
            ("restore approval", "bob", "refused: NOT_REVOKED"),
            ("close accept", "alice", "refused: UNKNOWN_REJECTION"),
            ("ack", "alice", "refused: UNKNOWN_POLICY"), ("close", "alice", "refused: PREVIEW_REQUIRED"),
            ("dms disarm", "alice", "refused: NOT_ARMED"),
            ("silence expired", "alice", "refused: UNKNOWN_SILENCE")} <= shown, shown
    store.close()


def test_a_flood_of_refused_writes_writes_at_most_ten_rows_a_minute_and_counts_the_rest():
    from killswitch.face.api.refused_writes import RefusedWrites

    now = [0.0]
    ledger = RefusedWrites(None, clock=lambda: now[0])

    def note(by, path="/v1/lock"):
        return ledger.note(by=by, source="10.0.0.9", method="POST", path=path, code="ROLE_REQUIRED", reason="no")

    rows = [note(f"bot-{i}") for i in range(12)] + [note("bot-0") for _ in range(5)]
    assert sum(r is not None for r in rows) == 10 and ledger.folded == 7
    assert note("anyone", path="/v1/ack") is None  # the window's ten are spent, whatever the action
    now[0] += 60
    again = note("bot-0")
    assert again is not None and again["folded_since_last_row"] == 5 and again["action"] == "lock"
    assert ledger.note(by="x", source="s", method="POST", path="/v1/lock", code="AUDIT_SINK_DOWN", reason="") is None


def test_a_mistyped_reset_is_a_reset_attempt_in_the_report(tmp_path):
    """A reset of a scope or policy the runner does not know is refused and audited as every
    other reset attempt is: the closure report's *Reset attempts* lists it with its answer."""
    from killswitch.runbooks.report import closure_report

    runner, engine, clock, store, _, desk = setup(tmp_path)

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        typo = await desk.reset("crash-ladder", "simulated/sim-mian", "alice", "typo")
        unknown = await desk.reset("crash-ladr", ACCOUNT, "alice", "typo")
        await runner.aclose()
        return typo, unknown

    typo, unknown = asyncio.run(go())
    assert not typo.done and typo.reason.startswith("UNKNOWN_SCOPE: "), typo
    assert not unknown.done and unknown.reason.startswith("UNKNOWN_POLICY: "), unknown
    resets = closure_report(store, 0, clock() + 1, clock() + 1)["resets"]
    assert [(r["policy"], r["scope"], r["approver"], r["level"], r["result"]) for r in resets] == [
        ("crash-ladder", "simulated/sim-mian", "alice", 0, typo.reason),
        ("crash-ladr", ACCOUNT, "alice", 0, unknown.reason)], resets
    store.close()
