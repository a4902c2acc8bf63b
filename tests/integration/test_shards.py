"""Shards as real processes: PostgreSQL, the simulated exchange and two ``ksctl run --shard``
runners on one database (desk-a holds sim-main, desk-b sim-hedge). Each runner reads and closes
its own shard's account only, journals in its own schema and says that the firm-wide policy is
not evaluated by it; a runner started on desk-a with another account set while desk-a's runner
leads is refused SHARD_MISMATCH (exit 2) naming what differs. Everything listens on 127.0.0.1;
every process is bounded in time and killed in ``finally``."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import psycopg

from tests.procs import free_port
from tests.state.conftest import pg_server, pg_url  # noqa: F401 - the session server, a database emptied on it

from .test_processes import KSCTL, Sim, positions, stop, wait_for

ENV = {**os.environ, "KS_MAIN_KEY": "sim-main-key", "KS_MAIN_SECRET": "sim-main-secret",
       "KS_HEDGE_KEY": "sim-hedge-key", "KS_HEDGE_SECRET": "sim-hedge-secret", "KS_API_TOKEN": "t0ken-of-shards"}

ACCOUNTS = """\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: firm}}
spec:
  dry_run: false
  shards:
    - {{name: desk-a, accounts: {{match_labels: {{desk: a}}}}}}
    - {{name: desk-b, accounts: {{match_labels: {{desk: b}}}}}}
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{desk: a}}
      initial_capital: 10M
      api_url: http://127.0.0.1:{port}
      credentials: {{api_key: {{env: KS_MAIN_KEY}}, secret: {{env: KS_MAIN_SECRET}}}}
      paced_by_venue: true
    - name: sim-hedge
      venue: binanceusdm
      market_type: futures
      hedge_mode: true
      labels: {{desk: b}}
      initial_capital: 5M
      api_url: http://127.0.0.1:{port}
      credentials: {{api_key: {{env: KS_HEDGE_KEY}}, secret: {{env: KS_HEDGE_SECRET}}}}
      paced_by_venue: true
"""
# desk-a with one more account than its running replicas were started with
EXTRA = """\
    - name: sim-extra
      venue: binanceusdm
      market_type: futures
      labels: {{desk: a}}
      api_url: http://127.0.0.1:{port}
      credentials: {{api_key: {{env: KS_MAIN_KEY}}, secret: {{env: KS_MAIN_SECRET}}}}
      paced_by_venue: true
"""

# equity 90 % below a 10M (5M) initial capital: fires at the first tick, and closes everything
POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  scope: {scope}
  interval: 1s
  signals:
    vs_capital: {{equity_change: {{against: initial_capital}}}}
  triggers:
    halt: {{when: "vs_capital <= {limit}", for: 1 tick, on_missing_data: hold}}
  stages:
    - {{level: 1, name: flatten, on: [halt], reset: manual, actions: [close_all]}}
"""


def _inputs(tmp: Path, port: int) -> tuple[Path, Path, Path]:
    pol = tmp / "policies"
    pol.mkdir()
    (pol / "desk-a.yaml").write_text(POLICY.format(name="desk-a-flatten", scope="{accounts: {match_labels: "
                                                   "{desk: a}}}", limit="-50%"))
    (pol / "desk-b.yaml").write_text(POLICY.format(name="desk-b-flatten", scope="{accounts: {match_labels: "
                                                   "{desk: b}}}", limit="-50%"))
    (pol / "firm.yaml").write_text(POLICY.format(name="firm-breaker", scope="{level: global}", limit="-99.9%"))
    acc = tmp / "accounts.yaml"
    acc.write_text(ACCOUNTS.format(port=port))
    other = tmp / "accounts-other.yaml"
    other.write_text(ACCOUNTS.format(port=port) + EXTRA.format(port=port))
    return pol, acc, other


def _start(tmp: Path, pol: Path, acc: Path, url: str, shard: str, holder: str, api_port: int = -1
           ) -> subprocess.Popen:
    with open(tmp / f"{holder}.out", "w") as out, open(tmp / f"{holder}.err", "w") as err:
        return subprocess.Popen(
            [str(KSCTL), "run", "--shard", shard, "--policies", str(pol), "--accounts", str(acc), "--state", url,
             "--lock-file", str(tmp / f"lock-{holder}.json"), "--api-port", str(api_port), "--holder", holder,
             "--lease-ttl", "3s"], stdout=out, stderr=err, env=ENV)


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _journal(url: str, schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                            "AND table_name = 'order_intent'", (schema,)).fetchone():
            return []
        return conn.execute(f'SELECT account, symbol FROM "{schema}".order_intent ORDER BY seq').fetchall()


def test_two_shard_runners_act_on_their_own_accounts_and_a_mismatched_replica_is_refused(tmp_path, pg_url):
    sim = Sim(tmp_path, scenario="calm")
    runners: list[subprocess.Popen] = []
    try:
        before = sim.state()
        assert positions(before, "sim-main") and positions(before, "sim-hedge")
        pol, acc, other = _inputs(tmp_path, sim.port)
        api = free_port()
        runners.append(_start(tmp_path, pol, acc, pg_url, "desk-a", "a-0", api))
        runners.append(_start(tmp_path, pol, acc, pg_url, "desk-b", "b-0"))
        wait_for(lambda: _journal(pg_url, "ks_shard_desk_a") and _journal(pg_url, "ks_shard_desk_b")
                 or any(r.poll() is not None for r in runners), 90, "both shards to send their closes")
        assert all(r.poll() is None for r in runners), [(tmp_path / f"{h}.err").read_text() for h in ("a-0", "b-0")]
        # each shard's journal, in its own schema, holds its own account's closes only
        assert {a for a, _ in _journal(pg_url, "ks_shard_desk_a")} == {"sim-main"}
        assert {a for a, _ in _journal(pg_url, "ks_shard_desk_b")} == {"sim-hedge"}
        wait_for(lambda: not positions(sim.state(), "sim-main") and not positions(sim.state(), "sim-hedge"),
                 60, "both accounts flat, each closed by its own shard's runner")
        # the shard in the status and on /metrics
        status = _get(f"http://127.0.0.1:{api}/v1/status", ENV["KS_API_TOKEN"])
        assert status["shard"] == "desk-a" and set(status["data_age_s"]) == {"binanceusdm/sim-main"}
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{api}/metrics", timeout=5).read().decode()
        assert 'killswitch_shard_info{shard="desk-a"} 1.0' in metrics

        # a runner of desk-a started with another account set while a-0 leads desk-a
        refused = subprocess.run(
            [str(KSCTL), "run", "--shard", "desk-a", "--policies", str(pol), "--accounts", str(other),
             "--state", pg_url, "--lock-file", str(tmp_path / "lock-a-9.json"), "--api-port", "-1",
             "--holder", "a-9", "--max-ticks", "1"], capture_output=True, text=True, timeout=120, env=ENV)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "SHARD_MISMATCH: shard desk-a is registered with accounts digest" in refused.stderr
        assert "led by a-0" in refused.stderr and "only in this runner's: binanceusdm/sim-extra" in refused.stderr
        # a replica started with the same file registers as the same shard and stands by
        runners.append(_start(tmp_path, pol, acc, pg_url, "desk-a", "a-1"))
        wait_for(lambda: "registered in ks_firm.shard (same)" in (tmp_path / "a-1.out").read_text()
                 or runners[-1].poll() is not None, 60, "the replica to register")
        assert runners[-1].poll() is None, (tmp_path / "a-1.err").read_text()
    finally:
        for r in runners:
            stop(r)
        sim.close()
    out_a = (tmp_path / "a-0.out").read_text() + (tmp_path / "a-0.err").read_text()
    out_b = (tmp_path / "b-0.out").read_text() + (tmp_path / "b-0.err").read_text()
    assert "shard desk-a: 1 account(s) (sim-main); state in schema ks_shard_desk_a; 1 local policy(ies): " \
           "desk-a-flatten" in out_a
    assert "shard desk-b: 1 account(s) (sim-hedge)" in out_b and "desk-b-flatten" in out_b
    for out in (out_a, out_b):
        assert "FIRM-WIDE POLICIES EVALUATED BY THE FIRM LEASE HOLDER: firm-breaker" in out
        assert "1 account(s); holder" in out  # one adapter: the shard's account only
    assert "sim-hedge" not in out_a.replace("(sim-hedge)", "")
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT name, accounts FROM ks_firm.shard ORDER BY name").fetchall()
    assert rows == [("desk-a", '["binanceusdm/sim-main"]'), ("desk-b", '["binanceusdm/sim-hedge"]')]
