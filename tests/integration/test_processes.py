"""Real processes: ``ksctl run`` killed with SIGKILL mid-crash, and two runners on one PostgreSQL.

The simulated exchange runs as its own process (``python -m adapters.simulated serve``) with
``--time-scale --hold``: its flat minute keeps the wall clock's pace while the runners start, and
once they have ticked the test lets the flash crash go, to unfold in seconds; the test reads what
the "exchange" really holds from its harness endpoint ``GET /_sim/state``. The account says the
simulator paces requests itself (``paced_by_venue``): the runners tick at the policy's 200 ms.
Everything listens on 127.0.0.1; every process is bounded in time and killed in ``finally``.

1. Crash: a live runner (SQLite state) is SIGKILLed at seeded random moments while the crash
   escalates to a flatten, restarted on the same state each time, and finally left to finish:
   no client order id is filled twice, the book is flat, no intent is left pending.
2. HA: two runners with different holders on one PostgreSQL: one leader acts; SIGKILL it and the
   standby takes the lease within the lease TTL and finishes; SIGSTOP a leader, let the standby
   take over, SIGCONT it: the old leader writes nothing and sends nothing after that.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

import pytest

from killswitch.state import open_store
from tests.conftest import bench_module
from tests.integration.runner.rig import POLICY as RUNNER_POLICY
from tests.procs import accounts_file, free_port, wait_port
from tests.state.conftest import _reset_pg

EXE = Path(sys.executable)
KSCTL = EXE.with_name("ksctl")
# Scenario seconds per wall second once the crash goes (the crash over 120/SCALE s). Its flat
# minute is held to the wall clock's pace until the runners have their pre-crash baseline (a
# loaded machine took 5 s and more to start one): the test says go (`Sim.go`), and the crash
# begins GO_LEAD_S scenario seconds later. (A fixed scale, or one derived from a measured start,
# left a slow start with no flat ticks, or the whole run paced by the slowest start.)
SCALE = 30
SCALE_HA = 15  # a leader killed or paused mid-flatten: the crash at half the pace
FLAT_S = 60  # the flash crash's flat minute
GO_LEAD_S = 3
TICK_S = 0.2
# How long the test waits for the simulator's harness to answer: a bound only a hang reaches (a
# simulator just started on a loaded machine took more than 5 s over its first answer)
SIM_ANSWER_S = 60.0
# The lease thread renews every TTL/3 for a term of 2·TTL/3, whatever the ticks take; a standby
# takes a dead leader's lease as its term runs out.
LEASE_TTL_S = 3.0
ENV = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"}
API_TOKEN = "t0ken-for-process-tests"

# The crash ladder of the in-process runner tests, on a faster clock: 200 ms ticks, a 1 m window.
POLICY = (RUNNER_POLICY.replace("interval: 5s", "interval: 200ms")
          .replace("window: 10m, min_coverage: 5%", "window: 1m, min_coverage: 1%")
          .replace('"dd >= 1%"', '"dd >= 0.75%"').replace('"dd >= 2.5%"', '"dd >= 1.25%"')
          .replace('"dd >= 4%"', '"dd >= 2%"'))
assert POLICY != RUNNER_POLICY and "interval: 200ms" in POLICY and '"dd >= 0.75%"' in POLICY


# --- harness -----------------------------------------------------------------------------------------


def wait_for(cond: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def stop(p: Optional[subprocess.Popen]) -> None:
    """Kill a process we started (SIGCONT first, in case it is stopped) and reap it."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(signal.SIGCONT)
        p.kill()
        p.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


class Sim:
    def __init__(self, tmp: Path, seed: int = 0, scale: float = SCALE, faults: Optional[list] = None,
                 scenario: str = "flash-crash", hold: bool = False):
        self.port = free_port()
        self.log = open(tmp / f"sim-{self.port}.log", "w")
        extra = []
        if faults:
            (tmp / "faults.json").write_text(json.dumps(faults))
            extra = ["--faults", str(tmp / "faults.json")]
        self.proc = subprocess.Popen(
            [str(EXE), "-m", "adapters.simulated", "serve", "--scenario", scenario, "--port", str(self.port),
             "--seed", str(seed), "--time-scale", str(scale), *extra, *(["--hold"] if hold else [])],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def go(self, at_s: float = FLAT_S - GO_LEAD_S) -> None:
        """Let a held scenario go at its time scale, from ``at_s`` scenario seconds (or now, if later)."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_sim/go?at_ms={int(at_s * 1000)}", method="POST")
        with urllib.request.urlopen(req, timeout=SIM_ANSWER_S) as r:
            assert json.loads(r.read())["time_scale"] > 1

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sim/state", timeout=SIM_ANSWER_S) as r:
            return json.loads(r.read())

    def close(self) -> None:
        stop(self.proc)
        self.log.close()


def positions(state: dict, account: str = "sim-main") -> dict:
    return {k: v[0] for k, v in state["accounts"][account]["legs"].items() if abs(v[0]) > 1e-12}


def fills(state: dict, account: str = "sim-main") -> list[tuple[str, int]]:
    """(client order id, engine time) of every fill on ``account``."""
    cids = {o["order_id"]: o.get("client_order_id") for o in state["accounts"][account]["orders"]}
    return [(cids.get(e["order"], str(e["order"])), e.get("ts", e.get("time", 0)))
            for e in state["events"] if e.get("event") == "fill" and e.get("account") == account]


def write_inputs(tmp: Path, port: int) -> tuple[Path, Path]:
    pol = tmp / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "crash-ladder.yaml").write_text(POLICY)
    acc = accounts_file(tmp, port, dry_run="false", paced=True)
    return pol, acc


def start_runner(tmp: Path, pol: Path, acc: Path, state_url: str, holder: str, log: str,
                 api_port: int = -1) -> subprocess.Popen:
    out = open(tmp / f"{log}.out", "a")
    err = open(tmp / f"{log}.err", "a")
    try:
        return subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc), "--state", state_url,
             "--lock-file", str(tmp / f"lock-{holder}.json"), "--api-port", str(api_port), "--holder", holder,
             "--lease-ttl", f"{int(LEASE_TTL_S * 1000)}ms"], stdout=out, stderr=err,
            env={**ENV, "KS_API_TOKEN": API_TOKEN})
    finally:
        out.close()
        err.close()


def said_by(tmp: Path, log: str, tail: int = 3000) -> str:
    """What the runner logging to ``log``.out / ``log``.err said (its last ``tail`` characters)."""
    return "".join((tmp / f"{log}.{o}").read_text() for o in ("out", "err") if (tmp / f"{log}.{o}").exists())[-tail:]


def own_lapses(tmp: Path, log: str, holder: str, token: Optional[int] = None) -> list[str]:
    """The lines in which ``holder`` said its own term of ``token`` (None: any) ran out unrenewed.
    On a loaded machine a leader's short test term (2 s) can lapse with no rival; the next term
    is a new token, taken by whoever asks: no reclaim. A take while its term still ran would be
    one, and the holder would say "taken by ... while this runner's term still ran"."""
    named = re.compile(rf"\(holder {re.escape(holder)}, token {token if token is not None else '[0-9]+'}\)")
    return [line for line in said_by(tmp, log, 0).splitlines() if "lease lost: " in line and named.search(line)
            and "still ran" not in line]


def settled(sim: Sim, state_url: str) -> bool:
    """No pending intent, and a flat book."""
    store = open_store(state_url)
    try:
        if store.pending_intents():
            return False
    finally:
        store.close()
    return not positions(sim.state())


def wait_until(cond: Callable[[], object], timeout: float, step: float = 0.01) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def wait_settled(sim: Sim, state_url: str, stall_s: float = 30.0, cap_s: float = 240.0) -> tuple[bool, str]:
    """Wait until the book is settled (no pending intent, flat), for as long as the runner makes
    progress: (settled, how long it took or why it gave up).

    A fixed 30 s from the last restart was a guess at a loaded machine's speed, and with both cores
    busy the runner (a process that imports ccxt, then ~1 s per tick against the simulated venue)
    needed more. Progress here is any change of the journal, the pending intents or the positions;
    a runner stuck for ``stall_s`` (30 ticks of an idle machine) fails, and so does one that never
    finishes within ``cap_s``."""
    start = last_change = time.monotonic()
    last = None
    while True:
        now = time.monotonic()
        if settled(sim, state_url):
            return True, f"settled in {now - start:.1f}s"
        mark = (journal_size(state_url), len(pending(state_url)), tuple(sorted(positions(sim.state()).items())))
        if mark != last:
            last, last_change = mark, now
        if now - last_change > stall_s:
            return False, f"no progress for {stall_s:.0f}s ({now - start:.1f}s after the last restart)"
        if now - start > cap_s:
            return False, f"still moving but not settled after {cap_s:.0f}s"
        time.sleep(0.2)


def journal_size(state_url: str) -> int:
    store = open_store(state_url)
    try:
        return len(store.journal(limit=10_000))
    finally:
        store.close()


def pending(state_url: str) -> list:
    store = open_store(state_url)
    try:
        return store.pending_intents()
    finally:
        store.close()


def diagnose(sim: Sim, state_url: str) -> str:
    st = sim.state()
    store = open_store(state_url)
    try:
        rows = [(e.client_order_id, e.symbol, e.side, e.amount, e.fence, e.status, e.filled, e.reason_code, e.detail)
                for e in store.journal(limit=10_000)]
        doc = store.load_engine_state()
    finally:
        store.close()
    orders = [(o.get("client_order_id"), o.get("symbol"), o.get("side"), o.get("quantity"), o.get("status"))
              for o in st["accounts"]["sim-main"]["orders"]]
    return (f"positions: {positions(st)}\njournal: {rows}\nexchange orders: {orders}\n"
            f"engine state scopes: {json.dumps(doc and doc['engine'].get('scopes'), default=str)[:1500]}")


def saved(state_url: str) -> bool:
    store = open_store(state_url)
    try:
        return store.load_engine_state() is not None
    finally:
        store.close()


def assert_no_repeat_no_loss(sim: Sim, state_url: str, start: dict, flat: bool = True) -> list:
    st = sim.state()
    n = Counter(cid for cid, _ in fills(st))
    assert n and all(c == 1 for c in n.values()), f"repeated: {n}"
    if flat:
        assert positions(st) == {}, f"lost: positions left open {positions(st)}"
    store = open_store(state_url)
    try:
        assert store.pending_intents() == [], [(e.client_order_id, e.status) for e in store.pending_intents()]
        journal = store.journal(limit=10_000)
        assert store.verify_audit()[0]
    finally:
        store.close()
    assert set(n) <= {e.client_order_id for e in journal}, "a fill for an order the journal never held"
    # the journal agrees with the exchange, order by order, and accounts for every position change
    at_venue = {o["client_order_id"]: o for o in st["accounts"]["sim-main"]["orders"]}
    # Refused before sending (the adapter's own check: a settled intent whose position another
    # close already took) never reaches the exchange, by design.
    local_refusals = {"CLOSE_EXCEEDS_POSITION", "NOT_REDUCE_ONLY"}
    for e in journal:
        o = at_venue.get(e.client_order_id)
        if o is None and e.status == "rejected" and e.reason_code in local_refusals:
            continue
        assert o is not None, f"journaled as {e.status} but never at the exchange: {e.client_order_id}"
        assert e.status == o["status"].lower() and abs((e.filled or 0) - o["executed_qty"]) < 1e-9, (e, o)
    moved = Counter()
    for e in journal:
        moved[e.symbol.split("/")[0] + "USDT"] += (e.filled or 0) * (1 if e.side == "buy" else -1)
    for key, amount in start.items():
        left = positions(st).get(key, 0.0)
        assert abs(amount + moved[key.split("/")[0]] - left) < 1e-9, f"{key}: {amount} + {moved} != {left}"
    filled = sum(e.filled or 0 for e in journal if e.status == "filled")
    assert filled <= sum(abs(v) for v in start.values()) + 1e-9
    return journal


# --- 1. kill -9 at random points ------------------------------------------------------------------------

KILLS_PER_CASE = 3
CASES = list(range(5))  # 5 cases x 3 kills = 15 SIGKILLs


@pytest.mark.parametrize("case", CASES)
def test_sigkill_at_random_points_neither_repeats_nor_loses_an_order(tmp_path, case):
    rng = random.Random(1000 + case)
    sim = Sim(tmp_path, seed=case, hold=True)
    url = f"sqlite://{tmp_path / 'state.db'}"
    runner = None
    try:
        start = positions(sim.state())
        assert start
        pol, acc = write_inputs(tmp_path, sim.port)
        kills = []
        for k in range(KILLS_PER_CASE):
            # the same holder: a restart of the same deployment takes its own lease back at once
            runner = start_runner(tmp_path, pol, acc, url, "crash-runner", "runner")
            if k == 0:  # a pre-crash equity baseline, or the drawdown may never reach the flatten
                wait_for(lambda: saved(url), 40, "the first tick", step=0.05)
                sim.go()
            if rng.random() < 0.6:
                # aimed: just after the runner journals new intents, i.e. around send and reconcile
                before = journal_size(url)
                new = wait_until(lambda: journal_size(url) > before, 2.5)
                delay = rng.uniform(0.0, 0.15)
                time.sleep(delay)
                how = f"{'after new intents' if new else 'no new intents in 2.5 s'} +{delay:.2f}s"
            else:  # anywhere: a process takes ~0.5-1 s to its first tick, then ticks every 200 ms
                delay = rng.uniform(0.2, 2.0)
                time.sleep(delay)
                how = f"at {delay:.2f}s"
            assert runner.poll() is None, (tmp_path / "runner.err").read_text()
            runner.kill()
            runner.wait(10)
            kills.append(f"{how}: {len(pending(url))} pending")
        runner = start_runner(tmp_path, pol, acc, url, "crash-runner", "runner")
        ok, how_long = wait_settled(sim, url)
        if not ok:
            pytest.fail(f"not settled: {how_long}; kills: {kills}\n{diagnose(sim, url)}")
        stop(runner)
        # A close sent late (after a restart) may expire past its protected price; the runner then
        # plans the entry's closes again at fresh prices ("/r<n>"), so the book must end flat.
        assert_no_repeat_no_loss(sim, url, start, flat=True)
        # (but for a reader process the kill caught being spawned: see crash_soak.runner_tracebacks)
        assert bench_module("crash_soak").runner_tracebacks((tmp_path / "runner.err").read_text()) == []
    finally:
        stop(runner)
        sim.close()


# --- 2. HA on PostgreSQL ------------------------------------------------------------------------------


def lease(url: str) -> tuple[Optional[str], int]:
    store = open_store(url)
    try:
        le = store.lease()
        return le.holder, le.fence
    finally:
        store.close()


def takeover(url: str, tmp: Path) -> None:
    """Wait for ha-b to hold the lease after ha-a stopped or died; if it does not in time, say
    what the database and the standby's log show (who holds what lock, which session idles in a
    transaction), so that a late takeover explains itself."""
    try:
        wait_for(lambda: lease(url)[0] == "ha-b", LEASE_TTL_S + 5, "the standby to take over", step=0.02)
    except AssertionError as e:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            sessions = conn.execute(
                "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 80) "
                "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
            locks = conn.execute("SELECT pid, locktype, relation::regclass, mode, granted FROM pg_locks "
                                 "WHERE relation IS NOT NULL AND pid <> pg_backend_pid()").fetchall()
        logs = "".join((tmp / f"b.{out}").read_text()[-1500:] for out in ("out", "err") if (tmp / f"b.{out}").exists())
        raise AssertionError(f"{e}\nlease: {lease(url)}\nsessions: {sessions}\nlocks: {locks}\n"
                             f"ha-b's log:\n{logs}") from None


def journal(url: str) -> list:
    store = open_store(url)
    try:
        return store.journal(limit=10_000)
    finally:
        store.close()


def result_fences(url: str) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [(c, f) for c, f in conn.execute("SELECT client_order_id, fence FROM order_result")]


@pytest.fixture
def pg_url(own_pg_server):
    """This module's own server: a standby ends a paused leader's session stalled on the lease
    row (pg_terminate_backend), which the session's shared server must not see."""
    url = own_pg_server.url()
    _reset_pg(url)
    return url


def two_runners(tmp_path, sim, url):
    """Runner ha-a leading (it has ticked: its pre-crash baseline), ha-b standing by, then the
    held crash let go: (a, b, a's token)."""
    pol, acc = write_inputs(tmp_path, sim.port)
    a = start_runner(tmp_path, pol, acc, url, "ha-a", "a")
    try:
        wait_for(lambda: lease(url)[0] == "ha-a", 20, "ha-a to lead")
    except BaseException:
        stop(a)
        raise
    port_b = free_port()
    b = start_runner(tmp_path, pol, acc, url, "ha-b", "b", api_port=port_b)
    try:
        # The takeover bound is measured from the leader's death: the standby must be up by then
        # (a loaded machine took longer than the lease TTL to start it).
        wait_for(lambda: standby_ready(port_b), 60, "ha-b to stand by", step=0.1)
        wait_for(lambda: saved(url), 30, "ha-a's first tick")
        sim.go()
    except BaseException:
        stop(a)
        stop(b)
        raise
    return a, b, lease(url)[1]


def standby_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return "STANDBY" in json.loads(resp.read())["reason"]
    except OSError:
        return False


def test_ha_one_leader_acts_and_a_standby_takes_over_within_the_ttl(tmp_path, pg_url):
    # The venue answers the first two orders slowly: the leader is killed while its flatten is
    # under way, whatever the machine's speed, so the standby has work left to take over.
    sim = Sim(tmp_path, scale=SCALE_HA, hold=True, faults=[{"op": "place_order", "kind": "latency",
                                                          "latency_ms": 1500, "times": 2}])
    a = b = None
    try:
        start = positions(sim.state())
        a, b, fence_a = two_runners(tmp_path, sim, pg_url)
        # the crash up to the first stage (2 scenario minutes at most) passes first
        wait_for(lambda: journal(pg_url), 20 + 120 / SCALE_HA, "the leader's first orders", step=0.05)
        assert b.poll() is None and a.poll() is None
        assert lease(pg_url) == ("ha-a", fence_a)
        before = journal(pg_url)
        assert {e.fence for e in before} == {fence_a}, "only the leader journals"
        a.kill()
        killed = time.monotonic()
        a.wait(10)
        takeover(pg_url, tmp_path)
        took = time.monotonic() - killed
        fence_b = lease(pg_url)[1]
        assert fence_b > fence_a
        # The dead leader's term ran at most 2·TTL/3 past the kill and the standby wakes as it runs
        # out: the last third of the TTL is its margin on a loaded machine, plus a tick for this
        # test's own polling from yet another process.
        assert took <= LEASE_TTL_S + TICK_S, f"takeover after {took:.2f}s (lease TTL {LEASE_TTL_S}s)"
        ok, how_long = wait_settled(sim, pg_url)
        assert ok, f"the standby did not finish the flatten: {how_long}\n{diagnose(sim, pg_url)}"
        stop(b)
        entries = assert_no_repeat_no_loss(sim, pg_url, start)
        # a dead, every token from fence_b on is the standby's (a tick slower than the TTL, as
        # under the slowed orders, lapses the lease and it takes a fresh one)
        fences = {e.fence for e in entries} | {f for _, f in result_fences(pg_url)}
        assert fences <= {fence_a} | set(range(fence_b, lease(pg_url)[1] + 1)), fences
        assert any(f >= fence_b for f in fences), \
            "the standby acted after the takeover (sent, or settled what the leader left pending)"
    finally:
        stop(a)
        stop(b)
        sim.close()


def test_ha_a_paused_leader_neither_writes_nor_sends_after_waking(tmp_path, pg_url):
    sim = Sim(tmp_path, scale=SCALE_HA, hold=True)
    a = b = None
    try:
        start = positions(sim.state())
        a, b, fence_a = two_runners(tmp_path, sim, pg_url)
        wait_for(lambda: journal(pg_url), 20 + 120 / SCALE_HA, "the leader's first orders", step=0.1)
        a.send_signal(signal.SIGSTOP)
        takeover(pg_url, tmp_path)
        fence_b = lease(pg_url)[1]
        taken_at = sim.state()["now"]  # engine time of the takeover (or just after)
        a_rows_at_takeover = [e.client_order_id for e in journal(pg_url) if e.fence == fence_a]
        a_results_at_takeover = sum(1 for _, f in result_fences(pg_url) if f == fence_a)
        ok, how_long = wait_settled(sim, pg_url)
        assert ok, f"the new leader did not finish the flatten: {how_long}\n{diagnose(sim, pg_url)}"
        # Intents the old leader journaled but never sent are the new leader's to send (under the
        # same client ids, results under its fence): only a fill after the wake-up is the old one's.
        woke_at = sim.state()["now"]
        a.send_signal(signal.SIGCONT)
        time.sleep(2.5)  # the old leader wakes, finishes whatever tick it was in and ticks again (slow when loaded)
        held = lease(pg_url)
        if held != ("ha-b", fence_b):
            assert held[1] > fence_b and own_lapses(tmp_path, "b", "ha-b", fence_b), \
                f"the woken leader took the lease back: {held}, not ha-b's term {fence_b}\n{said_by(tmp_path, 'b')}"
        st = sim.state()
        entries = journal(pg_url)
        # writes: no intent and no result under the old fence after the takeover
        assert [e.client_order_id for e in entries if e.fence == fence_a] == a_rows_at_takeover
        assert sum(1 for _, f in result_fences(pg_url) if f == fence_a) == a_results_at_takeover
        # sends: nothing filled after the takeover under an order the old leader journaled
        by_fence = {e.client_order_id: e.fence for e in entries}
        late = [(cid, ts) for cid, ts in fills(st) if ts > woke_at and by_fence.get(cid) == fence_a]
        assert late == [], f"the deposed leader's orders filled after it woke up: {late}"
        assert taken_at <= woke_at
        stop(b)
        assert_no_repeat_no_loss(sim, pg_url, start)
    finally:
        stop(a)
        stop(b)
        sim.close()


def test_ha_a_heartbeat_sent_to_the_standby_reaches_the_leader(tmp_path, pg_url):
    """Behind one Service a bot's beat lands on either replica: sent to the standby's API, it
    is stored in PostgreSQL and the leader takes it in at its next tick."""
    sim = Sim(tmp_path, scenario="calm")
    a = b = None
    try:
        pol, _ = write_inputs(tmp_path, sim.port)
        acc = accounts_file(tmp_path, sim.port, dry_run="false", strategies=("bot-x",), paced=True)  # names the bot
        a = start_runner(tmp_path, pol, acc, pg_url, "ha-a", "a")
        wait_for(lambda: lease(pg_url)[0] == "ha-a", 20, "ha-a to lead")
        port_b = free_port()
        b = start_runner(tmp_path, pol, acc, pg_url, "ha-b", "b", api_port=port_b)
        wait_port(port_b, 20)
        api = f"http://127.0.0.1:{port_b}"
        beat = subprocess.run([str(KSCTL), "heartbeat", "--source", "bot-x", "--api", api], capture_output=True,
                              text=True,
                              env={**ENV, "KS_API_TOKEN": API_TOKEN}, timeout=30)
        assert beat.returncode == 0, beat.stderr
        assert lease(pg_url)[0] == "ha-a", "the beat went to the standby"

        def leader_heard() -> bool:
            store = open_store(pg_url)
            try:
                doc = store.load_engine_state()
            finally:
                store.close()
            return bool(doc) and "bot-x" in doc["engine"]["heartbeats"]

        wait_for(leader_heard, 10, "the leader to take the beat in and save it")
        with urllib.request.urlopen(api + "/readyz", timeout=5) as resp:
            assert "STANDBY" in json.loads(resp.read())["reason"]
    finally:
        stop(a)
        stop(b)
        sim.close()
