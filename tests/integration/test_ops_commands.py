"""ksctl status / reset / close / heartbeat / history against a live runner and its API."""

from __future__ import annotations

import asyncio
import threading

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from killswitch.runner.api import make_app, start_api, stop_api

from .test_runner import POLICY, TICK_MS, setup

TOKEN = "ops-test-token"


def test_operator_commands_against_a_halted_runner(tmp_path):
    graph = compile_documents(load_text(POLICY.replace("reset: manual,", "reset: manual, approvals: 2,"), "p.yaml")).graph
    runner, engine, clock, store, _ = setup(tmp_path)
    runner.graph = graph
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    async def serve():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        holder["site"], holder["url"] = await start_api(make_app(runner, token=TOKEN))
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(60)
    url = holder["url"]
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    try:
        r = cmd.invoke(cli, ["status", "--api", url])
        assert r.exit_code == 0, r.output
        assert "mode live" in r.output and "stage 3 flatten" in r.output and "LATCHED: reset needs 2" in r.output
        args = ["reset", "--api", url, "--policy", "crash-ladder", "--scope", "simulated/sim-main",
                "--reason", "reviewed"]
        r = CliRunner(env={"KS_API_TOKEN": ""}).invoke(cli, args + ["--approver", "alice"])
        assert r.exit_code == 2 and "KS_API_TOKEN is not set" in r.output
        r = cmd.invoke(cli, args + ["--approver", "alice"])
        assert r.exit_code == 0 and r.output.startswith("APPROVAL_RECORDED: 1/2")
        r = cmd.invoke(cli, args + ["--approver", "bob"])
        assert r.exit_code == 0 and r.output.startswith("MANUAL_RESET")
        r = cmd.invoke(cli, ["close", "--api", url, "--scope", "simulated/sim-main", "--reason", "drill", "--dry-run"])
        assert r.exit_code == 0 and r.output.startswith("DRY_RUN")
        assert cmd.invoke(cli, ["heartbeat", "--api", url, "bot-1"]).exit_code == 0
        r = cmd.invoke(cli, ["history", "--state", f"sqlite://{tmp_path / 'state.db'}"])
        assert r.exit_code == 0 and "audit chain: intact" in r.output and "filled" in r.output
        assert TOKEN not in "".join(x.output for x in [r])
    finally:
        asyncio.run_coroutine_threadsafe(stop_api(holder["site"]), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert "bot-1" in runner.state.heartbeats
    r = CliRunner().invoke(cli, ["status", "--api", "http://127.0.0.1:9"])
    assert r.exit_code == 1 and "cannot reach the runner" in r.output


def test_audit_verify_detects_tampering(tmp_path):
    import sqlite3

    from killswitch.state import open_store

    url = f"sqlite://{tmp_path / 'a.db'}"
    store = open_store(url)
    for i in range(5):
        store.audit("event", 1_000 + i, {"n": i})
    store.close()
    assert CliRunner().invoke(cli, ["audit", "verify", "--state", url]).exit_code == 0
    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute("UPDATE audit_log SET payload = ? WHERE seq = 3", ('{"n": 99}',))
    r = CliRunner().invoke(cli, ["audit", "verify", "--state", url])
    assert r.exit_code == 1 and "TAMPERED: first bad row 3" in r.output
