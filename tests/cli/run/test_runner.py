"""`ksctl run` as a process against the simulated exchange served on 127.0.0.1, and policy reloads."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from tests.conftest import POLICIES
from tests.procs import Receiver, accounts_file, free_port, simulated_exchange


def example_policies(tmp_path: Path, fallback_port: int) -> Path:
    """The example book and routes, the routes' fallback webhook on a receiver that takes every
    page: the example's other receivers cannot be reached here (a secret unset, a file absent),
    and a fallback that refused too would hold the stop up to 5 s for the pages being retried
    (the JSON-lines test below keeps the refusing one: its error lines are part of its subject)."""
    pol = tmp_path / "policies"
    pol.mkdir()
    shutil.copy(POLICIES / "futures-book.yaml", pol / "futures-book.yaml")
    routes = (POLICIES / "routes.yaml").read_text()
    assert "json://127.0.0.1:9099/killswitch" in routes
    (pol / "routes.yaml").write_text(routes.replace("127.0.0.1:9099", f"127.0.0.1:{fallback_port}"))
    return pol


def test_run_ticks_in_dry_run_against_the_simulated_exchange(tmp_path):
    exe = Path(sys.executable)
    receiver = Receiver()
    try:
        with simulated_exchange() as port:
            pol = example_policies(tmp_path, receiver.port)
            env = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"}
            out = subprocess.run(
                [str(exe.with_name("ksctl")), "run", "--policies", str(pol),
                 "--accounts", str(accounts_file(tmp_path, port)),
                 "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
                 "--api-port", "-1", "--max-ticks", "2"],
                capture_output=True, text=True, timeout=120, env=env)
    finally:
        receiver.close()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mode DRY RUN" in out.stdout and "stopped after 2 tick(s)" in out.stdout
    assert "revision not in git;" in out.stdout, "the start line spells a missing revision as every output does"
    start = next(x for x in out.stdout.splitlines() if "ksctl run: mode" in x)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO killswitch\.run ksctl run: mode DRY", start), start
    lock = json.loads((tmp_path / "lock.json").read_text())
    # futures-book's windows are empty in its first ticks: its while_blind holds the account at reducing
    assert lock["locked"] is True and lock["mode"] == "reducing", lock
    assert "WHILE_BLIND: policy=futures-book INSUFFICIENT_HISTORY" in json.dumps(lock)
    assert (tmp_path / "state.db").exists()
    assert "sim-main-secret" not in out.stdout + out.stderr


def test_a_broken_policy_keeps_the_last_good_graph_and_a_fixed_one_swaps_in(tmp_path):
    from tests.integration.runner.rig import parts_of, setup

    pol = tmp_path / "policies"
    pol.mkdir()
    good = (POLICIES / "spot-book.yaml").read_text()
    (pol / "p.yaml").write_text(good)
    runner, _, _, store, _, _ = setup(tmp_path)
    parts = parts_of(runner)
    d = Daemon(RunOptions((str(pol),), "unused", "unused", "unused"), lambda m: None, lambda m: None)
    asyncio.run(d._reload(runner, parts))
    assert parts.reloads.error is None and parts.book.graph.policies[0].name == "spot-book"
    first = parts.book.graph.digest
    (pol / "p.yaml").write_text(good.replace("day <= -8%", "day <= -8% &&"))
    asyncio.run(d._reload(runner, parts))
    assert parts.book.graph.digest == first, "a failed reload must not disarm the running graph"
    assert parts.reloads.error and "KS120" in parts.reloads.error
    (pol / "p.yaml").write_text(good.replace("day <= -8%", "day <= -9%"))
    asyncio.run(d._reload(runner, parts))
    assert parts.reloads.error is None and parts.book.graph.digest != first
    import sqlite3

    with sqlite3.connect(tmp_path / "state.db") as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds.count("policy_reload_failed") == 1 and kinds.count("policy_reloaded") == 2, kinds
    assert store.verify_audit()[0]


def _run(tmp_path, pol, port, ticks=2):
    exe = Path(sys.executable)
    env = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"}
    return subprocess.run(
        [str(exe.with_name("ksctl")), "run", "--policies", str(pol), "--accounts", str(accounts_file(tmp_path, port)),
         "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
         "--api-port", "-1", "--max-ticks", str(ticks)],
        capture_output=True, text=True, timeout=120, env=env)


def test_a_restart_on_broken_policies_runs_the_last_good_graph_from_the_state(tmp_path):
    """A policy change that does not compile, met at start (a pod rolled by that very change),
    must not leave the book unguarded: the runner runs the last graph that ran, and says so."""
    from killswitch.state import open_store

    with simulated_exchange() as port:
        pol = tmp_path / "policies"
        pol.mkdir()
        good = (POLICIES / "futures-book.yaml").read_text()
        (pol / "futures-book.yaml").write_text(good)
        first = _run(tmp_path, pol, port)
        assert first.returncode == 0, first.stdout + first.stderr
        store = open_store(f"sqlite://{tmp_path / 'state.db'}")
        bundle = store.policy_bundle()
        store.close()
        assert bundle is not None and [n for n, _ in bundle.sources] == [str(pol / "futures-book.yaml")]

        (pol / "futures-book.yaml").write_text(good.replace("dd_15m >= 10%", "dd_15m >= "))
        second = _run(tmp_path, pol, port)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "error[" in second.stderr and "THE POLICIES HAVE ERRORS: running the last good graph" in second.stderr
        assert f"graph {bundle.graph_digest}" in second.stdout and "stopped after 2 tick(s)" in second.stdout

        empty = tmp_path / "fresh"
        empty.mkdir()
        (empty / "policies").mkdir()
        (empty / "policies" / "futures-book.yaml").write_text((pol / "futures-book.yaml").read_text())
        third = _run(empty, empty / "policies", port)
        assert third.returncode == 1 and "holds no last good policies; nothing started" in third.stderr


def test_an_unreadable_credential_fails_that_account_instead_of_the_runner(tmp_path):
    """The secret's environment variable is not set: the runner starts, says so, and the account's
    snapshots fail with AUTH (a signal the policies see), with nothing sent to it; a bad tokens
    document stops the runner before anything starts."""
    from killswitch.state import open_store

    port = free_port()  # nothing listens: no venue is called for an account that cannot be built
    receiver = Receiver()
    pol = example_policies(tmp_path, receiver.port)
    env = {k: v for k, v in os.environ.items() if k not in ("KS_T_KEY", "KS_T_SECRET")}
    exe = Path(sys.executable)
    args = [str(exe.with_name("ksctl")), "run", "--policies", str(pol),
            "--accounts", str(accounts_file(tmp_path, port)),
            "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
            "--api-port", "-1", "--max-ticks", "2"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    finally:
        receiver.close()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ACCOUNT UNREADABLE: binanceusdm/sim-main: AUTH" in out.stderr and "KS_T_KEY" in out.stderr
    assert "stopped after 2 tick(s)" in out.stdout
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        state = store.load_engine_state()
    finally:
        store.close()
    assert state["engine"]["last_tick_ms"] is not None
    assert state["engine"]["accounts"]["binanceusdm/sim-main"], "the account was seen, as failed"

    (tmp_path / "tokens.yaml").write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens: [{identity: a}]\n")
    args[args.index("-1")] = "0"
    out = subprocess.run(args + ["--api-tokens", str(tmp_path / "tokens.yaml")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 2 and "tokens[0]: roles must be a non-empty list" in out.stderr, out.stderr
    assert "nothing started" in out.stderr


def test_a_lease_ttl_too_short_to_renew_is_refused_with_a_reason_code(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli

    acc = accounts_file(tmp_path, 9)
    out = CliRunner().invoke(cli, ["run", "--policies", str(POLICIES / "futures-book.yaml"), "--accounts", str(acc),
                                   "--state", f"sqlite://{tmp_path / 'state.db'}", "--lease-ttl", "100ms",
                                   "--lock-file", str(tmp_path / "lock.json"), "--api-port", "-1", "--max-ticks", "1"])
    assert out.exit_code == 2, out.output
    assert "LEASE_TTL_TOO_SHORT" in out.output and not (tmp_path / "state.db").exists()


def test_a_readers_count_that_is_neither_a_number_nor_auto_is_refused_with_a_reason_code(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli

    acc = accounts_file(tmp_path, 9)
    for typo in ("two", "-1", "atuo", "1.5"):
        out = CliRunner().invoke(cli, ["run", "--policies", str(POLICIES / "futures-book.yaml"), "--accounts",
                                       str(acc), "--state", f"sqlite://{tmp_path / 'state.db'}", "--readers", typo,
                                       "--lock-file", str(tmp_path / "lock.json"), "--api-port", "-1"])
        assert out.exit_code == 2, out.output
        assert f"READERS_INVALID: {typo!r} is not a count of reader processes nor auto" in out.output
        assert not (tmp_path / "state.db").exists()
        assert ("did you mean auto?" in out.output) == (typo == "atuo")


def test_run_logs_json_lines_with_ks_log_format_and_keeps_credentials_out(tmp_path):
    """KS_LOG_FORMAT=json: every line of both streams is a JSON object with a UTC time and a level;
    the credentials' values set in the environment appear in none."""
    port = free_port()  # nothing listens: the snapshots fail, which is logged, not fatal
    pol = tmp_path / "policies"
    pol.mkdir()
    for name in ("futures-book.yaml", "routes.yaml"):
        shutil.copy(POLICIES / name, pol / name)
    env = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret", "KS_LOG_FORMAT": "json"}
    exe = Path(sys.executable)
    out = subprocess.run([str(exe.with_name("ksctl")), "run", "--policies", str(pol),
                          "--accounts", str(accounts_file(tmp_path, port)),
                          "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
                          "--api-port", "-1", "--max-ticks", "1"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = [json.loads(x) for x in out.stdout.splitlines()]
    assert docs and all(d["ts"].endswith("Z") and d["level"] == "INFO" for d in docs), out.stdout
    said = [d["msg"] for d in docs if d["logger"] == "killswitch.run"]
    assert any(m.startswith("ksctl run: mode DRY RUN") for m in said), said
    assert said[-1] == "ksctl run: stopped after 1 tick(s)", said
    assert all(json.loads(x)["level"] in ("WARNING", "ERROR") for x in out.stderr.splitlines()), out.stderr
    assert "sim-main-secret" not in out.stdout + out.stderr and "sim-main-key" not in out.stdout + out.stderr
