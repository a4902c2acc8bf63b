"""An operator's halt sent through the API while no runner leads, on SQLite and PostgreSQL.

A lone ``ksctl run`` (the daemon, its API, its lease thread) whose keeper cannot renew for a
while (every attempt skipped: a loop held past its term at a firm's load) stands itself down
with no rival. ``POST /v1/lock`` then answers 202 ``LOCK_STORED`` with the request id and
``ksctl lock`` exits 6 saying so; ``/v1/status`` and ``/metrics`` show the lock waiting; an
unlock is still refused ``NOT_LEADER``; a typo'd scope still 404 ``UNKNOWN_SCOPE`` with
nothing stored. Once the keeper renews again the runner takes its lease back and applies the
stored lock before its first tick under the new token: status shows the lock, the audit trail
``lock_stored`` then ``manual_lock`` naming the request and who asked.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.runner.lease.keeper import LeaseKeeper
from killswitch.state import open_store
from tests.procs import accounts_file, free_port

from .test_leadership import CALM_POLICY, TOKEN, _ready, wait_for

SCOPE = "binanceusdm/sim-main"


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    open_store(url).close()
    return url


def _call(api: str, method: str, path: str, body=None) -> tuple[int, dict]:
    req = urllib.request.Request(api + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw[:1] in (b"{", b"[") else {"text": raw.decode()}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _metric(api: str, name: str) -> str:
    _, doc = _call(api, "GET", "/metrics")
    return next(line for line in doc["text"].splitlines() if line.startswith(name + " "))


def test_a_halt_sent_while_no_runner_leads_is_stored_answered_202_and_applied_when_it_leads(
        tmp_path, monkeypatch, state_url):
    from killswitch.process.daemon import Daemon
    from killswitch.process.options import RunOptions

    from .test_processes import Sim

    held = threading.Event()  # while set, the keeper renews nothing (its loop held past the term)
    real_attempt = LeaseKeeper.attempt

    def attempt(self):
        return self.retry_ms if held.is_set() else real_attempt(self)

    monkeypatch.setattr(LeaseKeeper, "attempt", attempt)
    monkeypatch.setenv("KS_API_TOKEN", TOKEN)
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    sim = Sim(tmp_path, scenario="calm")
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "calm.yaml").write_text(CALM_POLICY)
    acc = accounts_file(tmp_path, sim.port, paced=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    daemon = Daemon(RunOptions((str(pol),), str(acc), state_url, str(tmp_path / "lock.json"), api_port=port,
                               holder="lone", lease_ttl_ms=1_500), lambda m: None, lambda m: None)

    def scenario() -> dict:
        wait_for(lambda: _ready(api) == "LEADER", 60, "the runner to lead", 0.05)
        held.set()
        wait_for(lambda: not _call(api, "GET", "/v1/status")[1]["leader"], 10, "the term to run out", 0.05)
        out: dict = {}
        out["typo"] = _call(api, "POST", "/v1/lock", {"scope": "binanceusdm/sim-mian", "reason": "x"})
        out["stored"] = _call(api, "POST", "/v1/lock", {"scope": SCOPE, "reason": "desk says stop",
                                                        "mode": "halted"})
        cli_run = CliRunner(env={"KS_API_TOKEN": TOKEN}).invoke(
            cli, ["lock", "--api", api, "--scope", SCOPE, "--reason", "desk again", "--mode", "halted", "--yes"])
        out["cli"] = (cli_run.exit_code, cli_run.output)
        out["unlock"] = _call(api, "POST", "/v1/unlock", {"scope": SCOPE, "reason": "all clear"})
        out["waiting"] = _call(api, "GET", "/v1/status")[1]["locks_stored"]
        out["gauge"] = _metric(api, "killswitch_locks_stored_waiting")
        out["console"] = _call(api, "GET", "/console/view")
        held.clear()  # the keeper renews again: nobody took the lease, it takes it back
        wait_for(lambda: not _call(api, "GET", "/v1/status")[1]["locks_stored"]
                 and _call(api, "GET", "/v1/status")[1]["leader"], 20, "the stored locks to be applied", 0.05)
        out["after"] = _call(api, "GET", "/v1/lock?scope=" + SCOPE)[1]
        out["gauge_after"] = _metric(api, "killswitch_locks_stored_waiting")
        return out

    async def serve() -> dict:
        serving = asyncio.create_task(daemon.run())
        try:
            return await asyncio.to_thread(scenario)
        finally:
            held.clear()
            daemon.stop.set()
            await asyncio.wait_for(serving, 30)

    try:
        out = asyncio.run(serve())
    finally:
        sim.close()
    status, doc = out["typo"]
    assert status == 404 and doc["reason"].startswith("UNKNOWN_SCOPE") and SCOPE in doc["reason"], out["typo"]
    status, doc = out["stored"]
    assert status == 202 and doc["done"] is False and doc["stored"], out["stored"]
    rid = doc["stored"]
    assert doc["reason"].startswith(f"LOCK_STORED: {SCOPE} halted stored at "), doc
    assert doc["reason"].endswith(f"the leader applies it the moment it acts (request {rid})"), doc
    code, said = out["cli"]
    assert code == 6 and said.startswith(f"LOCK_STORED: {SCOPE} halted"), out["cli"]
    status, doc = out["unlock"]
    assert status == 409 and doc["reason"].startswith("NOT_LEADER"), out["unlock"]
    waiting = [(w["scope"], w["mode"], w["reason"], w["stored_by"]) for w in out["waiting"]]
    assert waiting == [(SCOPE, "halted", "desk says stop", "lone"), (SCOPE, "halted", "desk again", "lone")], waiting
    assert out["waiting"][0]["request"] == rid and out["waiting"][0]["by"], out["waiting"]
    assert out["gauge"] == "killswitch_locks_stored_waiting 2.0", out["gauge"]
    status, page = out["console"]  # the console's first screen: a standing problem, listed first
    assert status == 200 and "2 LOCKS STORED, NOT IN FORCE" in page["text"], page
    assert page["text"].index("LOCKS STORED") < page["text"].index("Standing problems") + 200
    assert out["after"]["locked"] is True and out["after"]["mode"] == "halted", out["after"]
    assert out["gauge_after"] == "killswitch_locks_stored_waiting 0.0"
    store = open_store(state_url, migrate=False)
    try:
        trail = [(r.kind, r.payload.get("request")) for r in store.audit_rows(kinds=["lock_stored", "manual_lock"])]
        rows = store.stored_locks(waiting=False)
    finally:
        store.close()
    assert [k for k, _ in trail] == ["lock_stored", "lock_stored", "manual_lock", "manual_lock"], trail
    assert trail[0][1] == rid and trail[2][1] == rid, trail
    assert all(r.applied_ms is not None and r.result.startswith("LOCKED") for r in rows), rows
