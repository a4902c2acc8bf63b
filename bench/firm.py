"""Benchmark: a firm's shape — N accounts of M positions over every streaming dialect, at once.

One simulated exchange serves every account in a process of its own (``firm_book``: each account
its own book, the markets ``C0USDT``… priced alike), answering as every venue of the registry
whose dialect streams (:data:`DIALECTS`, in registry order: ``adapters.registry.sim_venues``);
account ``sim-i`` speaks the dialect ``i mod D``, D of them. The runner is ``ksctl
run`` itself (SQLite state, the lease thread, the API), every account streamed (``stream:
{enabled: true}`` at the recommended 30 s REST reconcile). Nothing is driven but the public
interfaces: the simulator's own engine (in its process: the events, the rogue bot), the runner's
API and ``/metrics``.

The policy: account scope, a hard trigger on leverage (``lev >= 3``; every calm account is below
1.3), ``close_all`` and a halt. Phases, each after the last:

1. **start**: from ``ksctl run`` to every account's stream live and answered by a REST read
   (the time, and how many were live by the bound).
2. **quiet** (``--quiet`` s): the tick's own work (every phase but the snapshots' fetch, from
   ``killswitch_tick_phase_duration_seconds``) and the tick period.
3. **gate** (``--gate`` s): the same with ``POST /v1/check-order`` at ``--checks`` a second from a
   process of its own (any account, any market), and the checks' latency and answers. The gate's
   traffic goes on through the phases after it.
4. **rogue**: an operator's ``halted`` lock on one account of each dialect (the answers: applied,
   stored or refused), then a rogue bot in the venue's process resting limit buys on those
   accounts at ``--rogue-rate`` a second each for ``--rogue-s`` s: acceptance → the runner's cancel
   (the venue's stamps).
5. **events** (``--trials``): one account at a time (the dialects in turn, never a locked one) takes
   a market buy of three times its equity (the venue's stamp: the event); its stream carries the
   fill; figures: the event → the first close order the venue receives for that account, and →
   the account flat (every position closed), within ``--close-bound`` s or not.

Through all of it: the CPU (``/proc``, of one core) of the deciding process (``ksctl run``
itself), of its reader processes apart (its descendants, found by their parent in ``/proc``) and
of the simulator's process, the runner's share (deciding process and readers) stated beside each
figure; the deciding process's and the readers' RSS at each phase's end, its lease
(``killswitch_lease_lost_total``, the fencing token), the loop's longest hold
(``killswitch_loop_hold_max_seconds``), snapshots failed, and ``Task exception was never
retrieved`` in its log. Each figure is printed beside the reference loop of the run.

``--layouts 50x50,200x50,500x20`` (default ``50x50,200x50``); ``--quick``: ``20x20`` with short
phases. ``--shards K``: the accounts split over K runners (account ``i`` to shard ``i mod K``, so
each holds every dialect), each ``ksctl run`` with its own state and API; the gate's checks and
the operator's locks go to the runner holding the account, and the figures are the slowest
shard's tick and the runners' CPU and RSS summed (no firm board: ``bench/shards.py`` measures the
firm-wide breaker). ``--keep``: leave the work directory. Prints figures; asserts nothing.

``--readers N|auto`` (default 0, the one process of the figures before it): passed to every
``ksctl run`` (the venues read and parsed in N reader processes, the runner's children; ``auto``:
one per core the runner may run on beyond the deciding process's, at least one). Printed in
the layout's heading and in its summary row beside the mode.

``--pin`` (two cores or more): the simulator, the gate's traffic and the bench itself on the
first core this process may use, ``ksctl run`` and its readers on the others
(``os.sched_setaffinity``, set before ``ksctl run`` starts: its readers inherit it, and ``auto``
counts those cores). It keeps the bench's processes apart; the machine's other load still runs
on every core.

``--half-speed``: ``ksctl run`` and its readers under a CPU quota of half a core per core they
use (one, plus one per reader, at most the cores they may run on), period 10 ms
(``bench/cores.py`` says why): a cgroup v2 ``cpu.max`` where the cpu controller is v2's, else
the same CFS quota through cgroup v1's ``cpu.cfs_quota_us``, else a SIGSTOP/SIGCONT duty cycle
of the runner's process group (``--quota-by signals`` asks for that one); the header says which.
The runner enters its cgroup before its first instruction (``bench/cores.py``'s launcher), its
readers, spawned later, are in it too, and each process of the tree is then held to half a core
of its own besides (a leaf cgroup each: a quota shared by the tree alone would let the deciding
process run a whole core while its reader idles, and a reaction's burst would not be slowed).
Under ``--pin`` the tree has one core: half of it for all its processes. The reference loop is
then also measured in a process of its own under half a core's quota (on the runner's cores),
its wall time a loop over two seconds of loops, and every figure in loops is a ratio to that one
(a quota lengthens the wall time of a loop, not the CPU time it takes). Each layout says how
often the quota held each process back (``cpu.stat``): where the machine's other load already
leaves the runner less than half a core, it rarely does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import cores
import profile_share
from harness import (
    API_TOKEN,
    ENV,
    KSCTL,
    VenueProcess,
    free_port,
    get_json,
    machine,
    pct,
    reference_ms,
    start_runner,
    stop,
)


def streaming_dialects() -> tuple[str, ...]:
    """The ccxt ids the simulator answers as whose dialect streams, in registry order."""
    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.registry import sim_venues

    return tuple(cid for cid in sim_venues() if dialect_for(cid).streams)


DIALECTS = streaming_dialects()
RECONCILE_S = 30.0  # the recommended REST reconcile of a streamed account
INTERVAL_S = 1.0
POLICY = f"""\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: firm-shape}}
spec:
  scope: {{level: account}}
  interval: {INTERVAL_S:g}s
  signals:
    lev: {{leverage: {{}}}}
  triggers:
    hard: {{when: "lev >= 3", on_missing_data: hold}}
  stages:
    - {{level: 1, name: flatten, on: [hard], reset: manual,
       actions: [{{cancel_orders: all}}, close_all, {{lock_trading: {{mode: halted}}}}]}}
"""
GOAL_MS = 100.0  # event → first close and entry → cancel, p99
ROGUE_QTY = 1.0


# --- the venue: its own process, the system's clock ---------------------------------------------


def venue_process(conn: Any, accounts: int, positions: int) -> None:
    """Serves ``firm_book(accounts, positions)`` on the system's clock and obeys the bench over
    ``conn`` (:meth:`FirmVenue.command`)."""
    import asyncio

    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.scenarios import firm_book

    async def main() -> None:
        eng = firm_book(accounts, positions, wall_clock)  # type: ignore[arg-type]
        server = SimServer(eng, auth_clock=wall_clock)
        await server.start()
        server.warm()  # (the faces' one-time loads, before anything is timed)
        conn.send(("port", server.port))
        venue = FirmVenue(eng, server, positions)
        loop = asyncio.get_running_loop()

        def obey() -> None:
            try:
                conn.send(("ok", venue.command(*conn.recv())))
            except (EOFError, OSError):  # the bench is gone: stop (else the reader fires at every turn)
                loop.remove_reader(conn.fileno())
                venue.stopped.set()

        loop.add_reader(conn.fileno(), obey)
        await venue.stopped.wait()
        await server.stop()

    asyncio.run(main())


class FirmVenue:
    """The venue's side of a run: the events, the rogue bot, and the stamps of what the runner
    sent (the first order after each event, each rogue entry's cancel)."""

    def __init__(self, eng: Any, server: Any, positions: int) -> None:
        import asyncio

        self.eng, self.server, self.positions = eng, server, positions
        self.names = list(eng.accounts)
        self.seen: dict[str, Any] = {"event": {}, "close": {}, "accepted": {}, "cancelled": {}, "refused": [],
                                     "event_errors": []}
        self.stopped = asyncio.Event()
        self._place, self._changed = eng.place_order, eng._order_changed
        eng.place_order = self._placed
        eng._order_changed = self._on_change

    def _placed(self, account: str, *a: Any, client_order_id: Optional[str] = None, **kw: Any) -> Any:
        seen, cid = self.seen, client_order_id or ""
        if account in seen["event"] and account not in seen["close"] and not cid.startswith(("rogue-", "event-")):
            seen["close"][account] = time.monotonic()
        return self._place(account, *a, client_order_id=client_order_id, **kw)

    def _on_change(self, o: Any, execution: str, now: int, **trade: Any) -> None:
        cid, seen = o.client_order_id or "", self.seen
        if cid.startswith("rogue-") and execution == "CANCELED":
            seen["cancelled"].setdefault(cid, time.monotonic())
        elif o.account in seen["event"] and o.account not in seen["close"] and not cid.startswith(("rogue-", "event-")):
            seen["close"][o.account] = time.monotonic()  # (a face whose orders reach the engine another way)
        self._changed(o, execution, now, **trade)

    def accounts(self) -> list:
        """Each account's Accounts entry on its dialect, and the environment its credentials name."""
        from adapters.simulated.venues import sim_account

        out = []
        for i, name in enumerate(self.names):
            doc = sim_account(self.server, name, DIALECTS[i % len(DIALECTS)]).model_dump(mode="json",
                                                                                        exclude_none=True)
            refs = [v["env"] for v in doc.get("credentials", {}).values() if isinstance(v, dict) and "env" in v]
            out.append((doc, {r: os.environ.get(r, "") for r in refs}))
        return out

    def event(self, account: str) -> None:
        """Market buys of three times the account's wallet (firm_book's): on the first market, or
        where that is more than a market's largest order (10,000 positions), on as many markets as
        it takes, in turn, at once. The event is stamped when the last has filled: the venue's own
        loop is busy with them until then (at 10,000 positions a second or more of its matching),
        and nothing of them can reach a runner sooner."""
        notional, markets = 3.2 * 10_000.0 * self.positions, list(self.eng.markets)
        i = 0
        try:
            while notional > 1.0:
                sym = markets[i % len(markets)]
                mark = self.eng.mark(sym)
                size = round(min(notional / mark, 0.9 * self.eng.markets[sym].max_amount), 3)
                self._place(account, sym, "BUY", "MARKET", size, client_order_id=f"event-{account}-{i}")
                notional -= size * mark
                i += 1
        except Exception as e:  # noqa: BLE001 - said in the figures
            self.seen["event_errors"].append(f"{account}: {type(e).__name__}: {e}")
        self.seen["event"][account] = time.monotonic()

    async def rogue(self, targets: list[str], rate: float, seconds: float) -> None:
        import asyncio

        eng, markets = self.eng, list(self.eng.markets)[1:9]
        step, end, i = 1.0 / (rate * len(targets)), time.monotonic() + seconds, 0
        nxt = time.monotonic()
        while time.monotonic() < end:
            sym, cid = markets[i % len(markets)], f"rogue-{i}"
            try:
                self._place(targets[i % len(targets)], sym, "BUY", "LIMIT", ROGUE_QTY,
                            round(eng.mark(sym) * 0.9, 3), time_in_force="GTC", client_order_id=cid)
                self.seen["accepted"][cid] = time.monotonic()
            except Exception as e:  # noqa: BLE001 - the venue refused it
                self.seen["refused"].append(type(e).__name__)
            i += 1
            nxt += step
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))

    def command(self, cmd: str, arg: Any) -> Any:
        """``accounts``, ``event`` (account), ``rogue`` ([accounts], rate, seconds), ``flat``
        (account → its open positions), ``result`` (the stamps), ``cpu`` (this process's CPU
        seconds), ``stop``."""
        import asyncio

        if cmd == "accounts":
            return self.accounts()
        if cmd == "event":
            return self.event(arg)
        if cmd == "rogue":
            asyncio.get_running_loop().create_task(self.rogue(*arg))
        elif cmd == "flat":
            return sum(1 for p in self.eng.positions(arg) if abs(p.amount) > 0)
        elif cmd == "result":
            return {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in self.seen.items()}
        elif cmd == "cpu":
            t = os.times()
            return t.user + t.system
        elif cmd == "stop":
            self.stopped.set()
        return None


# --- the gate's traffic: a process of its own ----------------------------------------------------


def gate_process(conn: Any, targets: list[tuple[str, str, str]], rate: float) -> None:
    """``POST /v1/check-order`` at ``rate`` a second over ``targets`` (the API of the runner
    holding the account, account key, symbol) until told ``stop``; answers ``result``:
    latencies (when sent, ms) and answers by status and reason."""
    import asyncio

    import aiohttp

    async def main() -> None:
        lat: list[tuple[float, float]] = []
        answers: dict[str, int] = {}
        stop_at: list[float] = []
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), lambda: stop_at.append(loop.time()))
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        sem = asyncio.Semaphore(64)

        async def one(http: aiohttp.ClientSession, i: int) -> None:
            api, account, symbol = targets[i % len(targets)]
            body = {"account": account, "symbol": symbol, "side": "buy", "amount": 1, "strategy": "bench"}
            t = time.monotonic()
            try:
                async with sem, http.post(api + "/v1/check-order", json=body, headers=headers) as r:
                    doc = await r.json(content_type=None)
                    key = f"{r.status} {str(doc.get('reason') or doc.get('decision') or '')[:24]}"
            except Exception as e:  # noqa: BLE001 - counted
                key = type(e).__name__
            lat.append((t, (time.monotonic() - t) * 1000))  # (sent, ms): the phase it was sent in
            answers[key] = answers.get(key, 0) + 1

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            step, nxt, i, tasks = 1.0 / rate, time.monotonic(), 0, set()
            while not stop_at:
                task = asyncio.ensure_future(one(http, i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
                nxt += step
                await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            await asyncio.gather(*tasks, return_exceptions=True)
        conn.recv()
        conn.send(("ok", {"latency_ms": lat, "answers": answers}))

    asyncio.run(main())


class Gate:
    def __init__(self, targets: list[tuple[str, str, str]], rate: float):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=gate_process, args=(child, targets, rate), daemon=True)
        self.proc.start()
        self.started = time.monotonic()

    def finish(self) -> dict:
        self.conn.send("stop")
        out = self.conn.recv()[1]
        self.proc.join(10)
        out["seconds"] = time.monotonic() - self.started
        return out


# --- the runner's side: what /proc and /metrics say ---------------------------------------------


def metrics(api: str) -> str:
    return urllib.request.urlopen(api + "/metrics", timeout=30).read().decode()


def metric(text: str, name: str, labels: str = "") -> float:
    """The sum of ``name``'s samples whose labels contain ``labels`` (0 when none)."""
    total = 0.0
    for m in re.finditer(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", text, re.M):
        if labels in (m.group(1) or ""):
            total += float(m.group(2))
    return total


def own_work(text: str) -> tuple[float, float]:
    """(seconds, ticks) of the tick's own work so far: every phase but the snapshots' fetch."""
    secs = sum(float(v) for ph, v in re.findall(
        r'killswitch_tick_phase_duration_seconds_sum\{phase="(\w+)"\} (\S+)', text) if ph != "snapshots")
    return secs, metric(text, "killswitch_tick_phase_duration_seconds_count", 'phase="evaluate"')


def is_reader(pid: int) -> bool:
    """A runner's child is a reader when multiprocessing spawned it (its other child, the resource
    tracker, is not: its CPU is counted with the readers' all the same)."""
    try:
        return b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def readers_rss(pid: int) -> float:
    return sum(cores.rss_mb(c) for c in cores.descendants(pid))


class Window:
    """A phase's figures: the tick's own work and period, CPU of the deciding process, of its
    readers and of the venue, the loop's hold."""

    def __init__(self, api: str, runner_pid: int, venue: VenueProcess):
        self.api, self.pid, self.venue = api, runner_pid, venue
        self.t0 = time.monotonic()
        self.text0 = metrics(api)
        self.tree0, self.venue0 = cores.tree_cpu(runner_pid), venue.do("cpu")
        self.ticks0 = metric(self.text0, "killswitch_ticks_total")
        self.rss0 = cores.rss_mb(runner_pid)

    def close(self) -> dict:
        text = metrics(self.api)
        secs = time.monotonic() - self.t0
        w0, n0 = own_work(self.text0)
        w1, n1 = own_work(text)
        ticks = metric(text, "killswitch_ticks_total") - self.ticks0
        tree = cores.tree_cpu(self.pid)
        return {"seconds": secs, "own_ms": (w1 - w0) / max(1.0, n1 - n0) * 1000, "ticks": ticks,
                "period_s": secs / ticks if ticks else float("inf"),
                "runner_cpu": (tree[0] - self.tree0[0]) / secs,
                "readers_cpu": cores.children_cpu(self.tree0, tree) / secs, "children": len(tree[1]),
                "readers": sum(1 for c in tree[1] if is_reader(c)),
                "venue_cpu": (self.venue.do("cpu") - self.venue0) / secs,
                "rss0_mb": self.rss0, "rss_mb": cores.rss_mb(self.pid), "readers_rss_mb": readers_rss(self.pid),
                "metrics": [text]}


class Windows:
    """A phase's figures over every shard's runner: the slowest shard's own work and period, the
    runners' CPU and RSS summed, the simulator's CPU once."""

    def __init__(self, apis: list[str], runners: list[Any], venue: VenueProcess):
        self.windows = [Window(api, r.pid, venue) for api, r in zip(apis, runners)]

    def close(self) -> dict:
        each = [w.close() for w in self.windows]
        if len(each) == 1:
            return each[0]
        return {"seconds": max(x["seconds"] for x in each), "own_ms": max(x["own_ms"] for x in each),
                "ticks": min(x["ticks"] for x in each), "period_s": max(x["period_s"] for x in each),
                "runner_cpu": sum(x["runner_cpu"] for x in each), "venue_cpu": each[-1]["venue_cpu"],
                "readers_cpu": sum(x["readers_cpu"] for x in each), "children": sum(x["children"] for x in each),
                "readers": sum(x["readers"] for x in each),
                "rss0_mb": sum(x["rss0_mb"] for x in each), "rss_mb": sum(x["rss_mb"] for x in each),
                "readers_rss_mb": sum(x["readers_rss_mb"] for x in each),
                "metrics": [t for x in each for t in x["metrics"]],
                "shards": each}


def post(api: str, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


# --- one layout ----------------------------------------------------------------------------------


def write_inputs(work: Path, entries: list[tuple[dict, dict]], reconcile_s: float = RECONCILE_S
                 ) -> tuple[Path, Path]:
    pol = work / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "firm.yaml").write_text(POLICY)
    accounts = []
    for doc, env in entries:
        doc = {**doc, "stream": {"enabled": True, "reconcile_every": f"{reconcile_s:g}s"}}
        accounts.append(doc)
        os.environ.update(env)
        ENV.update(env)
    acc = work / "accounts.yaml"
    acc.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "Accounts", "metadata": {"name": "firm"},
                               "spec": {"dry_run": False, "accounts": accounts}}, indent=1))
    return pol, acc


def live_streams(apis: list[str]) -> tuple[int, int]:
    live = total = 0
    for api in apis:
        st = get_json(api + "/v1/status", timeout=30, token=API_TOKEN)
        streams = st.get("streams") or {}
        live += sum(1 for s in streams.values() if s.get("state") == "live" and s.get("answers"))
        total += len(streams)
    return live, total


def symbol_of(doc: dict) -> str:
    quote = doc.get("quote_currency", "USDT")
    return f"C0/{quote}:{quote}"


def spread(keys: list[str], n: int) -> list[str]:
    """``n`` of ``keys`` (``venue/account``), the venues in turn, each venue's spread over its accounts."""
    by: dict[str, list[str]] = {}
    for k in keys:
        by.setdefault(k.split("/", 1)[0], []).append(k)
    venues = [v for v in DIALECTS if v in by]
    out: list[str] = []
    for i in range(min(n, len(keys))):
        pool = by[venues[i % len(venues)]]
        rounds = -(-n // len(venues))
        out.append(pool[(i // len(venues)) * len(pool) // rounds % len(pool)])
    return list(dict.fromkeys(out))


def readers_of(args: Any, accounts: int) -> int:
    """The reader processes ``--readers`` asks of a runner of ``accounts`` (``auto``:
    ``adapters.remote.default_readers`` on the cores the runner may use)."""
    if args.readers != "auto":
        return min(int(args.readers), accounts)
    c = len(args.runner_cpus or os.sched_getaffinity(0))
    return max(1, min(accounts, c - 1 if c > 1 else 1))


def cores_used(args: Any, accounts: int) -> int:
    """The cores a runner may keep busy: the deciding process and each reader, at most the cores
    it may run on."""
    return min(1 + readers_of(args, accounts), len(args.runner_cpus or os.sched_getaffinity(0)))


def launch(args: Any, sd: Path, pol: Path, acc: Path, api_port: int, name: str, accounts: int,
           groups: list[cores.Group]) -> Any:
    """``ksctl run --readers`` of the shard in ``sd``: on the runner's cores with ``--pin``, in a
    quota of its own (appended to ``groups``) with ``--half-speed``."""
    ksctl: tuple[str, ...] = (str(KSCTL),)
    if args.quota is not None:
        groups.append(args.quota.group(name, cores_used(args, accounts)))
        ksctl = (*groups[-1].launcher(args.runner_cpus), *ksctl)
    elif args.runner_cpus:
        ksctl = (*cores.launcher(None, args.runner_cpus, session=False), *ksctl)
    runner = start_runner(sd, pol, acc, f"sqlite://{sd / 'state.db'}", "firm", api_port,
                          extra=("--readers", args.readers), ksctl=ksctl)
    if args.quota is not None:
        groups[-1].attach(runner.pid)
    return runner


def rss_trace(pid: int, seconds: float, every: float) -> list[tuple[float, float, float]]:
    """``seconds`` waited out, the deciding process's and its readers' RSS (MB) taken every
    ``every`` seconds (and at the end): the memory over a long gate's phase (``--gate 3600``)."""
    trace, t0 = [], time.monotonic()
    while True:
        left = seconds - (time.monotonic() - t0)
        trace.append((time.monotonic() - t0, cores.rss_mb(pid), readers_rss(pid)))
        if left <= 0:
            return trace
        time.sleep(min(every, left))


def rss_said(trace: list[tuple[float, float, float]]) -> str:
    """The trace as a line: first, after ten minutes, last; the growth over its second half (MB/h)."""
    if len(trace) < 3 or trace[-1][0] < 120:
        return ""
    ten = min(trace, key=lambda x: abs(x[0] - 600))
    half = min(trace, key=lambda x: abs(x[0] - trace[-1][0] / 2))
    slope = [(trace[-1][i] - half[i]) / max(1e-9, trace[-1][0] - half[0]) * 3600 for i in (1, 2)]
    return (f"  RSS through the gate's phase ({trace[-1][0] / 60:.0f} min, {len(trace)} samples): deciding "
            f"{trace[0][1]:.0f} → {ten[1]:.0f} ({ten[0] / 60:.0f} min) → {trace[-1][1]:.0f} MB, readers "
            f"{trace[0][2]:.0f} → {ten[2]:.0f} → {trace[-1][2]:.0f} MB; over its second half "
            f"{slope[0]:+.1f} / {slope[1]:+.1f} MB an hour")


def gate_phase(args: Any, pid: int, d: Path, out: dict) -> None:
    """The gate's phase: waited out, or spent sampling the deciding process with py-spy
    (``--profile``: it does not slow the process it samples), where its core went said."""
    if not args.profile:
        out["rss_trace"] = rss_trace(pid, args.gate, args.rss_every)
        return
    why = profile_share.record(pid, args.gate, d / "profile.txt")
    out["profile"] = why or profile_share.summary(d / "profile.txt")
    print("  profile of the deciding process under the gate's traffic:\n    "
          + out["profile"].replace("\n", "\n    "), flush=True)


def events_phase(args: Any, venue: "VenueProcess", free: list[str], shard_of: dict[str, str],
                 out: dict, pid: int, work: Path) -> tuple[list[str], dict[str, Optional[float]]]:
    """The events: one account at a time, the dialects in turn, never a locked one; with one
    account, the one the rogue phase locked, its lock lifted first. The accounts taken, and how
    long each took to read flat at the venue."""
    if all(k in out["locks_on"] for k in free):
        out["unlocks"] = [post(shard_of[key], "/v1/unlock", {"scope": key, "reason": "bench: events"})
                          for key in free]
        time.sleep(2.0)
    picks = spread(free, args.trials)
    flat_s: dict[str, Optional[float]] = {}
    samplers: dict[str, threading.Thread] = {}
    if args.profile:  # the incident's window sampled too, the deciding process and a reader (py-spy ends by itself)
        seconds = len(picks) * (args.close_bound + args.gap)
        readers = [c for c in cores.descendants(pid) if is_reader(c)]
        for name, sampled in (("deciding process", pid), ("first reader", readers[0] if readers else None)):
            if sampled is not None:
                path = work / f"incident-profile-{sampled}.txt"
                samplers[name] = threading.Thread(target=lambda name=name, sampled=sampled, path=path: out.__setitem__(
                    f"incident profile of the {name}",
                    profile_share.record(sampled, seconds, path) or profile_share.summary(path)))
                samplers[name].start()
    for k in picks:
        name = k.split("/", 1)[1]
        venue.do("event", name)
        t = time.monotonic()
        flat_s[k] = None
        while time.monotonic() - t < args.close_bound:
            if venue.do("flat", name) == 0:
                flat_s[k] = time.monotonic() - t
                break
            time.sleep(0.02)
        time.sleep(args.gap)
    for name, sampler in samplers.items():
        sampler.join()
        print(f"  profile of the {name} in the incidents:\n    "
              + out[f"incident profile of the {name}"].replace("\n", "\n    "), flush=True)
    return picks, flat_s


def run_layout(n: int, m: int, args: Any, work: Path, ref: float) -> dict:
    k = args.shards
    out: dict[str, Any] = {"layout": f"{n} × {m}" + (f" on {k} shards" if k > 1 else "")}
    venue = VenueProcess(venue_process, n, m)
    runners: list[Any] = []
    groups: list[cores.Group] = []
    gate: Optional[Gate] = None
    try:
        entries = venue.do("accounts")
        d = work / (f"firm-{n}x{m}" + ("" if k == 1 else f"-{k}shards"))
        d.mkdir()
        keys = [f"{doc['venue']}/{doc['name']}" for doc, _ in entries]
        # shard s: the accounts i ≡ s (mod k), so each holds every dialect; a runner of its own
        # with its own state (no firm board: the firm-wide breaker is bench/shards.py's)
        apis: list[str] = []
        shard_of: dict[str, str] = {}
        started = time.monotonic()
        for sh in range(k):
            sd = d if k == 1 else d / f"s{sh}"
            sd.mkdir(exist_ok=True)
            pol, acc = write_inputs(sd, entries[sh::k], args.reconcile)
            api_port = free_port()
            runners.append(launch(args, sd, pol, acc, api_port, f"firm-{n}x{m}-{sh}", len(entries[sh::k]), groups))
            apis.append(f"http://127.0.0.1:{api_port}")
            shard_of.update((key, apis[-1]) for key in keys[sh::k])
        live, total = 0, n
        while time.monotonic() - started < args.start_bound:
            time.sleep(1.0)
            try:
                live, total = live_streams(apis)
            except Exception:  # noqa: BLE001 - not up yet
                continue
            if total == n and live == total:
                break
        out["start"] = {"seconds": time.monotonic() - started, "live": live, "of": total}
        print(f"  start: {live} of {total} streams live and answered in {out['start']['seconds']:.0f} s", flush=True)
        time.sleep(args.settle)
        quiet = Windows(apis, runners, venue)
        time.sleep(args.quiet)
        out["quiet"] = quiet.close()
        targets = [(shard_of[key], key, symbol_of(doc)) for key, (doc, _) in zip(keys, entries)]
        gate = Gate(targets, args.checks)
        loaded = Windows(apis, runners, venue)
        gate_phase(args, runners[0].pid, d, out)
        out["gated"] = loaded.close()
        # rogue: one account of each dialect locked by the operator (at the runner holding it)
        rest = Windows(apis, runners, venue)
        out["incident_from"] = time.monotonic()  # the check-orders sent from here on are the incident's
        locked = keys[-len(DIALECTS):] if n >= 2 * len(DIALECTS) else keys[:1]
        out["locks_on"] = locked
        out["locks"] = [post(shard_of[key], "/v1/lock", {"scope": key, "mode": "halted",
                                                          "reason": "bench: rogue bot"}) for key in locked]
        time.sleep(2.0)
        venue.do("rogue", ([k.split("/", 1)[1] for k in locked], args.rogue_rate, args.rogue_s))
        time.sleep(args.rogue_s + 3.0)
        picks, flat_s = events_phase(args, venue, [k for k in keys if k not in locked] or locked, shard_of, out,
                                     runners[0].pid, d)
        out["rest"] = rest.close()
        out["gate"] = gate.finish()
        gate = None
        seen = venue.do("result")
        out["events"] = {k: ((seen["close"].get(k.split("/", 1)[1], float("nan"))
                              - seen["event"][k.split("/", 1)[1]]) * 1000, flat_s[k]) for k in picks}
        out["event_errors"] = seen["event_errors"]
        out["cancel_ms"] = [(seen["cancelled"][c] - t) * 1000 for c, t in seen["accepted"].items()
                            if c in seen["cancelled"]]
        # rogue-i rests on locked[i mod len(locked)] (FirmVenue.rogue): the cancels by venue
        out["cancel_by_venue"] = {}
        for c, t in seen["accepted"].items():
            if c in seen["cancelled"]:
                v = locked[int(c.split("-", 1)[1]) % len(locked)].split("/", 1)[0]
                out["cancel_by_venue"].setdefault(v, []).append((seen["cancelled"][c] - t) * 1000)
        out["throttled"] = [g.throttled() for g in groups]
        out["entries"] = len(seen["accepted"])
        out["rogue_refused"] = len(seen["refused"])
        texts = out["rest"]["metrics"]
        out["lease_lost"] = sum(metric(t, "killswitch_lease_lost_total") for t in texts)
        out["hold_max_s"] = max(metric(t, "killswitch_loop_hold_max_seconds", 'window="all"') for t in texts)
        out["holds_over_1s"] = sum(metric(t, "killswitch_loop_holds_total", 'over="1"') for t in texts)
        out["snapshot_failures"] = sum(metric(t, "killswitch_snapshot_failures_total") for t in texts)
        out["reconnects"] = sum(metric(t, "killswitch_stream_reconnects_total") for t in texts)
        errs = sorted(d.glob("**/firm.err"))
        out["unretrieved"] = sum(e.read_text(errors="replace").count("Task exception was never retrieved")
                                 for e in errs)
        out["err_path"] = ", ".join(str(e) for e in errs)
        return out
    finally:
        if gate is not None:
            try:
                gate.finish()
            except Exception:  # noqa: BLE001
                gate.proc.kill()
        for g in groups:
            g.release()  # a duty cycle's group continued before its processes are stopped
        for runner in runners:
            stop(runner)
        for g in groups:
            g.close()
        venue.close()


def share(w: dict) -> str:
    """The runner's CPU (deciding process + readers) beside the simulator's, of one core, in a window."""
    run = w["runner_cpu"] + w["readers_cpu"]
    return f"[runner {run:.2f} ({w['runner_cpu']:.2f} + readers {w['readers_cpu']:.2f}) / simulator " \
        f"{w['venue_cpu']:.2f} of a core]"


def mode(args: Any) -> str:
    return ("half-speed" if args.half_speed else "full") + (", pinned" if args.pin else "")


def report(r: dict, ref: float, args: Any) -> None:
    q, g, rest = r["quiet"], r["gated"], r["rest"]
    print(f"  tick's own work: quiet {q['own_ms']:.1f} ms ({q['own_ms'] / ref:.1f} loops) {share(q)}, "
          f"under {g.get('checks', 0) or ''}checks {g['own_ms']:.1f} ms {share(g)}; tick period quiet "
          f"{q['period_s']:.2f} s, under checks {g['period_s']:.2f} s ({g['period_s'] / q['period_s']:.2f}× quiet, "
          f"goal ≤ 1.2×)")
    for i, (sq, sg) in enumerate(zip(q.get("shards", ()), g.get("shards", ()))):
        print(f"    shard {i}: own work quiet {sq['own_ms']:.1f} ms, under checks {sg['own_ms']:.1f} ms; period "
              f"{sq['period_s']:.2f} → {sg['period_s']:.2f} s; CPU {sq['runner_cpu']:.2f} → {sg['runner_cpu']:.2f}; "
              f"RSS {sg['rss_mb']:.0f} MB")
    both = [w["runner_cpu"] + w["readers_cpu"] for w in (q, g, rest)]
    print(f"  CPU (of one core), quiet / under checks / in the incident: deciding process {q['runner_cpu']:.2f} / "
          f"{g['runner_cpu']:.2f} / {rest['runner_cpu']:.2f}; readers ({rest['readers']} reader process(es) and "
          f"{rest['children'] - rest['readers']} other child(ren) of the runner) "
          f"{q['readers_cpu']:.2f} / {g['readers_cpu']:.2f} / {rest['readers_cpu']:.2f}; simulator "
          f"{q['venue_cpu']:.2f} / {g['venue_cpu']:.2f} / {rest['venue_cpu']:.2f}; the runner's share of the "
          f"runner's and simulator's CPU " + " / ".join(
              f"{b / (b + w['venue_cpu']) * 100:.0f} %" if b + w["venue_cpu"] else "-"
              for b, w in zip(both, (q, g, rest))))
    lat = [ms for _, ms in r["gate"]["latency_ms"]]
    print(f"  check-order: {len(lat) / r['gate']['seconds']:.0f}/s answered, p50 {statistics.median(lat):.1f} ms "
          f"p99 {pct(lat, 99):.1f} ms {share(g)}; answers {dict(sorted(r['gate']['answers'].items()))}" if lat else
          "  check-order: none answered")
    for name, part in (("the gate's phase", [ms for t, ms in r["gate"]["latency_ms"] if t < r["incident_from"]]),
                       ("the incident's window", [ms for t, ms in r["gate"]["latency_ms"] if t >= r["incident_from"]])):
        if part:
            print(f"    sent in {name}: {len(part)}, p50 {statistics.median(part):.1f} ms p99 {pct(part, 99):.1f} ms")
    locks = [(s, (a.get("reason") or "")[:40]) for s, a in r["locks"]]
    print(f"  operator halts: {sum(1 for s, a in r['locks'] if a.get('done'))} of {len(locks)} applied; {locks}")
    if "unlocks" in r:  # one account: lifted for the events
        print(f"  lifted for the events: {sum(1 for s, a in r['unlocks'] if a.get('done'))} of {len(r['unlocks'])}")
    c = r["cancel_ms"]
    if c:
        print(f"  rogue entry → cancel: p50 {statistics.median(c):.0f} ms p99 {pct(c, 99):.0f} ms "
              f"({pct(c, 99) / ref:.1f} loops; goal ≤ {GOAL_MS:g} ms), {len(c)} of {r['entries']} cancelled "
              f"{share(rest)} (the incident's window)")
        print("    by venue (p50 / p99): " + "; ".join(
            f"{v} {statistics.median(x):.0f} / {pct(x, 99):.0f} ms" for v, x in r["cancel_by_venue"].items()))
    else:
        print(f"  rogue entry → cancel: none of {r['entries']} cancelled")
    ev = [ms for ms, _ in r["events"].values() if ms == ms]
    flat = [s for _, s in r["events"].values() if s is not None]
    if ev:
        print(f"  event → first close: p50 {statistics.median(ev):.0f} ms p99 {pct(ev, 99):.0f} ms "
              f"({pct(ev, 99) / ref:.1f} loops; goal ≤ {GOAL_MS:g} ms), {len(ev)} of {len(r['events'])}; "
              f"flat within the bound {len(flat)} of {len(r['events'])}"
              + (f", p99 {pct(flat, 99):.2f} s" if flat else "") + f" {share(rest)}")
    else:
        print(f"  event → first close: NONE of {len(r['events'])} closed")
    by: dict[str, list[str]] = {}
    for k, (ms, flat_s) in r["events"].items():
        by.setdefault(k.split("/", 1)[0], []).append(f"{ms:.0f} ms" + (f"/{flat_s:.1f} s" if flat_s else "/not flat"))
    print("    by venue (first close / flat): " + "; ".join(f"{v} {', '.join(x)}" for v, x in by.items()))
    if r["event_errors"]:
        print(f"  events refused by the venue: {r['event_errors'][:3]}")
    print(f"  RSS of the deciding process {q['rss0_mb']:.0f} → {q['rss_mb']:.0f} (quiet, {q['seconds']:.0f} s) → "
          f"{rest['rss_mb']:.0f} MB, of the readers {rest['readers_rss_mb']:.0f} MB; "
          f"lease lost {r['lease_lost']:.0f}; longest loop hold "
          f"{r['hold_max_s'] * 1000:.0f} ms ({r['hold_max_s'] * 1000 / ref:.0f} loops), holds ≥ 1 s "
          f"{r['holds_over_1s']:.0f}; snapshots failed {r['snapshot_failures']:.0f}; stream reconnects "
          f"{r['reconnects']:.0f}; 'Task exception was never retrieved' {r['unretrieved']}")
    if rss_said(r.get("rss_trace") or []):
        print(rss_said(r["rss_trace"]))
    for i, t in enumerate(x for x in r["throttled"] if x):
        print(f"  the quota (runner {i}): {t}")
    ev, c = [ms for ms, _ in r["events"].values() if ms == ms], r["cancel_ms"]
    two = (lambda x: f"{statistics.median(x):.0f} / {pct(x, 99):.0f} ms" if x else "none")  # noqa: E731
    print("  row (layout | readers | mode | event → first close p50 / p99 | rogue entry → cancel p50 / p99 | tick's "
          "own quiet → checks; period ratio | deciding / readers / simulator CPU quiet → incident | RSS deciding + "
          "readers | lease lost | longest hold | loop):")
    print(f"  | {r['layout']} | {args.readers} | {mode(args)} | {two(ev)}, {len(ev)} of {len(r['events'])} | "
          f"{two(c)} | {q['own_ms']:.1f} → {g['own_ms']:.1f} ms; {g['period_s'] / q['period_s']:.2f}× | "
          f"{q['runner_cpu']:.2f} → {rest['runner_cpu']:.2f} / {q['readers_cpu']:.2f} → {rest['readers_cpu']:.2f} / "
          f"{q['venue_cpu']:.2f} → {rest['venue_cpu']:.2f} | {rest['rss_mb']:.0f} + {rest['readers_rss_mb']:.0f} MB | "
          f"{r['lease_lost']:.0f} | {r['hold_max_s'] * 1000:.0f} ms | {ref:.1f} ms |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--layouts", default="50x50,200x50")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--quiet", type=float, default=20.0)
    ap.add_argument("--gate", type=float, default=20.0)
    ap.add_argument("--checks", type=float, default=1000.0)
    ap.add_argument("--rss-every", type=float, default=60.0,
                    help="seconds between samples of the processes' RSS through the gate's phase")
    ap.add_argument("--rogue-rate", type=float, default=4.0, help="entries a second on each locked account")
    ap.add_argument("--rogue-s", type=float, default=10.0)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--reconcile", type=float, default=RECONCILE_S,
                    help="seconds between a streamed account's REST reconciles (the recommended 30)")
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--close-bound", type=float, default=8.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--start-bound", type=float, default=300.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="sample the deciding process with py-spy through the gate's phase and the incidents; "
                         "print where its core goes (bench/profile_share.py)")
    ap.add_argument("--shards", type=int, default=1,
                    help="split the accounts over this many runners (account i to shard i mod K)")
    ap.add_argument("--readers", default="0", metavar="N|auto",
                    help="ksctl run --readers for every runner (0: the venues read in the deciding process)")
    ap.add_argument("--pin", action="store_true",
                    help="the simulator, the gate and the bench on the first core, the runners and readers on the rest")
    ap.add_argument("--half-speed", action="store_true",
                    help="the runners and their readers under a quota of half a core per core they use "
                         "(half a core to each process)")
    ap.add_argument("--quota-by", choices=("cgroup", "signals"), default="cgroup",
                    help="--half-speed by a cgroup's CPU quota (else the duty cycle), or by the SIGSTOP/SIGCONT "
                         "duty cycle")
    args = ap.parse_args()
    if args.quick:
        args.layouts, args.quiet, args.gate, args.trials, args.rogue_s = "20x20", 8.0, 8.0, 5, 5.0
    if args.readers != "auto" and not args.readers.isdigit():
        ap.error(f"--readers {args.readers!r}: a count of reader processes, or auto")
    print(machine())
    args.runner_cpus, args.quota = None, None
    if args.pin:
        mine = sorted(os.sched_getaffinity(0))
        if len(mine) < 2:
            ap.error(f"--pin needs two cores or more; this process may use {mine}")
        args.runner_cpus = set(mine[1:])
        os.sched_setaffinity(0, {mine[0]})  # the simulator and the gate, spawned from here, inherit it
    if args.half_speed:
        args.quota = cores.Quota(args.quota_by)
    ref = reference_ms()
    cpu_ms, wall_ms = cores.quota_reference(None, args.runner_cpus)
    print(f"reference loop {ref:.1f} ms; in a process of its own on the runner's cores: CPU {cpu_ms:.1f} ms, wall "
          f"{wall_ms:.1f} ms a loop; accounts over {', '.join(DIALECTS)}, streamed, reconcile every "
          f"{args.reconcile:g} s, gate traffic {args.checks:g}/s", flush=True)
    print(f"readers {args.readers}; mode {mode(args)}" + (
        f" (the simulator, the gate and the bench on core {min(os.sched_getaffinity(0))}, the runner and its "
        f"readers on {sorted(args.runner_cpus)})" if args.pin else ""), flush=True)
    work = Path(tempfile.mkdtemp(prefix="ks-firm-"))
    try:
        if args.quota is not None:
            ref = half_reference(args, "before")
        for layout in args.layouts.split(","):
            n, m = (int(x) for x in layout.lower().split("x"))
            k = args.shards
            print(f"\n{n} accounts × {m} positions" + (f" on {k} shards (a runner each)" if k > 1 else "")
                  + f"; readers {args.readers}; mode {mode(args)}"
                  + (f", a quota of {cores_used(args, -(-n // k)) / 2:g} core a runner, half a core a process"
                     if args.quota else ""),
                  flush=True)
            r = run_layout(n, m, args, work, ref)
            report(r, ref, args)
            print(f"  (the runner's log: {r['err_path']})" if args.keep else "", end="", flush=True)
        print(f"\nreference loop after: {reference_ms():.1f} ms")
        if args.quota is not None:
            half_reference(args, "after")
    finally:
        if args.quota is not None:
            args.quota.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def half_reference(args: Any, when: str) -> float:
    """The reference loop's wall ms under half a core's quota, on the runner's cores; printed."""
    group = args.quota.group(f"reference-{when}", 1)
    try:
        cpu_ms, wall_ms = cores.quota_reference(group, args.runner_cpus)
    finally:
        group.close()
    print(f"half-speed by {args.quota.kind}: reference loop {when}, under half a core's quota: wall {wall_ms:.1f} ms "
          f"a loop (CPU {cpu_ms:.1f} ms)" + ("; the figures below in loops are ratios to the wall figure"
                                              if when == "before" else ""), flush=True)
    return wall_ms


if __name__ == "__main__":
    sys.exit(main())
