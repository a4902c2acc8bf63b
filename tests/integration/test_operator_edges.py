"""The rough edges of a real incident, against a live runner and its API through ``ksctl``: a
refused reset exits 1, a reset warns of a trigger that still fires, operators are named wherever
a lock, a close or an approval is shown (and logged once per change), a lock that weakens an
operator's halt asks first, a standby names the leader, a dry run's history says where its
planned orders are, and a read refused for want of a token says so in words."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading

from click.testing import CliRunner

from killswitch.cli.common import EXIT_UNVERIFIED
from killswitch.cli.main import cli
from killswitch.client import RunnerClient
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.orders import PLANNED_KIND, planned_count
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.status import status_text
from killswitch.state import open_store
from tests.conftest import ROOT
from tests.integration.runner.rig import POLICY, TICK_MS, parts_of, setup
from tests.integration.test_ops_commands import TOKEN
from tests.unit.engine_helpers import compile_graph

ACCOUNT = "simulated/sim-main"
ALICE, BOB, VERA = "edges-token-alice", "edges-token-bob", "edges-token-vera"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["operator", "approver"], "sha256": token_digest(BOB)},
    {"identity": "vera", "roles": ["viewer"], "sha256": token_digest(VERA)}]})


def _two_approvals():
    return compile_graph(POLICY.replace("reset: manual,", "reset: manual, approvals: 2,"), "p.yaml")


class Still:
    """A runner behind its API that does not tick while the test talks to it (what it shows is
    what the test made): by default the crash-ladder after the flash crash (stage 3, latched, two
    approvals; its hard trigger still firing); ``scenario="calm"`` after one tick, nothing engaged."""

    def __init__(self, tmp_path, scenario: str = "flash-crash", ticks: int = 60):
        from adapters.simulated.engine import ManualClock
        from adapters.simulated.scenarios import build
        from tests.integration.runner.rig import T0

        clock = ManualClock(T0)
        self.runner, self.engine, self.clock, self.store, _, self.desk = setup(
            tmp_path, policies=_two_approvals(), engine=build(scenario, clock), clock=clock)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve():
            await self.runner.start()
            for _ in range(ticks):
                self.clock.advance(TICK_MS)
                await self.runner.tick()
            self.site, self.url = await start_api(make_app(self.desk, token=TOKEN, tokens=PEOPLE))
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(serve()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(60)

    def close(self):
        asyncio.run_coroutine_threadsafe(stop_api(self.site), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_a_refused_reset_exits_1_and_a_reset_says_the_trigger_still_fires(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="killswitch.runner.operator")
    srv = Still(tmp_path)
    try:
        alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
        args = ["reset", "--api", srv.url, "--policy", "crash-ladder", "--scope", ACCOUNT, "--reason", "reviewed"]
        # the preview (API, and so the console) says the stage will latch again at once
        p = RunnerClient(srv.url, BOB).preview("reset", {"policy": "crash-ladder", "scope": ACCOUNT, "reason": "x"})
        assert p.allowed and re.fullmatch(r"hard was firing at the last tick \(\d\d:\d\d:\d\d UTC: "
                                          r"dd = [\d.]+% >= 4%\): stage 3 flatten will be entered again at the "
                                          r"next tick after the reset if still firing then", p.effects[0]), p.effects
        assert p.relatch == (p.effects[0],)
        # the API refuses an approval that does not confirm it, and records nothing
        got = RunnerClient(srv.url, ALICE).reset("crash-ladder", ACCOUNT, "reviewed")
        assert not got.taken and got.reason.startswith("RELATCH_UNCONFIRMED: a trigger of crash-ladder still fires on "
                                                       f"{ACCOUNT}"), got
        assert got.warnings == p.relatch
        # a script without --yes sends nothing (exit 2); on a terminal it asks, and "no" sends nothing (exit 1)
        r = alice.invoke(cli, args)
        assert r.exit_code == 2 and "ksctl reset: nothing was sent: a reset of crash-ladder" in r.output, r.output
        assert r.output.startswith(f"PREVIEW reset crash-ladder {ACCOUNT}: would record approval 1/2"), r.output
        assert "\n  hard was firing at the last tick (" in r.output, r.output
        monkeypatch.setattr("killswitch.cli.confirm.stdin_tty", lambda: True)
        r = alice.invoke(cli, args, input="y\n")  # the scope is typed to confirm, as for a revoke
        assert r.exit_code == 1 and f"type the scope to confirm ({ACCOUNT})" in r.output, r.output
        assert "not confirmed ('y' is not" in r.output and "nothing was sent" in r.output, r.output
        st = CliRunner(env={"KS_API_TOKEN": VERA}).invoke(cli, ["status", "--api", srv.url])
        assert "reset needs 2 approver(s)" in st.output and "(alice)" not in st.output, st.output
        r = alice.invoke(cli, args, input=ACCOUNT + "\n")  # confirmed: her approval is taken, with the warning
        assert r.exit_code == 0 and re.search("^APPROVAL_RECORDED: 1/2", r.output, re.M), r.output
        monkeypatch.undo()
        assert re.search(r"^WARNING: hard was firing at the last tick \(\d\d:\d\d:\d\d UTC: dd = [\d.]+% >= 4%\): "
                         r"stage 3 flatten will be entered again at the next tick", r.output, re.M), r.output
        r = alice.invoke(cli, args + ["--yes"])  # her second approval is refused: exit 1, as every refused change
        assert r.exit_code == 1 and r.output.startswith("DUPLICATE_APPROVER: alice already approved"), r.output
        r = alice.invoke(cli, args + ["-o", "json", "--yes"])
        assert r.exit_code == 1 and json.loads(r.output)["done"] is False
        # who approved is shown in the status, as in the console
        st = CliRunner(env={"KS_API_TOKEN": VERA}).invoke(cli, ["status", "--api", srv.url])
        assert "LATCHED: reset needs 2 approver(s), have 1 (alice)" in st.output, st.output
        r = bob.invoke(cli, args + ["-o", "json", "--yes"])
        doc = json.loads(r.output)
        assert r.exit_code == 0 and doc["done"] is True and doc["reason"] == "MANUAL_RESET: stage=3 approvers=alice,bob"
        assert doc["warnings"] and doc["warnings"][0].startswith("hard was firing at the last tick (")
        r = bob.invoke(cli, args)  # nothing latched any more (the runner has not ticked since): who reset it
        assert r.exit_code == 1 and r.output.startswith(f"ALREADY_RESET: crash-ladder {ACCOUNT} was reset at "), \
            r.output
        assert "by alice, bob (stage 3)" in r.output, r.output
    finally:
        srv.close()
    said = [r.getMessage() for r in caplog.records if r.name == "killswitch.runner.operator"]
    assert said[0].startswith("OPERATOR reset by alice (policy=crash-ladder scope=simulated/sim-main): "
                              "REFUSED: RELATCH_UNCONFIRMED"), said
    assert said[1].startswith("OPERATOR reset by alice (policy=crash-ladder scope=simulated/sim-main): "
                              "APPROVAL_RECORDED: 1/2"), said
    assert any(m.startswith("OPERATOR reset by alice") and "REFUSED: DUPLICATE_APPROVER" in m for m in said), said
    assert any(m.startswith("OPERATOR reset by bob") and ": MANUAL_RESET: stage=3" in m for m in said), said


def _documented_lock_forms() -> tuple[str, str]:
    """What docs/api.md says an operator's halt by alice shows in the lock's reason and in
    check-order's denials (the quoted text before its "…")."""
    said = " ".join((ROOT / "docs" / "api.md").read_text(encoding="utf-8").split())
    m = re.search(r"`([^`]+?) …` in its reason, `([^`]+?) …` in check-order's denials", said)
    assert m is not None, "docs/api.md no longer quotes a halt's reason and check-order's denial"
    return m.group(1), m.group(2)


def test_operators_are_named_and_a_weaker_lock_asks_first(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.operator")
    alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
    srv = Still(tmp_path, "calm", ticks=1)
    try:
        lock = ["lock", "--api", srv.url, "--scope", ACCOUNT, "--reason", "bad fills"]
        r = alice.invoke(cli, lock)
        assert r.exit_code == 0 and r.output.startswith(f"LOCKED: scope={ACCOUNT} mode=halted"), r.output
        st = CliRunner(env={"KS_API_TOKEN": VERA}).invoke(cli, ["status", "--api", srv.url]).output
        assert re.search(rf"  LOCK {ACCOUNT}: halted by operator alice since \S+Z, until ksctl unlock; "
                         rf"reason: MANUAL_LOCK: mode=halted by=alice until ksctl unlock: bad fills", st), st
        hold = RunnerClient(srv.url).locks().scopes[ACCOUNT].holds[0]
        assert hold.details["by"] == "alice"  # the API's lock document (and the bots' lock file)
        # a bot asking to trade is told who holds it, not "stage=None"
        d = RunnerClient(srv.url).check_order({"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy",
                                               "amount": 0.01})
        assert not d.allow and "stage=None" not in d.reason and "origin=operator by=alice" in d.reason, d.reason
        # docs/api.md quotes both forms: the lock's reason, and a bot's denial under it
        in_reason, in_denial = _documented_lock_forms()
        assert hold.reason.startswith(in_reason) and d.reason.startswith(in_denial), (hold.reason, d.reason)

        # reducing over alice's halt: shown before -> after, and not sent without a confirmation
        r = bob.invoke(cli, lock + ["--mode", "reducing"])
        assert r.exit_code == 2, r.output
        assert f"lock {ACCOUNT}: halted -> reducing (WEAKER" in r.output, r.output
        assert "replaces the operator's halted lock by alice set " in r.output
        assert "LOCK_DOWNGRADE: nothing was sent" in r.output and "--yes" in r.output
        assert RunnerClient(srv.url).locks().scopes[ACCOUNT].mode == "halted"
        r = bob.invoke(cli, lock + ["--mode", "reducing"], input="n\n")  # refused at a prompt too
        assert RunnerClient(srv.url).locks().scopes[ACCOUNT].mode == "halted"
        r = bob.invoke(cli, lock + ["--mode", "reducing", "--yes"])
        assert r.exit_code == 0 and r.output.startswith(f"LOCKED: scope={ACCOUNT} mode=reducing"), r.output
        assert RunnerClient(srv.url).locks().scopes[ACCOUNT].holds[0].details["by"] == "bob"
        r = bob.invoke(cli, lock)  # a stronger lock asks nothing
        assert r.exit_code == 0 and r.output.startswith(f"LOCKED: scope={ACCOUNT} mode=halted"), r.output
        assert "WEAKER" not in r.output

        # a close names who asked for it: its progress and the incidents (the console's)
        r = bob.invoke(cli, ["close", "--api", srv.url, "--scope", ACCOUNT, "--reason", "flatten", "--yes"])
        assert r.exit_code == 0, r.output
        [close] = [i for i in RunnerClient(srv.url, VERA).incidents() if i.kind == "manual_close"]
        assert close.requested_by == "bob"
        assert RunnerClient(srv.url, VERA).close_progress(close.incident).by == "bob"

        # a read refused for want of a token says so in words, not as a Python dict
        r = CliRunner(env={"KS_API_TOKEN": None}).invoke(cli, ["status", "--api", srv.url])
        assert r.exit_code == 2 and "ksctl status: refused (HTTP 401): AUTH_REQUIRED: " in r.output, r.output
        assert "{'" not in r.output and "'error'" not in r.output
    finally:
        srv.close()
    said = [r.getMessage() for r in caplog.records if r.name == "killswitch.runner.operator"]
    assert f"OPERATOR lock by alice (scope={ACCOUNT} mode=halted): LOCKED: scope={ACCOUNT} mode=halted " \
           "until ksctl unlock" in said, said
    assert any(m.startswith(f"OPERATOR lock by bob (scope={ACCOUNT} mode=reducing): LOCKED") for m in said), said
    assert any(m.startswith(f"OPERATOR close by bob (scope={ACCOUNT}): QUEUED") for m in said), said
    assert len([m for m in said if m.startswith("OPERATOR lock ")]) == 3  # the refused-before-sending one is not


def test_a_standby_names_the_leader_in_its_refusals_and_status(tmp_path):
    clock_runner, engine, clock, store, _, _ = setup(tmp_path)
    from adapters.simulated.adapter import SimulatedAdapter

    standby_store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    leader, leader_desk, leader_parts = build_runner_and_desk(parts_of(clock_runner).book.graph,
                                                clock_runner.venues, store,
                                                lock_path=tmp_path / "a.json", dry_run=False, clock=clock,
                                                holder="ks-0")
    standby, standby_desk, standby_parts = build_runner_and_desk(parts_of(clock_runner).book.graph, {ACCOUNT: adapter},
            standby_store,
                                                  lock_path=tmp_path / "b.json", dry_run=False, clock=clock,
                                                  holder="ks-1")

    async def main():
        await leader.start()
        clock.advance(TICK_MS)
        await leader.tick()
        await standby.start()
        clock.advance(TICK_MS)
        await leader.tick()
        await standby.tick()
        assert leader_parts.lead.leader and not standby_parts.lead.leader
        refused = await standby_desk.lock_scope(ACCOUNT, "halted", "drill", actor="alice")
        assert refused.reason == ("NOT_LEADER: this runner (ks-1) is a standby; the leader is ks-0 (the lease "
                                  "holder); send the lock there"), refused.reason
        st = standby_desk.status()
        assert (st.holder, st.lease_holder, st.leader) == ("ks-1", "ks-0", False)
        assert "STANDBY: this runner (ks-1) does not act; the leader is ks-0 (the lease holder): send changes " \
               "there" in status_text(st, _no_locks()).splitlines()
        assert leader_desk.status().lease_holder == "ks-0"
        await leader.aclose()
        await standby.aclose()

    asyncio.run(main())
    standby_store.close()


def _no_locks():
    from killswitch.client import LockDocument

    return LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def test_history_of_a_dry_run_says_where_its_planned_orders_are(tmp_path):
    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from tests.integration.runner.rig import T0, graph

    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {ACCOUNT: adapter}, store, lock_path=tmp_path / "lock.json",
            dry_run=True,
                          clock=clock)

    async def main():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        await runner.aclose()

    asyncio.run(main())
    planned = sum(planned_count(r.kind, r.payload) for r in store.audit_rows(None, [PLANNED_KIND], 100_000))
    store.close()
    assert planned > 0
    state = f"sqlite://{tmp_path / 'state.db'}"
    r = CliRunner().invoke(cli, ["history", "--state", state])
    assert r.exit_code == EXIT_UNVERIFIED, r.output  # an unkeyed chain: consistent, not proven
    assert r.output.splitlines()[0] == (f"dry run: nothing journaled; {planned} planned order(s) are in the audit "
                                        "trail (ksctl history --planned lists them)"), r.output
    r = CliRunner().invoke(cli, ["history", "--state", state, "--planned", "--limit", "3"])
    lines = r.output.splitlines()
    assert r.exit_code == EXIT_UNVERIFIED and len(lines) == 5, r.output
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S+  simulated/sim-main \S+ (buy|sell) [\d.e+-]+  planned, "
                        r"not sent \(dry run\)  crash-ladder/simulated/sim-main/L\d/e\d", x) for x in lines[:3]), lines
    assert lines[3] == (f"{planned} planned order(s) in the audit trail (dry run: none was sent); the latest 3 are "
                        "listed")
    doc = json.loads(CliRunner().invoke(cli, ["history", "--state", state, "--planned", "-o", "json"]).output)
    assert doc["planned_total"] == planned and doc["journal"] == [] and len(doc["planned"]) == min(planned, 50)
    assert doc["planned"][0]["client_order_id"] and doc["planned"][0]["ts"].endswith("Z")


def test_an_approval_given_by_mistake_is_withdrawn_and_the_next_approver_does_not_complete_it(tmp_path):
    """Fifth walk (issue 65, M3): an approval on the wrong scope could not be taken back, and the
    next approver completed a reset nobody meant. ``--yes`` shows what still fires before it sends;
    the answer names the command that withdraws it; the withdrawal is audited and reported."""
    from killswitch.runbooks.operator_actions import operator_actions

    srv = Still(tmp_path)
    try:
        alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
        args = ["reset", "--api", srv.url, "--policy", "crash-ladder", "--scope", ACCOUNT, "--reason", "hedge checked"]
        r = alice.invoke(cli, args + ["--yes"])
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        recorded = next(i for i, line in enumerate(lines) if line.startswith("APPROVAL_RECORDED: 1/2"))
        assert lines[0].startswith(f"PREVIEW reset crash-ladder {ACCOUNT}: would record approval"), r.output  # before
        assert lines[2].startswith("  hard was firing at the last tick"), r.output
        assert recorded > 0
        assert (f"ksctl reset --policy crash-ladder --scope {ACCOUNT} --reason 'withdrawn: hedge checked' "
                "--withdraw") in r.output, r.output
        r = bob.invoke(cli, args + ["--withdraw"])  # bob has none to take back: refused, nothing changed
        assert r.exit_code == 1 and r.output.startswith("NO_APPROVAL: bob has no pending approval"), r.output
        assert "(pending approvals: alice)" in r.output, r.output
        r = alice.invoke(cli, args[:-1] + ["wrong scope", "--withdraw"])
        assert r.exit_code == 0 and r.output.startswith("APPROVAL_WITHDRAWN: alice's approval of the reset of "
                                                        f"crash-ladder {ACCOUNT} (stage 3) is withdrawn"), r.output
        st = CliRunner(env={"KS_API_TOKEN": VERA}).invoke(cli, ["status", "--api", srv.url])
        assert "(alice)" not in st.output, st.output
        assert srv.store.approvals_between(0, 2**62) == []
        r = bob.invoke(cli, args + ["-o", "json", "--yes"])  # bob's is the first again, not the second
        doc = json.loads(r.output)
        assert r.exit_code == 0 and doc["done"] is False and doc["reason"] == "APPROVAL_RECORDED: 1/2 approvers=bob"
    finally:
        srv.close()
    rows = srv.store.audit_rows(0, kinds=("reset_approval_withdrawn",))
    acts = operator_actions(rows, 2**62, lambda _: True, {}, {})
    assert [(a["action"], a["by"], a["target"], a["outcome"], a["reason"]) for a in acts] == [
        ("reset approval withdrawn", "bob", f"crash-ladder {ACCOUNT}", "refused: NO_APPROVAL", "hedge checked"),
        ("reset approval withdrawn", "alice", f"crash-ladder {ACCOUNT}", "done", "wrong scope")]
