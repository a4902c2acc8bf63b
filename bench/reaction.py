"""Benchmark: reaction time and memory of the runner.

1. Reaction: from the start of the tick whose snapshot first shows a breach to the first close
   order *received by the simulated exchange's HTTP face* through ccxt — snapshot over HTTP,
   evaluate, journal (SQLite, synchronous=FULL), state save, lock file, send. p50 / p99 over
   many trials (target p99 <= 25 ms).
2. Memory: the runner's resident set size at 10,000 positions (100 accounts, in-process
   simulated exchange) over a soak of ticks, sampled as it goes (target <= 200 MB, flat).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
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
from killswitch.runner.loop import Runner
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
        runner = Runner(g, {"binanceusdm/acct": ad}, store, lock_path=work / f"lock{k}.json", dry_run=False,
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


async def memory(ticks: int, accounts: int = 100, per: int = 100) -> None:
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
    runner = Runner(graph(), adapters, store, lock_path=work / "lock.json", dry_run=True, clock=clock)
    await runner.start()
    samples = []
    start = time.perf_counter()
    for t in range(ticks):
        clock.advance(1_000)
        await runner.tick()
        if t % max(1, ticks // 10) == 0 or t == ticks - 1:
            samples.append((t + 1, rss_mb()))
    wall = time.perf_counter() - start
    store.close()
    print(f"memory, {accounts * per:,} positions, {ticks:,} ticks in {wall:.0f} s ({wall / ticks * 1000:.1f} ms/tick):")
    print("  " + "  ".join(f"tick {t:,}: {m:.0f} MB" for t, m in samples))
    print(f"  growth from the second sample to the last: {samples[-1][1] - samples[1][1]:+.1f} MB (target <= 200 MB, flat)")


def main() -> None:
    quick = "--quick" in sys.argv
    asyncio.run(reactions(20 if quick else 100))
    ticks = 200 if quick else int(os.environ.get("KS_SOAK_TICKS", "2000"))
    asyncio.run(memory(ticks))


if __name__ == "__main__":
    main()
