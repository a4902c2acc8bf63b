"""Benchmark: SIGKILL a live ``ksctl run`` at random points, many times, and count the damage.

Each *run* starts the simulated exchange as its own process (``python -m adapters.simulated
serve --scenario flash-crash --time-scale X``: flat for 60 s of scenario time, then BTC -15 %,
ETH -20 %, SOL -10 % over two minutes), a fresh state and a live runner (``dry_run: false``)
ticking every 200 ms with the crash ladder policy (trim, trim more, flatten and lock). The state
is a SQLite file (``--state sqlite``, the default) or a database of its own on one PostgreSQL
server the soak starts on a free loopback port with ``initdb`` and ``pg_ctl`` (``--state
postgres``, fsync on; the runner then keeps its lease on a connection of its own, as in HA).
The runner is started and killed with SIGKILL ``--kills-per-run`` times, each time at a moment
drawn from a seeded generator:

* in flight (40 %): as soon as an intent is journaled without a final result (polled every
  5 ms, for up to 2.5 s) — an order being sent, or sent and not yet answered;
* after new intents (30 %): 0-150 ms after the runner journals new intents (waited for up to
  2.5 s) — around the send and the reconciliation;
* anywhere (30 %): 0.2-2 s after the process starts — imports, the reconciliation at start,
  ticks.

How many kills found orders in flight (an intent without a final result at the moment of
the kill) is counted: those are the kills that could lose or repeat an order.

Then it is started once more and left to settle (nothing pending, the book flat) within
``--settle`` seconds, and the run is judged from the exchange's own record (``GET
/_sim/state``) and the journal:

* positions left open: runs whose book was not flat when they ended;
* orders repeated: client order ids filled more than once at the venue;
* orders lost: intents journaled that never reached the venue and were never settled;
* pending left: intents without a final result when the run ended;
* journal disagreements: a journaled result that is not what the venue holds, an order at the
  venue that was never journaled, or fills that do not account for the position change.
* stage entries without their effects: every stage entry the audit trail or the journal names
  (its decision id) must have exactly one ``stage_transition`` audit row, a stored runbook, and
  at least one page at the run's receiver (an apprise ``json://`` receiver the soak serves on
  a loopback port; a page repeated after a kill carries the same dedup key).

Prints the store, the machine, the counts, the wall time and the time per kill, and exits 1 if
any order was lost or repeated or the journal disagrees with the venue. ``--kills N`` (default
1,000), ``--seed S``. Interrupted (Ctrl-C, SIGTERM), it prints what it has counted so far.
:func:`one_run` is also what ``tests/integration/test_crash_soak.py`` runs on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, whatever the venv installed

from killswitch.state import open_store  # noqa: E402

PYTHON = Path(sys.executable)
STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL, fsync on"}
KSCTL = PYTHON.with_name("ksctl")
# the runners it starts run this checkout's code too, whatever the venv installed
ENV = {**os.environ, "KS_CS_KEY": "sim-main-key", "KS_CS_SECRET": "sim-main-secret",
       "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).resolve().parent.parent),
                                                   os.environ.get("PYTHONPATH"))))}
LOCAL_REFUSALS = {"CLOSE_EXCEEDS_POSITION", "NOT_REDUCE_ONLY"}  # refused by the adapter, never sent

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: crash-ladder}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}}
  interval: 200ms
  signals:
    dd: {equity_drawdown: {window: 1m, min_coverage: 1%}}
  triggers:
    soft: {when: "dd >= 0.75%", on_missing_data: hold}
    harder: {when: "dd >= 1.25%", on_missing_data: hold}
    hard: {when: "dd >= 2%", on_missing_data: hold}
  stages:
    - {level: 1, name: trim, on: [soft], cooldown: 1h,
       actions: [{reduce_top_risk: {count: 2, fraction: 50%}}]}
    - {level: 2, name: trim-more, on: [harder], cooldown: 1h,
       actions: [{reduce_top_risk: {count: 1, fraction: 25%}}]}
    - {level: 3, name: flatten, on: [hard], reset: manual,
       actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
  unwind: {chunk_notional: 200k}
"""


def routes_doc(port: int) -> str:
    return f"""\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {{name: soak}}
spec:
  route:
    receiver: pager
    group_by: [policy, scope, level]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - {{name: pager, apprise: ["json://127.0.0.1:{port}/pager"]}}
"""


class Pages:
    """The run's page receiver: apprise ``json://`` posts on a loopback port, kept in order."""

    def __init__(self) -> None:
        import http.server
        import threading

        pages = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    doc = json.loads(raw)
                    pages.append(f"{doc.get('title', '')}\n{doc.get('message', '')}")
                except ValueError:
                    pages.append(raw.decode("utf-8", "replace"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def naming(self, incident: str) -> list[str]:
        return [b for b in self.bodies if incident in b]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def accounts_doc(port: int, paced: bool = False) -> str:
    """``paced``: the account says the simulator paces requests itself (``paced_by_venue``): no
    ccxt throttle, the runner ticks at the policy's 200 ms rather than ccxt's 1-2 s."""
    return f"""\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: crash-soak}}
spec:
  dry_run: false
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{book: futures}}
      api_url: http://127.0.0.1:{port}
      credentials: {{api_key: {{env: KS_CS_KEY}}, secret: {{env: KS_CS_SECRET}}}}
""" + ("      paced_by_venue: true\n" if paced else "")


# --- processes -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(p: Optional[subprocess.Popen], sig: int = signal.SIGKILL, wait: float = 10.0) -> None:
    """Signal a process this benchmark started, then reap it (SIGKILL if it lingers)."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(wait)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)
    except ProcessLookupError:
        pass


class Sim:
    """The simulated exchange as a process, and its harness endpoint. ``order_latency_ms``: every
    order answered that much later (its fill at the venue is not delayed). ``hold``: the flat
    minute keeps the wall clock's pace until :meth:`go` (``serve --hold``)."""

    def __init__(self, work: Path, seed: int, scale: float, order_latency_ms: int = 0, hold: bool = False):
        self.port = free_port()
        self.log = open(work / "sim.log", "w")
        faults = []
        if order_latency_ms:
            (work / "faults.json").write_text(json.dumps([{"op": "place_order", "kind": "latency",
                                                           "latency_ms": order_latency_ms}]))
            faults = ["--faults", str(work / "faults.json")]
        self.proc = subprocess.Popen(
            [str(PYTHON), "-m", "adapters.simulated", "serve", "--scenario", "flash-crash", "--port", str(self.port),
             "--seed", str(seed), "--time-scale", str(scale), *faults, *(["--hold"] if hold else [])],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: listening(self.port) or self.proc.poll() is not None, 30, 0.05) \
                or self.proc.poll() is not None:
            self.close()
            raise RuntimeError(f"the simulated exchange did not start; see {work / 'sim.log'}")

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sim/state", timeout=10) as r:
            return json.loads(r.read())

    def go(self, at_s: float = 57.0) -> None:
        """A held crash goes at the time scale from ``at_s`` scenario seconds (3 before the crash)."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_sim/go?at_ms={int(at_s * 1000)}", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def close(self) -> None:
        stop(self.proc)
        self.log.close()


def open_legs(state: dict) -> dict:
    return {k: v[0] for k, v in state["accounts"]["sim-main"]["legs"].items() if abs(v[0]) > 1e-12}


# --- one run -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kills: int = 0
    kinds: Counter = field(default_factory=Counter)  # how each kill was timed
    in_flight: int = 0  # kills with an intent journaled and not settled at that moment
    open_legs: int = 0
    repeated: int = 0
    lost: int = 0
    pending: int = 0
    disagreements: list[str] = field(default_factory=list)
    runner_errors: int = 0  # runner processes that died by themselves, or printed a traceback
    tracebacks: list[str] = field(default_factory=list)  # each traceback's last lines, as printed
    settled: bool = False
    orders: int = 0  # intents journaled
    entries: int = 0  # stage entries the audit trail or the journal names
    unaudited: int = 0  # entries without a stage_transition row
    audited_twice: int = 0  # entries with more than one
    unpaged: int = 0  # entries no page reached the receiver for
    repaged: int = 0  # entries paged more than once (the same dedup key: told apart by the receiver)
    unmarked: int = 0  # entries whose page reached the receiver twice unmarked: neither said it may be a repeat
    no_runbook: int = 0  # entries without a stored runbook


class Run:
    """One run's exchange, state and runner. ``state_url``: an empty PostgreSQL database (None:
    a SQLite file of the run's own)."""

    def __init__(self, work: Path, seed: int, scale: float, state_url: Optional[str] = None,
                 order_latency_ms: int = 0, paced: bool = False, hold: bool = False):
        self.work = work
        self.sim = Sim(work, seed, scale, order_latency_ms, hold)
        self.pages = Pages()
        self.db = work / "state.db"
        self.url = state_url or f"sqlite://{self.db}"
        self._pg: Any = None  # the harness's own connection to a PostgreSQL state, for its polls
        pol = work / "policies"
        pol.mkdir()
        (pol / "crash-ladder.yaml").write_text(POLICY)
        (pol / "routes.yaml").write_text(routes_doc(self.pages.port))
        self.policies = pol
        self.accounts = work / "accounts.yaml"
        self.accounts.write_text(accounts_doc(self.sim.port, paced))
        self.runner: Optional[subprocess.Popen] = None

    def start_runner(self) -> subprocess.Popen:
        with open(self.work / "runner.out", "a") as out, open(self.work / "runner.err", "a") as err:
            self.runner = subprocess.Popen(
                [str(KSCTL), "run", "--policies", str(self.policies), "--accounts", str(self.accounts),
                 "--state", self.url, "--lock-file", str(self.work / "lock.json"), "--api-port", "-1",
                 "--holder", "crash-soak", "--lease-ttl", "3s"], stdout=out, stderr=err, env=ENV)
        return self.runner

    def _sql(self, query: str) -> Optional[tuple]:
        """One row of a read-only query on the state, or None while it does not exist yet (the
        runner creates the schema). Polled every few ms: on PostgreSQL one connection of the
        harness's own, kept."""
        if self.url.startswith("postgresql://"):
            return self._pg_row(query)
        if not self.db.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
            try:
                return conn.execute(query).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None

    def _pg_row(self, query: str) -> Optional[tuple]:
        import psycopg

        try:
            if self._pg is None or self._pg.closed:
                self._pg = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            return self._pg.execute(query).fetchone()
        except psycopg.Error:  # (no table yet, or the connection lost: asked again at the next poll)
            if self._pg is not None:
                self._pg.close()
            return None

    def intents(self) -> int:
        row = self._sql("SELECT count(*) FROM order_intent")
        return row[0] if row else 0

    def in_flight(self) -> int:
        """Intents without a final result: being sent, or sent and not yet settled."""
        row = self._sql("SELECT count(*) FROM order_intent i WHERE NOT EXISTS (SELECT 1 FROM order_result r "
                        "WHERE r.client_order_id = i.client_order_id AND r.final)")
        return row[0] if row else 0

    def saved(self) -> bool:
        row = self._sql("SELECT count(*) FROM engine_state")
        return bool(row and row[0])

    def pending(self) -> int:
        store = open_store(self.url, migrate=False)  # the runner owns the schema; the harness only reads
        try:
            return len(store.pending_intents())
        finally:
            store.close()

    def entries(self) -> tuple[Counter, set[str], set[str]]:
        """The stage_transition rows per decision id, the entries the journal names, and the
        incidents with a stored runbook."""
        store = open_store(self.url, migrate=False)
        try:
            rows = store.audit_rows(kinds=["stage_transition"], limit=100_000)
            audited = Counter(r.payload["decision_id"] for r in rows if r.payload.get("decision_id"))
            journaled = {re.sub(r"/r\d+$", "", e.decision_id) for e in store.journal(limit=100_000)}
            journaled = {d for d in journaled if re.search(r"/L\d+/e\d+$", d)}
            books = {d for d in set(audited) | journaled if store.runbook(d) is not None}
        finally:
            store.close()
        return audited, journaled, books

    def entries_paged(self) -> bool:
        try:
            audited, journaled, _ = self.entries()
        except Exception:  # noqa: BLE001 - no schema yet
            return False
        return all(self.pages.naming(d) for d in set(audited) | journaled)

    def settled(self) -> bool:
        return self.pending() == 0 and not open_legs(self.sim.state())

    def close(self) -> None:
        stop(self.runner)
        self.sim.close()
        self.pages.close()
        if self._pg is not None:
            self._pg.close()


def one_run(work: Path, seed: int, scale: float, kills: int, settle: float, rng: random.Random,
            state_url: Optional[str] = None, order_latency_ms: int = 0,
            on_baseline: Callable[[], None] = lambda: None, paced: bool = False, hold: bool = False) -> Outcome:
    """One run (see the module doc): ``kills`` SIGKILLs, a last start left to settle, judged.
    ``state_url``: an empty PostgreSQL database (None: a SQLite file under ``work``);
    ``order_latency_ms``: the venue answers every order that much later (more kills find orders
    in flight); ``on_baseline``: called once the first runner has saved its first tick (its
    pre-crash baseline), or has died trying (runs side by side start the next one then); ``paced``:
    the account says the simulator paces requests (``paced_by_venue``); ``hold``: the crash waits
    for that baseline (``serve --hold``), then goes at ``scale``, however long the start took."""
    out = Outcome()
    run = Run(work, seed, scale, state_url, order_latency_ms, paced, hold)
    try:
        start = open_legs(run.sim.state())
        for k in range(kills):
            p = run.start_runner()
            if k == 0:  # a pre-crash equity baseline, or the drawdown may never reach the flatten
                wait_until(lambda: run.saved() or p.poll() is not None, 30, 0.05)
                if hold:
                    run.sim.go()
                on_baseline()
            x = rng.random()
            if x < 0.4:
                caught = wait_until(lambda: run.in_flight() > 0 or p.poll() is not None, 2.5, 0.005)
                kind = "in flight" if caught else "in flight (none within 2.5 s)"
            elif x < 0.7:
                before = run.intents()
                caught = wait_until(lambda: run.intents() > before or p.poll() is not None, 2.5, 0.01)
                time.sleep(rng.uniform(0.0, 0.15))
                kind = "after new intents" if caught else "after new intents (none within 2.5 s)"
            else:
                time.sleep(rng.uniform(0.2, 2.0))
                kind = "anywhere"
            if p.poll() is not None:
                out.runner_errors += 1  # it died by itself: not a kill
                continue
            p.kill()
            p.wait(10)
            out.kills += 1
            out.kinds[kind] += 1
            out.in_flight += 1 if run.in_flight() else 0
        run.start_runner()
        out.settled = wait_until(run.settled, settle, 0.2)
        wait_until(lambda: run.entries_paged(), 10, 0.2)  # the last entry's page: group_wait 0, a delivery
        stop(run.runner, signal.SIGTERM)
        judge(run, start, out)
        err = (work / "runner.err").read_text(errors="replace") if (work / "runner.err").exists() else ""
        found = runner_tracebacks(err)
        out.runner_errors += len(found)
        out.tracebacks += ["\n".join(t.splitlines()[-12:]) for t in found]
    finally:
        run.close()
    return out


def runner_tracebacks(err: str) -> list[str]:
    """The tracebacks a runner's stderr holds, but for the one a SIGKILL itself makes: a child
    the runner was spawning (a reader process) that lost its parent before reading what to run
    says ``EOFError: Ran out of input`` from ``multiprocessing.spawn`` alone, before any of
    ours runs. Every other traceback is the runner's own."""
    found = []
    for t in err.split("Traceback")[1:]:
        lines = ("Traceback" + t).splitlines()
        # the traceback: its header, its indented frames, and the exception's line after them
        end = next((i for i, line in enumerate(lines[1:], 1) if line and not line[0].isspace()), len(lines) - 1)
        found.append("\n".join(lines[:end + 1]))
    return [t for t in found if not (t.endswith("EOFError: Ran out of input") and "multiprocessing/spawn.py" in t
                                     and "killswitch" not in t)]


def unmarked_twice(pages: list[str]) -> list[str]:
    """The dedup keys of ``pages`` (one entry's) that reached the receiver more than once without
    the mark of a page sent again after a kill (``repeat after a restart``): a receipt journaled
    means it is never sent again, none means it is sent again marked."""
    keys = Counter(m.group(1) for p in pages if "repeat after a restart" not in p.split("\n", 1)[0]
                   for m in [re.search(r"\bdedup ([0-9a-f]{16})\b", p)] if m)
    return sorted(k for k, n in keys.items() if n > 1)


def judge(run: Run, start: dict, out: Outcome) -> None:
    state = run.sim.state()
    account = state["accounts"]["sim-main"]
    at_venue = {o["client_order_id"]: o for o in account["orders"]}
    ids = {o["order_id"]: o["client_order_id"] for o in account["orders"]}
    fills = Counter(ids.get(e["order"]) for e in state["events"]
                    if e.get("event") == "fill" and e.get("account") == "sim-main")
    out.repeated = sum(1 for n in fills.values() if n > 1)
    left = open_legs(state)
    out.open_legs = len(left)
    store = open_store(run.url, migrate=False)
    try:
        journal = store.journal(limit=100_000)
        out.pending = len(store.pending_intents())
        if not store.verify_audit()[0]:
            out.disagreements.append("the audit chain does not verify")
    finally:
        store.close()
    out.orders = len(journal)
    journaled = {e.client_order_id for e in journal}
    moved: Counter = Counter()
    for e in journal:
        o = at_venue.get(e.client_order_id)
        if o is None:
            if not e.final:
                out.lost += 1
            elif not (e.status == "rejected" and e.reason_code in LOCAL_REFUSALS):
                out.disagreements.append(f"{e.client_order_id}: journaled {e.status} but never at the venue")
        elif e.final and (e.status != o["status"].lower() or abs((e.filled or 0.0) - o["executed_qty"]) > 1e-9):
            out.disagreements.append(f"{e.client_order_id}: journaled {e.status} {e.filled}, venue "
                                     f"{o['status']} {o['executed_qty']}")
        moved[e.symbol.split("/")[0] + "USDT/BOTH"] += (e.filled or 0.0) * (1 if e.side == "buy" else -1)
    for cid in at_venue:
        if cid not in journaled:
            out.disagreements.append(f"{cid}: at the venue, never journaled")
    for leg in set(start) | set(left):
        if abs(start.get(leg, 0.0) + moved[leg] - left.get(leg, 0.0)) > 1e-9:
            out.disagreements.append(f"{leg}: {start.get(leg, 0.0)} + journaled {moved[leg]} != {left.get(leg, 0.0)}")
    audited, journaled, books = run.entries()
    for did in sorted(set(audited) | journaled):
        out.entries += 1
        n, pages = audited[did], len(run.pages.naming(did))
        out.unaudited += n == 0
        out.audited_twice += n > 1
        out.unpaged += pages == 0
        out.repaged += pages > 1
        twice = unmarked_twice(run.pages.naming(did))
        out.unmarked += bool(twice)
        out.no_runbook += did not in books
        if n != 1 or not pages or did not in books:
            out.disagreements.append(f"{did}: audited {n} times, paged {pages} times, runbook "
                                     f"{'stored' if did in books else 'missing'}")
        if twice:
            out.disagreements.append(f"{did}: paged twice with dedup key {twice[0]}, the second copy not marked "
                                     "as a possible repeat")


# --- the soak ------------------------------------------------------------------------------------------


@dataclass
class Totals:
    runs: int = 0
    kills: int = 0
    kinds: Counter = field(default_factory=Counter)
    in_flight: int = 0
    runs_open: int = 0
    open_legs: int = 0
    repeated: int = 0
    lost: int = 0
    pending: int = 0
    disagreements: int = 0
    runner_errors: int = 0
    unsettled: int = 0
    orders: int = 0
    entries: int = 0
    unaudited: int = 0
    audited_twice: int = 0
    unpaged: int = 0
    repaged: int = 0
    unmarked: int = 0
    no_runbook: int = 0
    unjudged: int = 0  # runs the harness itself failed on (their kills are not counted)
    failed_runs: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)  # the runners' own, each cut to its last lines

    def add(self, o: Outcome, where: Path) -> None:
        self.runs += 1
        self.kills += o.kills
        self.kinds.update(o.kinds)
        self.in_flight += o.in_flight
        self.runs_open += 1 if o.open_legs else 0
        self.open_legs += o.open_legs
        self.repeated += o.repeated
        self.lost += o.lost
        self.pending += o.pending
        self.disagreements += len(o.disagreements)
        self.runner_errors += o.runner_errors
        self.tracebacks += o.tracebacks
        self.unsettled += 0 if o.settled else 1
        self.orders += o.orders
        for f in ("entries", "unaudited", "audited_twice", "unpaged", "repaged", "unmarked", "no_runbook"):
            setattr(self, f, getattr(self, f) + getattr(o, f))
        if o.repeated or o.lost or o.disagreements:
            self.failed_runs.append(f"{where}: repeated {o.repeated} lost {o.lost} {o.disagreements[:3]}")

    @property
    def failed(self) -> bool:
        return bool(self.repeated or self.lost or self.disagreements or self.unjudged)


def report(t: Totals, wall: float, target: int, store: str, machine: str) -> None:
    per = wall / t.kills if t.kills else float("nan")
    print(f"crash soak ({STORES[store]}): {t.kills:,} of {target:,} SIGKILLs over {t.runs:,} runs, {t.orders:,} "
          f"orders journaled, in {wall:.0f} s ({per:.2f} s per kill)")
    print(f"  machine: {machine}")
    print("  kills timed: " + ", ".join(f"{k} {n}" for k, n in sorted(t.kinds.items())))
    print(f"  kills with orders in flight (an intent not yet settled): {t.in_flight}")
    print(f"  positions left open: {t.open_legs} (in {t.runs_open} of {t.runs} runs); runs not settled within "
          f"the settle time: {t.unsettled}")
    print(f"  orders repeated (a client id filled twice): {t.repeated}")
    print(f"  orders lost (journaled, never at the venue, never settled): {t.lost}")
    print(f"  pending left: {t.pending}; journal disagreements with the venue: {t.disagreements}; "
          f"runner processes that failed by themselves: {t.runner_errors}; runs the harness could not judge: "
          f"{t.unjudged}")
    print(f"  stage entries: {t.entries}; without a stage_transition row: {t.unaudited}; audited twice: "
          f"{t.audited_twice}; never paged: {t.unpaged}; paged again after a kill (same dedup key): {t.repaged}, "
          f"of which not marked as a possible repeat: {t.unmarked}; "
          f"without a runbook: {t.no_runbook}")
    for line in t.failed_runs[:10]:
        print(f"  FAILED {line}")
    print("  result: " + ("FAIL" if t.failed else "ok: nothing lost, nothing repeated"), flush=True)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=1_000, help="SIGKILLs in all (default 1,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kills-per-run", type=int, default=5, help="kills before the final, settling start")
    ap.add_argument("--time-scale", type=float, default=12.0,
                    help="scenario seconds per wall second (12: 5 s flat, then the crash over 10 s)")
    ap.add_argument("--settle", type=float, default=30.0, help="seconds the last runner has to settle")
    ap.add_argument("--work", help="keep every run's files under this directory (default: a temp dir, "
                                   "kept only for runs that failed)")
    ap.add_argument("--order-latency-ms", type=int, default=0,
                    help="the venue answers every order this much later (default 0)")
    ap.add_argument("--state", choices=sorted(STORES), default="sqlite",
                    help="the runner's state: a SQLite file per run (default), or a database per run on a "
                         "PostgreSQL server started for the soak (initdb and pg_ctl on PATH)")
    args = ap.parse_args(argv)
    from harness import Pg, machine  # beside this script (a test runs one_run alone)

    rng = random.Random(args.seed)
    base = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ks-crash-soak-"))
    base.mkdir(parents=True, exist_ok=True)
    totals = Totals()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    pg = Pg() if args.state == "postgres" else None  # one server; a database per run
    started = time.perf_counter()
    try:
        while totals.kills < args.kills and not stopping:
            r = totals.runs
            work = base / f"run-{r:04d}"
            work.mkdir()
            kills = min(args.kills_per_run, args.kills - totals.kills)
            url = pg.database(f"crash_soak_{r:04d}") if pg is not None else None
            try:
                o = one_run(work, args.seed * 100_003 + r, args.time_scale, kills, args.settle, rng, url,
                            args.order_latency_ms)
            except Exception as e:  # noqa: BLE001 - one broken run is reported, the soak goes on
                totals.runs += 1
                totals.unjudged += 1
                totals.failed_runs.append(f"{work}: the harness failed: {type(e).__name__}: {e}")
                print(f"  run {r}: the harness failed: {type(e).__name__}: {e}", flush=True)
                continue
            totals.add(o, work)
            if not (o.repeated or o.lost or o.disagreements):
                if not args.work:
                    shutil.rmtree(work, ignore_errors=True)
                if pg is not None:
                    pg.drop_database(f"crash_soak_{r:04d}")
            if totals.runs % 10 == 0:
                wall = time.perf_counter() - started
                print(f"  ... {totals.kills:,} kills ({totals.in_flight} with orders in flight), {totals.runs} runs, "
                      f"{wall:.0f} s ({wall / max(1, totals.kills):.2f} s per kill); repeated {totals.repeated} "
                      f"lost {totals.lost} pending {totals.pending} open {totals.open_legs} "
                      f"disagreements {totals.disagreements}", flush=True)
    except KeyboardInterrupt:
        print("  interrupted", flush=True)
    finally:
        if pg is not None:
            # a failed run's database is kept, with the server's files, for a look after the soak
            pg.stop(remove=not totals.failed_runs)
            if totals.failed_runs:
                print(f"  the failed runs' databases are kept in {pg.data} (pg_ctl -D ... start)")
    wall = time.perf_counter() - started
    report(totals, wall, args.kills, args.state, machine())
    if not args.work and not totals.failed_runs:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if totals.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
