"""Overrides of the pre-trade limits against a live runner over the simulated exchange: ``ksctl
override`` through the API, check-order's ``OVERRIDDEN`` answer, the bad input (an unknown limit or
scope, an expiry past the policy's bound, approving one's own request or twice, an order never
refused, a halted scope, an expired override), the lock never lifted, a restart that keeps them,
and a crash at the approval's store write that neither loses nor doubles it."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.request

import pytest
from click.testing import CliRunner

from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.cli.main import cli
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.overrides import iso
from killswitch.state import open_store
from tests.integration.gate.test_limits import BTC
from tests.integration.runner.rig import POLICY, T0, TICK_MS, Crash, setup
from tests.unit.engine_helpers import compile_graph

ALICE, BOB, CAROL = "override-test-alice", "override-test-bob", "override-test-carol"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["approver"], "sha256": token_digest(BOB)},
    {"identity": "carol", "roles": ["operator"], "sha256": token_digest(CAROL)}]})
SCOPE = "simulated/sim-main"
ORDER = {"account": SCOPE, "symbol": BTC, "side": "buy", "amount": 3, "price": 60_000, "strategy": "strategy-a"}
# the order notional's limit binds a 3 BTC order at 60k (180k > 100k); the others are wide
OVERRIDE_LIMITS = """\
  limits:
    max_order_notional: 100k
    max_order_quantity: 50
    price_collar: 5%
    max_position_notional: 900k
    max_gross_notional: 2M
    max_open_orders: 20
    message_rate: {per_second: 100, burst: 100}
    override: {max_duration: 1h, approvals: 2}
"""


def _graph():
    return compile_graph(POLICY + OVERRIDE_LIMITS, "p.yaml")


def _runner(tmp_path):
    clock = ManualClock(T0)
    return setup(tmp_path, policies=_graph(), engine=build("calm", clock), clock=clock)


class Served:
    """The runner ticking on a loop of its own thread, its API served; ``tick`` and ``call`` run there."""

    def __init__(self, runner, desk, clock):
        self.runner, self.clock = runner, clock
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve():
            await runner.start()
            for _ in range(3):
                clock.advance(TICK_MS)
                await runner.tick()
            self.site, self.url = await start_api(make_app(desk, tokens=PEOPLE))
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(serve()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(60)

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def tick(self, advance_ms=TICK_MS):
        async def one():
            self.clock.advance(advance_ms)
            return await self.runner.tick()

        return self.call(one())

    def check(self, **change):
        body = json.dumps({**ORDER, **change}).encode()
        req = urllib.request.Request(self.url + "/v1/check-order", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.call(stop_api(self.site))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _ks(token, *args):
    r = CliRunner(env={"KS_API_TOKEN": token}).invoke(cli, ["override", *args])
    return r.exit_code, r.output


def test_an_override_through_the_cli_the_api_and_a_restart(tmp_path):
    runner, engine, clock, store, _, desk = _runner(tmp_path)
    s = Served(runner, desk, clock)
    api = ["--api", s.url]
    ask = ["request", *api, "--scope", SCOPE, "--reason-code", "BLOCK_TRADE", "--reason", "agreed with risk"]
    raise_ = ["--limit", "max_order_notional", "--raise-to", "200k"]
    try:
        d = s.check(client_order_id="bot-1")
        assert d["allow"] is False and d["reason"].startswith("LIMIT_ORDER_NOTIONAL: notional 180,000.00"), d
        # bad input: each refused with its code, nothing stored
        code, out = _ks(CAROL, *ask, "--limit", "max_order_notionl", "--raise-to", "200k", "--expires", "30m")
        assert code == 1 and out.startswith("UNKNOWN_LIMIT: 'max_order_notionl' is not a limit; did you mean "
                                            "'max_order_notional'"), out
        code, out = _ks(CAROL, *ask[:3], "--scope", "simulated/sim-mian", *ask[5:], *raise_, "--expires", "30m")
        assert code == 1 and out.startswith("UNKNOWN_SCOPE: 'simulated/sim-mian'") and f"'{SCOPE}'" in out, out
        code, out = _ks(CAROL, *ask, *raise_, "--expires", "2h")
        assert code == 1 and out.startswith("EXPIRY_TOO_LONG: 2h00m asked > 1h00m the policies allow "
                                            "(crash-ladder: limits.override.max_duration)"), out
        code, out = _ks(CAROL, *ask, *raise_)  # no expiry: an override is temporary
        assert code == 2 and "--expires" in out, out
        code, out = _ks(CAROL, *ask, "--waive", "max_open_orders_per_symbol", "--expires", "30m")
        assert code == 1 and out.startswith("UNKNOWN_LIMIT: no policy whose limits bind simulated/sim-main sets "
                                            "max_open_orders_per_symbol"), out
        code, out = _ks(CAROL, *ask, "--order", "bot-never", "--expires", "5m")
        assert code == 1 and out.startswith("ORDER_NOT_REFUSED: no order with client_order_id 'bot-never'"), out
        code, out = _ks(BOB, *ask, *raise_, "--expires", "30m")  # an approver alone may not ask
        assert code != 0 and "ROLE_REQUIRED" in out, out
        # the request: pending until another person approves
        code, out = _ks(ALICE, *ask, *raise_, "--expires", "30m")
        assert code == 0 and out.startswith("OVERRIDE_REQUESTED: ovr-"), out
        oid = re.search(r"(ovr-[0-9a-f]+)", out).group(1)
        assert s.check()["allow"] is False  # pending: not in force
        code, out = _ks(ALICE, "approve", *api, "--override", oid)
        assert code == 1 and out.startswith(f"SELF_APPROVAL: alice requested {oid}"), out
        code, out = _ks(CAROL, "approve", *api, "--override", oid)  # an operator is no approver
        assert code != 0 and "ROLE_REQUIRED" in out, out
        code, out = _ks(BOB, "approve", *api, "--override", oid[:-1])
        assert code == 1 and out.startswith(f"UNKNOWN_OVERRIDE: '{oid[:-1]}'; did you mean '{oid}'"), out
        code, out = _ks(BOB, "approve", *api, "--override", oid)
        assert code == 0 and out.startswith(f"OVERRIDE_IN_FORCE: {oid} raise max_order_notional to 200000 on "
                                            f"{SCOPE} in force until 2026-03-02T13:30:"), out
        code, out = _ks(BOB, "approve", *api, "--override", oid)  # in force: nothing left to approve
        assert code == 1 and out.startswith(f"OVERRIDE_IN_FORCE: {oid} holds its 2 approvals"), out
        # the gate lets it through and says by whom and until when
        d = s.check()
        assert d["allow"] is True and d["reason"].startswith("OVERRIDDEN: LIMIT_ORDER_NOTIONAL 180000 > 100000 "
                                                             f"[policy=crash-ladder scope={SCOPE}]; by override {oid} "
                                                             "(raise max_order_notional to 200000) requested by "
                                                             "alice, approved by bob, until 2026-03-02T13:30:"), d
        assert d["limit"]["override"]["id"] == oid and d["limit"]["override"]["approvers"] == ["bob"]
        assert d["limit"]["code"] == "LIMIT_ORDER_NOTIONAL" and d["limit"]["usage"] == 180_000
        assert s.check(amount=4)["allow"] is False  # 240k: past the raised value
        code, out = _ks(CAROL, "list", *api)
        assert code == 0 and f"{oid} ACTIVE raise max_order_notional to 200000 on {SCOPE}; BLOCK_TRADE: agreed " \
                             "with risk; requested by alice, approvals 2/2 (bob); until 2026-03-02T13:30:" in out, out
        code, out = _ks(CAROL, "list", *api, "-o", "json")
        assert json.loads(out)["overrides"][0]["state"] == "active"
        r = CliRunner(env={"KS_API_TOKEN": CAROL}).invoke(cli, ["status", "--api", s.url])
        assert f"  OVERRIDE {oid} ACTIVE raise max_order_notional to 200000 on {SCOPE}: BLOCK_TRADE; requested " \
               "by alice, approvals 2/2 (bob); until 2026-03-02T13:30:" in r.output, r.output
        req = urllib.request.Request(s.url + "/console/view", headers={"Authorization": f"Bearer {CAROL}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # the console's limits section: a line each
            page = resp.read().decode()
        assert f'<li class="override-active"><code>{oid}</code> <strong>ACTIVE</strong> raise max_order_notional ' \
               f"to 200000 on {SCOPE}; BLOCK_TRADE: agreed with risk; requested by alice, approved by bob; until " \
               "2026-03-02T13:30:" in page, page[page.find("h-limits"):][:3000]
        r = CliRunner(env={"KS_API_TOKEN": CAROL}).invoke(cli, ["status", "--api", s.url, "-o", "json"])
        assert [o["id"] for o in json.loads(r.output)["overrides"]] == [oid], r.output[:500]
        # a restart: read back from the store, in force again before the gate answers
        s.stop()
        store.close()
        runner, engine, clock2, store, _, desk = setup(tmp_path, policies=_graph(), engine=engine, clock=clock)
        s = Served(runner, desk, clock)
        api = ["--api", s.url]
        ask[1:3] = api
        assert s.check()["reason"].startswith("OVERRIDDEN: "), s.check()
        # past its expiry: refused at once, ended (audited) at the next tick, and no longer approvable
        s.tick(30 * 60_000)
        assert s.check()["allow"] is False
        code, out = _ks(CAROL, "list", *api)
        assert f"{oid} ENDED raise max_order_notional" in out and "(expired, by runner)" in out, out
        code, out = _ks(BOB, "approve", *api, "--override", oid)
        assert code == 1 and out.startswith(f"OVERRIDE_ENDED: {oid} ended at "), out
        # an order released by its client id passes once
        assert s.check(client_order_id="bot-7")["allow"] is False
        code, out = _ks(CAROL, *ask, "--order", "bot-7", "--expires", "5m")
        rid = re.search(r"(ovr-[0-9a-f]+)", out).group(1)
        assert _ks(BOB, "approve", *api, "--override", rid)[0] == 0
        assert s.check(client_order_id="bot-6")["allow"] is False  # another order: not released
        d = s.check(client_order_id="bot-7")
        assert d["allow"] is True and d["reason"].startswith("OVERRIDDEN: LIMIT_ORDER_NOTIONAL") \
            and "(release order bot-7)" in d["reason"], d
        assert s.check(client_order_id="bot-7")["allow"] is False  # once
        s.tick()
        code, out = _ks(CAROL, "list", *api)
        assert f"{rid} ENDED release order bot-7" in out and "(used, by runner)" in out, out
        # a halt: the override never lifts the lock, ends with it, and none is asked on a halted scope
        code, out = _ks(CAROL, *ask, "--waive", "max_order_notional", "--expires", "30m")
        wid = re.search(r"(ovr-[0-9a-f]+)", out).group(1)
        assert _ks(BOB, "approve", *api, "--override", wid)[0] == 0
        assert s.check()["reason"].startswith("OVERRIDDEN: "), s.check()
        r = CliRunner(env={"KS_API_TOKEN": CAROL}).invoke(cli, ["lock", "--api", s.url, "--scope", SCOPE, "--mode",
                                                                "halted", "--reason", "desk halt", "--yes"])
        assert r.exit_code == 0, r.output
        assert s.check()["reason"].startswith("HALTED: "), s.check()
        s.tick()
        code, out = _ks(CAROL, "list", *api)
        assert f"{wid} ENDED waive max_order_notional" in out \
            and f"(halted by operator carol on {SCOPE}, by runner)" in out, out
        code, out = _ks(CAROL, *ask, "--waive", "max_order_notional", "--expires", "30m")
        assert code == 1 and out.startswith(f"SCOPE_HALTED: {SCOPE} is halted; an override never lifts a lock"), out
    finally:
        s.stop()
    # audited from request to end, the refusals with them
    kinds = [r.kind for r in store.audit_rows(kinds=("override_requested", "override_approved", "override_ended",
                                                     "override_refused"))]
    assert kinds.count("override_requested") == 3 and kinds.count("override_approved") == 3
    assert kinds.count("override_ended") == 3 and kinds.count("override_refused") >= 9
    assert store.verify_audit()[0]
    # the closure report's operator actions: each request, approval, end and refusal, with its author
    r = CliRunner().invoke(cli, ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--state",
                                 f"sqlite://{tmp_path / 'state.db'}", "-o", "json"])
    doc = json.loads(r.stdout)
    acts = [(a["action"], a["target"], a["by"], a["outcome"], a["reason"]) for a in doc["operator_actions"]
            if a["action"].startswith("override")]
    until = iso(next(o for o in store.overrides() if o.id == oid).expires_ms)[:19] + "Z"  # as the report writes it
    assert ("override request", f"{oid} raise max_order_notional to 200000.0 on {SCOPE}", "alice", "done",
            f"BLOCK_TRADE: agreed with risk, until {until}") in acts, acts
    assert ("override approval", f"{oid} on {SCOPE}", "bob", "done",
            f"approval 2 of 2; in force until {until}") in acts, acts
    assert ("override end", f"{wid} waive max_order_notional on {SCOPE}", "runner", "done",
            f"halted by operator carol on {SCOPE} (requested by carol, approved by bob)") in acts, acts
    refusals = [a for a in acts if a[0] == "override (refused)"]
    assert any(a[2] == "alice" and a[3] == "refused: SELF_APPROVAL" for a in refusals), refusals


def test_a_halt_lifted_at_once_still_ends_the_override_and_a_restart_keeps_it_ended(tmp_path):
    runner, engine, clock, store, _, desk = _runner(tmp_path)
    s = Served(runner, desk, clock)
    api = ["--api", s.url]
    try:
        code, out = _ks(ALICE, "request", *api, "--scope", SCOPE, "--reason-code", "BLOCK_TRADE", "--reason",
                        "agreed with risk", "--limit", "max_order_notional", "--raise-to", "200k", "--expires", "30m")
        oid = re.search(r"(ovr-[0-9a-f]+)", out).group(1)
        assert _ks(BOB, "approve", *api, "--override", oid)[0] == 0
        assert s.check()["reason"].startswith("OVERRIDDEN: "), s.check()
        # a global halt lifted at once: no tick between the two, nor after them
        for args in (["lock", "--scope", "global", "--reason", "drill", "--yes"],
                     ["unlock", "--scope", "global", "--reason", "drill over"]):
            r = CliRunner(env={"KS_API_TOKEN": CAROL}).invoke(cli, [args[0], "--api", s.url, *args[1:]])
            assert r.exit_code == 0, r.output
        d = s.check()
        assert d["allow"] is False and d["reason"].startswith("LIMIT_ORDER_NOTIONAL: notional 180,000.00"), d
        code, out = _ks(CAROL, "list", *api)
        assert f"{oid} ENDED raise max_order_notional" in out \
            and "(halted by operator carol on global, by runner)" in out, out
        s.tick()  # the tick finds it ended: not ended twice
    finally:
        s.stop()
    ended = [r.payload for r in store.audit_rows(kinds=("override_ended",)) if r.payload["id"] == oid]
    assert [e["why"] for e in ended] == ["halted by operator carol on global"], ended
    # a restart: read back ended, never in force again
    store.close()
    runner, engine, _, store, _, desk = setup(tmp_path, policies=_graph(), engine=engine, clock=clock)
    s = Served(runner, desk, clock)
    try:
        assert s.check()["reason"].startswith("LIMIT_ORDER_NOTIONAL: "), s.check()
        code, out = _ks(CAROL, "list", "--api", s.url)
        assert f"{oid} ENDED raise max_order_notional" in out and "(halted by operator carol on global" in out, out
    finally:
        s.stop()
    assert len([r for r in store.audit_rows(kinds=("override_ended",)) if r.payload["id"] == oid]) == 1
    store.close()


def test_approving_an_override_in_force_is_refused_as_in_force_by_anyone(tmp_path):
    """Issue 81: bob's approval of the override his own approval put in force answered
    DUPLICATE_APPROVER where the docs promise OVERRIDE_IN_FORCE; a pending one he approved is
    still DUPLICATE_APPROVER (three approvals asked: alice's, bob's, carol's)."""
    clock = ManualClock(T0)
    graph = compile_graph(POLICY + OVERRIDE_LIMITS.replace("approvals: 2", "approvals: 3"), "p.yaml")
    runner, _, _, store, _, desk = setup(tmp_path, policies=graph, engine=build("calm", clock), clock=clock)

    async def main():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        r = await desk.override_request(SCOPE, "raise", "BLOCK_TRADE", "agreed", 1800, actor="alice",
                                        limit="max_order_notional", raise_to=200_000.0)
        oid = r.override.id
        answers = [await desk.override_approve(oid, actor=who) for who in ("bob", "bob", "carol")]
        answers += [await desk.override_approve(oid, actor=who) for who in ("bob", "carol", "alice", "dave")]
        return oid, answers

    oid, answers = asyncio.run(asyncio.wait_for(main(), 60))
    codes = [(a.done, a.reason.split(":")[0]) for a in answers]
    assert codes[:3] == [(True, "OVERRIDE_APPROVAL_RECORDED"), (False, "DUPLICATE_APPROVER"),
                         (True, "OVERRIDE_IN_FORCE")], answers
    assert codes[3:] == [(False, "OVERRIDE_IN_FORCE")] * 4, answers
    assert answers[3].reason.startswith(f"OVERRIDE_IN_FORCE: {oid} holds its 3 approvals; it is in force until "), \
        answers[3]
    refused = [r.payload for r in store.audit_rows(kinds=("override_refused",))]
    assert len(refused) == 5, refused  # each refusal audited
    store.close()


class CrashAtApproval:
    """The store, whose write of an approval dies: before it reached the store (``after`` False)
    or once it committed (``after`` True), the process gone either way."""

    def __init__(self, store, after: bool):
        self._s, self._after = store, after

    def __getattr__(self, name):
        attr = getattr(self._s, name)
        if name != "save_override":
            return attr

        def call(o, fence, audit):
            if audit[0] != "override_approved":
                return attr(o, fence, audit)
            if self._after:
                attr(o, fence, audit)
            raise Crash(f"crash at the approval's write (after={self._after})")

        return call


@pytest.mark.parametrize("after", [False, True])
def test_a_crash_at_the_approval_neither_loses_nor_doubles_it(tmp_path, after):
    runner, engine, clock, store, _, desk = _runner(tmp_path)

    async def first():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        r = await desk.override_request(SCOPE, "waive", "BLOCK_TRADE", "agreed", 1800, actor="alice",
                                        limit="max_order_notional")
        desk.overriding.store = CrashAtApproval(desk.overriding.store, after)
        with pytest.raises(Crash):
            await desk.override_approve(r.override.id, actor="bob")
        return r.override.id

    oid = asyncio.run(asyncio.wait_for(first(), 60))
    store.close()
    # the process is gone: a runner started again reads what the store holds
    runner, _, _, store, _, desk = setup(tmp_path, policies=_graph(), engine=engine, clock=clock)

    async def again():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        held = {o.id: o for o in desk.overrides()}[oid]
        answer = await desk.override_approve(oid, actor="bob")
        return held, answer

    held, answer = asyncio.run(asyncio.wait_for(again(), 60))
    rows = store.audit_rows(kinds=("override_approved",))
    if after:  # stored with its audit row: in force, and bob's second approval is refused
        assert held.state == "active" and held.approvers == ("bob",)
        assert not answer.done and answer.reason.startswith("OVERRIDE_IN_FORCE"), answer
    else:  # neither stored: still pending, and bob's approval taken now
        assert held.state == "pending" and held.approvers == ()
        assert answer.done and answer.reason.startswith("OVERRIDE_IN_FORCE"), answer
    assert len(rows) == 1 and rows[0].payload["approver"] == "bob"
    assert desk.readout.check_order(dict(ORDER)).reason.startswith("OVERRIDDEN: ")
    store.close()
    fresh = open_store(f"sqlite://{tmp_path / 'state.db'}")
    [o] = [o for o in fresh.overrides() if o.id == oid]
    assert [w for w, _ in o.approvals] == ["alice", "bob"]
    fresh.close()


def test_a_standby_shows_the_overrides_the_leader_stored_and_takes_them_over(tmp_path):
    from adapters.simulated.adapter import SimulatedAdapter
    from killswitch.process.bootstrap import build_runner_and_desk

    clock = ManualClock(T0)
    engine = build("calm", clock)
    stores = [open_store(f"sqlite://{tmp_path / 'state.db'}") for _ in range(2)]
    made = []
    for holder, store in zip(("ks-0", "ks-1"), stores):
        adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        made.append(build_runner_and_desk(_graph(), {SCOPE: adapter}, store, lock_path=tmp_path / f"{holder}.json",
                                          dry_run=False, clock=clock, holder=holder, lease_ttl_ms=5_000))
    (leader, leader_desk, _), (standby, standby_desk, standby_parts) = made

    async def main():
        await leader.start()
        clock.advance(TICK_MS)
        await leader.tick()
        await standby.start()
        clock.advance(TICK_MS)
        await leader.tick()
        await standby.tick()
        assert not standby_parts.lead.leader
        r = await leader_desk.override_request(SCOPE, "raise", "BLOCK_TRADE", "agreed", 1800, actor="alice",
                                               limit="max_order_notional", raise_to=200_000.0)
        await leader_desk.override_approve(r.override.id, actor="bob")
        assert leader_desk.readout.check_order(dict(ORDER)).reason.startswith("OVERRIDDEN: ")
        assert standby_desk.overrides() == ()  # not read yet
        clock.advance(TICK_MS)
        await leader.tick()
        await standby.tick()  # reads what the leader stored: its status and list show it
        assert [(o.id, o.state) for o in standby_desk.overrides()] == [(r.override.id, "active")]
        assert [o.id for o in standby_desk.status().overrides] == [r.override.id]
        # (a standby takes no snapshot: its gate refuses what needs the limits, LIMITS_UNKNOWN)
        refused = await standby_desk.override_end(r.override.id, actor="bob")
        assert refused.reason.startswith("NOT_LEADER: this runner (ks-1) is a standby"), refused.reason
        await leader.aclose()  # the leader goes: the standby takes over with the override in force
        clock.advance(6_000)
        await standby.tick()
        assert standby_parts.lead.leader
        assert standby_desk.readout.check_order(dict(ORDER)).reason.startswith("OVERRIDDEN: ")
        ended = await standby_desk.override_end(r.override.id, actor="bob")
        assert ended.done and not standby_desk.readout.check_order(dict(ORDER)).allow
        await standby.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))
    for s in stores:
        s.close()
