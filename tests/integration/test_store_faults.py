"""PostgreSQL failing under a live leader with orders in flight, as real processes.

Two ``ksctl run`` (holders ``ha-a`` and ``ha-b``, lease TTL 3 s) share a PostgreSQL server of
this module's own (``own_pg_server``: the tests pause it, so not the session's) and trade
against the simulated exchange's flash crash (``dry_run: false``): the crash ladder trims, then
flattens. Its first orders are answered slowly (500 ms each), so that a fault injected as soon
as the leader has journaled intents finds orders in flight. Each runner reaches the venue
through a recording proxy of its own (``tests/tcp_proxy.py``): every order each one placed is
known, with the wall time it left. A trigger the test adds to the lease table logs every change
of fencing token with PostgreSQL's clock (the same machine's): who took the lease, when.

The faults:

1. the server paused (SIGSTOP of the postmaster and every backend) for twice the TTL;
2. the leader alone cut off from it (a proxy in front of PostgreSQL for the leader only, whose
   packets are dropped) for twice the TTL, then healed;
3. the leader's backends terminated (``pg_terminate_backend``) over and over for 3 s;
4. the server paused for twice the TTL with the leader's runbook write in flight (held there by a
   trigger waiting on the test's advisory lock), while a probe reads the leader's ``/v1/status``,
   ``/readyz`` and ``/metrics`` every 100 ms: each is answered within the TTL all along.

What each must show: no order leaves a runner more than a TTL after its store stopped
answering (the leader's term, 2/3 of the TTL, ran out by then); every order a runner sends
after the fault is sent under a token taken after the fault began and still held by it (no
one sends on the old token, or after another took the lease); the book ends flat, every client
order id reaches the venue once and is filled at most once, the journal agrees with the venue
and nothing is left pending; the runners outlive the fault (a store error ends no process, a
lost connection holds no thread for ever).

Every wait is a bounded poll with generous margins (a loaded 2-core machine); what is asserted
to the millisecond is causal (an order after the token change that allowed it), never a speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Optional

import pytest

from killswitch.state import open_store
from tests.procs import accounts_file, free_port
from tests.tcp_proxy import TcpProxy

from .test_processes import (
    LEASE_TTL_S,
    SCALE_HA,
    Sim,
    assert_no_repeat_no_loss,
    diagnose,
    lease,
    pending,
    positions,
    saved,
    start_runner,
    stop,
    wait_for,
    wait_settled,
    write_inputs,
)

PAUSE_S = 2 * LEASE_TTL_S  # longer than the TTL: the leader's term runs out during the fault
# A bound on waits for what the runners do after a fault: only a hang reaches it. (TTL + 5 s for
# the standby's takeover was a timed assertion a loaded machine missed; that it came after the
# leader's last order is asserted by the lease log, not by how soon.)
HANG_S = 120.0
SLOW_ORDERS = [{"op": "place_order", "kind": "latency", "latency_ms": 500, "times": 6}]

LEASE_LOG = """
CREATE TABLE lease_log (fence BIGINT NOT NULL, holder TEXT, at_ms BIGINT NOT NULL);
CREATE FUNCTION lease_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.fence <> OLD.fence THEN
    INSERT INTO lease_log VALUES (NEW.fence, NEW.holder,
                                  (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER lease_logged AFTER UPDATE ON lease FOR EACH ROW EXECUTE FUNCTION lease_logged();
"""


@pytest.fixture
def db(own_pg_server, request) -> str:
    """A database of the test's own on this module's server (the tests pause it, so not the
    session's), migrated, with the lease log."""
    import psycopg

    url = own_pg_server.create_database("ks_" + request.node.name[5:40])
    open_store(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(LEASE_LOG)
    return url


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def lease_changes(url: str) -> list[tuple[int, Optional[str], float]]:
    """(token, holder, wall seconds) of every change of fencing token, in order."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [(f, h, ms / 1000) for f, h, ms in conn.execute("SELECT fence, holder, at_ms FROM lease_log "
                                                                 "ORDER BY fence")]


class Pair:
    """Two runners on one database, each reaching the venue through a recording proxy (and,
    with ``cut_a``, the database through a proxy the test can cut)."""

    def __init__(self, tmp: Path, sim: Sim, url: str, *, cut_a: bool = False, name_a: str = ""):
        self.tmp, self.url = tmp, url
        self.venue = {h: TcpProxy(sim.port, record=True) for h in ("ha-a", "ha-b")}
        self.db_proxy: Optional[TcpProxy] = None
        url_a = url + name_a
        if cut_a:
            port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
            self.db_proxy = TcpProxy(port)
            url_a = url.replace(f":{port}/", f":{self.db_proxy.port}/") + name_a
        self.api = {h: free_port() for h in ("ha-a", "ha-b")}
        self.procs: dict[str, Optional[subprocess.Popen]] = {"ha-a": None, "ha-b": None}
        pol, _ = write_inputs(tmp, sim.port)
        for holder, state_url in (("ha-a", url_a), ("ha-b", url)):
            own = tmp / holder
            own.mkdir()
            acc = accounts_file(own, self.venue[holder].port, dry_run="false", paced=True)
            self.procs[holder] = start_runner(tmp, pol, acc, state_url, holder, holder, api_port=self.api[holder])
            if holder == "ha-a":
                wait_for(lambda: lease(url)[0] == "ha-a", HANG_S, "ha-a to lead")
        wait_for(lambda: self.ready("ha-b") == "STANDBY", HANG_S, "ha-b to stand by", step=0.1)
        self.fence_a = lease(url)[1]
        # both up and the leader's pre-crash baseline saved: the held crash goes
        wait_for(lambda: saved(url), HANG_S, "ha-a's first tick")
        sim.go()

    def ready(self, holder: str) -> Optional[str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api[holder]}/readyz", timeout=2) as r:
                return json.loads(r.read())["reason"]
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}").get("reason")
        except OSError:
            return None

    def sent(self) -> dict[str, list[tuple[float, str]]]:
        """(wall seconds, client order id) of every order each runner placed."""
        return {h: p.orders() for h, p in self.venue.items()}

    def alive(self) -> None:
        for h, p in self.procs.items():
            assert p is not None and p.poll() is None, \
                f"{h} exited ({p and p.returncode}): {(self.tmp / f'{h}.err').read_text()[-3000:]}"

    def close(self) -> None:
        for p in self.procs.values():
            stop(p)
        for proxy in [*self.venue.values(), self.db_proxy]:
            if proxy is not None:
                proxy.close()


def in_flight_soon(pair: Pair, url: str, timeout: float) -> int:
    """Return as the leader has journaled its first intents and one of them has reached the
    venue (answered in 500 ms), unsettled: how many are in flight (journaled, not settled)."""
    return len(wait_for(lambda: pair.venue["ha-a"].orders() and pending(url), timeout,
                        "an order of the leader's at the venue and in flight", step=0.01))


def assert_sent_only_under_fresh_tokens(sent: dict[str, list[tuple[float, str]]], changes: list,
                                        fault_at: float, stop_by: float) -> dict[str, float]:
    """Every order a runner placed after ``stop_by`` went out under a token it took after the
    fault began (``fault_at``) and held then: the last change of token before the order gave
    the lease to that runner. Returns when each runner placed its last order on a token taken
    before the fault (its own term, when it led)."""
    last_on_old: dict[str, float] = {}
    for holder, orders in sent.items():
        for t, cid in orders:
            before = [(f, h, at) for f, h, at in changes if at <= t]
            assert before, f"{holder} placed {cid} before anyone held the lease"
            fence, took, at = before[-1]
            assert took == holder, f"{holder} placed {cid} {t - fault_at:+.2f}s from the fault, while token {fence} " \
                                   f"was {took}'s"
            if at < fault_at:
                last_on_old[holder] = t
                assert t <= stop_by, (f"{holder} placed {cid} {t - fault_at:.2f}s after the fault, on token {fence} "
                                      f"taken before it: more than the TTL ({LEASE_TTL_S}s) later")
    return last_on_old


def assert_each_order_once(sent: dict[str, list[tuple[float, str]]], sim: Sim) -> int:
    """No client order id left a runner twice, or reached the venue twice. The number placed."""
    placed = Counter(cid for orders in sent.values() for _, cid in orders)
    assert placed and max(placed.values()) == 1, f"sent twice: {[c for c, n in placed.items() if n > 1]}"
    at_venue = Counter(o["client_order_id"] for o in sim.state()["accounts"]["sim-main"]["orders"])
    assert max(at_venue.values()) == 1, f"at the venue twice: {[c for c, n in at_venue.items() if n > 1]}"
    assert set(placed) == set(at_venue), "an order placed that the venue never saw, or the other way round"
    return len(placed)


def finish(pair: Pair, sim: Sim, url: str, start: dict) -> None:
    ok, how_long = wait_settled(sim, url)
    assert ok, f"the book was not settled: {how_long}\n{diagnose(sim, url)}"
    pair.alive()
    for p in pair.procs.values():
        stop(p)
    assert_no_repeat_no_loss(sim, url, start)  # fills once each, flat, the journal agrees with the venue


# --- 1. the server paused -------------------------------------------------------------------------------


def test_a_paused_database_stops_the_leader_within_the_ttl_and_no_order_is_sent_twice(tmp_path, own_pg_server,
                                                                                        db):
    sim = Sim(tmp_path, scale=SCALE_HA, hold=True, faults=SLOW_ORDERS)
    pair = None
    try:
        start = positions(sim.state())
        pair = Pair(tmp_path, sim, db)
        flying = in_flight_soon(pair, db, 20 + 120 / SCALE_HA)
        pids = own_pg_server.pids()
        paused = time.time()
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            for pid in pids:
                _signal(pid, signal.SIGCONT)
        resumed = time.time()
        # someone takes a fresh token once the server answers: the old leader's term ran out
        wait_for(lambda: lease(db)[1] > pair.fence_a, HANG_S, "a fresh token after the pause")
        finish(pair, sim, db, start)
        sent, changes = pair.sent(), lease_changes(db)
        in_pause = [(h, t - paused) for h, orders in sent.items() for t, _ in orders
                    if paused + LEASE_TTL_S < t < resumed]
        assert in_pause == [], f"orders placed while the server was paused, past the TTL: {in_pause}"
        last = assert_sent_only_under_fresh_tokens(sent, changes, paused, paused + LEASE_TTL_S)
        n = assert_each_order_once(sent, sim)
        fresh = next((f, h, at) for f, h, at in changes if at >= paused)
        print(f"\n{flying} order(s) in flight; paused {len(pids)} server processes for {resumed - paused:.1f}s; "
              f"the leader's last order on its old token {last.get('ha-a', paused) - paused:+.2f}s from the pause; "
              f"token {fresh[0]} taken by {fresh[1]} {fresh[2] - resumed:.2f}s after the server came back; "
              f"{n} orders, each sent once")
    finally:
        if pair is not None:
            pair.close()
        sim.close()


# --- 2. the leader cut off --------------------------------------------------------------------------------


def test_a_leader_cut_off_from_the_database_stops_the_standby_takes_over_and_it_comes_back_as_standby(
        tmp_path, db):
    sim = Sim(tmp_path, scale=SCALE_HA, hold=True, faults=SLOW_ORDERS)
    pair = None
    try:
        start = positions(sim.state())
        pair = Pair(tmp_path, sim, db, cut_a=True)
        assert pair.db_proxy is not None
        flying = in_flight_soon(pair, db, 20 + 120 / SCALE_HA)
        pair.db_proxy.cut()
        cut = time.time()
        # the standby reaches the database: it takes over as the leader's term runs out
        wait_for(lambda: lease(db)[0] == "ha-b", HANG_S, "the standby to take over", step=0.02)
        took = time.time() - cut
        time.sleep(max(0.0, PAUSE_S - (time.time() - cut)))
        pair.db_proxy.heal()
        healed = time.time()
        # the cut-off leader's calls were lost with their packets: each ends at its deadline (20 s
        # for the runner's, 1.8 s for the lease thread's) and the runner comes back as a standby
        wait_for(lambda: pair.ready("ha-a") == "STANDBY", HANG_S, "the cut-off leader to come back as a standby",
                 step=0.2)
        back = time.time() - healed
        finish(pair, sim, db, start)
        sent, changes = pair.sent(), lease_changes(db)
        late = [(cid, t - cut) for t, cid in sent["ha-a"] if t > cut + LEASE_TTL_S]
        assert late == [], f"the cut-off leader placed orders past the TTL: {late}"
        last = assert_sent_only_under_fresh_tokens(sent, changes, cut, cut + LEASE_TTL_S)
        assert all(h == "ha-b" for _, h, at in changes if at >= cut), changes
        n = assert_each_order_once(sent, sim)
        print(f"\n{flying} order(s) in flight; cut the leader off for {healed - cut:.1f}s: its last order "
              f"{last.get('ha-a', cut) - cut:+.2f}s from the cut; the standby took over after {took:.2f}s; the old "
              f"leader was a standby again {back:.1f}s after the heal; {n} orders, each sent once")
    finally:
        if pair is not None:
            pair.close()
        sim.close()


# --- 3. the leader's connections terminated ----------------------------------------------------------------


def test_terminating_the_leaders_backends_ends_no_runner_and_repeats_no_order(tmp_path, db):
    import psycopg

    sim = Sim(tmp_path, scale=SCALE_HA, hold=True, faults=SLOW_ORDERS)
    pair = None
    try:
        start = positions(sim.state())
        pair = Pair(tmp_path, sim, db, name_a="?application_name=ks-ha-a")
        flying = in_flight_soon(pair, db, 20 + 120 / SCALE_HA)
        began = time.time()
        killed = 0
        with psycopg.connect(db, autocommit=True) as admin:
            while time.time() - began < 3.0:
                killed += admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE application_name = 'ks-ha-a'").fetchone()[0]
                time.sleep(0.3)
        assert killed >= 3, f"only {killed} of the leader's backends were there to terminate"
        finish(pair, sim, db, start)
        sent, changes = pair.sent(), lease_changes(db)
        # every order went out under the token held then by the runner that sent it
        for holder, orders in sent.items():
            for t, cid in orders:
                fence, took, _ = [c for c in changes if c[2] <= t][-1]
                assert took == holder, f"{holder} placed {cid} while token {fence} was {took}'s"
        n = assert_each_order_once(sent, sim)
        tokens = [(f, h) for f, h, _ in changes]
        print(f"\n{flying} order(s) in flight; terminated {killed} backends of the leader over 3 s; tokens {tokens}; "
              f"{n} orders, each sent once")
    finally:
        if pair is not None:
            pair.close()
        sim.close()


# --- 4. the leader's reads answered while the server is paused ---------------------------------------------

READS = ("/v1/status", "/readyz", "/metrics")
PROBE_STEP_S = 0.1
# An answer this late means the runner's loop (every view call is answered there) stood still:
# a hold of a term already loses the lease, and the store's deadlines are 20 s. An idle loop
# answers these in milliseconds; the bound is for a loaded 2-core machine.
ANSWER_BOUND_S = LEASE_TTL_S


class ReadProbe:
    """Asks one runner's read endpoints every :data:`PROBE_STEP_S`, one thread per endpoint, each
    with :data:`ANSWER_BOUND_S` to answer: (path, wall seconds sent, seconds taken, HTTP status
    or None for no answer in time, ``/readyz``'s reason)."""

    def __init__(self, port: int):
        import threading

        self.port = port
        self.asked: list[tuple[str, float, float, Optional[int], Optional[str]]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask, args=(p,), daemon=True) for p in READS]
        for t in self._threads:
            t.start()

    def _ask(self, path: str) -> None:
        from tests.integration.test_processes import API_TOKEN

        while not self._stop.wait(PROBE_STEP_S):
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": f"Bearer {API_TOKEN}"})
            sent, began = time.time(), time.monotonic()
            status: Optional[int] = None
            body = b""
            try:
                with urllib.request.urlopen(req, timeout=ANSWER_BOUND_S) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            except OSError:  # no answer within the bound (a timeout), or none at all
                pass
            reason = json.loads(body or b"{}").get("reason") if path == "/readyz" and status else None
            self.asked.append((path, sent, time.monotonic() - began, status, reason))

    def seen(self, path: str, status: int, after: float) -> bool:
        return any(p == path and s == status and t >= after for p, t, _, s, _ in list(self.asked))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(ANSWER_BOUND_S + 5)


def loop_hold_max_s(port: int) -> float:
    """The longest the runner's loop went without yielding since it started, as its watchdog
    measured it (``killswitch_loop_hold_max_seconds{window="all"}``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    line = next(ln for ln in text.splitlines() if ln.startswith('killswitch_loop_hold_max_seconds{window="all"}'))
    return float(line.rsplit(" ", 1)[1])


# A runbook write waits here for the test's advisory lock: the server is paused with one in flight,
# the moment a runner whose loop wrote it itself (a sink's store call on the loop) stood still for
# the whole pause. The first write is the incident's runbook, stored at the stage entry that closes.
RUNBOOK_TRAP_KEY = 0x6B735F7061757365  # "ks_pause"
RUNBOOK_TRAP = f"""
CREATE FUNCTION runbook_trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared({RUNBOOK_TRAP_KEY});
  RETURN NEW;
END $$;
CREATE TRIGGER runbook_trap BEFORE INSERT OR UPDATE ON runbook FOR EACH ROW EXECUTE FUNCTION runbook_trap();
"""


def runbook_write_waiting(url: str) -> bool:
    """A runner's runbook write waits for the trap's lock."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                                 "AND ((classid::bigint << 32) | objid::bigint) = %s",
                                 (RUNBOOK_TRAP_KEY,)).fetchone()[0])


def test_a_paused_database_leaves_the_leaders_loop_answering_every_read(tmp_path, own_pg_server, db):
    """Mid-close, the server paused for twice the TTL while the leader stores the incident's runbook:
    every status, readiness and metrics read of the leader is answered within the bound all along
    (its loop never waits on the store), its readiness says 503 once its term ran out by its own
    clock, and after the pause the book settles with every order sent once."""
    import psycopg

    sim = Sim(tmp_path, scale=SCALE_HA, hold=True, faults=SLOW_ORDERS)
    pair = probe = None
    trap = psycopg.connect(db, autocommit=True)
    try:
        trap.execute(RUNBOOK_TRAP)
        trap.execute("SELECT pg_advisory_lock(%s)", (RUNBOOK_TRAP_KEY,))
        start = positions(sim.state())
        pair = Pair(tmp_path, sim, db)
        held_before = loop_hold_max_s(pair.api["ha-a"])
        probe = ReadProbe(pair.api["ha-a"])
        began = time.time()
        wait_for(lambda: all(probe.seen(p, 200, began) for p in READS), 30, "the leader's reads answered", step=0.02)
        wait_for(lambda: runbook_write_waiting(db), 20 + 120 / SCALE_HA, "the incident's runbook write", step=0.01)
        flying = len(pending(db))
        pids = own_pg_server.pids()
        paused = time.time()
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)  # the fault lasts twice the TTL
        finally:
            for pid in pids:
                _signal(pid, signal.SIGCONT)
        resumed = time.time()
        trap.execute("SELECT pg_advisory_unlock(%s)", (RUNBOOK_TRAP_KEY,))
        probe.stop()
        in_pause = [a for a in probe.asked if paused <= a[1] <= resumed]
        late = [(p, round(t - paused, 2), round(took, 2), s) for p, t, took, s, _ in in_pause
                if s is None or took > ANSWER_BOUND_S]
        assert not late, f"reads of the leader unanswered within {ANSWER_BOUND_S}s while the server was paused " \
                         f"(path, sent after the pause, taken, status): {late}"
        assert len(in_pause) >= len(READS) * 2 * PAUSE_S, f"only {len(in_pause)} reads asked during the pause"
        not_ready = [(round(t - paused, 2), r) for p, t, _, s, r in in_pause if p == "/readyz" and s == 503]
        # the runner's own words, once its term ran out unrenewed by its clock (or its store is silent)
        assert not_ready, "/readyz never said 503 while the server was paused"
        assert all(r.startswith(("LEASE_LOST", "STATE_UNREACHABLE")) for _, r in not_ready), not_ready
        worst = max(took for _, _, took, _, _ in in_pause)
        held = loop_hold_max_s(pair.api["ha-a"])
        wait_for(lambda: lease(db)[1] > pair.fence_a, LEASE_TTL_S + 30, "a fresh token after the pause")
        finish(pair, sim, db, start)
        n = assert_each_order_once(pair.sent(), sim)
        print(f"\n{flying} order(s) in flight; paused {len(pids)} server processes for {resumed - paused:.1f}s with a "
              f"runbook write in flight; {len(in_pause)} reads asked meanwhile, the slowest answered in {worst:.2f}s; "
              f"first 503 {not_ready[0][0]:+.2f}s from the pause ({not_ready[0][1]}); the loop's largest hold "
              f"{held:.2f}s (before the pause {held_before:.2f}s); {n} orders, each sent once")
    finally:
        if probe is not None:
            probe.stop()
        if pair is not None:
            pair.close()
        sim.close()
        trap.close()
