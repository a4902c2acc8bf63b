"""Benchmark: reaction time and memory of the runner.

1. Reaction: from the start of the tick whose snapshot first shows a breach to the first close
   order *received by the simulated exchange's HTTP face* through ccxt — snapshot over HTTP,
   evaluate, journal (SQLite, synchronous=FULL), state save, lock file, send. p50 / p99 over
   many trials (target p99 <= 25 ms).
2. Memory: the runner's resident set size at 10,000 positions (100 accounts, in-process
   simulated exchange) over a soak of ``KS_SOAK_TICKS`` ticks (default 2,000; the issue's soak
   is 10,000), sampled before the first tick, twenty times along and at the end (target
   <= 200 MB, flat), with the time per tick split into the snapshots phase (the simulator's
   share; it also holds the lease renewal that starts a tick) and the runner's own work
   (evaluate, journal, persist, lock file, send, reconcile).

``--quick``: fewer trials and ticks; ``--memory-only``: the soak alone (for a long run in the
background: it prints its samples as it goes). ``KS_SOAK_STEP_MS`` (default 1000, the policy's
interval): scenario time per tick; a longer step fills the runner's windows (up to the one-hour
attribution history) in fewer ticks, to see where memory levels off without the full soak.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from adapters.simulated.http import SimServer, wall_clock
from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from killswitch.policy.model import Account
from killswitch.bootstrap import build_runner
from killswitch.state import open_store

POLICY = """
apiVersion: killswitch/v1
kind: Policy
metadata: {name: reaction}
spec:
  scope: {level: account}
  interval: 1s
  signals:
    dd: {equity_drawdown: {window: 10m, min_coverage: 0.1%}}
  triggers:
    breach: {when: "dd >= 5%", on_missing_data: hold}
  stages:
    - {level: 1, name: flatten, on: [breach], reset: manual,
       actions: [close_all, {lock_trading: {mode: halted}}]}
"""
T0 = 1_772_456_400_000


def graph():
    res = compile_documents(load_text(POLICY, "reaction.yaml"))
    assert res.graph is not None
    return res.graph


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def one_reaction(g, work: Path, k: int) -> float:
    clock = ManualClock(T0)
    markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(3)]
    eng = SimExchange(clock, markets=markets, accounts=[AccountSpec("acct", "k", "s", wallet=1_000_000.0)],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10_000_000))
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
        eng.open_position("acct", m.symbol, "long", 1_000.0, 100.0)
    received: list[float] = []
    place = eng.place_order

    def spy(*a, **kw):
        received.append(time.perf_counter())
        return place(*a, **kw)

    eng.place_order = spy
    os.environ["KS_R_KEY"], os.environ["KS_R_SECRET"] = "k", "s"
    acc = Account.model_validate({"name": "acct", "venue": "binanceusdm", "market_type": "futures",
                                  "credentials": {"api_key": {"env": "KS_R_KEY"}, "secret": {"env": "KS_R_SECRET"}}})
    store = open_store(f"sqlite://{work / f'r{k}.db'}")
    async with SimServer(eng, auth_clock=wall_clock) as server:
        ad = CcxtAdapter(acc, urls=server.base_url, timeout=5)
        runner = build_runner(g, {"binanceusdm/acct": ad}, store, lock_path=work / f"lock{k}.json", dry_run=False,
                              clock=clock)
        await runner.start()
        for _ in range(1):  # one quiet tick first: ccxt's limiter then holds what a 5 s cadence leaves it
            clock.advance(1_000)
            await runner.tick()
        for m in markets:
            eng.set_mark(m.symbol, 80.0)  # -20% on a 300k book: a 6% drawdown
        clock.advance(1_000)
        start = time.perf_counter()
        report = await runner.tick()
        await ad.close()
    store.close()
    assert report.transitions and received, "no breach reaction"
    return received[0] - start


async def reactions(n: int) -> None:
    g = graph()
    work = Path(tempfile.mkdtemp(prefix="ksreact-"))
    xs = [await one_reaction(g, work, k) for k in range(n)]
    xs.sort()
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    print(f"reaction, breach snapshot -> first close order at the venue ({n} trials): "
          f"p50 {statistics.median(xs) * 1000:.2f} ms  p99 {p99 * 1000:.2f} ms  max {xs[-1] * 1000:.2f} ms "
          f"(target p99 <= 25 ms)")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def memory(ticks: int, accounts: int = 100, per: int = 100, step_ms: int = 1_000) -> None:
    clock = ManualClock(T0)
    markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(per)]
    specs = [AccountSpec(f"a{j}", f"k{j}", f"s{j}", wallet=10_000_000.0) for j in range(accounts)]
    eng = SimExchange(clock, markets=markets, accounts=specs,
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
    for j in range(accounts):
        for m in markets:
            eng.open_position(f"a{j}", m.symbol, "long", 1.0, 100.0)
    work = Path(tempfile.mkdtemp(prefix="ksmem-"))
    store = open_store(f"sqlite://{work / 'mem.db'}")
    adapters = {f"simulated/a{j}": SimulatedAdapter(eng, f"a{j}", timeout_s=30) for j in range(accounts)}
    runner = build_runner(graph(), adapters, store, lock_path=work / "lock.json", dry_run=True, clock=clock)
    await runner.start()
    print(f"memory, {accounts * per:,} positions ({accounts} accounts), {ticks:,} ticks "
          f"{step_ms / 1000:g} s apart:", flush=True)
    samples = [(0, rss_mb())]
    print(f"  before the first tick: {samples[0][1]:.0f} MB", flush=True)
    snap_ms: list[float] = []
    own_ms: list[float] = []
    every = max(1, ticks // 20)
    start = time.perf_counter()
    for t in range(1, ticks + 1):
        clock.advance(step_ms)
        report = await runner.tick()
        s0, s1 = report.phases["snapshots"]
        snap_ms.append((s1 - s0) / 1e6)
        own_ms.append((report.ended_ns - report.started_ns - (s1 - s0)) / 1e6)
        if t % every == 0 or t == ticks:
            samples.append((t, rss_mb()))
            print(f"  tick {t:,}: {samples[-1][1]:.0f} MB  ({time.perf_counter() - start:.0f} s)", flush=True)
    wall = time.perf_counter() - start
    store.close()
    doc_mb = len(json.dumps(runner.state.to_json(pnl_samples=False))) / 1e6  # what the runner saves every tick
    pnl_mb = len(json.dumps(runner.state.to_json()["pnl"])) / 1e6  # the history, stored a sample per step
    peak = max(m for _, m in samples)
    after_first = samples[1][1]
    print(f"  {ticks:,} ticks in {wall:.0f} s ({wall / ticks * 1000:.1f} ms/tick): snapshots (simulator) "
          f"p50 {statistics.median(snap_ms):.1f} ms; the runner's own work p50 {statistics.median(own_ms):.1f} ms "
          f"p99 {_pct(own_ms, 0.99):.1f} ms max {max(own_ms):.1f} ms")
    print(f"  resident: start {samples[0][1]:.0f} MB, after {samples[1][0]:,} ticks {after_first:.0f} MB, "
          f"end {samples[-1][1]:.0f} MB, peak {peak:.0f} MB; growth from tick {samples[1][0]:,} to the end "
          f"{samples[-1][1] - after_first:+.1f} MB (target <= 200 MB, flat); the engine state saved every tick "
          f"is {doc_mb:.2f} MB of JSON, the PnL history stored apart {pnl_mb:.1f} MB", flush=True)


def main() -> None:
    quick = "--quick" in sys.argv
    if "--memory-only" not in sys.argv:
        asyncio.run(reactions(20 if quick else 100))
    ticks = 200 if quick else int(os.environ.get("KS_SOAK_TICKS", "2000"))
    asyncio.run(memory(ticks, step_ms=int(os.environ.get("KS_SOAK_STEP_MS", "1000"))))


if __name__ == "__main__":
    main()
