"""The console's routes, who may see them, what they render and what the previews answer,
against a real runner on the simulated exchange (manual clock), served on 127.0.0.1 and called
with an aiohttp client. The browser tests (tests/browser) drive the same page in chromium."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Optional

import aiohttp
import pytest

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.console.model import age_text, origin_of, runbook_href
from killswitch.runner.lock.lock import DEAD_MANS_SWITCH, OPERATOR
from tests.unit.engine_helpers import guard_policy
from tests.unit.runner.operator.rig import ACCOUNT, TICK_MS, make

GUARD2 = guard_policy(approvals=2)
ALICE, BOB, VERA, BOTTY = "alice-unit-t0ken", "bob-unit-t0ken", "vera-unit-t0ken", "botty-unit-t0ken"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["approver"], "sha256": token_digest(BOB)},
    {"identity": "vera", "roles": ["viewer"], "sha256": token_digest(VERA)},
    {"identity": "botty", "roles": ["bot"], "sha256": token_digest(BOTTY)}]})
SECRETS = (ALICE, BOB, VERA, BOTTY)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


class Api:
    """The runner ``w`` behind its API; ``get``/``post`` answer (status, body, headers)."""

    def __init__(self, w: Any, **app_kw: Any):
        self.w, self.app_kw = w, app_kw
        self.bodies: list[str] = []

    async def __aenter__(self) -> "Api":
        self.site, self.url = await start_api(make_app(self.w.desk, **{"tokens": PEOPLE, **self.app_kw}))
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.http.close()
        await stop_api(self.site)
        for body in self.bodies:  # no response ever carries a token
            assert not any(s in body for s in SECRETS)

    async def send(self, method: str, path: str, token: Optional[str], body: Any = None) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.url + path, headers=headers,
                                     json=body if body is not None else None) as r:
            text = await r.text()
        self.bodies.append(text)
        doc = json.loads(text) if r.content_type == "application/json" else text
        return r.status, doc, r.headers

    async def get(self, path: str, token: Optional[str] = None) -> tuple[int, Any, Any]:
        return await self.send("GET", path, token)

    async def post(self, path: str, body: dict, token: Optional[str] = ALICE) -> tuple[int, Any, Any]:
        return await self.send("POST", path, token, body)


async def ticks(w: Any, n: int, beat: tuple[str, ...] = ()) -> None:
    for _ in range(n):
        w.clock.advance(TICK_MS)
        for s in beat:
            await w.desk.heartbeat(s)
        await w.runner.tick()


async def latched(w: Any) -> None:
    """bot-x beats once, then stays silent past a minute: bot-guard halts the account (stage 1,
    two approvals)."""
    await w.runner.start()
    await ticks(w, 1, ("bot-x",))
    await ticks(w, 13)
    assert w.desk.status().scopes[0].stage == 1


# --- the page model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0, "0s"), (59.4, "59s"), (60, "1m"), (200, "3m 20s"),
                                           (3600, "1h"), (7500, "2h 5m"), (86_400 + 3 * 3600, "1d 3h")])
def test_ages_read_as_a_person_reads_them(seconds, text):
    assert age_text(seconds) == text


def test_a_lock_names_who_placed_it_and_a_runbook_link_quotes_the_incident():
    assert origin_of(OPERATOR, None) == "operator"
    assert origin_of(DEAD_MANS_SWITCH, None) == "dead man's switch"
    assert origin_of("bot-guard", 1) == "policy bot-guard stage 1"
    assert runbook_href("p/binanceusdm/main/L3/e2") == "/v1/runbooks/p%2Fbinanceusdm%2Fmain%2FL3%2Fe2?format=html"


# --- who sees what -------------------------------------------------------------------------------------


def test_the_console_shows_the_runner_only_to_a_token_holder_unless_public(tmp_path):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await latched(w)
        async with Api(w) as api:
            st, page, headers = await api.get("/")
            assert st == 200 and "killswitch console" in page and ACCOUNT not in page  # a shell only
            assert "script-src 'self'" in headers["Content-Security-Policy"] and "<script>" not in page
            assert headers["Cache-Control"] == "no-store"
            for path in ("/console/view", "/v1/triggers", "/v1/incidents"):
                assert (await api.get(path))[0] == 401, path
                assert (await api.get(path, BOTTY))[1]["error"] == "ROLE_REQUIRED", path  # a bot reads nothing
                st, body, _ = await api.get(path, VERA)
                assert st == 200 and ACCOUNT in (body if isinstance(body, str) else json.dumps(body)), path
            st, who, _ = await api.get("/v1/whoami", VERA)
            assert st == 200 and who == {"identity": "vera", "roles": ["viewer"]}
            assert (await api.get("/v1/whoami"))[0] == 401
            st, js, headers = await api.get("/console/static/console.js")
            assert st == 200 and headers["Content-Type"].startswith("text/javascript") and "sessionStorage" in js
            assert (await api.get("/console/static/console.css"))[0] == 200
            for path in ("/console/static/../../api.py", "/console/static/page.html.j2", "/console/static/"):
                assert (await api.get(path))[0] == 404, path
        async with Api(w, console_public=True) as api:
            st, page, _ = await api.get("/")
            assert st == 200 and ACCOUNT in page and "bot-guard/simulated/sim-main/L1/e1" in page
            assert (await api.get("/console/view"))[0] == 200
            assert (await api.get("/v1/incidents"))[0] == 200
            # public reads; the actions and their previews still need the role
            assert (await api.post("/v1/preview/lock", {"scope": ACCOUNT, "reason": "x"}, None))[0] == 401
        async with Api(w, tokens=None) as api:  # no token at all and not public: nobody sees it
            st, body, _ = await api.get("/console/view")
            assert st == 403 and body["error"] == "CONSOLE_CLOSED"

    run(go())


@pytest.mark.parametrize("path", ["/v1/preview/lock", "/v1/preview/unlock", "/v1/preview/close", "/v1/preview/reset"])
@pytest.mark.parametrize("token, status", [(None, 401), (VERA, 403), (BOTTY, 403)])
def test_a_preview_needs_the_role_of_its_action(tmp_path, path, token, status):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await w.runner.start()
        async with Api(w) as api:
            body = {"scope": ACCOUNT, "reason": "x", **({"policy": "bot-guard"} if path.endswith("reset") else {})}
            assert (await api.post(path, body, token))[0] == status

    run(go())


def test_what_a_person_typed_is_escaped_on_the_page(tmp_path):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await w.runner.start()
        await ticks(w, 2, ("bot-x",))
        async with Api(w) as api:
            evil = '<script>alert(1)</script> & "quotes" <img src=x onerror=alert(2)>'
            st, body, _ = await api.post("/v1/lock", {"scope": ACCOUNT, "reason": evil, "mode": "halted"})
            assert st == 200 and body["done"]
            st, html, _ = await api.get("/console/view", VERA)
            assert "<script>" not in html and "<img" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html

    run(go())


# --- what the views say agrees with the runner -----------------------------------------------------------


def test_triggers_show_values_against_thresholds_and_incidents_agree_with_the_store(tmp_path):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await latched(w)
        async with Api(w) as api:
            st, doc, _ = await api.get("/v1/triggers", VERA)
            [t] = doc["triggers"]
            assert t["firing"] and t["name"] == "silent" and t["when"] == "bot > 1m"
            assert t["checks"] == [{"signal": "bot", "op": ">", "threshold": "1m", "value": 65.0, "value_text": "65s",
                                    "breached": True, "reason": None, "threshold_value": 60.0}]
            assert t["as_of_ms"] == w.parts.book.state.last_tick_ms
            await api.post("/v1/reset", {"policy": "bot-guard", "scope": ACCOUNT, "reason": "looked",
                                         "confirm_relatch": True}, ALICE)
            st, doc, _ = await api.get("/v1/incidents", VERA)
            [inc] = doc["incidents"]
            assert inc["incident"] == "bot-guard/simulated/sim-main/L1/e1" and inc["kind"] == "stage"
            assert inc["approvals_needed"] == 2 and [a["approver"] for a in inc["approvals"]] == ["alice"]
            assert inc["runbook"] is False  # this runner has no runbook sink
            # a manual close: its orders as the journal holds them
            st, seen, _ = await api.post("/v1/preview/close", {"scope": ACCOUNT, "reason": "flatten"})
            st, c, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "flatten", "dry_run": False,
                                                   "preview_id": seen["preview_id"],
                                                   "max_notional": seen["max_notional"]})
            assert st == 202
            await ticks(w, 1, ("bot-x",))
            st, doc, _ = await api.get("/v1/incidents", VERA)
            close = next(i for i in doc["incidents"] if i["kind"] == "manual_close")
            journal = [e for e in w.store.journal(limit=100) if e.decision_id.startswith(c["id"])]
            assert close["incident"] == c["id"] and close["orders_total"] == len(journal) == 3
            assert close["statuses"] == {"filled": 3}
            assert sorted(o["client_order_id"] for o in close["orders"]) == sorted(e.client_order_id for e in journal)
            st, html, _ = await api.get("/console/view", VERA)
            assert "3 journaled (3 filled); 3 settled, 0 without a final result" in re.sub(r"<[^>]+>", "", html)

    run(go())


# --- previews: what the action would answer, and nothing changed -------------------------------------------


def test_previews_answer_what_the_action_then_answers_and_change_nothing(tmp_path):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await latched(w)
        async with Api(w) as api:
            audit = len(w.store.audit_rows())
            lock = w.desk.lock_document()

            async def both(path: str, body: dict, token: str = ALICE) -> tuple[dict, dict]:
                st, preview, _ = await api.post("/v1/preview/" + path, body, token)
                assert st == 200
                assert len(w.store.audit_rows()) == audit and w.desk.lock_document() == lock, "a preview changed"
                st, done, _ = await api.post("/v1/" + path, body, token)
                return preview, done

            # unlock of a scope a manual stage holds: refused, and the action says the same
            p, d = await both("unlock", {"scope": ACCOUNT, "reason": "trade"})
            assert not p["allowed"] and p["reason"] == d["reason"] and p["reason"].startswith("MANUAL_RESET_REQUIRED")
            # alice's own lock beside the stage's: the unlock lifts hers and names the stage, which stays
            st, d, _ = await api.post("/v1/lock", {"scope": ACCOUNT, "reason": "bot-x rogue"}, ALICE)
            assert d["done"], d
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            p, d = await both("unlock", {"scope": ACCOUNT, "reason": "mine is done"})
            assert p["allowed"] and d["done"] and p["reason"] == d["reason"] == (
                f"UNLOCKED: {ACCOUNT} (operator lock lifted); {ACCOUNT} stays halted by stage 1 of policy bot-guard "
                f"until a manual reset (ksctl reset --policy bot-guard --scope {ACCOUNT})"), (p, d)
            assert p["lock_before"] == p["lock_after"] == w.desk.lock_document(ACCOUNT)["mode"] == "halted"
            assert [(h.policy, h.manual) for h in w.parts.book.lock_book.holds if h.scope == ACCOUNT] == \
                [("bot-guard", True)]
            row = w.store.audit_rows()[-1]
            assert (row.kind, row.payload["lifted"], row.payload["by"]) == ("manual_unlock", ["operator"], "alice")
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            # a typo: refused with close matches, as the lock is
            p, d = await both("lock", {"scope": "simulated/sim-mian", "reason": "x"})
            assert not p["allowed"] and p["reason"] == d["reason"] and "did you mean" in p["reason"]
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            # a lock of global, for 10 minutes
            p, d = await both("lock", {"scope": "global", "reason": "drill", "mode": "reducing", "ttl_s": 600})
            assert p["allowed"] and p["reason"] == d["reason"] and d["done"]
            assert (p["lock_before"], p["lock_after"]) == ("active", "reducing")
            # in the words ksctl says it (killswitch/holds.py): active is trading allowed, never "active"
            assert p["lock_text"] == "Lock binding global: trading allowed now, reducing after.", p["lock_text"]
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            # the reset: the caller's approval; alice's is the first of two, bob's releases
            # (bot-x is still silent: the preview says the stage latches again, and the reset confirms it)
            confirmed = {"policy": "bot-guard", "scope": ACCOUNT, "reason": "ok", "confirm_relatch": True}
            p, d = await both("reset", confirmed)
            # the preview says what it would do; the result's code comes only with the answer
            assert p["reason"] == "PREVIEW: would record approval 1/2 (approvers=alice)" and p["allowed"], p
            assert d["reason"] == "APPROVAL_RECORDED: 1/2 approvers=alice"
            assert p["relatch"] and p["relatch"][0].startswith("silent was firing at the last tick (")
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            st, p, _ = await api.post("/v1/preview/reset", {"policy": "bot-guard", "scope": ACCOUNT, "reason": "a"})
            assert p["reason"].startswith("DUPLICATE_APPROVER") and not p["allowed"]
            st, p, _ = await api.post("/v1/preview/reset", {"policy": "bot-guard", "scope": ACCOUNT, "reason": "a",
                                                            "approver": "bob"}, ALICE)
            assert st == 403 and p["error"] == "APPROVER_NOT_CALLER"
            p, d = await both("reset", confirmed, BOB)
            assert p["reason"] == "PREVIEW: would reset (stage=1 approvers=alice,bob)", p
            assert d["reason"] == "MANUAL_RESET: stage=1 approvers=alice,bob" and d["done"]
            assert (p["lock_before"], p["lock_after"]) == ("halted", "reducing")  # global's operator lock stays
            assert p["lock_text"] == (f"Lock binding {ACCOUNT}: halted now, reducing after, then halted again at "
                                      "the next tick (a trigger still fires)."), p["lock_text"]
            audit, lock = len(w.store.audit_rows()), w.desk.lock_document()
            # a close: the orders the planner makes of the positions now, reduce-only
            st, p, _ = await api.post("/v1/preview/close", {"scope": ACCOUNT, "reason": "flat"})
            assert p["allowed"] and p["reason"].startswith("PREVIEW: 3 order(s) would be sent, notional ")
            assert {(o["symbol"], o["side"], o["amount"], o["reduce_only"]) for o in p["orders"]} == {
                ("BTC/USDT:USDT", "sell", 5.0, True), ("ETH/USDT:USDT", "sell", 100.0, True),
                ("SOL/USDT:USDT", "buy", 1000.0, True)}
            assert len(w.store.audit_rows()) == audit and w.store.journal(limit=10) == []
            st, d, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "flat", "dry_run": True})
            assert d["orders"] == len(p["orders"])
            st, p, _ = await api.post("/v1/preview/close", {"scope": "simulated/sim", "reason": "flat"})
            assert not p["allowed"] and p["reason"].startswith("UNKNOWN_SCOPE")

    run(go())


def test_a_standby_previews_nothing_it_could_not_do(tmp_path):
    w = make(tmp_path, text=GUARD2)

    async def go():
        await latched(w)
        w.parts.lead.leader = False
        async with Api(w) as api:
            plain = {"scope": ACCOUNT, "reason": "x"}
            for path, body in (("lock", plain), ("unlock", plain), ("close", plain),
                               ("reset", {"policy": "bot-guard", **plain})):
                st, p, _ = await api.post("/v1/preview/" + path, body)
                assert st == 200 and not p["allowed"] and p["reason"].startswith("NOT_LEADER"), (path, p)
            st, html, _ = await api.get("/console/view", VERA)
            assert re.search(r"<span class=\"pill standby\">STANDBY</span>", html)

    run(go())


def test_the_typed_client_reads_them_back_as_the_views_answered(tmp_path):
    from killswitch.client import RunnerClient, RunnerError
    from killswitch.view import ActionPreview, Caller

    w = make(tmp_path, text=GUARD2)

    async def go():
        await latched(w)
        async with Api(w) as api:
            viewer, alice = RunnerClient(api.url, VERA), RunnerClient(api.url, ALICE)
            assert await asyncio.to_thread(viewer.whoami) == Caller("vera", ("viewer",))
            assert await asyncio.to_thread(viewer.triggers) == w.desk.triggers()
            assert await asyncio.to_thread(viewer.incidents) == await w.desk.incidents()
            preview = await asyncio.to_thread(alice.preview, "unlock", {"scope": ACCOUNT, "reason": "x"})
            assert isinstance(preview, ActionPreview) and preview == w.desk.preview_unlock(ACCOUNT)
            with pytest.raises(RunnerError) as e:
                await asyncio.to_thread(viewer.preview, "lock", {"scope": ACCOUNT, "reason": "x"})
            assert e.value.code == "ROLE_REQUIRED"
            with pytest.raises(RunnerError) as e:
                await asyncio.to_thread(RunnerClient(api.url).incidents)
            assert e.value.code == "AUTH_REQUIRED"

    run(go())


def test_the_console_shows_what_broke_a_lock_at_the_venue(tmp_path):
    """A rogue entry under an operator's halt, cancelled by the venue watch: the console's "Lock
    violations" section names it, its strategy (the adapter's prefix map) and what was done."""
    w = make(tmp_path, text=GUARD2)

    async def go():
        await w.runner.start()
        await ticks(w, 2, ("bot-x",))
        async with Api(w) as api:
            st, body, _ = await api.post("/v1/lock", {"scope": ACCOUNT, "reason": "desk halt", "mode": "halted"})
            assert st == 200 and body["done"]
            st, html, _ = await api.get("/console/view", VERA)
            assert "Lock violations" not in html  # nothing broke it yet
            await ticks(w, 1, ("bot-x",))
            w.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                                 client_order_id="bot-a-rogue-1")
            await ticks(w, 1, ("bot-x",))
            st, html, _ = await api.get("/console/view", VERA)
            assert st == 200 and "Lock violations" in html
            row = html[html.index('id="h-violations"'):]
            assert "bot-a-rogue-1" in row and ">bot-a<" in row and ">canceled<" in row and f"halted {ACCOUNT}" in row

    run(go())
