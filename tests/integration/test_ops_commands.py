"""ksctl status / reset / close / heartbeat / lock / unlock / dms / history against a live runner and its API."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from tests.integration.runner.rig import POLICY, TICK_MS, api_served, parts_of, setup, started
from tests.procs import wait_for
from tests.unit.engine_helpers import compile_graph

TOKEN = "ops-test-token"
ALICE, BOB = "ops-test-token-alice", "ops-test-token-bob"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["approver"], "sha256": token_digest(BOB)}]})


def test_operator_commands_against_a_halted_runner(tmp_path):
    resume = "  resume: {start: 25%, step: x2, every: 1d, from_level: 3, max_positions: 4, max_gross_exposure: 1M}\n"
    graph = compile_graph(POLICY.replace("reset: manual,", "reset: manual, approvals: 2,") + resume, "p.yaml")
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=graph)
    parts = parts_of(runner)
    with api_served(lambda: make_app(desk, token=TOKEN, tokens=PEOPLE), lambda: started(runner, clock)) as url:
        cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
        r = cmd.invoke(cli, ["status", "--api", url])
        assert r.exit_code == 0, r.output
        assert "mode live" in r.output and "stage 3 flatten" in r.output and "LATCHED: reset needs 2" in r.output
        assert "revision not in git" in r.output and re.search(r"stage 3 flatten  since \d{4}-\d\d-\d\dT", r.output)
        # the lock: its mode, who holds it, since and until when, and why
        [held] = [x for x in r.output.splitlines() if x.startswith("  LOCK ")]
        assert re.fullmatch(r"  LOCK simulated/sim-main: halted by policy crash-ladder stage 3 since "
                            r"\S+Z, held until a manual reset \(ksctl reset\); reason: LOCK_TRADING: stage=3 .*", held)
        doc = json.loads(cmd.invoke(cli, ["status", "--api", url, "-o", "json"]).output)
        assert doc["scopes"][0]["stage"] == 3  # the API's status document, as it was
        assert doc["lock"]["scopes"]["simulated/sim-main"]["holds"][0]["policy"] == "crash-ladder"
        r = cmd.invoke(cli, ["unlock", "--api", url, "--scope", "simulated/sim-main", "--reason", "want to trade"])
        assert r.exit_code == 1 and r.output.startswith("MANUAL_RESET_REQUIRED: simulated/sim-main is held by stage 3")
        args = ["reset", "--api", url, "--policy", "crash-ladder", "--scope", "simulated/sim-main",
                "--reason", "reviewed", "--yes"]  # the crash still fires: the stage latches again at once
        r = CliRunner(env={"KS_API_TOKEN": ""}).invoke(cli, args + ["--approver", "alice"])
        assert r.exit_code == 2 and "KS_API_TOKEN is not set" in r.output
        alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
        r = alice.invoke(cli, args + ["--approver", "alice"])
        # the console's preview is printed before the approval is sent (--yes): what the lock becomes and
        # what still fires; then the answer
        shown, _, answer = r.output.partition("\nAPPROVAL_RECORDED: 1/2")
        assert r.exit_code == 0 and answer, r.output
        assert shown.startswith("PREVIEW reset crash-ladder simulated/sim-main: would record approval 1/2 "
                                "(approvers=alice)"), r.output
        assert "\n  Lock binding simulated/sim-main: halted now, halted after." in shown, r.output
        assert "\n  hard was firing at the last tick" in shown, r.output
        r = alice.invoke(cli, args + ["--approver", "bob"])  # alice cannot approve as bob
        assert r.exit_code == 1 and "APPROVER_NOT_CALLER" in r.output
        r = bob.invoke(cli, args)
        assert r.exit_code == 0 and "\nMANUAL_RESET: stage=3 approvers=alice,bob" in r.output, r.output
        r = cmd.invoke(cli, ["status", "--api", url])
        assert "  trading locks: none (every scope active)" in r.output, r.output
        assert re.search(r"  RESUMING crash-ladder simulated/sim-main: day 1 of 2 since \S+Z, 25% of normal limits "
                         r"\(max 1 position\(s\), gross exposure 250,000\); steps up at \S+Z", r.output), r.output
        r = cmd.invoke(cli, ["close", "--api", url, "--scope", "simulated/sim-main", "--reason", "drill", "--dry-run"])
        assert r.exit_code == 0 and r.output.startswith(  # the flatten closed the book
            "close simulated/sim-main: nothing to send: no position to close in the runner's last snapshots"), r.output
        r = cmd.invoke(cli, ["heartbeat", "--api", url, "--source", "bot-1"])  # nothing names bot-1 yet: refused, said
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_SOURCE: 'bot-1' is not named by a policy"), r.output
        assert cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "bot-1", "--timeout", "1h"]).exit_code == 0
        r = cmd.invoke(cli, ["heartbeat", "--api", url, "--source", "bot-1"])
        assert (r.exit_code, r.output) == (0, "HEARTBEAT_RECORDED: source=bot-1\n")  # says what it did
        r = cmd.invoke(cli, ["heartbeat", "--api", url, "--source", "bot_1"])  # a typo of an armed source
        assert r.exit_code == 1 and "UNKNOWN_SOURCE: 'bot_1'" in r.output and "did you mean 'bot-1'?" in r.output
        r = cmd.invoke(cli, ["heartbeat", "--api", url, "--source", "bot 1"])
        assert r.exit_code == 1 and r.output.startswith("BAD_SOURCE: a source is 1 to 64"), r.output
        r = cmd.invoke(cli, ["history", "--state", f"sqlite://{tmp_path / 'state.db'}"])
        assert r.exit_code == 4 and "audit chain: consistent, UNVERIFIED" in r.output and "filled" in r.output
        journal = r.output.splitlines()[:-1]
        assert journal and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S+  simulated/sim-main ", x)
                               for x in journal), journal  # ISO-8601 UTC, not epoch milliseconds
        doc = json.loads(cmd.invoke(cli, ["history", "--state", f"sqlite://{tmp_path / 'state.db'}", "-o",
                                          "json"]).output)
        assert doc["journal"][0]["created_ts"].endswith("Z") and isinstance(doc["journal"][0]["created_ms"], int)
        r = cmd.invoke(cli, ["history", "--state", f"sqlite://{tmp_path / 'nope.db'}"])
        assert r.exit_code == 2 and "no state store at" in r.output and not (tmp_path / "nope.db").exists()
        assert TOKEN not in "".join(x.output for x in [r])
    assert "bot-1" in parts.book.state.heartbeats
    r = CliRunner().invoke(cli, ["status", "--api", "http://127.0.0.1:9"])
    assert r.exit_code == 5 and "cannot reach the runner" in r.output  # EXIT_UNREACHABLE


def test_audit_verify_detects_tampering(tmp_path):
    import sqlite3

    from killswitch.state import open_store

    url = f"sqlite://{tmp_path / 'a.db'}"
    store = open_store(url)
    for i in range(5):
        store.audit("event", 1_000 + i, {"n": i})
    store.close()
    assert CliRunner().invoke(cli, ["audit", "verify", "--state", url]).exit_code == 4  # consistent, unverified
    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute("UPDATE audit_log SET payload = ? WHERE seq = 3", ('{"n": 99}',))
    r = CliRunner().invoke(cli, ["audit", "verify", "--state", url])
    assert r.exit_code == 1 and "TAMPERED: first bad row 3" in r.output


VERA, ROBOT = "ops-test-token-vera", "ops-test-token-robot"
READERS = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "vera", "roles": ["viewer"], "sha256": token_digest(VERA)},
    {"identity": "robot", "roles": ["bot"], "sha256": token_digest(ROBOT)}]})


def test_status_sends_the_token_when_set_and_says_which_to_set_when_refused(tmp_path):
    (tmp_path / "closed").mkdir()
    (tmp_path / "public").mkdir()
    with Served(tmp_path / "closed", tokens=READERS) as srv:
        args = ["status", "--api", srv.url]
        r = CliRunner(env={"KS_API_TOKEN": VERA}).invoke(cli, args)
        assert r.exit_code == 0 and "mode live" in r.output, r.output
        r = CliRunner(env={"KS_API_TOKEN": None, "DESK_TOKEN": VERA}).invoke(cli, args + ["--token-env", "DESK_TOKEN"])
        assert r.exit_code == 0 and "mode live" in r.output, r.output
        outputs = [r.output]
        for env, words in (({"KS_API_TOKEN": None}, "KS_API_TOKEN is not set"),
                           ({"KS_API_TOKEN": "not-a-token"}, "the token in KS_API_TOKEN is not one this runner knows")):
            for output in ("text", "json"):
                r = CliRunner(env=env).invoke(cli, args + ["-o", output])
                assert r.exit_code == 2, r.output  # the caller's setting to fix, as a change without a token
                assert words in r.output and "set KS_API_TOKEN to a token with the viewer role" in r.output
                outputs.append(r.output)
        r = CliRunner(env={"KS_API_TOKEN": ROBOT}).invoke(cli, args)
        assert r.exit_code == 1 and "ROLE_REQUIRED" in r.output  # refused by the runner: a bot reads no book
        outputs.append(r.output)
        assert not any(t in x for t in (VERA, ROBOT, "not-a-token") for x in outputs)
        r = CliRunner(env={"KS_API_TOKEN": None}).invoke(cli, ["dms", "status", "--api", srv.url])
        assert r.exit_code == 0, r.output  # what a bot reads needs no token
    with Served(tmp_path / "public", tokens=READERS, console_public=True) as srv:
        r = CliRunner(env={"KS_API_TOKEN": None}).invoke(cli, ["status", "--api", srv.url])
        assert r.exit_code == 0 and "mode live" in r.output, r.output


SERVED_LEASE_MS = 3 * TICK_MS


class Served:
    """A runner on the calm market, ticking every few milliseconds of wall time (5 s of its
    clock each), behind its API on a thread of its own."""

    def __init__(self, tmp_path, **api):
        from adapters.simulated.engine import ManualClock
        from adapters.simulated.scenarios import build
        from tests.integration.runner.rig import T0

        clock = ManualClock(T0)
        # a lease of three ticks: each tick renews it before it runs out. With a lease of one tick
        # every tick found it lapsed and took a new token, leading from none while it read the
        # state back, and a request served meanwhile was refused NOT_LEADER
        self.runner, self.engine, self.clock, self.store, _, self.desk = setup(
            tmp_path, engine=build("calm", clock), clock=clock, lease_ttl_ms=SERVED_LEASE_MS)
        self.parts = parts_of(self.runner)
        self.api = api  # make_app's tokens, console_public
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = False
        self.ticks = 0  # ticks ended since it served
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._serve()), daemon=True)

    async def _serve(self):
        await self.runner.start()
        self.clock.advance(TICK_MS)
        await self.runner.tick()  # positions known before the first command
        self.site, self.url = await start_api(make_app(self.desk, token=TOKEN, **self.api))
        self.ready.set()
        while not self.stop:
            self.clock.advance(TICK_MS)
            await self.runner.tick()
            self.ticks += 1
            await asyncio.sleep(0.01)
        await stop_api(self.site)

    def ticked(self, n: int) -> None:
        """Wait until the runner has ended ``n`` more ticks (what they would have sent is sent)."""
        start = self.ticks
        wait_for(lambda: self.ticks >= start + n, f"{n} more ticks of the served runner")

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(60)
        return self

    def __exit__(self, exc_type, *exc):
        self.stop = True
        self.thread.join(30)
        if exc_type is None:
            assert_kept_its_lease(self.parts)


def assert_kept_its_lease(parts) -> None:
    """A served runner ticking against requests never lost a token it held: no tick found its
    lease lapsed (it then leads from none until it has read the state back, and a request served
    in between is refused NOT_LEADER)."""
    said = parts.lead.lease_log
    assert said.lost_total == 0, f"the lease lapsed between ticks {said.lost_total} time(s), token {said.fence}"


def test_lock_unlock_and_the_dead_mans_switch_commands(tmp_path):
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with Served(tmp_path) as srv:
        url = srv.url
        lock = ["lock", "--api", url, "--scope", "strategy-b", "--reason", "bad fills"]
        r = cmd.invoke(cli, lock)
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_SCOPE: 'strategy-b'"), r.output  # never seen
        r = cmd.invoke(cli, ["lock", "--api", url, "--scope", "simulated/SIM-MAIN", "--reason", "typo"])
        assert r.exit_code == 1 and "did you mean 'simulated/sim-main'" in r.output, r.output
        # nothing names it: refused, not learnt
        r = cmd.invoke(cli, ["heartbeat", "--api", url, "--source", "strategy-b"])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_SOURCE: 'strategy-b'"), r.output
        r = cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "strategy-b", "--timeout", "1h"])
        assert r.exit_code == 0, r.output  # arming names it: now it is a strategy the runner knows
        r = cmd.invoke(cli, lock + ["--ttl", "1h", "--mode", "reducing", "-o", "json"])
        assert r.exit_code == 0 and json.loads(r.output)["done"] is True, r.output
        assert json.loads(r.output)["reason"].startswith("LOCKED: scope=strategy-b mode=reducing until ")
        r = cmd.invoke(cli, ["status", "--api", url])
        assert re.search(r"  LOCK strategy-b: reducing by operator shared-token since \S+Z, until \S+Z; "
                         r"reason: MANUAL_LOCK: mode=reducing by=shared-token until \S+Z: bad fills",
                         r.output), r.output
        doc = json.loads((tmp_path / "lock.json").read_text())
        entry = doc["scopes"]["strategy-b"]
        assert entry["mode"] == "reducing" and entry["policy"] == "@operator"
        assert cmd.invoke(cli, lock + ["--ttl", "banana"]).exit_code == 2
        assert cmd.invoke(cli, lock + ["--mode", "active"]).exit_code == 2
        unlock = ["unlock", "--api", url, "--scope", "strategy-b", "--reason", "fixed"]
        r = cmd.invoke(cli, unlock)
        assert r.exit_code == 0 and r.output.startswith("UNLOCKED: strategy-b (operator lock lifted)")
        r = cmd.invoke(cli, unlock)
        assert r.exit_code == 1 and r.output.startswith("NOT_LOCKED")
        r = cmd.invoke(cli, unlock + ["-o", "json"])  # a refusal, as the runner answered it
        assert r.exit_code == 1 and json.loads(r.output)["reason"].startswith("NOT_LOCKED")
        assert CliRunner(env={"KS_API_TOKEN": ""}).invoke(cli, unlock).exit_code == 2

        r = cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "bot-a", "--timeout", "5m"])
        assert r.exit_code == 0 and r.output.startswith("DMS_ARMED: source=bot-a timeout=300s"), r.output
        r = cmd.invoke(cli, ["dms", "status", "--api", url])
        assert r.exit_code == 0 and "dms bot-a: armed, fires in " in r.output, r.output
        r = cmd.invoke(cli, ["dms", "status", "--api", url, "-o", "json"])
        assert r.exit_code == 0 and json.loads(r.output)["sources"]["bot-a"]["timeout_s"] == 300
        r = cmd.invoke(cli, ["status", "--api", url])
        assert r.exit_code == 0 and "dms bot-a: armed" in r.output
        assert cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "bot-a", "--timeout", "0s"]).exit_code == 2
        r = cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "bad source", "--timeout", "5s"])
        assert r.exit_code == 1 and '"source"' in r.output
        assert cmd.invoke(cli, ["dms", "disarm", "--api", url, "--source", "bot-a"]).exit_code == 0
        r = cmd.invoke(cli, ["dms", "disarm", "--api", url, "--source", "bot-a"])
        assert r.exit_code == 1 and r.output.startswith("NOT_ARMED")
        r = cmd.invoke(cli, ["dms", "arm", "--api", url, "--source", "bot-c", "--timeout", "1s"])
        assert r.exit_code == 0
        deadline = time.monotonic() + 30
        while not srv.desk.dms_status()["sources"]["bot-c"]["fired"] and time.monotonic() < deadline:
            time.sleep(0.02)
        r = cmd.invoke(cli, ["dms", "status", "--api", url])
        assert "dms bot-c: FIRED (trading halted for bot-c)" in r.output, r.output
        r = cmd.invoke(cli, ["status", "--api", url])
        assert re.search(r"  LOCK bot-c: halted by dead man's switch since \S+Z, until the source is armed again "
                         r"or ksctl unlock; reason: DMS_FIRED: source=bot-c", r.output), r.output
        assert all(TOKEN not in x for x in (r.output,))
    r = CliRunner().invoke(cli, ["dms", "status", "--api", "http://127.0.0.1:9"])
    assert r.exit_code == 5 and "cannot reach the runner" in r.output  # EXIT_UNREACHABLE


@pytest.mark.parametrize("tty", [True, False])
def test_close_wait_follows_the_close_until_its_orders_settle(tmp_path, monkeypatch, tty):
    from killswitch.cli import close

    monkeypatch.setattr(close, "POLL_S", 0.02)
    monkeypatch.setattr(close, "_stderr_tty", lambda: tty)
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with Served(tmp_path) as srv:
        r = cmd.invoke(cli, ["close", "--api", srv.url, "--scope", "simulated/sim-main", "--reason", "drill", "--wait",
                             "--yes"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith("close simulated/sim-main: queued with ")
        assert "\nQUEUED: close of simulated/sim-main" in r.stdout
        assert "close simulated/sim-main settled: filled " in r.stdout
        if tty:
            assert "\r" in r.stderr and "order(s) settled" in r.stderr and r.stderr.endswith("\n")
        else:
            assert r.stderr == ""
        assert not [p for p in srv.engine.positions("sim-main") if abs(p.amount) > 0], "the book is flat"
        r = cmd.invoke(cli, ["close", "--api", srv.url, "--scope", "simulated/sim-main", "--reason", "drill",
                             "--wait", "--wait-timeout", "soon", "--yes"])
        assert r.exit_code == 2


def test_a_close_prints_its_plan_and_is_sent_only_with_yes_or_the_scope_typed(tmp_path, monkeypatch):
    from killswitch.cli import close

    monkeypatch.setattr(close, "POLL_S", 0.02)
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    scope = "simulated/sim-main"
    args = ["close", "--scope", scope, "--reason", "drill"]
    with Served(tmp_path) as srv:
        args += ["--api", srv.url]
        held = {p.symbol for p in srv.engine.positions("sim-main") if abs(p.amount) > 0}
        assert held

        def still_open():
            return {p.symbol for p in srv.engine.positions("sim-main") if abs(p.amount) > 0}

        # the preview: every order, reduce-only; nothing sent
        r = cmd.invoke(cli, args + ["--dry-run"])
        assert r.exit_code == 0, r.output
        lines = r.stdout.splitlines()
        assert re.match(rf"close {scope}: would send (\d+) order\(s\), as planned from the runner's last snapshots",
                        lines[0])
        orders = [x for x in lines[1:] if " on simulated/sim-main  ≈" in x]
        assert orders and all("  reduce-only" in x for x in orders), orders
        # then the plan's total notional, how old its positions are, and the preview a close applies
        assert lines[1 + len(orders)].startswith("  total notional ≈") and "positions as of " in lines[1 + len(orders)]
        assert re.match(r"  preview cp-\d+-[0-9a-f]{12}; a close of it is held to a notional of at most ",
                        lines[2 + len(orders)]), lines
        assert {x.split()[2].split(":")[0].replace("/", "") for x in orders} == held  # BTC/USDT:USDT is BTCUSDT
        doc = json.loads(cmd.invoke(cli, args + ["--dry-run", "-o", "json"]).stdout)
        assert doc["sent"] is None and doc["preview"]["accepted"] is True
        assert len(doc["preview"]["plan"]) == doc["preview"]["orders"] == len(orders)
        assert all(o["reduce_only"] for o in doc["preview"]["plan"])

        # no --yes and no terminal (--live or not): the plan, then a refusal; nothing sent
        for live in ([], ["--live"]):
            r = cmd.invoke(cli, args + live)
            assert r.exit_code == 2 and r.stdout.startswith(f"close {scope}: would send "), r.output
            assert "nothing was sent: a live close needs --yes" in r.stderr
        doc = json.loads(cmd.invoke(cli, args + ["-o", "json"]).stdout)
        assert doc["sent"] is None and "needs --yes" in doc["refused"]
        assert cmd.invoke(cli, args + ["--yes", "--dry-run"]).exit_code == 2

        # on a terminal: a typo of the scope sends nothing
        monkeypatch.setattr("killswitch.cli.confirm.stdin_tty", lambda: True)
        r = cmd.invoke(cli, args, input="simulated/SIM-MAIN\n")
        assert r.exit_code == 1, r.output
        assert "type the scope to confirm" in r.stderr
        assert "not confirmed ('simulated/SIM-MAIN' is not 'simulated/sim-main'); nothing was sent" in r.stderr
        r = cmd.invoke(cli, args, input="")  # end of input: not a confirmation
        assert r.exit_code == 1 and "nothing was sent" in r.stderr
        srv.ticked(3)  # had anything been queued, it would have been sent by now
        assert still_open() == held

        # the scope typed as it is: sent, and followed until it settles
        r = cmd.invoke(cli, args + ["--wait"], input=scope + "\n")
        assert r.exit_code == 0, (r.stdout, r.stderr)
        assert f"\nQUEUED: close of {scope}" in r.stdout and f"close {scope} settled: filled " in r.stdout
        assert still_open() == set()
