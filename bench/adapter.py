"""Benchmark: the ccxt adapter against the simulated exchange's Binance USD-M face on 127.0.0.1.

1. Round trips: p50 / p99 of ``snapshot()`` and ``submit()`` (a small reduce-only close) through
   the real ccxt client to the local server. ccxt's own request-weight limiter is switched off for
   this part only, so that the figures are round trips, not the limiter's pacing.
2. Closing 500 positions spread over 3 venues, each with its own order budget (orders/second),
   all venues at once, one reduce-only market close per position: the wall time against the
   rate-limit floor = max over venues of (orders / budget). Target: within 1.15x of the floor.
3. ``--book``: the same close sized against each venue's order book (``unwind: {max_impact:
   0.1%, max_slippage: 0.5%}``) as the runner does it: every position's book read through ccxt
   (``GET /fapi/v1/depth``, the runner's :func:`~killswitch.runner.venue.depth.fetch_books`: all within
   2 s), split by :func:`killswitch.engine.depth.children` into reduce-only limit IOCs sent in
   rounds (a close without its book: one IOC at the slippage cap); positions of 30 against a
   book of 2 a level (5 levels within 0.1 % of the best bid: 3 children each), refilled within
   50 ms. The floor counts the orders: max over venues of (orders / budget); the wall includes
   the book reads.

Prints medians of several runs where it repeats, with the machine, the date and the layout;
nothing here asserts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/adapter.py` from a checkout
    sys.path.insert(0, str(ROOT))

from adapters.ccxt_exchange import CcxtAdapter  # noqa: E402
from adapters.simulated.depth import DepthModel  # noqa: E402
from adapters.simulated.engine import AccountSpec, MarketSpec, RateLimits, SimExchange  # noqa: E402
from adapters.simulated.http import SimServer, wall_clock  # noqa: E402
from killswitch.compile.nodes import UnwindNode  # noqa: E402
from killswitch.engine import depth  # noqa: E402
from killswitch.engine.planner import OrderIntent  # noqa: E402
from killswitch.policy.accounts_doc import Account  # noqa: E402
from killswitch.runner.venue.depth import BOOK_TIMEOUT_S, fetch_books  # noqa: E402
from killswitch.runner.venue.port import Venues  # noqa: E402

VENUES = [("venue-a", 170, 15.0), ("venue-b", 165, 12.0), ("venue-c", 165, 10.0)]  # name, positions, orders/s


def account(name: str) -> Account:
    os.environ[f"KS_BENCH_KEY_{name.upper().replace('-', '_')}"] = f"key-{name}"
    os.environ[f"KS_BENCH_SECRET_{name.upper().replace('-', '_')}"] = f"secret-{name}"
    env = name.upper().replace("-", "_")
    return Account.model_validate({
        "name": name, "venue": "binanceusdm", "market_type": "futures",
        "credentials": {"api_key": {"env": f"KS_BENCH_KEY_{env}"}, "secret": {"env": f"KS_BENCH_SECRET_{env}"}},
    })


BOOK = DepthModel(levels=50, half_spread_bps=1.0, level_bps=2.0, amount=2.0, refill_ms=50)
BOOK_POSITION = 30.0
BOOK_UNWIND = UnwindNode(max_slippage=0.005, max_impact=0.001, book_depth=20)


def engine(name: str, n_markets: int, rate: float, book: bool = False) -> SimExchange:
    markets = [MarketSpec(f"C{i}USDT", f"C{i}", amount_step=0.001, min_amount=0.001, min_notional=5.0)
               for i in range(n_markets)]
    eng = SimExchange(wall_clock, markets=markets,
                      accounts=[AccountSpec(name, f"key-{name}", f"secret-{name}", wallet=50_000_000.0)],
                      rate_limits=RateLimits(orders_per_second=int(rate * 2) + 5, weight_per_minute=10_000_000),
                      depth=BOOK if book else None)
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
        eng.open_position(name, m.symbol, "long", BOOK_POSITION if book else 10.0, 100.0)
    return eng


def close_intent(name: str, symbol: str, amount: float, cid: str, price: float | None = None) -> OrderIntent:
    return OrderIntent("bench", cid, "binanceusdm", name, symbol, "sell", None, amount, True, price, 0.0, 1, 1, 0,
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


async def close_everything(book: bool = False) -> tuple[float, float, float, int, int]:
    servers, adapters, engines = [], [], []
    for name, n, rate in VENUES:
        eng = engine(name, n, rate, book)
        server = SimServer(eng, auth_clock=wall_clock)
        await server.start()
        ad = CcxtAdapter(account(name), urls=server.base_url, timeout=10, orders_per_second=rate,
                         position_max_age_s=120)
        snap = await ad.snapshot()
        assert snap.fetch.ok and len(snap.positions) == n, (name, snap.fetch)
        servers.append(server)
        adapters.append((ad, snap))
        engines.append(eng)
    await asyncio.sleep(1.0)  # every venue starts with a full order budget, as after a quiet tick
    fallbacks: dict[str, int] = {}

    async def drain(ad: CcxtAdapter, snap) -> tuple[int, int]:
        done = sent = 0
        if not book:
            for p in snap.positions:
                cid = f"ks-close-{ad.account}-{p.symbol}"
                r = await ad.submit(close_intent(ad.account, p.symbol, p.contracts, cid))
                done, sent = done + (r.status == "filled"), sent + 1
            return done, sent
        # as the runner does: every book at once within 2 s, a close without one at the slippage
        # cap from the mark, then the children in rounds
        key = f"binanceusdm/{ad.account}"
        wants = {key: {p.symbol: BOOK_UNWIND.depth for p in snap.positions}}
        books, failed = await fetch_books(Venues({key: ad}), wants, BOOK_TIMEOUT_S)
        fallbacks[ad.account] = len(failed.get(key, {}))
        legs = []
        for p in snap.positions:
            kids, _ = depth.children(p.contracts, "sell", p.mark_price, p.mark_price, 0.001,
                                     books.get(key, {}).get(p.symbol), BOOK_UNWIND)
            legs.append((p, kids or [(p.contracts, p.mark_price * (1 - BOOK_UNWIND.max_slippage))]))
        for r in range(max(len(k) for _, k in legs)):
            for p, kids in legs:
                if r < len(kids):
                    amount, price = kids[r]
                    res = await ad.submit(close_intent(ad.account, p.symbol, amount,
                                                       f"ks-close-{ad.account}-{p.symbol}-{r + 1}", price))
                    done, sent = done + (res.status == "filled"), sent + 1
        return done, sent

    start = time.perf_counter()
    counts = await asyncio.gather(*(drain(ad, snap) for ad, snap in adapters))
    wall = time.perf_counter() - start
    # the floor of the orders actually sent (a close whose book was not had is one order, not three);
    # each budget starts full (one second's worth): the tightest possible time is one second less
    floor = max(sent / rate for (_, sent), (_, _, rate) in zip(counts, VENUES))
    tight = max((sent - rate) / rate for (_, sent), (_, _, rate) in zip(counts, VENUES))
    open_left = 0
    for (ad, _), server, eng in zip(adapters, servers, engines):
        left = [p for p in eng.positions(ad.account) if abs(p.amount) > 0]
        assert book or not left, f"{ad.account}: {len(left)} positions left open"
        open_left += len(left)
        await ad.close()
        await server.stop()
    return wall, floor, tight, sum(d for d, _ in counts), sum(s for _, s in counts), open_left, sum(fallbacks.values())


def machine() -> str:
    from harness import machine as bench_machine

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{bench_machine()}, {platform.system()}, load average {load:.2f} at start"


async def main(runs: int, book: bool) -> None:
    print(f"bench/adapter.py  {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC  {machine()}")
    print("layout: " + ", ".join(f"{name} {n} positions at {rate:g} orders/s" for name, n, rate in VENUES)
          + (f"; by the book: {BOOK_POSITION:g} a position, {BOOK.amount:g} a level, levels {BOOK.level_bps:g} bp "
             f"apart, refilled in {BOOK.refill_ms} ms, max_impact {BOOK_UNWIND.max_impact:.1%}, max_slippage "
             f"{BOOK_UNWIND.max_slippage:.1%}" if book else "; one market close a position"))
    if not book:
        await round_trips()
    ratios = []
    for k in range(runs):
        wall, floor, tight, filled, sent, left, fell = await close_everything(book)
        ratios.append(wall / floor)
        print(f"close 500 positions on 3 venues{' by the book' if book else ''}, run {k + 1}: {wall:6.2f} s  "
              f"floor {floor:5.2f} s  ratio {wall / floor:.3f}  (to the floor less the initial 1 s burst "
              f"{tight:5.2f} s: {wall / tight:.3f})  orders {sent}  filled {filled}  positions left {left}"
              + (f"  books not had within {BOOK_TIMEOUT_S:g} s {fell}" if book else ""))
    print(f"median ratio to the rate-limit floor: {statistics.median(ratios):.3f} (target <= 1.15)")


if __name__ == "__main__":
    asyncio.run(main(3 if "--quick" not in sys.argv else 1, "--book" in sys.argv))
