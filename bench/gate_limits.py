"""Benchmark: the pre-trade gate answering a policy's 20 limits at 1,000 requests a second from 50
bots, and the runner's tick beside it.

Real processes on 127.0.0.1: the simulated exchange (a calm book of ``--positions`` positions on as
many markets in ``sim-main``, its Binance USDⓈ-M face) and ``ksctl run`` (dry run, ticks every
200 ms). The policy carries 20 limits: eight for the scope (order notional and quantity, a price
collar, position and gross notional, open orders per symbol and in all, a message rate per
strategy) and twelve per-symbol overrides over six markets. Once the runner has read the book, 50
bots (a process of their own, one connection each) ask ``POST /v1/check-order`` at ``--rate``
requests a second in all, each bot at its share, paced from the start (a late answer does not
slow the next ask): orders of 10 strategies over the first 50 markets, buys and sells, some
priced beyond the collar, some large. ``--resting N``: N entry orders rest in the account
too, spread over its markets, and the position and gross limits count them. A poller reads
``GET /v1/status`` every 50 ms, quiet before the load and during it, and takes the tick period
from the ``last_tick_ms`` it sees change.

Prints the layout, the answers by reason code, the latency p50/p99 (ms and reference loops), the
rate reached, and the tick period p50/p99 quiet and under the load with their ratio (goal: p50
<= 1.2x quiet, as for the other API load), and the runner's CPU (its ``process_cpu_seconds_total``
on ``/metrics``) quiet and under the load, with what one check costs it. The client runs on the
same two cores. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

from api_load import work_ms
from harness import API_TOKEN, Sim, free_port, get_json, machine, pct, reference_ms, start_runner, stop, wait_until

ACCOUNT = "binanceusdm/sim-main"
SYMBOLS = 6  # markets with per-symbol overrides (two limits each)
STRATEGIES = 10
GOAL_TICK_RATIO = 1.2
CPU = re.compile(r"^process_cpu_seconds_total (\S+)$", re.M)


def cpu_s(api: str) -> tuple[float, float]:
    """(the runner's CPU seconds so far, as its /metrics says; this process's monotonic time)."""
    text = urllib.request.urlopen(api + "/metrics", timeout=30).read().decode()
    m = CPU.search(text)
    return (float(m.group(1)) if m else float("nan")), time.monotonic()


def policy(resting: int = 0) -> str:
    overrides = "\n".join(f"      C{i}/USDT:USDT: {{max_order_notional: 2k, price_collar: 2%}}" for i in range(SYMBOLS))
    return f"""\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: gate-limits}}
spec:
  scope: {{level: account, accounts: {{match_labels: {{book: futures}}}}}}
  interval: 200ms
  signals:
    dd: {{equity_drawdown: {{window: 1m, min_coverage: 1%}}}}
  triggers:
    hard: {{when: "dd >= 50%", on_missing_data: hold}}
  limits:
    max_order_notional: 5k
    max_order_quantity: 200
    price_collar: 5%
    max_position_notional: 20k
    max_gross_notional: 10M
    max_open_orders_per_symbol: 20
    max_open_orders: {max(500, 2 * resting)}
    message_rate: {{per_second: 200, burst: 400}}
    symbols:
{overrides}
  stages:
    - {{level: 1, name: flatten, on: [hard], reset: manual, actions: [close_all, {{lock_trading: {{mode: halted}}}}]}}
"""


def write_inputs(work: Path, sim_port: int, resting: int = 0) -> tuple[Path, Path]:
    pol = work / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "gate-limits.yaml").write_text(policy(resting))
    acc = work / "accounts.yaml"
    acc.write_text(f"""\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: bench}}
spec:
  dry_run: true
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{book: futures}}
      strategies: [{", ".join(f"s{k}" for k in range(STRATEGIES))}]
      api_url: http://127.0.0.1:{sim_port}
      credentials: {{api_key: {{env: KS_B_KEY}}, secret: {{env: KS_B_SECRET}}}}
""")
    return pol, acc


def order(i: int, marks: dict[str, float]) -> dict:
    """The i-th ask: a limit order on one of the first 50 markets at its mark (every seventh beyond
    the collar), a strategy, a side, an amount (every eleventh large)."""
    m = i % 50
    symbol = f"C{m}/USDT:USDT"
    price = marks.get(symbol, 10.0 + m) * (1.12 if i % 7 == 0 else 1.001)
    return {"account": ACCOUNT, "symbol": symbol, "side": "buy" if i % 2 else "sell", "price": round(price, 3),
            "amount": 1.0 + i % 5 * (40 if i % 11 == 0 else 1), "strategy": f"s{i % STRATEGIES}"}


def marks_of(api: str) -> dict[str, float]:
    """The marks the runner read, by symbol (``GET /v1/positions``)."""
    doc = get_json(api + "/v1/positions", token=API_TOKEN)
    return {p["symbol"]: p["mark_price"] for a in doc.get("accounts", []) for p in a.get("positions", [])}


async def bots(api: str, n: int, rate: float, seconds: float, marks: dict[str, float]
               ) -> tuple[list[float], Counter, int]:
    import aiohttp

    took: list[float] = []
    codes: Counter = Counter()
    errors = [0]
    per = rate / n
    start = time.monotonic() + 0.2

    async def bot(k: int, session: aiohttp.ClientSession) -> None:
        j = 0
        while True:
            at = start + (j + k / n) / per
            if at - start > seconds:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            t0 = time.perf_counter()
            try:
                async with session.post(api + "/v1/check-order", json=order(j * n + k, marks)) as r:
                    body = await r.json()
                took.append(time.perf_counter() - t0)
                codes["ALLOW" if body.get("allow") else str(body.get("reason", "?")).split(":", 1)[0]] += 1
            except Exception:  # noqa: BLE001 - counted: a refused connection, a timeout
                errors[0] += 1
            j += 1

    timeout = aiohttp.ClientTimeout(total=10)
    sessions = [aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=1)) for _ in range(n)]
    try:
        await asyncio.gather(*(bot(k, s) for k, s in enumerate(sessions)))
    finally:
        for s in sessions:
            await s.close()
    return took, codes, errors[0]


def bots_process(api: str, n: int, rate: float, seconds: float, marks: dict[str, float]
                 ) -> tuple[list[float], Counter, int]:
    return asyncio.run(bots(api, n, rate, seconds, marks))


class TickPoller:
    """The runner's tick periods, from the ``last_tick_ms`` status shows, read every 50 ms."""

    def __init__(self, api: str):
        self.api, self.periods, self.stopped = api, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        last = None
        while not self.stopped.is_set():
            try:
                t = get_json(self.api + "/v1/status", token=API_TOKEN, timeout=5).get("last_tick_ms")
            except Exception:  # noqa: BLE001 - a read lost under load: the next one says it
                t = None
            if t is not None and last is not None and t != last:
                self.periods.append((t - last) / 1000)
            last = t if t is not None else last
            time.sleep(0.05)

    def measure(self, seconds: float) -> list[float]:
        self.periods = []
        self.thread.start()
        time.sleep(seconds)
        self.stopped.set()
        self.thread.join(5)
        return self.periods


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=1000)
    ap.add_argument("--bots", type=int, default=50)
    ap.add_argument("--rate", type=float, default=1000.0, help="check-order requests a second, all bots together")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--quiet", type=float, default=8.0, help="seconds of quiet ticks measured first")
    ap.add_argument("--resting", type=int, default=0,
                    help="entry orders resting in the account too, spread over its markets; the position and gross "
                         "limits count them (the scope's max_open_orders is raised to twice as many)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ks-gate-limits-"))
    print(f"the pre-trade gate's 20 limits under load — machine: {machine()}", flush=True)
    sim = Sim(work, positions=args.positions, resting=args.resting)
    runner = None
    try:
        pol, acc = write_inputs(work, sim.port, args.resting)
        api_port = free_port()
        runner = start_runner(work, pol, acc, f"sqlite://{work / 'state.db'}", "bench", api_port)
        api = f"http://127.0.0.1:{api_port}"
        if not wait_until(lambda: (get_json(api + "/v1/status", token=API_TOKEN).get("last_tick_ms") is not None),
                          180, step=0.2):
            raise RuntimeError(f"the runner was not ready in 180 s (see {work}/bench.err)")
        time.sleep(3.0)
        marks = marks_of(api)
        ref = reference_ms()
        w0, c0 = work_ms(api), cpu_s(api)
        quiet = TickPoller(api).measure(args.quiet)
        w1, c1 = work_ms(api), cpu_s(api)
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            load = pool.submit(bots_process, api, args.bots, args.rate, args.seconds, marks)
            busy = TickPoller(api).measure(args.seconds)
            w2, c2 = work_ms(api), cpu_s(api)
            took, codes, errors = load.result(timeout=args.seconds + 120)
        print(f"layout: one account of {args.positions:,} positions on {args.positions:,} markets and "
              f"{args.resting:,} resting entry orders (the simulated "
              f"Binance USDⓈ-M face, its own process), ksctl run (dry run, 200 ms interval, SQLite), a policy of 20 "
              f"limits (8 for the scope, 12 per-symbol over {SYMBOLS} markets); {args.bots} bots, one connection "
              f"each, {args.rate:,.0f} check-order requests/s in all, for {args.seconds:g} s, from a process of "
              f"their own; load average {os.getloadavg()[0]:.1f}; reference loop {ref:.1f} ms")
        ms = [t * 1000 for t in took]
        if ms:
            p50, p99 = statistics.median(ms), pct(ms, 99)
            print(f"  check-order: {len(ms):,} answered ({len(ms) / args.seconds:,.0f}/s), {errors} failed; latency "
                  f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {max(ms):.1f} ms; in reference loops p50 {p50 / ref:.2f} "
                  f"p99 {p99 / ref:.2f}")
        print(f"  answers: {', '.join(f'{c} {n:,}' for c, n in codes.most_common())}")
        if quiet and busy:
            q50, b50 = statistics.median(quiet), statistics.median(busy)
            print(f"  tick period: quiet p50 {q50 * 1000:.0f} ms p99 {pct(quiet, 99) * 1000:.0f} ms; under the load "
                  f"p50 {b50 * 1000:.0f} ms p99 {pct(busy, 99) * 1000:.0f} ms; ratio p50 {b50 / q50:.2f} (goal <= "
                  f"{GOAL_TICK_RATIO:g}: {'met' if b50 / q50 <= GOAL_TICK_RATIO else 'NOT met'})")
        wq = (w1[0] - w0[0]) / max(1, w1[1] - w0[1]) * 1000
        wb = (w2[0] - w1[0]) / max(1, w2[1] - w1[1]) * 1000
        print(f"  the tick's own work (every phase but the snapshots' fetch), mean: quiet {wq:.1f} ms, under the "
              f"load {wb:.1f} ms (ratio {wb / wq:.2f}; {w1[1] - w0[1]} and {w2[1] - w1[1]} ticks)")
        cq = (c1[0] - c0[0]) / (c1[1] - c0[1])
        cb = (c2[0] - c1[0]) / (c2[1] - c1[1])
        per = (cb - cq) * (c2[1] - c1[1]) / max(1, len(took)) * 1e6
        print(f"  the runner's CPU: quiet {cq * 100:.0f}% of a core, under the load {cb * 100:.0f}% "
              f"(about {per:.0f} us a check beyond the quiet runner)")
    finally:
        stop(runner)
        sim.close()


if __name__ == "__main__":
    main()
