"""Benchmark: bursts of parallel API requests at a running runner, and what they do to its leadership
and its ticks.

Two layouts, each with real processes on 127.0.0.1: the simulated exchange (calm scenario, its
Binance USD-M face) and ``ksctl run`` (dry run, ticks every 200 ms, lease TTL ``--ttl``):

* ``lone``: one runner on SQLite (WAL, ``synchronous=FULL``), no standby;
* ``pair``: a leader and a standby on one PostgreSQL server (started here with ``initdb`` and
  ``pg_ctl``, fsync on); half the requests go to each.

Each round keeps ``--concurrency`` requests in flight at once (500 by default) for
``--duration`` seconds or ``--max-requests`` requests, whichever comes first: a mix in equal
parts of ``POST /v1/lock`` and ``POST /v1/unlock`` of the account (with the token),
``GET /v1/status`` and ``POST /v1/check-order``. A poller reads ``GET /v1/status`` every 50 ms,
quiet before the load and during it, and takes the tick period from the ``last_tick_ms`` it sees
change (a tick it missed makes a period look longer, never shorter). The runner's adapter is the
real ccxt Binance USD-M one, whose own rate limiter paces a snapshot (all open orders weigh 40):
quiet, a tick starts every ~2.3 s whatever the policy's 200 ms interval; what the load adds shows
on top of that.

Prints, per layout: leadership changes (how far the fencing token moved, and changes of holder;
for the lone runner this must be 0), the answers by status and reason code (``NOT_LEADER`` /
``DEPOSED`` from a leader are depositions; a standby refusing a lock with ``NOT_LEADER`` is
expected), request latency p50/p99 (the median over the rounds, by kind), and the tick period
p50/p99 quiet and under the burst. The client runs on the same machine and takes its share of
the cores. Exits 1 if a leader was deposed or leadership changed hands.

``--quick``: one round of 10 s. ``--layout lone|pair``: only one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import aiohttp

from harness import (ACCOUNT, API_TOKEN, TICK_S, Pg, Sim, free_port, get_json, lease, machine, median, pct,
                     ready, start_runner, stop, wait_until, write_inputs)

KINDS = ("lock", "unlock", "status", "check-order")
DEPOSITIONS = ("NOT_LEADER", "DEPOSED")
REQUEST_TIMEOUT_S = 60.0  # one request; a burst is bounded by this too


@dataclass
class Answer:
    kind: str
    target: str  # leader | standby
    status: int
    code: str
    seconds: float


@dataclass
class Round:
    answers: list[Answer] = field(default_factory=list)
    quiet_periods: list[float] = field(default_factory=list)
    load_periods: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def request_spec(i: int) -> tuple[str, str, str, Optional[dict]]:
    kind = KINDS[i % len(KINDS)]
    if kind == "lock":
        return kind, "POST", "/v1/lock", {"scope": ACCOUNT, "reason": f"bench {i}", "mode": "halted", "ttl_s": 600}
    if kind == "unlock":
        return kind, "POST", "/v1/unlock", {"scope": ACCOUNT, "reason": f"bench {i}"}
    if kind == "status":
        return kind, "GET", "/v1/status", None
    return kind, "POST", "/v1/check-order", {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy",
                                             "amount": 0.001, "strategy": "bench"}


async def load(targets: list[tuple[str, str]], concurrency: int, duration_s: float, cap: int) -> list[Answer]:
    """``concurrency`` requests in flight, spread over ``targets`` ((name, base URL)), until
    ``duration_s`` passed or ``cap`` requests were sent."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)  # keep-alive: 500 clients, each with its connection
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    async def one(session: aiohttp.ClientSession, i: int) -> Answer:
        kind, method, path, body = request_spec(i)
        name, base = targets[(i // len(KINDS)) % len(targets)]
        t0 = time.perf_counter()
        try:
            async with session.request(method, base + path, json=body, headers=headers) as r:
                text = await r.text()
                status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            return Answer(kind, name, 0, type(e).__name__, time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        code = "OK"
        try:
            doc = json.loads(text)
            reason = doc.get("reason") or doc.get("error") or ""
            if status >= 400 or doc.get("done") is False:
                code = str(reason).split(":", 1)[0] or f"HTTP_{status}"
        except ValueError:
            code = f"HTTP_{status}"
        return Answer(kind, name, status, code, seconds)

    answers: list[Answer] = []
    sent = iter(range(cap))
    end = time.monotonic() + duration_s

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in sent:
            if time.monotonic() >= end:
                return
            answers.append(await one(session, i))

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return answers


class TickPoller:
    """Reads the leader's ``last_tick_ms`` every 50 ms from a thread of its own."""

    def __init__(self, api: str):
        self.api = api
        self.seen: list[int] = []
        self.mark = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                t = get_json(self.api + "/v1/status", timeout=REQUEST_TIMEOUT_S, token=API_TOKEN).get("last_tick_ms")
                if isinstance(t, int) and (not self.seen or t != self.seen[-1]):
                    self.seen.append(t)
            except Exception:  # noqa: BLE001 - a missed read only widens a period
                pass
            self._stop.wait(0.05)

    def periods_since(self, mark: int) -> list[float]:
        ticks = self.seen[max(0, mark - 1):]
        return [(b - a) / 1000 for a, b in zip(ticks, ticks[1:])]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT_S + 1)


def one_round(targets: list[tuple[str, str]], leader_api: str, args) -> Round:
    out = Round()
    poller = TickPoller(leader_api)
    try:
        time.sleep(args.quiet)
        out.quiet_periods = poller.periods_since(0)
        mark = len(poller.seen)
        t0 = time.perf_counter()
        out.answers = asyncio.run(load(targets, args.concurrency, args.duration, args.max_requests))
        out.wall_s = time.perf_counter() - t0
        out.load_periods = poller.periods_since(mark)
    finally:
        poller.close()
    return out


def summarize(title: str, rounds: list[Round], fences: tuple[int, int], holders: list[Optional[str]], args) -> bool:
    answers = [a for r in rounds for a in r.answers]
    moved = fences[1] - fences[0]
    hands = sum(1 for a, b in zip(holders, holders[1:]) if a != b)
    deposed = [a for a in answers if a.target == "leader" and a.code in DEPOSITIONS]
    print(f"\napi load: {title}")
    print(f"  machine: {machine()}")
    sent = median([len(r.answers) for r in rounds])
    print(f"  load: {len(rounds)} round(s) of {args.duration:g} s (at most {args.max_requests:,} requests), "
          f"{args.concurrency} in flight at once ({', '.join(KINDS)} in equal parts); median {sent:,.0f} requests "
          f"a round ({median([len(r.answers) / r.wall_s for r in rounds]):,.0f}/s)")
    print(f"  leadership changes: {moved + hands} (fence {fences[0]} -> {fences[1]}, holder changes {hands}); "
          f"depositions answered by the leader ({'/'.join(DEPOSITIONS)}): {len(deposed)}")
    by = Counter((a.target, a.status, a.code) for a in answers)
    print("  answers: " + ", ".join(f"{t} {s} {c} x{k}" for (t, s, c), k in sorted(by.items())))

    def lat(kind: Optional[str]) -> str:
        p50 = median([pct([a.seconds for a in r.answers if kind in (None, a.kind)], 50) for r in rounds])
        p99 = median([pct([a.seconds for a in r.answers if kind in (None, a.kind)], 99) for r in rounds])
        return f"{p50 * 1000:.0f}/{p99 * 1000:.0f} ms"

    print(f"  request latency p50/p99 (median of {len(rounds)} rounds): all {lat(None)}; "
          + "; ".join(f"{k} {lat(k)}" for k in KINDS))
    quiet = [p for r in rounds for p in r.quiet_periods]
    load = [p for r in rounds for p in r.load_periods]
    print(f"  tick period p50/p99 (policy interval {TICK_S * 1000:.0f} ms, paced by ccxt): quiet "
          f"{pct(quiet, 50):.2f}/{pct(quiet, 99):.2f} s ({len(quiet)} periods); under the load "
          f"{pct(load, 50):.2f}/{pct(load, 99):.2f} s ({len(load)} periods)")
    return moved + hands == 0 and not deposed


def lone(args, work: Path) -> bool:
    sim = Sim(work)
    runner = None
    try:
        pol, acc = write_inputs(work, sim.port)
        url = f"sqlite://{work / 'state.db'}"
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        runner = start_runner(work, pol, acc, url, "lone", port, args.ttl)
        if not wait_until(lambda: ready(api) == "LEADER", 60, 0.1):
            raise RuntimeError(f"the runner did not lead: {(work / 'lone.err').read_text()[-2000:]}")
        holders = [lease(url)[0]]
        first = lease(url)[1]
        rounds = []
        for _ in range(args.rounds):
            rounds.append(one_round([("leader", api)], api, args))
            holders.append(lease(url)[0])
        if runner.poll() is not None:
            raise RuntimeError(f"the runner exited: {(work / 'lone.err').read_text()[-2000:]}")
        return summarize(f"lone runner, SQLite (WAL, synchronous=FULL), lease TTL {args.ttl}, no standby",
                         rounds, (first, lease(url)[1]), holders, args)
    finally:
        stop(runner)
        sim.close()


def pair(args, work: Path) -> bool:
    pg = Pg()
    sim = Sim(work)
    a = b = None
    try:
        pol, acc = write_inputs(work, sim.port)
        url = pg.url()
        pa, pb = free_port(), free_port()
        api_a, api_b = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
        a = start_runner(work, pol, acc, url, "ha-a", pa, args.ttl)
        if not wait_until(lambda: ready(api_a) == "LEADER", 60, 0.1):
            raise RuntimeError(f"ha-a did not lead: {(work / 'ha-a.err').read_text()[-2000:]}")
        b = start_runner(work, pol, acc, url, "ha-b", pb, args.ttl)
        if not wait_until(lambda: ready(api_b) == "STANDBY", 60, 0.1):
            raise RuntimeError(f"ha-b did not stand by: {(work / 'ha-b.err').read_text()[-2000:]}")
        holders = [lease(url)[0]]
        first = lease(url)[1]
        rounds = []
        for _ in range(args.rounds):
            rounds.append(one_round([("leader", api_a), ("standby", api_b)], api_a, args))
            holders.append(lease(url)[0])
        for p, name in ((a, "ha-a"), (b, "ha-b")):
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited: {(work / f'{name}.err').read_text()[-2000:]}")
        return summarize(f"leader + standby, PostgreSQL (fsync on), lease TTL {args.ttl}; half the requests to each",
                         rounds, (first, lease(url)[1]), holders, args)
    finally:
        stop(a)
        stop(b)
        sim.close()
        pg.stop()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=500, help="requests in flight at once (default 500)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load a round (default 20)")
    ap.add_argument("--max-requests", type=int, default=50_000, help="requests a round at most (default 50,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=8.0, help="seconds of quiet ticks measured before each load")
    ap.add_argument("--ttl", default="5s", help="the runners' --lease-ttl (default 5s)")
    ap.add_argument("--layout", choices=("lone", "pair", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="one round of 500")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, state)")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.quiet = 10.0, 1, 5.0
    if not (0 < args.concurrency <= args.max_requests <= 200_000 and 0 < args.duration <= 300
            and 0 < args.rounds <= 20):
        ap.error("0 < --concurrency <= --max-requests <= 200,000; 0 < --duration <= 300; 0 < --rounds <= 20")
    work = Path(tempfile.mkdtemp(prefix="ks-bench-api-"))
    ok = True
    try:
        for name, fn in (("lone", lone), ("pair", pair)):
            if args.layout in (name, "both"):
                (work / name).mkdir()
                ok = fn(args, work / name) and ok
    finally:
        if args.keep:
            print(f"\nwork directory: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\nresult: " + ("ok: no leader deposed, no change of hands" if ok else "FAIL: leadership changed under load"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
