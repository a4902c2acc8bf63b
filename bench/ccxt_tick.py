"""Benchmark: a realistic tick through ccxt — 3 venues × 1,000 positions at a 1 s interval.

Layout: three simulated exchanges, each its own process (``python -m adapters.simulated serve
--positions 1000``) on its own port, so that what is measured is the runner's work, not the
simulator's (they still share the machine's cores). Each is a Binance USDⓈ-M account (the
binanceusdm dialect: the simulator speaks Binance only) with the simulator's Binance limits
(2,400 request weight a minute, 10 orders a second). The runner runs in this process, as
``ksctl run`` builds it: one ccxt adapter per venue with ccxt's own rate limiting on (as in
production), SQLite state (``synchronous=FULL``), the lock file, and a calm policy at a 1 s
interval that enters no stage.

Ticks start every second (a fixed cadence, stricter than the daemon, which waits the interval
after each tick); a tick that overruns its second starts the next at once and is counted. For
each phase of the runner's TickReport — fetch (snapshots: every venue at once), evaluate, act
(journal, send, reconcile: nothing to send on a calm book) and save (the state, the audit rows,
the lock file) — p50, p99 and max over the ticks, the whole tick, the runner's CPU per tick,
and each venue's fetch (ccxt calls, latency). ``--profile`` adds where the runner's CPU goes
(cProfile over a few more ticks, grouped).

``--quick``: 20 ticks instead of 120. ``--positions N``: N per venue. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from harness import Sim, machine, median, pct, stop

from killswitch.compile.compiler import compile_documents
from killswitch.policy.accounts_doc import Account
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import build_runner_and_desk, ccxt_adapters
from killswitch.state import open_store

POLICY = """
apiVersion: killswitch/v1
kind: Policy
metadata: {name: wide-book}
spec:
  scope: {level: account}
  interval: 1s
  signals:
    dd: {equity_drawdown: {window: 15m, min_coverage: 1%}}
    loss: {position_loss: {of: equity}}
    liq: liquidation_distance
    stale: {data_age: {}}
  triggers:
    soft: {when: "dd >= 4.5% || loss >= 3%", for: 2 ticks, on_missing_data: hold}
    hard: {when: "dd >= 10% || liq <= 1%", on_missing_data: hold}
    blind: {when: "stale > 60s", on_missing_data: fire}
  stages:
    - {level: 1, name: reduce, on: [soft], cooldown: 30m,
       actions: [{reduce_top_risk: {count: 10, fraction: 50%}}]}
    - {level: 2, name: flatten, on: [hard, blind], reset: manual,
       actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
"""
VENUES = ("venue-a", "venue-b", "venue-c")
PHASES = (("fetch", ("snapshots",)), ("evaluate", ("evaluate",)), ("act", ("journal", "send", "reconcile")),
          ("save", ("persist",)))
INTERVAL_S = 1.0


def accounts(ports: dict[str, int]) -> list[Account]:
    os.environ["KS_T_KEY"], os.environ["KS_T_SECRET"] = "sim-main-key", "sim-main-secret"
    return [Account.model_validate({
        "name": name, "venue": "binanceusdm", "market_type": "futures", "labels": {"book": "futures"},
        "api_url": f"http://127.0.0.1:{ports[name]}",
        "credentials": {"api_key": {"env": "KS_T_KEY"}, "secret": {"env": "KS_T_SECRET"}}}) for name in VENUES]


def _ms(report, names: tuple[str, ...]) -> float:
    spans = [report.phases[n] for n in names if n in report.phases]
    return sum(b - a for a, b in spans) / 1e6


async def run(ticks: int, per_venue: int, profile: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="ksccxt-"))
    sims = {name: Sim(work, positions=per_venue, name=name) for name in VENUES}
    try:
        res = compile_documents(load_text(POLICY, "wide-book.yaml"))
        assert res.graph is not None, [d.message for d in res.errors]
        adapters = ccxt_adapters(accounts({n: s.port for n, s in sims.items()}), timeout=5).by_key
        store = open_store(f"sqlite://{work / 'state.db'}")
        runner, _, parts = build_runner_and_desk(res.graph, adapters, store, lock_path=work / "lock.json",
                dry_run=False)
        await runner.start()
        for _ in range(2):  # markets loaded, sessions open, first samples in
            await runner.tick()
            await asyncio.sleep(INTERVAL_S)
        rows, cpu, overruns, failures = [], [], 0, 0
        fetches: dict[str, list[float]] = {k: [] for k in adapters}
        calls: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        due = loop.time()
        for _ in range(ticks):
            c0 = time.process_time()
            report = await runner.tick()
            cpu.append((time.process_time() - c0) * 1000)
            total = (report.ended_ns - report.started_ns) / 1e6
            rows.append({**{name: _ms(report, ps) for name, ps in PHASES}, "tick": total})
            failures += len(report.snapshot_failures)
            for key, snap in parts.book.snapshots.items():
                if snap.fetch.ok and snap.fetch.latency_ms is not None:
                    fetches[key].append(snap.fetch.latency_ms)
                    calls[key] = snap.fetch.calls
            due += INTERVAL_S
            if loop.time() > due:
                overruns += 1
                due = loop.time()
            else:
                await asyncio.sleep(due - loop.time())
        print(f"machine: {machine()}")
        print(f"layout: {len(VENUES)} venues × {per_venue:,} positions, each a simulated Binance USDⓈ-M exchange in "
              f"its own process (binanceusdm dialect, 2,400 weight/min); the runner in this process, ccxt rate "
              f"limiting on, SQLite state, a calm policy at {INTERVAL_S:g} s; {ticks} ticks started every "
              f"{INTERVAL_S:g} s")
        print(f"{'phase':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name in [p for p, _ in PHASES] + ["tick"]:
            xs = [r[name] for r in rows]
            print(f"{name:<10} {median(xs):>8.1f} {pct(xs, 99):>8.1f} {max(xs):>8.1f}")
        print(f"{'cpu/tick':<10} {median(cpu):>8.1f} {pct(cpu, 99):>8.1f} {max(cpu):>8.1f}   (the runner's "
              f"process CPU, both cores counted)")
        for key, xs in fetches.items():
            print(f"  {key}: fetch p50 {median(xs):.1f} ms, p99 {pct(xs, 99):.1f} ms, {calls.get(key, 0)} ccxt "
                  f"calls per snapshot")
        print(f"ticks over their {INTERVAL_S:g} s: {overruns} of {ticks}; failed snapshots: {failures}")
        if profile:
            await where_the_time_goes(runner, min(20, ticks))
        await runner.aclose()
        for a in adapters.values():
            await a.close()
        store.close()
    finally:
        for s in sims.values():
            stop(s.proc)
            s.log.close()


GROUPS = (
    ("ccxt: JSON decode of the answers", ("exchange.py", "parse_json")),
    ("ccxt: parse balance", ("binance.py", "parse_balance_custom")),
    ("ccxt: parse positions (parse_position_risk: 0 where the dialect reads the rows)",
     ("async_support/binance.py", "parse_position_risk")),
    ("ours: positionRisk rows → ccxt's position fields (venues/binance/dialect/rows.py)",
     ("venues/binance/dialect/rows.py", "unified_position")),
    ("ours: those → Snapshot (parsing.parse_position, market rules, the model)", ("ccxt_exchange/snapshots.py",
                                                                                   "_snapshot")),
    ("engine: evaluate", ("engine/evaluate.py", "evaluate")),
    ("runner: persist (save, audit, lock file)", ("runner/book/book.py", "save")),
)


async def where_the_time_goes(runner, ticks: int) -> None:
    prof = cProfile.Profile()
    wall = 0.0
    for _ in range(ticks):
        t = time.perf_counter()
        prof.enable()
        await runner.tick()
        prof.disable()
        wall += time.perf_counter() - t
        await asyncio.sleep(INTERVAL_S)
    st = pstats.Stats(prof)
    stats = st.stats  # type: ignore[attr-defined]
    print(f"where the runner's time goes (cProfile over {ticks} ticks: {wall / ticks * 1000:.0f} ms per tick under "
          f"the profiler; cumulative per tick, calls nested in another group counted in both):")
    for label, (file_part, fn) in GROUPS:
        cum = sum(v[3] for k, v in stats.items() if k[0].endswith(file_part) and k[2] == fn)
        print(f"  {cum / ticks * 1000:8.1f} ms  {label}")
    st.sort_stats("tottime").print_stats(12)


def main() -> None:
    quick = "--quick" in sys.argv
    per = 1_000
    if "--positions" in sys.argv:
        per = int(sys.argv[sys.argv.index("--positions") + 1])
    asyncio.run(run(20 if quick else 120, per, "--profile" in sys.argv))


if __name__ == "__main__":
    main()
