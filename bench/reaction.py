"""Benchmark: reaction time and memory of the runner.

1. Reaction: to the first close order *received by the simulated exchange's HTTP face*
   through ccxt, measured two ways: from the moment the snapshot that shows the breach is in
   the runner's hands (the issue's measure: evaluate, journal (SQLite, synchronous=FULL),
   state save, lock file, send; target p99 <= 25 ms), and from the start of the tick that
   fetches it (the snapshot over HTTP included). p50 / p99 over many trials, per layout: one
   account (one scope) holding 3, 1,000 or 10,000 positions, each on its own market, all
   closed by the stage (``close_all``). The
   simulated exchange runs in a process of its own (on the same machine: its answers are its
   work, not the runner's), on a manual clock the bench moves in step with the runner's; it
   stamps the first order it receives with the system's monotonic clock, which the runner's
   process reads too. Once the first order is in, the rest of the tick (the other closes, at
   the venue's order rate) is cut short: only the first order is measured. Printed with the
   phases of the reaction tick up to it (medians): snapshots, evaluate, journal, persist (state,
   audit, lock file), and from the end of persist to the first order received. A close_all
   entry is planned, journaled and sent as its first wave first (the runner plans and journals
   the rest after it), so evaluate and journal are those of the first wave, and persist is the
   state alone (the audit rows and the lock file follow the first wave's send).
2. Memory: the runner's resident set size at 10,000 positions (100 accounts, in-process
   simulated exchange) over a soak of ``KS_SOAK_TICKS`` ticks (default 2,000; the issue's soak
   is 10,000), sampled before the first tick, twenty times along and at the end (target
   <= 200 MB, flat), with the time per tick split into the snapshots phase (the simulator's
   share; it also holds the lease renewal that starts a tick) and the runner's own work
   (evaluate, journal, persist, lock file, send, reconcile).

``--quick``: fewer trials and ticks; ``--memory-only``: the soak alone (for a long run in the
background: it prints its samples as it goes); ``--reaction-only``: the reactions alone;
``--layouts 3,1000``: those layouts only. ``KS_SOAK_STEP_MS`` (default 1000, the policy's
interval): scenario time per tick; a longer step fills the runner's windows (up to the one-hour
attribution history) in fewer ticks, to see where memory levels off without the full soak.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from harness import machine, soak_ticks, spawn_venue

from adapters.ccxt_exchange import CcxtAdapter, OrderBudget
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from killswitch.compile.compiler import compile_documents
from killswitch.policy.accounts_doc import Account
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runner.tick.report import TickReport
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
LAYOUTS = {3: 100, 1_000: 40, 10_000: 12}  # positions in the one account → trials
QUICK = {3: 20, 1_000: 8, 10_000: 4}
PHASES = ("snapshots", "evaluate", "journal", "persist")


def graph():
    res = compile_documents(load_text(POLICY, "reaction.yaml"))
    assert res.graph is not None
    return res.graph


# --- the venue: a simulated Binance USDⓈ-M exchange in its own process ----------------------------------


def book(clock: ManualClock, n: int) -> SimExchange:
    """One account of ``n`` longs of 1,000 at 100, on ``n`` markets; the wallet such that every
    mark at 80 (-20 %) is a 6 % drawdown (the 3-position book of 300k on 1M)."""
    markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(n)]
    eng = SimExchange(clock, markets=markets,
                      accounts=[AccountSpec("acct", "k", "s", wallet=1_000_000.0 * n / 3)],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
        eng.open_position("acct", m.symbol, "long", 1_000.0, 100.0)
    return eng


def venue_process(conn: Any, n: int) -> None:
    """The venue's process: serves ``book(n)`` and obeys the bench over ``conn``: ``advance``
    (its clock, in step with the runner's), ``crash`` (every mark to 80), ``reset`` (a fresh
    book), ``stop``. It reports the first order it receives after a reset as ``("order",
    time.monotonic())``."""
    from adapters.simulated.http import SimServer, wall_clock

    async def main() -> None:
        clock = ManualClock(T0)
        server = SimServer(book(clock, n), auth_clock=wall_clock)
        first = {"sent": False}

        def fresh() -> None:
            eng = book(clock, n)
            place = eng.place_order

            def spy(*a: Any, **kw: Any) -> Any:
                if not first["sent"]:
                    first["sent"] = True
                    conn.send(("order", time.monotonic()))
                return place(*a, **kw)

            eng.place_order = spy  # type: ignore[method-assign]
            server.engine, server.faults = eng, eng.faults
            first["sent"] = False

        fresh()
        await server.start()
        conn.send(("port", server.port))
        stopped = asyncio.Event()

        def command() -> None:
            cmd, arg = conn.recv()
            if cmd == "advance":
                clock.advance(arg)
            elif cmd == "crash":
                for m in server.engine.markets:
                    server.engine.set_mark(m, 80.0)
            elif cmd == "reset":
                fresh()
            elif cmd == "stop":
                stopped.set()
            conn.send(("ok", None))

        asyncio.get_running_loop().add_reader(conn.fileno(), command)
        await stopped.wait()
        await server.stop()

    asyncio.run(main())


class Venue:
    """The bench's end of a venue process."""

    def __init__(self, n: int):
        self.proc, self.conn, self.port = spawn_venue(venue_process, n)
        self.first_order: Optional[asyncio.Future] = None
        self._reply: Optional[asyncio.Future] = None

    def listen(self) -> None:
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self._message)

    def _message(self) -> None:
        kind, value = self.conn.recv()
        fut = self.first_order if kind == "order" else self._reply
        if fut is not None and not fut.done():
            fut.set_result(value)

    async def do(self, cmd: str, arg: Any = None) -> None:
        self._reply = asyncio.get_running_loop().create_future()
        self.conn.send((cmd, arg))
        await self._reply

    def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
        except RuntimeError:
            pass
        self.conn.send(("stop", None))
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# --- reaction ------------------------------------------------------------------------------------------------


async def one_reaction(g, work: Path, k: int, venue: Venue, ad: CcxtAdapter) -> tuple[float, dict[str, float]]:
    clock = ManualClock(T0)
    await venue.do("reset")
    store = open_store(f"sqlite://{work / f'r{k}.db'}")
    runner, _, parts = build_runner_and_desk(g, {"binanceusdm/acct": ad}, store, lock_path=work / f"lock{k}.json",
            dry_run=False,
                          clock=clock)
    await runner.start()
    clock.advance(1_000)
    await venue.do("advance", 1_000)
    await runner.tick()  # one quiet tick first: the breach tick is the runner's second, as in a run
    # and what start-up made kept out of the collector's walks from then on, as `ksctl run` does
    # after its first tick (killswitch/process/daemon.py); undone when the trial ends
    gc.freeze()
    # Trials run back to back, far faster than the policy's 1 s: the request pacer and the order
    # budget are given what they hold at that interval (full: bench/ccxt_tick.py), not buckets
    # the previous trials drained.
    pacer = getattr(ad._ex, "throttle", None)
    if isinstance(getattr(pacer, "tokens", None), float):
        pacer.tokens = pacer.capacity  # type: ignore[union-attr]
    ad.budget = OrderBudget(ad.capabilities.orders_per_second)
    await venue.do("crash")
    clock.advance(1_000)
    await venue.do("advance", 1_000)
    venue.first_order = asyncio.get_running_loop().create_future()
    report = TickReport(clock(), leader=False, started_ns=time.time_ns())
    start = time.monotonic()
    tick = asyncio.ensure_future(runner._tick(report))  # the tick's own body: its phases as they end
    await asyncio.wait([tick, venue.first_order], return_when=asyncio.FIRST_COMPLETED)
    if not venue.first_order.done():
        tick.result()  # the tick ended without an order: say why
        raise AssertionError("no breach reaction")
    received = venue.first_order.result()
    while not tick.done():  # the remaining closes go at the venue's order rate: not measured
        tick.cancel()  # (again if need be: asyncio.wait_for in 3.11 may swallow a cancellation)
        await asyncio.wait([tick], timeout=0.05)
    if not tick.cancelled() and tick.exception() is not None:
        raise tick.exception()  # type: ignore[misc]
    await runner.aclose()
    store.close()
    gc.unfreeze()
    gc.collect()  # this trial's runner, gone before the next trial starts
    phases = {name: (b - a) / 1e6 for name, (a, b) in report.phases.items() if name in PHASES}
    persist_end = report.phases["persist"][1] if "persist" in report.phases else report.started_ns
    phases["to first order"] = (received - start) * 1000 - (persist_end - report.started_ns) / 1e6
    fetched = (report.phases["snapshots"][1] - report.started_ns) / 1e9  # the snapshot in the runner's hands
    return received - start - fetched, received - start, phases


async def reactions(layouts: dict[int, int]) -> None:
    g = graph()
    print(f"machine: {machine()}", flush=True)
    for n, trials in layouts.items():
        work = Path(tempfile.mkdtemp(prefix="ksreact-"))
        venue = Venue(n)
        venue.listen()
        os.environ["KS_R_KEY"], os.environ["KS_R_SECRET"] = "k", "s"
        acc = Account.model_validate({"name": "acct", "venue": "binanceusdm", "market_type": "futures",
                                      "credentials": {"api_key": {"env": "KS_R_KEY"},
                                                      "secret": {"env": "KS_R_SECRET"}}})
        ad = CcxtAdapter(acc, urls=f"http://127.0.0.1:{venue.port}", timeout=30)
        try:
            await ad.load_symbols()  # the markets, once per layout as once per run
            xs, ts, phases = [], [], []
            for k in range(trials):
                x, t, ph = await one_reaction(g, work, k, venue, ad)
                xs.append(x)
                ts.append(t)
                phases.append(ph)
        finally:
            await ad.close()
            venue.close()
        def split(names: tuple[str, ...]) -> str:
            return "  ".join(f"{name} {statistics.median(p[name] for p in phases):.1f}"
                             for name in names if all(name in p for p in phases))

        print(f"layout: one account (one scope), {n:,} positions on {n:,} markets, all closed (close_all); "
              f"simulated Binance USDⓈ-M in its own process, ccxt, SQLite synchronous=FULL; {trials} trials; "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"  reaction from the breach snapshot received -> first close order at the venue: "
              f"p50 {statistics.median(xs) * 1000:.2f} ms  p99 {_pct(xs, 0.99) * 1000:.2f} ms  "
              f"max {max(xs) * 1000:.2f} ms (target p99 <= 25 ms)")
        print(f"    phases, medians in ms: {split(('evaluate', 'journal', 'persist', 'to first order'))}")
        print(f"  reaction from the start of the tick (the snapshot fetched over HTTP) -> first close order: "
              f"p50 {statistics.median(ts) * 1000:.2f} ms  p99 {_pct(ts, 0.99) * 1000:.2f} ms  "
              f"max {max(ts) * 1000:.2f} ms")
        print(f"    phases, medians in ms: {split((*PHASES, 'to first order'))}", flush=True)


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
    runner, _, parts = build_runner_and_desk(graph(), adapters, store, lock_path=work / "lock.json", dry_run=True,
            clock=clock)
    await runner.start()
    print(f"memory, {accounts * per:,} positions ({accounts} accounts), {ticks:,} ticks "
          f"{step_ms / 1000:g} s apart:", flush=True)
    samples, snap_ms, own_ms, wall = await soak_ticks(runner, clock, ticks, step_ms)
    await runner.aclose()  # the queued chart samples written before the store closes
    store.close()
    doc_mb = len(json.dumps(parts.book.state.to_json(pnl_samples=False))) / 1e6  # what the runner saves every tick
    pnl_mb = len(json.dumps(parts.book.state.to_json()["pnl"])) / 1e6  # the history, stored a sample per step
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
    layouts = dict(QUICK if quick else LAYOUTS)
    if "--layouts" in sys.argv:
        wanted = [int(x) for x in sys.argv[sys.argv.index("--layouts") + 1].split(",")]
        layouts = {n: layouts.get(n, 10) for n in wanted}
    if "--memory-only" not in sys.argv:
        asyncio.run(reactions(layouts))
    if "--reaction-only" in sys.argv:
        return
    ticks = 200 if quick else int(os.environ.get("KS_SOAK_TICKS", "2000"))
    asyncio.run(memory(ticks, step_ms=int(os.environ.get("KS_SOAK_STEP_MS", "1000"))))


if __name__ == "__main__":
    main()
