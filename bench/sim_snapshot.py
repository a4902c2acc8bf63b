"""Benchmark: one ``SimulatedAdapter.snapshot()`` of one account by its number of positions.

The in-process simulated exchange stands in for a venue in every bench, the demo and the
integration tests; its snapshot is the whole "snapshots" phase of a runner's tick there. The
figure is the median of several snapshots of ONE account holding N positions, the clock moved
one second before each (as between two ticks), so the marks move and nothing is reused from
the snapshot before. Two layouts:

- one-way: N markets, one position each, long and short alternating;
- hedge: N / 2 markets, a LONG and a SHORT leg on each.

Marks drift (each market its own price path, priced by the engine's path code at every
snapshot; one mark that moves a tick moves every position's liquidation price, through the
account's margin: at up to ±3 %/h, 1,200 to 2,000 of 10,000 marks move a tick each second),
tick (+200 %/h: every mark moves a tick or more every second, as a busy market's do, so every
mark is rounded to its tick again) or are held (``set_mark``,
as ``bench/reaction.py`` and most tests hold them). ``--quick``: 1,000 and 10,000 positions only.

Two figures per row, each as wall-clock time and (in brackets) this process's CPU time, which
the other work of a shared machine does not inflate: the engine's numbers alone
(``SimExchange.position_numbers``: the marks, every leg's numbers and the account's sums,
priced at the new time, as columns) and the whole snapshot (those numbers, the account, the
open orders and the adapter's position columns made of the numbers; the position models are
made only when read, and a tick reads the columns).

Target (issue 15): ≤ 10 ms at 10,000 positions in one account, growing linearly.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, whatever the venv installed

from adapters.simulated.adapter import SimulatedAdapter  # noqa: E402
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange  # noqa: E402
from adapters.simulated.paths import Drift  # noqa: E402

T0 = 1_772_456_400_000
STEP_MS = 1_000


RATES = {"drifting": lambda i: 0.01 * ((i % 7) - 3), "ticking": lambda i: 2.0}


def exchange(n: int, hedge: bool, held: bool = False, marks: str = "drifting") -> tuple[SimExchange, ManualClock]:
    """One account ``a`` with ``n`` positions: one per market, or both legs of ``n / 2`` markets."""
    clock = ManualClock(T0)
    n_markets = n // 2 if hedge else n
    markets = [MarketSpec(f"C{i}USDT", f"C{i}", amount_step=0.001, price_tick=0.01, min_notional=0.0)
               for i in range(n_markets)]
    eng = SimExchange(clock, markets=markets,
                      accounts=[AccountSpec("a", "k", "s", wallet=10_000_000.0, hedge_mode=hedge)],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    for i, m in enumerate(markets):
        price = 50.0 + i % 500
        if held:
            eng.set_mark(m.symbol, price)
        else:
            eng.set_price_path(m.symbol, Drift(price, RATES[marks](i)))
        if hedge:
            eng.open_position("a", m.symbol, "long", 1.0 + i % 5, price * 0.99)
            eng.open_position("a", m.symbol, "short", 2.0 + i % 3, price * 1.01)
        else:
            side = "long" if i % 2 else "short"
            eng.open_position("a", m.symbol, side, 1.0 + i % 5, price * (0.99 + 0.0001 * (i % 200)))
    return eng, clock


async def measure(n: int, hedge: bool, marks: str, repeats: int) -> tuple[float, float, float, float]:
    """The medians of the numbers alone and of the whole snapshot (numbers included), in seconds
    of the wall clock and of this process's CPU (what a loaded machine's other work does not
    add): numbers, snapshot, numbers' CPU, snapshot's CPU."""
    eng, clock = exchange(n, hedge, marks == "held", marks)
    adapter = SimulatedAdapter(eng, "a", timeout_s=60)
    snap = await adapter.snapshot()  # warm: the adapter's market rules, the first marks
    assert snap.fetch.ok and len(snap.positions) == n, (snap.fetch, len(snap.positions))
    numbers, totals, numbers_cpu, cpu = [], [], [], []
    gc.collect()
    for _ in range(repeats):
        clock.advance(STEP_MS)
        cpu_start, start = time.process_time(), time.perf_counter()
        eng.position_numbers("a")  # priced at the new time; the snapshot reads these numbers
        priced, priced_cpu = time.perf_counter(), time.process_time()
        await adapter.snapshot()
        numbers.append(priced - start)
        numbers_cpu.append(priced_cpu - cpu_start)
        totals.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return tuple(statistics.median(x) for x in (numbers, totals, numbers_cpu, cpu))  # type: ignore[return-value]


def main() -> None:
    sizes = [1_000, 10_000] if "--quick" in sys.argv else [1_000, 10_000, 100_000]
    from harness import machine

    print(f"machine: {machine()}")
    print("layout: N positions in ONE account; one-way: N markets, one position each; hedge: N/2 markets, "
          f"both legs; the clock moves {STEP_MS} ms before each snapshot; median of 15 snapshots (5 at 100,000)")
    print(f"{'positions':>10} {'mode':>8} {'markets':>8} {'marks':>9} {'numbers p50 (CPU)':>18} "
          f"{'snapshot p50 (CPU)':>20}  per position (numbers, snapshot; wall)")
    for hedge, marks in ((False, "drifting"), (False, "ticking"), (False, "held"), (True, "drifting")):
        for n in sizes:
            repeats = 15 if n <= 10_000 else 5
            v, t, vc, c = asyncio.run(measure(n, hedge, marks, repeats))
            print(f"{n:>10,} {'hedge' if hedge else 'one-way':>8} {n // 2 if hedge else n:>8,} {marks:>9} "
                  f"{v * 1000:>8.2f} ({vc * 1000:7.2f}) ms {t * 1000:>9.2f} ({c * 1000:7.2f}) ms  "
                  f"{v / n * 1e6:.2f} µs, {t / n * 1e6:.2f} µs", flush=True)
    print("target: ≤ 10 ms at 10,000 positions in one account, linear")


if __name__ == "__main__":
    main()
