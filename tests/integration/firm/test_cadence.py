"""The firm-wide breaker on shards with no local policy, as real processes: PostgreSQL, the
simulated exchange and two ``ksctl run --shard`` runners (desk-a holds sim-main, desk-b
sim-hedge) whose policies directory holds one firm-wide policy (``global``, interval 1 s) and
nothing else. Each shard ticks and publishes its facts at the firm policy's interval, so the
holder of the firm lease reads them fresh (1.5 intervals) and the breaker is armed and acts on
every shard; a runner told to tick slower than that is refused at start. Everything on
127.0.0.1; every process bounded in time and killed in ``finally``."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.integration.firm.test_firm import FIRM, ORDER_A, ORDER_B, _allowed, _firm, _logs, _mark, _run
from tests.integration.test_processes import KSCTL, Sim, positions, stop, wait_for
from tests.integration.test_shards import ENV, _inputs, _journal, pg_url  # noqa: F401 - the fixture
from tests.procs import free_port


def _firm_only(tmp: Path, port: int) -> tuple[Path, Path]:
    pol, acc, _ = _inputs(tmp, port)
    for f in pol.iterdir():
        f.unlink()
    (pol / "firm.yaml").write_text(FIRM)
    return pol, acc


def _armed(api: int) -> bool:
    doc = _firm(api)
    return bool(doc.get("policies")) and all(p["armed"] for p in doc["policies"])


def test_shards_without_a_local_policy_publish_at_the_firm_interval_and_a_breach_is_acted_on_by_each(
        tmp_path, pg_url):
    sim = Sim(tmp_path, scenario="calm")
    runners: list[subprocess.Popen] = []
    api_a, api_b = free_port(), free_port()
    status = None
    try:
        pol, acc = _firm_only(tmp_path, sim.port)
        runners.append(_run(tmp_path, pol, acc, pg_url, "desk-a", "a-0", api_a))
        # desk-b started once desk-a is up and half an interval later, its ticks out of step with
        # desk-a's (as shards' are)
        wait_for(lambda: "API at" in (tmp_path / "a-0.out").read_text() or runners[0].poll() is not None, 60,
                 "desk-a's runner up")
        time.sleep(0.5)
        runners.append(_run(tmp_path, pol, acc, pg_url, "desk-b", "b-0", api_b))
        try:  # before: each shard published every 5 s (its tick with no local policy), read stale past 1.5 s
            wait_for(lambda: _armed(api_a) or any(r.poll() is not None for r in runners), 40,
                     "the firm-wide policy armed over both shards' facts")
        except AssertionError:
            raise AssertionError(json.dumps(_firm(api_a))) from None
        assert all(r.poll() is None for r in runners), _logs(tmp_path, "a-0", "b-0")
        # armed for good, not by a lucky read: every view read over six intervals is armed (a shard
        # that published every 5 s, as before, is read stale within any 5 s)
        views = []
        end = time.monotonic() + 6
        while time.monotonic() < end:
            doc = _firm(api_b)
            views.append((_armed(api_b), doc.get("evaluated", {}).get("ages_ms")))
            time.sleep(0.25)
        assert all(a for a, _ in views), views
        status = subprocess.run([str(KSCTL), "status", "--firm", "--api", f"http://127.0.0.1:{api_a}"],
                                capture_output=True, text=True, timeout=60, env=ENV)
        assert _allowed(api_a, ORDER_A) and _allowed(api_b, ORDER_B)

        before = sim.state()
        assert positions(before, "sim-main") and positions(before, "sim-hedge")
        moved = time.monotonic()
        _mark(sim, "BTCUSDT", 30_000.0)
        _mark(sim, "ETHUSDT", 1_500.0)
        wait_for(lambda: not _allowed(api_a, ORDER_A) and not _allowed(api_b, ORDER_B), 15, "both gates locked")
        locked_s = time.monotonic() - moved
        wait_for(lambda: _journal(pg_url, "ks_shard_desk_a") and _journal(pg_url, "ks_shard_desk_b"), 15,
                 "the first close of each shard")
        closed_s = time.monotonic() - moved
        assert {a for a, _ in _journal(pg_url, "ks_shard_desk_a")} == {"sim-main"}
        assert {a for a, _ in _journal(pg_url, "ks_shard_desk_b")} == {"sim-hedge"}
        print(f"firm breach, no local policy: gates locked {locked_s:.2f}s and first closes {closed_s:.2f}s "
              "after the marks moved")
        assert locked_s < 6 and closed_s < 10  # two 1 s intervals and the ticks' own time, with CI slack
    finally:
        for r in runners:
            stop(r)
        sim.close()
    assert status is not None and status.returncode == 0, status
    assert "NOT PUBLISHING" not in status.stdout, status.stdout
    logs = _logs(tmp_path, "a-0", "b-0")
    assert "0 local policy(ies): -" in logs
    assert "ticks every 1s: the firm-wide policies' interval (no local policy)" in logs, logs


def test_a_firm_wide_interval_under_the_floor_is_refused_at_start_and_a_reload_to_it_keeps_the_last_good_graph(
        tmp_path, pg_url):
    sim = Sim(tmp_path, scenario="calm")
    started = runner = None
    api = free_port()
    try:
        pol, acc = _firm_only(tmp_path, sim.port)
        firm = pol / "firm.yaml"
        firm.write_text(FIRM.replace("interval: 1s", "interval: 500ms"))
        started = _run(tmp_path, pol, acc, pg_url, "desk-a", "a-0", api)
        wait_for(lambda: started.poll() is not None, 60, "the start refused")
        assert started.returncode == 2
        err = (tmp_path / "a-0.err").read_text()
        assert ("ksctl run: FIRM_INTERVAL_TOO_SHORT: policy firm-breaker: interval 500ms is under the firm-wide "
                "floor of 1s") in err, err
        assert "; nothing started" in err and "API at" not in (tmp_path / "a-0.out").read_text()

        firm.write_text(FIRM)
        runner = _run(tmp_path, pol, acc, pg_url, "desk-a", "a-1", api)
        wait_for(lambda: "ticks every 1s" in (tmp_path / "a-1.out").read_text() or runner.poll() is not None, 60,
                 "desk-a's runner up at the firm's interval")
        wait_for(lambda: _status(api).get("last_tick_ms"), 30, "its first tick")
        before = _status(api)
        assert before["tick_interval_s"] == 1.0 and before["reload_ok"], before
        firm.write_text(FIRM.replace("interval: 1s", "interval: 500ms"))  # a reload to the refused interval

        def failed() -> bool:
            return "POLICY RELOAD FAILED" in (tmp_path / "a-1.err").read_text() or runner.poll() is not None

        wait_for(failed, 30, "the reload refused")
        after = _status(api)
        assert not after["reload_ok"] and after["policy_error"].startswith(
            "FIRM_INTERVAL_TOO_SHORT: policy firm-breaker: interval 500ms"), after
        assert after["tick_interval_s"] == 1.0 and after["graph_digest"] == before["graph_digest"]
        ticked = after["last_tick_ms"]
        wait_for(lambda: _status(api)["last_tick_ms"] > ticked, 10, "a tick after the refused reload")
        assert runner.poll() is None
    finally:
        stop(started)
        stop(runner)
        sim.close()
    err = (tmp_path / "a-1.err").read_text()
    assert "POLICY RELOAD FAILED, the last good graph" in err and "FIRM_INTERVAL_TOO_SHORT" in err, err


def _status(api: int) -> dict:
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{api}/v1/status",
                                 headers={"Authorization": f"Bearer {ENV['KS_API_TOKEN']}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except OSError:
        return {}
