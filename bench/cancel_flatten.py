"""Benchmark: from a flatten's cancel to "nothing meant to go rests", at a venue that caps its cancel-all.

The venue is the simulator's REST face of a venue (``--venue``: each of the registry's venues
whose face holds futures, :data:`IDS`; each answers a cancel in its own shape: Bybit's list,
Binance's "done" naming none, Bitget's success and failure lists, MEXC's cancel_all success naming
none, Kraken Futures' cancelledOrders), in this process; the kill
switch side is the real ``CcxtAdapter`` behind the runner's one way out
(``killswitch.runner.venue.port.VenuePort``), which reads each answer order by order and lists
the open orders again until nothing meant to go rests. One
account holds ``--orders`` resting entries (1,000 by default) spread over a symbol for each 200
(the engine keeps at most 200 a symbol, as Binance does; ``wide_book``'s markets), and the
venue cancels at most ``--cap`` orders a call (a fault: 100 by default; 0 lifts it; Bybit's own documented cap, 500, is
always on its face).

Each trial places the orders, takes a snapshot (the adapter knows the book, as a runner would),
then times ``cancel(all)`` at the port until it returns, and checks the engine: nothing rests
and the result names nothing still open (a trial that leaves an order counts as a failure and
is reported). Figures: the time, p50 / p99 / max in ms and in reference loops
(``bench/harness.py``), the cancels and lists sent per trial.

    .venv/bin/python bench/cancel_flatten.py                  # bybit, 1,000 orders, cap 100, 9 trials
    .venv/bin/python bench/cancel_flatten.py --venue binance --trials 5
    .venv/bin/python bench/cancel_flatten.py --quick          # 200 orders, 3 trials

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.base import CancelSelector  # noqa: E402
from adapters.simulated.engine import ManualClock  # noqa: E402
from adapters.simulated.faults import FaultPlan  # noqa: E402
from adapters.simulated.http import SimServer, wall_clock  # noqa: E402
from adapters.simulated.scenarios import wide_book  # noqa: E402
from bench.harness import machine, median, pct, reference_ms  # noqa: E402
from killswitch.runner.venue.port import VenuePort  # noqa: E402


def futures_faces() -> dict[str, str]:
    """Venue folder → the ccxt id its simulated face answers as, for every venue of the registry
    whose face holds futures (a face its contract says is spot only, ``FACE_TERMS["spot_only"]``,
    holds no position to flatten)."""
    from importlib import import_module

    from adapters.registry import venues

    return {pkg.__name__.rsplit(".", 1)[1]: pkg.SIM_ID for pkg in venues() if pkg.SIM_ID is not None
            and "spot_only" not in import_module(f"{pkg.__name__}.contract").FACE_TERMS}


IDS = futures_faces()
PER_SYMBOL = 200  # the engine's (Binance's) most open orders a symbol


async def trial(venue: str, orders: int, cap: int) -> tuple[float, int, int, int, float, float]:
    """One flatten's cancel: (ms, cancels sent, lists sent, orders left resting, ms in the
    cancels, ms in the port's lists)."""
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.venues import sim_account

    clock = ManualClock(1_700_000_000_000)
    n_markets = max(1, -(-orders // PER_SYMBOL))
    engine = wide_book(n_markets, clock)  # a market for each 200 orders, one position each
    markets = sorted(engine.markets)
    for i in range(orders):  # buys at half the mark, of about 200 notional each: they rest
        clock.advance(200)  # (placed within the venue's order rate)
        m = engine.markets[markets[i % len(markets)]]
        price = round(round(engine.mark(m.symbol, clock()) * 0.5 / m.price_tick) * m.price_tick, 8)
        amount = round(math.ceil(max(200.0, m.min_notional) / price / m.amount_step) * m.amount_step, 8)
        engine.place_order("sim-main", m.symbol, "buy", "LIMIT", amount, price, time_in_force="GTC",
                           client_order_id=f"e{i}")
    engine.cap_cancels("sim-main", cap or None)
    async with SimServer(engine, faults=FaultPlan(), auth_clock=wall_clock) as server:
        server.warm()  # (the faces' one-time loads, before anything is timed)
        acc = sim_account(server, "sim-main", IDS[venue])
        adapter = CcxtAdapter(acc, urls=acc.api_url, timeout=30.0, max_retries=1, backoff_s=0.05)
        try:
            adapter.open_orders_max_age_s = 0.0
            await adapter.snapshot()
            sent: Counter[str] = Counter()
            spent: Counter[str] = Counter()  # seconds in the cancels (their own lists included) and the lists
            cancel, listing = adapter.cancel_orders, adapter.open_orders

            async def counted_cancel(selector: CancelSelector):
                sent["cancel"] += 1
                t = time.perf_counter()
                try:
                    return await cancel(selector)
                finally:
                    spent["cancel"] += time.perf_counter() - t

            async def counted_list(symbols: tuple[str, ...] = ()):
                sent["list"] += 1
                t = time.perf_counter()
                try:
                    return await listing(symbols)
                finally:
                    spent["list"] += time.perf_counter() - t

            adapter.cancel_orders, adapter.open_orders = counted_cancel, counted_list  # type: ignore[method-assign]
            port = VenuePort(f"{IDS[venue]}/sim-main", adapter, 120.0, Counter())
            t0 = time.perf_counter()
            res = await port.cancel(CancelSelector("all"), "FLATTEN")
            ms = (time.perf_counter() - t0) * 1000
        finally:
            await adapter.close()
    left = sum(len(engine.open_orders("sim-main", s)) for s in markets)
    if left != len(res.still_open):
        raise SystemExit(f"the result names {len(res.still_open)} still open, the venue holds {left}")
    return ms, sent["cancel"], sent["list"], left, spent["cancel"] * 1000, spent["list"] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venue", choices=sorted(IDS), default="bybit")
    ap.add_argument("--orders", type=int, default=1_000)
    ap.add_argument("--cap", type=int, default=100, help="most orders one cancel of a symbol takes (0: no cap)")
    ap.add_argument("--trials", type=int, default=9)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.orders, a.trials = 200, 3
    ref = reference_ms()
    print(machine())
    print(f"{a.venue} face, {a.orders} resting entries over {max(1, -(-a.orders // PER_SYMBOL))} symbols, "
          f"cancel-all capped at {a.cap or 'none'} a call; {a.trials} trials; load {os.getloadavg()[0]:.1f}")
    runs = [asyncio.run(trial(a.venue, a.orders, a.cap)) for _ in range(a.trials)]
    ms = sorted(r[0] for r in runs)
    p50, p99 = pct(ms, 50), pct(ms, 99)
    print(f"cancel to nothing resting: p50 {p50:.0f} ms  p99 {p99:.0f} ms  max {ms[-1]:.0f} ms; "
          f"in reference loops p50 {p50 / ref:.1f} p99 {p99 / ref:.1f} (loop {ref:.1f} ms)")
    print(f"per trial: cancels sent {sorted({r[1] for r in runs})}, lists {sorted({r[2] for r in runs})}; "
          f"orders left resting {sum(r[3] for r in runs)} of {a.orders * a.trials}; "
          f"median ms in the cancels {median([r[4] for r in runs]):.0f} (each lists the symbols first), "
          f"in the port's lists {median([r[5] for r in runs]):.0f}")


if __name__ == "__main__":
    main()
