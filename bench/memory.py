"""Benchmark: the runner's resident memory over hours of ticks, every position in one scope.

Layout: one account holding N positions (N markets, one-way), one account-scope policy (bench/
tick.py's: two drawdown windows, position losses, liquidation distance, gross exposure, an
attribution history of one hour sampled every minute), ticking every 5 s for ``--ticks`` ticks
(1,440 = two hours: the first fills the one-hour windows, the second shows whether memory stays
flat), SQLite state on disk, dry run, the simulated exchange in process (its books are part of
what is measured: they are the venue's, about the size of what a ccxt client holds for the same
account). Every tick 1 % of the markets move (the rest hold), so each snapshot is new
positions, as a live venue's are.

Prints the resident set size (VmRSS) before the first tick, twenty times along (the first after
1/20 of the run) and at the end; the peak; the growth over the second half of the run (after the
one-hour windows are full: what must stay flat); and the
time per tick split into the snapshots phase and the runner's own work. Target (issue 15): at
10,000 positions ≤ 200 MB and flat over ≥ 720 ticks; the 100,000 figure printed.

    .venv/bin/python bench/memory.py                    # 10,000 positions, 1,440 ticks
    .venv/bin/python bench/memory.py --positions 100000 --ticks 240
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from adapters.simulated.adapter import SimulatedAdapter  # noqa: E402
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange  # noqa: E402
from killswitch.process.bootstrap import build_runner_and_desk  # noqa: E402
from killswitch.state import open_store  # noqa: E402

STEP_MS = 5_000
T0 = 1_772_456_400_000


async def soak(n: int, ticks: int) -> None:
    from harness import machine, soak_ticks
    from tick import graph

    clock = ManualClock(T0)
    markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(n)]
    eng = SimExchange(clock, markets=markets, accounts=[AccountSpec("a0", "k0", "s0", wallet=10.0 * n * 100)],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    rng = random.Random(7)
    marks = [100.0 + i % 1000 for i in range(n)]
    for m, mark in zip(markets, marks):
        eng.set_mark(m.symbol, mark)
        eng.open_position("a0", m.symbol, "long" if rng.random() < 0.6 else "short", 1.0, mark)
    work = Path(tempfile.mkdtemp(prefix="ks-mem-"))
    store = open_store(f"sqlite://{work / 'state.db'}")
    runner, _, parts = build_runner_and_desk(graph("one-account"), {"simulated/a0": SimulatedAdapter(eng, "a0",
            timeout_s=60)}, store,
                          lock_path=work / "lock.json", dry_run=True, clock=clock)
    await runner.start()
    print(f"machine: {machine()}")
    print(f"layout: one account of {n:,} positions (one scope), bench/tick.py's policy at 5 s, {ticks:,} ticks "
          f"({ticks * STEP_MS / 3_600_000:.1f} h of policy time), 1 % of the marks moving each tick, SQLite on disk, "
          "dry run, the simulated exchange in process", flush=True)
    gc.collect()

    def move_marks() -> None:  # 1 % of the marks move each tick
        for i in rng.sample(range(n), max(1, n // 100)):
            marks[i] *= 1.0 + rng.uniform(-0.002, 0.002)
            eng.set_mark(markets[i].symbol, marks[i])

    samples, snap_ms, own_ms, _ = await soak_ticks(runner, clock, ticks, STEP_MS, move_marks)
    store.close()
    peak = max(m for _, m in samples)
    half = next(s for s in samples if s[0] >= ticks // 2)
    print(f"  resident: before {samples[0][1]:.0f} MB, at tick {samples[1][0]:,} {samples[1][1]:.0f} MB, at tick "
          f"{half[0]:,} {half[1]:.0f} MB, end {samples[-1][1]:.0f} MB, peak {peak:.0f} MB; growth over the second "
          f"half {samples[-1][1] - half[1]:+.1f} MB (target at 10,000: <= 200 MB, flat)")
    print(f"  per tick: snapshots (simulator) p50 {statistics.median(snap_ms):.1f} ms; the runner's own work p50 "
          f"{statistics.median(own_ms):.1f} ms, max {max(own_ms):.1f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=1440)
    args = ap.parse_args()
    asyncio.run(soak(args.positions, args.ticks))


if __name__ == "__main__":
    main()
