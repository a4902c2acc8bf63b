"""`ksctl run` as a process against the simulated exchange served on 127.0.0.1, and policy reloads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from killswitch.runner.daemon import Daemon, RunOptions
from tests.conftest import POLICIES
from tests.procs import accounts_file, free_port, wait_port


def test_run_ticks_in_dry_run_against_the_simulated_exchange(tmp_path):
    port = free_port()
    exe = Path(sys.executable)
    server = subprocess.Popen([str(exe), "-m", "adapters.simulated", "serve", "--scenario", "calm", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        pol = tmp_path / "policies"
        pol.mkdir()
        for name in ("futures-book.yaml", "routes.yaml"):
            shutil.copy(POLICIES / name, pol / name)
        env = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"}
        out = subprocess.run(
            [str(exe.with_name("ksctl")), "run", "--policies", str(pol), "--accounts", str(accounts_file(tmp_path, port)),
             "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
             "--api-port", "-1", "--max-ticks", "2"],
            capture_output=True, text=True, timeout=120, env=env)
    finally:
        server.terminate()
        server.wait(10)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mode DRY RUN" in out.stdout and "stopped after 2 tick(s)" in out.stdout
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert lock["locked"] is False
    assert (tmp_path / "state.db").exists()
    assert "sim-main-secret" not in out.stdout + out.stderr


def test_a_broken_policy_keeps_the_last_good_graph_and_a_fixed_one_swaps_in(tmp_path):
    from tests.integration.test_runner import setup

    pol = tmp_path / "policies"
    pol.mkdir()
    good = (POLICIES / "spot-book.yaml").read_text()
    (pol / "p.yaml").write_text(good)
    runner, _, _, store, _ = setup(tmp_path)
    d = Daemon(RunOptions((str(pol),), "unused", "unused", "unused"), lambda m: None, lambda m: None)
    d._reload(runner)
    assert runner.policy_error is None and runner.graph.policies[0].name == "spot-book"
    first = runner.graph.digest
    (pol / "p.yaml").write_text(good.replace("day <= -8%", "day <= -8% &&"))
    d._reload(runner)
    assert runner.graph.digest == first, "a failed reload must not disarm the running graph"
    assert runner.policy_error and "KS120" in runner.policy_error
    (pol / "p.yaml").write_text(good.replace("day <= -8%", "day <= -9%"))
    d._reload(runner)
    assert runner.policy_error is None and runner.graph.digest != first
    import sqlite3

    with sqlite3.connect(tmp_path / "state.db") as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds.count("policy_reload_failed") == 1 and kinds.count("policy_reloaded") == 2, kinds
    assert store.verify_audit()[0]
