"""Benchmark: hundreds of API requests in flight at a running runner, and what they do to its
ticks and its leadership.

Two topologies, each with real processes on 127.0.0.1: the simulated exchange (calm scenario, its
Binance USD-M face) and ``ksctl run`` (dry run, ticks every 200 ms, lease TTL ``--ttl``, the
default admission limits: 10 operator changes and 200 heartbeats a second per identity, 64 changes
queued):

* ``lone``: one runner on SQLite (WAL, ``synchronous=FULL``), no standby;
* ``pair``: a leader and a standby on one PostgreSQL server (started here with ``initdb`` and
  ``pg_ctl``, fsync on); half the requests go to each.

Three layouts of load, each run on each topology; the callers are 50 operator identities and 20
bot identities of a tokens document (requests spread over them in turn), so that the queue and
the per-identity rates both take part:

* ``writes``: ``POST /v1/lock`` and ``POST /v1/unlock`` of the account, in equal parts;
* ``mixed``: lock, unlock, ``GET /v1/status``, ``POST /v1/check-order`` and ``POST
  /v1/heartbeat/{source}``, in equal parts;
* ``heartbeats``: a bot storm, ``POST /v1/heartbeat/{source}`` of 200 sources.

Each round keeps ``--concurrency`` requests in flight (500 by default) for ``--duration``
seconds or ``--max-requests`` requests. A poller reads ``GET /v1/status`` of the leader every
50 ms, quiet before the load and during it, and takes the tick period from the
``last_tick_ms`` it sees change (a tick it missed makes a period look longer, never shorter).
The runner's adapter is the real ccxt Binance USD-M one, whose own rate limiter paces the
snapshots: after the first seconds (its burst) a tick starts every ~0.5 s, and every ~4.5 s one
waits ~2 s longer (the list of all open orders weighs 40), so the runners are warmed up
(``--warmup``) before anything is measured. Beside the period, the mean time of a tick's own
work (every phase but the snapshots' fetch, from ``killswitch_tick_phase_duration_seconds``)
shows what the load costs the tick where the exchange's pacing does not hide it.

Prints, per topology and layout: the layout, leadership changes (fencing token moves and changes
of holder: must be 0), the answers by status and reason code (a 429 is load shed as designed;
``NOT_LEADER`` from the standby is expected), the count of 5xx (must be 0), request latency
p50/p99 by kind, and the tick period p50/p99 quiet and under the load with their ratios
(goals: p50 ≤ 1.2× quiet, p99 ≤ 2× quiet). The client runs on the same machine and takes its
share of the two cores. Exits 1 if a goal is missed.

``--quick``: one round of 10 s a layout. ``--layout`` / ``--topology``: only one of them.

``--topology gate``: the pre-trade gate beside the console's reads. One lone runner whose Accounts
document names ``--sources`` heartbeat sources (default 1,024, the runner's bound on sources
held); every one of them beats first, so the status carries them all. Then, for
``--gate-duration`` seconds each, one bot asks ``POST /v1/check-order`` again and again (one in
flight) three ways: alone; under a heartbeat storm (every source beating, 20 bot identities, 50
in flight); and under the storm with ``--concurrency`` ``GET /v1/status`` reads in flight at once.
Prints the status's size (and with ``?dms=all``, every dead man's switch source: a runner that
does not know the parameter answers it as the status), the check-order latency p50/p99 of each,
the status reads answered, the beats answered by status and code, and the reference loop of the
machine beside them (the figures of one machine at one hour compare through it). ``--made-up`` beats ``--sources``
sources the Accounts document does not name (what a runner that took any source held after a
storm of typos or junk; refused by one that knows its sources). ``--armed`` arms the dead man's
switch of every source first (``POST /v1/dms/arm``, a day's timeout, from the operator
identities in turn; arming names a source, so made-up sources are then taken): the status then
carries a switch entry of each, as an operator who armed up to the runner's bound would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import aiohttp
from harness import (
    ACCOUNT,
    API_TOKEN,
    TICK_S,
    Pg,
    Sim,
    free_port,
    get_json,
    lease,
    machine,
    median,
    pct,
    ready,
    start_runner,
    stop,
    wait_until,
    write_inputs,
)

LAYOUTS = {
    "writes": ("lock", "unlock"),
    "mixed": ("lock", "unlock", "status", "check-order", "heartbeat"),
    "heartbeats": ("heartbeat",),
}
OPERATORS, BOTS, SOURCES = 50, 20, 200
DEPOSITIONS = ("NOT_LEADER", "DEPOSED")
REQUEST_TIMEOUT_S = 60.0  # one request; a burst is bounded by this too
GOAL_P50, GOAL_P99 = 1.2, 2.0


def token(kind: str, i: int) -> str:
    return f"bench-{kind}-{i:02d}-token-0123456789abcdef"  # throwaway tokens for a runner on loopback


def write_tokens(work: Path) -> Path:
    """The tokens document: OPERATORS operators, BOTS bots (their digests only)."""
    entries = [{"identity": f"op-{i:02d}", "roles": ["operator"], "sha256": hashlib.sha256(
        token("op", i).encode()).hexdigest()} for i in range(OPERATORS)]
    entries += [{"identity": f"bot-{i:02d}", "roles": ["bot"], "sha256": hashlib.sha256(
        token("bot", i).encode()).hexdigest()} for i in range(BOTS)]
    f = work / "tokens.json"
    f.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": entries}))
    return f


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
    quiet_work: float = 0.0  # mean seconds of a tick's own work (all but the snapshots' fetch)
    load_work: float = 0.0


def request_spec(kinds: tuple[str, ...], i: int) -> tuple[str, str, str, Optional[dict], str]:
    """(kind, method, path, body, bearer token) of request ``i``."""
    kind = kinds[i % len(kinds)]
    n = i // len(kinds)
    op = token("op", n % OPERATORS)
    if kind == "lock":
        return kind, "POST", "/v1/lock", {"scope": ACCOUNT, "reason": f"bench {i}", "mode": "halted",
                                          "ttl_s": 600}, op
    if kind == "unlock":
        return kind, "POST", "/v1/unlock", {"scope": ACCOUNT, "reason": f"bench {i}"}, op
    if kind == "status":
        return kind, "GET", "/v1/status", None, API_TOKEN
    if kind == "heartbeat":
        return kind, "POST", f"/v1/heartbeat/bench-bot-{n % SOURCES:03d}", None, token("bot", n % BOTS)
    return kind, "POST", "/v1/check-order", {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy",
                                             "amount": 0.001, "strategy": "bench"}, API_TOKEN


async def load(kinds: tuple[str, ...], targets: list[tuple[str, str]], concurrency: int, duration_s: float,
               cap: int) -> list[Answer]:
    """``concurrency`` requests in flight, spread over ``targets`` ((name, base URL)), until
    ``duration_s`` passed or ``cap`` requests were sent."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)  # keep-alive: 500 clients, each with its connection

    async def one(session: aiohttp.ClientSession, i: int) -> Answer:
        kind, method, path, body, bearer = request_spec(kinds, i)
        name, base = targets[(i // len(kinds)) % len(targets)]
        t0 = time.perf_counter()
        try:
            async with session.request(method, base + path, json=body,
                                       headers={"Authorization": f"Bearer {bearer}"}) as r:
                text = await r.text()
                status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            return Answer(kind, name, 0, type(e).__name__, time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        code = "OK"
        if text:
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


PHASE_SUM = re.compile(r'killswitch_tick_phase_duration_seconds_sum\{phase="(\w+)"\} (\S+)')
PHASE_COUNT = re.compile(r'killswitch_tick_phase_duration_seconds_count\{phase="evaluate"\} (\S+)')


def work_ms(api: str) -> tuple[float, int]:
    """(seconds, ticks) of the leader's tick work so far: every phase but the snapshots' fetch."""
    text = urllib.request.urlopen(api + "/metrics", timeout=REQUEST_TIMEOUT_S).read().decode()
    seconds = sum(float(v) for phase, v in PHASE_SUM.findall(text) if phase != "snapshots")
    count = PHASE_COUNT.search(text)
    return seconds, int(float(count.group(1))) if count else 0


def one_round(kinds: tuple[str, ...], targets: list[tuple[str, str]], leader_api: str, args) -> Round:
    out = Round()
    poller = TickPoller(leader_api)
    try:
        w0 = work_ms(leader_api)
        time.sleep(args.quiet)
        w1 = work_ms(leader_api)
        out.quiet_periods = poller.periods_since(0)
        mark = len(poller.seen)
        t0 = time.perf_counter()
        out.answers = asyncio.run(load(kinds, targets, args.concurrency, args.duration, args.max_requests))
        out.wall_s = time.perf_counter() - t0
        out.load_periods = poller.periods_since(mark)
        w2 = work_ms(leader_api)
        out.quiet_work = (w1[0] - w0[0]) / max(1, w1[1] - w0[1])
        out.load_work = (w2[0] - w1[0]) / max(1, w2[1] - w1[1])
    finally:
        poller.close()
    return out


def summarize(title: str, layout: str, rounds: list[Round], fences: tuple[int, int],
              holders: list[Optional[str]], args) -> bool:
    kinds = LAYOUTS[layout]
    answers = [a for r in rounds for a in r.answers]
    moved = fences[1] - fences[0]
    hands = sum(1 for a, b in zip(holders, holders[1:]) if a != b)
    deposed = [a for a in answers if a.target == "leader" and a.code in DEPOSITIONS]
    errors = [a for a in answers if a.status >= 500 or a.status == 0]
    print(f"\napi load: {title}; layout {layout} ({', '.join(kinds)} in equal parts)")
    print(f"  machine: {machine()}")
    sent = median([len(r.answers) for r in rounds])
    print(f"  load: {len(rounds)} round(s) of {args.duration:g} s (at most {args.max_requests:,} requests), "
          f"{args.concurrency} in flight at once from {OPERATORS} operator and {BOTS} bot identities; median "
          f"{sent:,.0f} requests a round ({median([len(r.answers) / r.wall_s for r in rounds]):,.0f}/s)")
    print(f"  leadership changes: {moved + hands} (fence {fences[0]} -> {fences[1]}, holder changes {hands}); "
          f"depositions answered by the leader ({'/'.join(DEPOSITIONS)}): {len(deposed)}")
    by = Counter((a.target, a.status, a.code) for a in answers)
    print("  answers: " + ", ".join(f"{t} {s} {c} x{k}" for (t, s, c), k in sorted(by.items())))
    print(f"  5xx or no answer: {len(errors)}")

    def lat(kind: Optional[str]) -> str:
        p50 = median([pct([a.seconds for a in r.answers if kind in (None, a.kind)] or [0.0], 50) for r in rounds])
        p99 = median([pct([a.seconds for a in r.answers if kind in (None, a.kind)] or [0.0], 99) for r in rounds])
        return f"{p50 * 1000:.0f}/{p99 * 1000:.0f} ms"

    print(f"  request latency p50/p99 (median of {len(rounds)} rounds): all {lat(None)}; "
          + "; ".join(f"{k} {lat(k)}" for k in kinds))
    quiet = [p for r in rounds for p in r.quiet_periods]
    load_ = [p for r in rounds for p in r.load_periods]
    q50, q99, l50, l99 = pct(quiet, 50), pct(quiet, 99), pct(load_, 50), pct(load_, 99)
    r50, r99 = l50 / q50, l99 / q99
    ok = moved + hands == 0 and not deposed and not errors and r50 <= GOAL_P50 and r99 <= GOAL_P99
    print(f"  tick period p50/p99 (policy interval {TICK_S * 1000:.0f} ms): quiet {q50:.3f}/{q99:.3f} s "
          f"({len(quiet)} periods); under the load {l50:.3f}/{l99:.3f} s ({len(load_)} periods); "
          f"ratio {r50:.2f}x / {r99:.2f}x (goals <= {GOAL_P50:g}x / <= {GOAL_P99:g}x): {'met' if ok else 'MISSED'}")
    qw, lw = median([r.quiet_work for r in rounds]), median([r.load_work for r in rounds])
    print(f"  a tick's own work (all but the snapshots' fetch), mean: quiet {qw * 1000:.1f} ms, under the load "
          f"{lw * 1000:.1f} ms ({lw / qw if qw else float('nan'):.2f}x)")
    return ok


def run_layouts(title: str, targets: list[tuple[str, str]], leader_api: str, url: str, args) -> bool:
    ok = True
    for layout in LAYOUTS:
        if args.layout not in (layout, "all"):
            continue
        holders, first = [lease(url)[0]], lease(url)[1]
        rounds = []
        for _ in range(args.rounds):
            rounds.append(one_round(LAYOUTS[layout], targets, leader_api, args))
            holders.append(lease(url)[0])
        ok = summarize(title, layout, rounds, (first, lease(url)[1]), holders, args) and ok
    return ok


def lone(args, work: Path) -> bool:
    sim = Sim(work)
    runner = None
    try:
        pol, acc = write_inputs(work, sim.port)
        name_sources(acc, [f"bench-bot-{n:03d}" for n in range(SOURCES)])  # the bots the load beats as
        extra = ("--api-tokens", str(write_tokens(work)), "--api-token-env", "KS_API_TOKEN")
        url = f"sqlite://{work / 'state.db'}"
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        runner = start_runner(work, pol, acc, url, "lone", port, args.ttl, extra)
        if not wait_until(lambda: ready(api) == "LEADER", 60, 0.1):
            raise RuntimeError(f"the runner did not lead: {(work / 'lone.err').read_text()[-2000:]}")
        time.sleep(args.warmup)  # past the exchange rate limiter's burst
        ok = run_layouts(f"lone runner, SQLite (WAL, synchronous=FULL), lease TTL {args.ttl}, no standby",
                         [("leader", api)], api, url, args)
        if runner.poll() is not None:
            raise RuntimeError(f"the runner exited: {(work / 'lone.err').read_text()[-2000:]}")
        return ok
    finally:
        stop(runner)
        sim.close()


def pair(args, work: Path) -> bool:
    pg = Pg()
    sim = Sim(work)
    a = b = None
    try:
        pol, acc = write_inputs(work, sim.port)
        name_sources(acc, [f"bench-bot-{n:03d}" for n in range(SOURCES)])  # the bots the load beats as
        extra = ("--api-tokens", str(write_tokens(work)), "--api-token-env", "KS_API_TOKEN")
        url = pg.url()
        pa, pb = free_port(), free_port()
        api_a, api_b = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
        a = start_runner(work, pol, acc, url, "ha-a", pa, args.ttl, extra)
        if not wait_until(lambda: ready(api_a) == "LEADER", 60, 0.1):
            raise RuntimeError(f"ha-a did not lead: {(work / 'ha-a.err').read_text()[-2000:]}")
        b = start_runner(work, pol, acc, url, "ha-b", pb, args.ttl, extra)
        if not wait_until(lambda: ready(api_b) == "STANDBY", 60, 0.1):
            raise RuntimeError(f"ha-b did not stand by: {(work / 'ha-b.err').read_text()[-2000:]}")
        time.sleep(args.warmup)  # past the exchange rate limiter's burst
        ok = run_layouts(f"leader + standby, PostgreSQL (fsync on), lease TTL {args.ttl}; half the requests to each",
                         [("leader", api_a), ("standby", api_b)], api_a, url, args)
        for p, name in ((a, "ha-a"), (b, "ha-b")):
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited: {(work / f'{name}.err').read_text()[-2000:]}")
        return ok
    finally:
        stop(a)
        stop(b)
        sim.close()
        pg.stop()


# --- the gate beside the console's reads -------------------------------------------------------------

GATE_BEATERS = 50  # heartbeats in flight during the storm


def gate_sources(n: int) -> list[str]:
    return [f"bench-src-{i:04d}" for i in range(n)]


def name_sources(acc: Path, sources: list[str]) -> None:
    """The Accounts document names ``sources`` as the account's strategies (one per line)."""
    text = acc.read_text()
    listed = "".join(f"        - {s}\n" for s in sources)
    acc.write_text(text.replace("      labels: {book: futures}\n", "      labels: {book: futures}\n"
                                "      strategies:\n" + listed, 1))


async def gate_load(api: str, sources: list[str], readers: int, beaters: int, duration_s: float
                    ) -> tuple[dict, int]:
    """``readers`` status reads and ``beaters`` heartbeats in flight for ``duration_s``: (the beats'
    answers by (status, code), status reads answered 200)."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    end = time.monotonic() + duration_s
    beats: Counter = Counter()
    reads = [0]

    async def reader(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < end:
            try:
                async with session.get(api + "/v1/status", headers={"Authorization": f"Bearer {API_TOKEN}"}) as r:
                    await r.read()
                    reads[0] += r.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass

    async def beater(session: aiohttp.ClientSession, k: int) -> None:
        i = k
        while time.monotonic() < end:
            source = sources[i % len(sources)]
            bearer = token("bot", (i // len(sources) + i) % BOTS)
            try:
                async with session.post(f"{api}/v1/heartbeat/{source}",
                                        headers={"Authorization": f"Bearer {bearer}"}) as r:
                    text = await r.text()
                    code = "OK" if r.status == 204 else (json.loads(text).get("error") if text else "")
                    beats[(r.status, code)] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
                beats[(0, type(e).__name__)] += 1
            i += beaters

    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=readers + beaters + 1)) \
            as load:
        await asyncio.gather(*(reader(load) for _ in range(readers)), *(beater(load, k) for k in range(beaters)))
    return dict(beats), reads[0]


def gate_load_process(api: str, sources: list[str], readers: int, beaters: int, duration_s: float) -> tuple[dict, int]:
    return asyncio.run(gate_load(api, sources, readers, beaters, duration_s))


async def ask_again(api: str, duration_s: float) -> tuple[list[float], int]:
    """One bot asking check-order again and again (one in flight) for ``duration_s``: (seconds of
    each, answers that were not 200)."""
    order = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.001, "strategy": "bench"}
    took: list[float] = []
    bad = 0
    end = time.monotonic() + duration_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                     connector=aiohttp.TCPConnector(limit=1)) as session:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            async with session.post(api + "/v1/check-order", json=order) as r:
                await r.read()
                bad += r.status != 200
            took.append(time.perf_counter() - t0)
    return took, bad


def gate_round(api: str, sources: list[str], readers: int, beaters: int, duration_s: float
               ) -> tuple[list[float], Counter, int, int]:
    """The bot asking check-order for ``duration_s`` from this process, with the load (``readers``
    status reads and ``beaters`` heartbeats in flight) from a process of its own, started a second
    before and ending after, so that the asker's latency is not its own loop's queue: (check-order
    seconds, the beats' answers by (status, code), status reads answered 200, check-orders not 200)."""
    if not readers and not beaters:
        took, bad = asyncio.run(ask_again(api, duration_s))
        return took, Counter(), 0, bad
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        load = pool.submit(gate_load_process, api, sources, readers, beaters, duration_s + 2.0)
        time.sleep(1.0)
        took, bad = asyncio.run(ask_again(api, duration_s))
        beats, reads = load.result(timeout=duration_s + REQUEST_TIMEOUT_S + 30)
    return took, Counter(beats), reads, bad


async def arm_each(api: str, sources: list[str]) -> Counter:
    """Every source's dead man's switch armed once (a day's timeout; operator identities in turn,
    GATE_BEATERS in flight; a 429 is sent again after its Retry-After): the answers by (status,
    code)."""
    answers: Counter = Counter()
    todo = iter(enumerate(sources))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i, source in todo:
            while True:
                async with session.post(f"{api}/v1/dms/arm", json={"source": source, "timeout_s": 86_400},
                                        headers={"Authorization": f"Bearer {token('op', i % OPERATORS)}"}) as r:
                    doc = await r.json()
                    if r.status != 429:
                        answers[(r.status, "OK" if doc.get("done") else str(doc.get("reason")).split(":")[0])] += 1
                        break
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as session:
        await asyncio.gather(*(worker(session) for _ in range(GATE_BEATERS)))
    return answers


async def beat_each(api: str, sources: list[str]) -> Counter:
    """Every source beats once (bot identities in turn, GATE_BEATERS in flight): the answers by
    (status, code)."""
    answers: Counter = Counter()
    todo = iter(enumerate(sources))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i, source in todo:
            async with session.post(f"{api}/v1/heartbeat/{source}",
                                    headers={"Authorization": f"Bearer {token('bot', i % BOTS)}"}) as r:
                text = await r.text()
                answers[(r.status, "OK" if r.status == 204 else json.loads(text).get("error"))] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as session:
        await asyncio.gather(*(worker(session) for _ in range(GATE_BEATERS)))
    return answers


def gate(args, work: Path) -> bool:
    sim = Sim(work)
    runner = None
    try:
        pol, acc = write_inputs(work, sim.port)
        sources = gate_sources(args.sources)
        if not args.made_up:
            name_sources(acc, sources)
        extra = ("--api-tokens", str(write_tokens(work)), "--api-token-env", "KS_API_TOKEN")
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        runner = start_runner(work, pol, acc, f"sqlite://{work / 'state.db'}", "gate", port, args.ttl, extra)
        if not wait_until(lambda: ready(api) == "LEADER", 60, 0.1):
            raise RuntimeError(f"the runner did not lead: {(work / 'gate.err').read_text()[-2000:]}")
        time.sleep(args.warmup)  # past the exchange rate limiter's burst
        armed = asyncio.run(arm_each(api, sources)) if args.armed else Counter()
        first = asyncio.run(beat_each(api, sources))
        status_bytes, all_bytes = (len(urllib.request.urlopen(urllib.request.Request(
            api + path, headers={"Authorization": f"Bearer {API_TOKEN}"}), timeout=REQUEST_TIMEOUT_S).read())
            for path in ("/v1/status", "/v1/status?dms=all"))
        print(f"\napi load: the pre-trade gate beside the console's reads; lone runner, SQLite, lease TTL {args.ttl}")
        print(f"  machine: {machine()}")
        print(f"  sources: {len(sources):,} ({'made up' if args.made_up else 'named by the Accounts document'}); "
              + (("armed: " + ", ".join(f"{s} {c} x{k}" for (s, c), k in sorted(armed.items())) + "; ")
                 if args.armed else "")
              + "first beats answered: " + ", ".join(f"{s} {c} x{k}" for (s, c), k in sorted(first.items())))
        print(f"  GET /v1/status: {status_bytes / 1024:,.1f} KB; with every dead man's switch source (?dms=all): "
              f"{all_bytes / 1024:,.1f} KB")
        ok = True
        for title, readers, beaters in (("alone", 0, 0), ("heartbeat storm", 0, GATE_BEATERS),
                                        (f"storm + {args.concurrency} status reads", args.concurrency,
                                         GATE_BEATERS)):
            took, beats, reads, bad = gate_round(api, sources, readers, beaters, args.gate_duration)
            ok = ok and bad == 0
            print(f"  check-order {title}: p50 {pct(took, 50) * 1000:,.1f} ms, p99 {pct(took, 99) * 1000:,.1f} ms "
                  f"({len(took):,} asked, {bad} not 200); status reads answered {reads:,}; beats "
                  + (", ".join(f"{s} {c} x{k:,}" for (s, c), k in sorted(beats.items())) or "none"))
        if runner.poll() is not None:
            raise RuntimeError(f"the runner exited: {(work / 'gate.err').read_text()[-2000:]}")
        return ok
    finally:
        stop(runner)
        sim.close()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=500, help="requests in flight at once (default 500)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load a round (default 20)")
    ap.add_argument("--max-requests", type=int, default=50_000, help="requests a round at most (default 50,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=8.0, help="seconds of quiet ticks measured before each load")
    ap.add_argument("--warmup", type=float, default=15.0,
                    help="seconds the runners tick before anything is measured (default 15)")
    ap.add_argument("--ttl", default="5s", help="the runners' --lease-ttl (default 5s)")
    ap.add_argument("--topology", choices=("lone", "pair", "both", "gate"), default="both",
                    help="gate: check-order alone and beside heartbeats and status reads (see above)")
    ap.add_argument("--sources", type=int, default=1024, help="gate: heartbeat sources (default 1,024)")
    ap.add_argument("--made-up", action="store_true", help="gate: sources the Accounts document does not name")
    ap.add_argument("--armed", action="store_true", help="gate: arm every source's dead man's switch first")
    ap.add_argument("--gate-duration", type=float, default=10.0, help="gate: seconds of each measure (default 10)")
    ap.add_argument("--layout", choices=(*LAYOUTS, "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="one round of 10 s a layout")
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
        for name, fn in (("lone", lone), ("pair", pair), ("gate", gate)):
            if args.topology in (name, "both") and not (name == "gate" and args.topology == "both"):
                (work / name).mkdir()
                ok = fn(args, work / name) and ok
    finally:
        if args.keep:
            print(f"\nwork directory: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\nresult: " + ("ok: every goal met" if ok else "FAIL: a goal was missed (see MISSED above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
