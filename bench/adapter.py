"""Benchmark: the ccxt adapter against the simulated exchange's Binance USD-M face on 127.0.0.1.

1. Round trips: p50 / p99 of ``snapshot()`` and ``submit()`` (a small reduce-only close) through
   the real ccxt client to the local server. ccxt's own request-weight limiter is switched off for
   this part only, so that the figures are round trips, not the limiter's pacing.
2. Closing 500 positions spread over 3 venues, each with its own order budget (orders/second),
   all venues at once, one reduce-only market close per position: the wall time against the
   rate-limit floor = max over venues of (orders / budget). Target: within 1.15x of the floor.

Prints medians of several runs where it repeats; nothing here asserts.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.engine import AccountSpec, MarketSpec, RateLimits, SimExchange
from adapters.simulated.http import SimServer, wall_clock
from killswitch.engine.planner import OrderIntent
from killswitch.policy.model import Account

VENUES = [("venue-a", 170, 15.0), ("venue-b", 165, 12.0), ("venue-c", 165, 10.0)]  # name, positions, orders/s


def account(name: str) -> Account:
    os.environ[f"KS_BENCH_KEY_{name.upper().replace('-', '_')}"] = f"key-{name}"
    os.environ[f"KS_BENCH_SECRET_{name.upper().replace('-', '_')}"] = f"secret-{name}"
    env = name.upper().replace("-", "_")
    return Account.model_validate({
        "name": name, "venue": "binanceusdm", "market_type": "futures",
        "credentials": {"api_key": {"env": f"KS_BENCH_KEY_{env}"}, "secret": {"env": f"KS_BENCH_SECRET_{env}"}},
    })


def engine(name: str, n_markets: int, rate: float) -> SimExchange:
    markets = [MarketSpec(f"C{i}USDT", f"C{i}", amount_step=0.001, min_amount=0.001, min_notional=5.0)
               for i in range(n_markets)]
    eng = SimExchange(wall_clock, markets=markets,
                      accounts=[AccountSpec(name, f"key-{name}", f"secret-{name}", wallet=50_000_000.0)],
                      rate_limits=RateLimits(orders_per_second=int(rate * 2) + 5, weight_per_minute=10_000_000))
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
        eng.open_position(name, m.symbol, "long", 10.0, 100.0)
    return eng


def close_intent(name: str, symbol: str, amount: float, cid: str) -> OrderIntent:
    return OrderIntent("bench", cid, "binanceusdm", name, symbol, "sell", None, amount, True, None, 0.0, 1, 1, 0,
                       "close_all", "BENCH")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


async def round_trips(n: int = 200) -> None:
    eng = engine("rt", 5, 1000.0)
    eng.open_position("rt", "C0USDT", "long", 10_000.0, 100.0)
    async with SimServer(eng, auth_clock=wall_clock) as server:
        # measure round trips, not ccxt's pacing
        ad = CcxtAdapter(account("rt"), urls=server.base_url, timeout=10, orders_per_second=10_000,
                         ccxt_rate_limit=False)
        await ad.snapshot()
        snaps, submits = [], []
        for _ in range(n):
            t = time.perf_counter()
            s = await ad.snapshot()
            snaps.append(time.perf_counter() - t)
            assert s.fetch.ok
        for i in range(n):
            t = time.perf_counter()
            await ad.submit(close_intent("rt", "C0/USDT:USDT", 0.001, f"ks-rt-{i}"))
            submits.append(time.perf_counter() - t)
        await ad.close()
    print(f"round trip through ccxt to 127.0.0.1 ({n} each):")
    for name, xs in (("snapshot", snaps), ("submit", submits)):
        print(f"  {name:<9} p50 {pct(xs, 0.5) * 1000:7.2f} ms   p99 {pct(xs, 0.99) * 1000:7.2f} ms")


async def close_everything() -> tuple[float, float, int]:
    servers, adapters, engines = [], [], []
    for name, n, rate in VENUES:
        eng = engine(name, n, rate)
        server = SimServer(eng, auth_clock=wall_clock)
        await server.start()
        ad = CcxtAdapter(account(name), urls=server.base_url, timeout=10, orders_per_second=rate,
                         position_max_age_s=120)
        snap = await ad.snapshot()
        assert snap.fetch.ok and len(snap.positions) == n, (name, snap.fetch)
        servers.append(server)
        adapters.append((ad, snap))
        engines.append(eng)
    floor = max(n / rate for _, n, rate in VENUES)
    # each budget starts full (one second's worth): the tightest possible time is one second less
    tight = max((n - rate) / rate for _, n, rate in VENUES)
    await asyncio.sleep(1.0)  # every venue starts with a full order budget, as after a quiet tick

    async def drain(ad: CcxtAdapter, snap) -> int:
        done = 0
        for p in snap.positions:
            r = await ad.submit(close_intent(ad.account, p.symbol, p.contracts, f"ks-close-{ad.account}-{p.symbol}"))
            done += r.status == "filled"
        return done

    start = time.perf_counter()
    counts = await asyncio.gather(*(drain(ad, snap) for ad, snap in adapters))
    wall = time.perf_counter() - start
    for (ad, _), server, eng in zip(adapters, servers, engines):
        left = [p for p in eng.positions(ad.account) if abs(p.amount) > 0]
        assert not left, f"{ad.account}: {len(left)} positions left open"
        await ad.close()
        await server.stop()
    return wall, floor, tight, sum(counts)


async def main(runs: int) -> None:
    await round_trips()
    ratios = []
    for k in range(runs):
        wall, floor, tight, filled = await close_everything()
        ratios.append(wall / floor)
        print(f"close 500 positions on 3 venues, run {k + 1}: {wall:6.2f} s  floor {floor:5.2f} s  "
              f"ratio {wall / floor:.3f}  (to the floor less the initial 1 s burst {tight:5.2f} s: "
              f"{wall / tight:.3f})  filled {filled}")
    print(f"median ratio to the rate-limit floor: {statistics.median(ratios):.3f} (target <= 1.15)")


if __name__ == "__main__":
    asyncio.run(main(3 if "--quick" not in sys.argv else 1))
