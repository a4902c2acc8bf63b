"""The firm-wide kill as real processes: PostgreSQL, the simulated exchange and ``ksctl run
--shard`` runners of two shards (desk-a holds sim-main, desk-b sim-hedge), a bot's entry order
resting on each account. desk-b is stopped; ``ksctl kill --firm`` sent to desk-a's API previews
desk-b NOT HEARD and its account NOT REACHED, sends nothing from a script without ``--yes``,
and with it writes the kill: desk-a locks halted, cancels its entry order and names its keys out
of reach (no ``revoke:`` block); ``ksctl status --firm`` shows desk-b NOT REACHED. desk-b started
again takes the kill up: its gate refuses, its entry order is cancelled, its account reported
done. ``ksctl unlock --scope global`` is refused at once (exit 1), naming the kill's release. A
release approved once is recorded and the kill stays in force; the same approver again is
refused. Everything on 127.0.0.1; every process bounded in time and killed in ``finally``."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.integration.firm.test_firm import (
    ENV,
    ORDER_A,
    ORDER_B,
    _allowed,
    _call,
    _files,
    _logs,
    _order_status,
    _rest_entry,
    _run,
)
from tests.integration.test_processes import KSCTL, Sim, stop, wait_for
from tests.integration.test_shards import pg_url  # noqa: F401 - the fixture
from tests.procs import free_port


def _kill(api: int) -> dict:
    try:
        return _call("GET", f"http://127.0.0.1:{api}/v1/firm/kill")
    except OSError:
        return {}


def _shard(doc: dict, name: str) -> dict:
    return next((s for s in doc.get("shards") or () if s["shard"] == name), {})


def _ksctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(KSCTL), *args], capture_output=True, text=True, timeout=60, env=ENV,
                          stdin=subprocess.DEVNULL)


def test_a_shard_down_during_the_firm_kill_takes_it_up_when_it_starts(tmp_path, pg_url):
    sim = Sim(tmp_path, scenario="calm")
    runners: dict[str, subprocess.Popen] = {}
    api_a, api_b = free_port(), free_port()
    try:
        pol, acc = _files(tmp_path, sim.port)
        runners["a-0"] = _run(tmp_path, pol, acc, pg_url, "desk-a", "a-0", api_a)
        runners["b-0"] = _run(tmp_path, pol, acc, pg_url, "desk-b", "b-0", api_b)

        def heard_both() -> bool:
            doc = _call("GET", f"http://127.0.0.1:{api_a}/v1/firm/shards") if runners["a-0"].poll() is None else {}
            return all(_shard(doc, s).get("reachable") for s in ("desk-a", "desk-b"))

        wait_for(lambda: _alive(heard_both), 60, "both shards heard")
        stop(runners.pop("b-0"))  # down (killed: its lease lapses)
        wait_for(lambda: not _shard(_call("GET", f"http://127.0.0.1:{api_a}/v1/firm/shards"), "desk-b")
                 .get("reachable"), 20, "desk-b not heard")
        _rest_entry(sim, ENV["KS_MAIN_KEY"], ENV["KS_MAIN_SECRET"], "bot-a-entry")
        _rest_entry(sim, ENV["KS_HEDGE_KEY"], ENV["KS_HEDGE_SECRET"], "bot-b-entry", hedge="LONG")
        api = f"http://127.0.0.1:{api_a}"

        unsent = _ksctl("kill", "--firm", "--api", api, "--reason", "runaway bots")
        assert unsent.returncode == 2, (unsent.stdout, unsent.stderr)
        assert unsent.stdout.startswith("PREVIEW: firm-wide kill of 2 account(s) on 2 shard(s); 1 NOT HEARD "
                                        "(desk-b)"), unsent.stdout
        assert "until then these accounts are NOT REACHED: binanceusdm/sim-hedge" in unsent.stdout
        assert "KILL_UNCONFIRMED: nothing was sent" in unsent.stderr and _kill(api_a).get("kill") is None

        sent = _ksctl("kill", "--firm", "--api", api, "--reason", "runaway bots", "--yes")
        assert sent.returncode == 0 and "KILL_SENT: directive" in sent.stdout, (sent.stdout, sent.stderr)
        assert "NOT HEARD, carried out when heard again: desk-b" in sent.stdout
        wait_for(lambda: _order_status(sim, "sim-main", "bot-a-entry") == "CANCELED", 10, "desk-a's entry cancelled")
        assert not _allowed(api_a, ORDER_A)
        doc = _kill(api_a)
        assert [a["states"] for a in _shard(doc, "desk-a")["accounts"]] == [["locked", "nothing resting",
                                                                              "out of reach"]]
        assert _shard(doc, "desk-b")["state"] == "NOT REACHED" and doc["summary"]["not_reached"] == ["desk-b"]
        assert _order_status(sim, "sim-hedge", "bot-b-entry") == "NEW"  # nobody acted on desk-b's account
        status = _ksctl("status", "--firm", "--api", api)
        assert "NOT REACHED (the shard has not taken it up; it does when heard): desk-b" in status.stdout, \
            status.stdout

        runners["b-1"] = _run(tmp_path, pol, acc, pg_url, "desk-b", "b-1", api_b)  # desk-b starts again
        wait_for(lambda: _shard(_kill(api_a), "desk-b").get("state") == "done", 60, "desk-b to take the kill up")
        assert _order_status(sim, "sim-hedge", "bot-b-entry") == "CANCELED"
        assert not _allowed(api_b, ORDER_B)
        # an unlock of global cannot end the kill, and says so at once (exit 1), not in the shards' logs
        unlock = _ksctl("unlock", "--scope", "global", "--reason", "bots fixed", "--api", api)
        said = unlock.stdout + unlock.stderr
        assert unlock.returncode == 1, said
        assert "KILL_IN_FORCE: global is halted by firm-wide kill" in said and "ksctl kill --firm --release" in said
        assert not _allowed(api_a, ORDER_A) and not _allowed(api_b, ORDER_B)

        once = _call("POST", f"{api}/v1/firm/kill/release", {"reason": "bots fixed"})
        assert once["done"] and once["reason"].startswith("APPROVAL_RECORDED: 1/2"), once
        twice = _call("POST", f"{api}/v1/firm/kill/release", {"reason": "bots fixed, I say"})
        assert not twice["done"] and twice["reason"].startswith("DUPLICATE_APPROVER"), twice
        assert _kill(api_a)["released"] is None and not _allowed(api_a, ORDER_A)
    finally:
        for r in runners.values():
            stop(r)
        sim.close()
    logs = _logs(tmp_path, "a-0", "b-1")
    assert "kill global applied here: KILLED: 1 account(s) locked halted (global)" in logs


def test_a_firm_kill_during_a_database_pause_blames_the_database_not_the_runner(tmp_path, own_pg_server):
    """PostgreSQL paused (SIGSTOP of every process of this module's own server) while desk-a
    leads: ``ksctl kill --firm`` must say that the firm's tables did not answer, not that the
    runner could not be reached, and send nothing (its preview once waited for a tick held by
    the store past the client's time-out); a local lock is answered too; once the server answers
    the kill goes out."""
    url = own_pg_server.create_database("ks_firm_kill_pause")
    sim = Sim(tmp_path, scenario="calm")
    runner = None
    pids: list[int] = []
    try:
        pol, acc = _files(tmp_path, sim.port)
        api_a = free_port()
        runner = _run(tmp_path, pol, acc, url, "desk-a", "a-0", api_a)
        api = f"http://127.0.0.1:{api_a}"
        wait_for(lambda: _alive(lambda: _shard(_call("GET", f"{api}/v1/firm/shards"), "desk-a").get("reachable")),
                 60, "desk-a heard")
        pids = own_pg_server.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        paused = _ksctl("kill", "--firm", "--api", api, "--reason", "runaway bots", "--yes")
        said = paused.stdout + paused.stderr
        assert paused.returncode == 1, said
        assert "STATE_UNREACHABLE: the firm's tables in PostgreSQL did not answer" in said, said
        assert "cannot reach the runner" not in said and "ksctl lock --scope global --mode halted" in said, said
        # the local halt it points to is answered too: a tick held up by the paused store keeps
        # the runner's state (or the kill's own attempt, still waiting on the tables), and a
        # change that cannot have it in time says who holds it (not done)
        local = _ksctl("lock", "--scope", "global", "--mode", "halted", "--reason", "runaway bots",
                       "--api", api)
        said = local.stdout + local.stderr
        assert local.returncode == 1 and "cannot reach the runner" not in said, said
        assert any(w in said for w in ("TURN_BUSY: the tick has held the runner's state",
                                       "TURN_BUSY: an operator's change has held the runner's state",
                                       "NOT_LEADER")), said
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        pids = []
        # the runner's connections come back at their own deadlines: the operator asks again, and
        # an attempt the tables took late is the kill in force, never a second one
        tries: list[str] = []

        def killed() -> bool:
            got = _ksctl("kill", "--firm", "--api", api, "--reason", "runaway bots", "--yes")
            tries.append(got.stdout + got.stderr)
            return got.returncode == 0 or "KILL_IN_FORCE" in tries[-1]

        wait_for(killed, 120, "the kill once the database answers")
        assert "cannot reach the runner" not in "".join(tries), tries
        assert _kill(api_a).get("kill") is not None
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        if runner is not None:
            stop(runner)
        sim.close()


def _alive(check) -> bool:
    try:
        return bool(check())
    except OSError:
        return False
