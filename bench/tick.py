"""Benchmark: one full ``Runner.tick()`` by book size and layout, the runner's own work.

Layouts (``--layout``, all three by default):
- ``per-account``: 100 positions per account, one scope per account (N / 100 accounts);
- ``one-account``: every position in one account, one scope (a large market-making account);
- ``global``: a ``global``-scope policy over 100 accounts (N / 100 positions each): one scope
  over every position, the shape of a firm-wide breaker.

Each runner is the real one (``build_runner``): SQLite on tmpfs (/dev/shm when there is one),
dry run, a lock file, no sinks, the lease held by a ``LeaseKeeper`` thread as ``ksctl run``
holds it (a tick reads the token the keeper holds; the keeper's renewals, one store write every
third of the lease's TTL on its own thread and connection, are not in the figures). Its adapters
hand back snapshots built before timing (their positions carrying their columns, as the
simulated and ccxt adapters hand them over), so what is measured is the runner's own work: the
tick minus its ``snapshots`` phase (evaluate, journal, persist — the state saved every tick —,
lock file, send, reconcile). ``eval`` is the engine step inside it. The state first holds one
hour of one-minute history (60 ticks).

The policy ticks every 5 s; the PnL history attribution reads samples once a minute. Four
figures per size, each a median:
- steady: a tick 5 s after the last in which nothing is entered (signals, triggers, windows, the
  save): eleven ticks in twelve;
- sampling: the same, at the twelfth tick, which also samples every position's PnL into the
  history and saves the sample;
- entry: the tick whose snapshot shows a 5 % drawdown: every scope enters stage 1, ranks every
  one of its positions by risk score and plans closes of the top 3 (journaled, saved);
- flatten: the tick whose snapshot shows a 12 % drawdown: every scope enters stage 2 and plans
  a close of every position (an order per position or more, chunked; journaled, saved).

Prints the machine, the date and the layout beside each figure, and µs per position.

    .venv/bin/python bench/tick.py                      # every layout, N = 10, 1k, 10k, 100k
    .venv/bin/python bench/tick.py --quick              # N up to 10k
    .venv/bin/python bench/tick.py --layout one-account --sizes 10000
    .venv/bin/python bench/tick.py --engine             # the pure engine only (no runner, no store)
    .venv/bin/python bench/tick.py --plain              # positions without columns (as a replay's)

Targets (issue 15), one scope: steady ≤ 5 ms at 10k and ≤ 60 ms at 100k; entry ≤ 25 ms at 10k
and ≤ 300 ms at 100k; growth linear.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from adapters.base import Capabilities  # noqa: E402
from killswitch.compile.compiler import compile_documents  # noqa: E402
from killswitch.engine.evaluate import evaluate  # noqa: E402
from killswitch.engine.state import State  # noqa: E402
from killswitch.policy.load import load_text  # noqa: E402
from killswitch.runner.lease import LeaseKeeper  # noqa: E402
from killswitch.snapshot import MarketRules, Position, PositionList, Snapshot  # noqa: E402

POLICY = """
apiVersion: killswitch/v1
kind: Policy
metadata: {name: bench}
spec:
  scope: {level: LEVEL}
  interval: 5s
  signals:
    dd_15m: {equity_drawdown: {window: 15m}}
    dd_1h: {equity_drawdown: {window: 1h}}
    loss: {position_loss: {of: equity}}
    liq: liquidation_distance
    gross: gross_exposure
  triggers:
    soft: {when: "dd_15m >= 4.5% || dd_1h >= 7% || loss >= 3%", on_missing_data: hold}
    liq_near: {when: "liq <= 2% || gross >= 500%", on_missing_data: hold}
    hard: {when: "dd_15m >= 10%", on_missing_data: hold}
  stages:
    - {level: 1, name: reduce, on: [soft, liq_near], cooldown: 30m,
       actions: [{reduce_top_risk: {count: 3, fraction: 50%, side: any}}]}
    - {level: 2, name: flatten, on: [hard], reset: manual,
       actions: [{cancel_orders: entries}, close_all, {lock_trading: {mode: halted}}]}
  unwind: {chunk_notional: 50k}
"""

T0 = 1_772_456_400_000
MIN = 60_000
STEP = 5_000  # the policy's interval: the measured ticks' cadence
LEASE_TTL_MS = 86_400_000  # a day of the bench's clock: no renewal falls due while it runs
VARIANTS = 6  # distinct snapshot sets cycled through (keeps memory bounded)
LAYOUTS = ("per-account", "one-account", "global")
_SERIAL = itertools.count()
PLAIN = False  # --plain: positions without their columns (the engine reads every field)


def accounts_of(layout: str, n: int) -> tuple[int, int]:
    """(accounts, positions per account) of a layout at ``n`` positions."""
    if layout == "one-account":
        return 1, n
    if layout == "global":
        return min(100, n), max(1, n // 100)
    return max(1, n // 100), min(100, n)


def book(layout: str, n: int, variant: int, equity_factor: float) -> list[Snapshot]:
    """Snapshots of the layout: marks move a little with ``variant``; ``equity_factor`` scales
    every account's equity (0.95: a 5 % drawdown; 0.88: 12 %). Their positions carry their
    columns, as an adapter hands them over (``--plain``: a plain list, as a replay's)."""
    columns = not PLAIN
    n_accounts, per = accounts_of(layout, n)
    rules = {f"S{i}/USDT:USDT": MarketRules(amount_step=0.001, min_amount=0.001) for i in range(per)}
    fetch = Snapshot.model_fields["fetch"].default
    snaps = []
    for a in range(n_accounts):
        positions = []
        for i in range(per):
            mark = 100.0 + i % 1000 + variant * 0.1
            side = "long" if (i + a) % 3 else "short"
            positions.append(Position.model_construct(
                symbol=f"S{i}/USDT:USDT", side=side, position_side=None, contracts=10.0, contract_size=1.0,
                notional=10.0 * mark, entry_price=100.0 + i % 1000, mark_price=mark,
                unrealized_pnl=(variant - 3) * 5.0 * (1 if side == "long" else -1) - (i % 97) * 0.1,
                liquidation_price=mark * (0.7 if side == "long" else 1.3), margin=100.0, leverage=10.0,
                strategy=None))
        snaps.append(Snapshot.model_construct(
            format=1, venue="simulated", account=f"acct-{a}", market_type="futures", ts_event=T0, ts_observed=None,
            equity=1_000_000.0 * per / 100 * equity_factor, quote_currency="USDT", balances=[],
            positions=PositionList.of(positions) if columns else positions, orders=[], fetch=fetch, labels={},
            markets=rules, initial_capital=None, stablecoins=["USDT"]))
    return snaps


def graph(layout: str):
    level = "global" if layout == "global" else "account"
    res = compile_documents(load_text(POLICY.replace("LEVEL", level), "bench.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


class Replayed:
    """An adapter that hands back the snapshot it is given (the bench sets ``next`` before each
    tick): the runner's work is measured, not a venue's. Dry runs never send."""

    def __init__(self, account: str):
        self.venue, self.account = "simulated", account
        self.next: Optional[Snapshot] = None
        self._symbols: Optional[tuple[dict, frozenset[str]]] = None
        self.capabilities = Capabilities(orders_per_second=10.0)

    async def snapshot(self) -> Snapshot:
        assert self.next is not None
        return self.next

    def symbols(self) -> Optional[frozenset[str]]:
        if self.next is None:
            return None
        if self._symbols is None or self._symbols[0] is not self.next.markets:  # read once, as a venue's markets
            self._symbols = (self.next.markets, frozenset(self.next.markets))
        return self._symbols[1]

    def strategy_names(self) -> frozenset[str]:
        return frozenset()

    async def load_symbols(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def __getattr__(self, name: str):  # cancel, submit, fetch_order, DMS: a dry run never calls them
        raise AttributeError(f"the bench adapter has no {name}: a dry run should not call it")


class Bench:
    """One runner over one layout, warmed with an hour of one-minute history."""

    def __init__(self, layout: str, n: int, sets: list[list[Snapshot]], work: Path):
        from killswitch.bootstrap import build_runner
        from killswitch.state import open_store

        self.t = T0
        self.sets = sets
        self.adapters = {f"simulated/{s.account}": Replayed(s.account) for s in sets[0]}
        name = next(_SERIAL)  # a store of its own: never one a previous runner left
        self.store = open_store(f"sqlite://{work / f'tick-{name}.db'}")
        self.runner = build_runner(graph(layout), self.adapters, self.store, lock_path=work / f"lock-{name}.json",
                                   dry_run=True, clock=lambda: self.t, holder="bench",
                                   lease_ttl_ms=LEASE_TTL_MS)
        # The lease from a thread of its own, as ``ksctl run`` holds it: a tick reads the token it
        # holds. Its term outlasts the bench's simulated hours, so it renews nothing while timed.
        self.keeper = LeaseKeeper.for_store(self.store, "bench", LEASE_TTL_MS, clock=lambda: self.t)
        self.runner.hold_lease_with(self.keeper)
        self.keeper.start()

    async def tick(self, snaps: list[Snapshot], step: int = STEP) -> tuple[float, float, int]:
        """(own ms, eval ms, orders planned) of one tick over ``snaps``, ``step`` ms after the last."""
        self.t += step
        for s in snaps:
            self.adapters[f"simulated/{s.account}"].next = s
        r = await self.runner.tick()
        s0, s1 = r.phases["snapshots"]
        e0, e1 = r.phases["evaluate"]
        orders = sum(len(p.orders) for p in r.evaluation.plans) if r.evaluation else 0
        return (r.ended_ns - r.started_ns - (s1 - s0)) / 1e6, (e1 - e0) / 1e6, orders

    async def warm(self) -> None:
        await self.runner.start()
        for k in range(60):  # an hour of one-minute history: a PnL sample at every tick
            await self.tick(self.sets[k % VARIANTS], MIN)

    def close(self) -> None:
        self.keeper.stop()
        self.store.close()


async def runner_figures(layout: str, n: int, repeats: int, work: Path) -> dict[str, tuple[float, float, int]]:
    sets = [book(layout, n, v, 1.0 + 0.0001 * v) for v in range(VARIANTS)]
    entry_book, flatten_book = book(layout, n, 0, 0.95), book(layout, n, 0, 0.88)
    out: dict[str, tuple[float, float, int]] = {}
    b = Bench(layout, n, sets, work)
    await b.warm()
    gc.collect()
    steady, sampling = [], []
    for k in range(repeats):
        before = _next_sample(b)
        x = await b.tick(sets[k % VARIANTS])
        (sampling if _next_sample(b) != before else steady).append(x)
    b.close()
    out["steady"] = _median(steady)
    out["sampling"] = _median(sampling)
    for name, crash in (("entry", entry_book), ("flatten", flatten_book)):
        xs = []
        for k in range(max(3, repeats // 3)):
            b = Bench(layout, n, sets, work)
            await b.warm()
            gc.collect()
            xs.append(await b.tick(crash))
            b.close()
        out[name] = _median(xs)
    return out


def _next_sample(b: "Bench") -> tuple:
    """When each PnL history takes its next sample: it moves exactly at a tick that sampled."""
    return tuple(h.next_sample_ms for h in b.runner.book.state.pnl.values())


def _median(xs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs), xs[-1][2]


def engine_figures(layout: str, n: int, repeats: int) -> dict[str, tuple[float, float, int]]:
    """The pure engine alone (``evaluate``): no runner, no store."""
    g = graph(layout)
    sets = [book(layout, n, v, 1.0 + 0.0001 * v) for v in range(VARIANTS)]
    state, t = State(), T0
    for k in range(60):
        _, state = evaluate(g, sets[k % VARIANTS], state, t)
        t += MIN
    gc.collect()
    steady, sampling = [], []
    for k in range(repeats):
        before = tuple(h.next_sample_ms for h in state.pnl.values())
        start = time.perf_counter()
        _, state = evaluate(g, sets[k % VARIANTS], state, t)
        took = (time.perf_counter() - start) * 1000
        sampled = tuple(h.next_sample_ms for h in state.pnl.values()) != before
        (sampling if sampled else steady).append((took, took, 0))
        t += STEP
    out = {"steady": _median(steady), "sampling": _median(sampling)}
    for name, factor in (("entry", 0.95), ("flatten", 0.88)):
        crash = book(layout, n, 0, factor)
        xs, orders = [], 0
        for _ in range(max(3, repeats // 3)):
            s = State.from_json(state.to_json())
            start = time.perf_counter()
            ev, _ = evaluate(g, crash, s, t)
            xs.append(time.perf_counter() - start)
            orders = sum(len(p.orders) for p in ev.plans)
        out[name] = (statistics.median(xs) * 1000, statistics.median(xs) * 1000, orders)
    return out


def layout_text(layout: str, n: int) -> str:
    if layout == "global":
        return f"global scope over {min(100, n)} accounts × {max(1, n // 100):,}"
    if layout == "one-account":
        return f"one account of {n:,} (one scope)"
    a, per = accounts_of(layout, n)
    return f"{a:,} accounts × {per} (a scope each)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", choices=LAYOUTS, action="append")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--quick", action="store_true", help="N up to 10,000")
    ap.add_argument("--engine", action="store_true", help="the pure engine only (no runner, no store)")
    ap.add_argument("--plain", action="store_true",
                    help="positions as a plain list, as a replay's: the engine reads every field of them")
    args = ap.parse_args()
    global PLAIN
    PLAIN = args.plain
    sizes = args.sizes or ([10, 1_000, 10_000] if args.quick else [10, 1_000, 10_000, 100_000])
    from harness import machine

    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="ks-tick-", dir=shm if shm.is_dir() else None))
    print(f"machine: {machine()}")
    what = "evaluate() alone: no runner, no store" if args.engine else \
        ("Runner.tick() minus its snapshots phase (evaluate, journal, SQLite save on tmpfs, lock file; the lease "
         "from a keeper thread, as ksctl run); dry run")
    print(f"measured: {what}; policy interval 5 s; an hour of one-minute PnL history first; medians: steady "
          "of the ticks 5 s apart that take no PnL sample, sampling of those that do (one tick in 12), entry and "
          "flatten of 3 fresh runners; own = the runner's work, eval = evaluate() inside it (ms); positions "
          + ("as plain lists (the engine reads every field)" if PLAIN
             else "carrying their columns (as adapters hand them)"))
    print(f"{'layout':<40} {'positions':>9} {'steady own/eval':>16} {'µs/pos':>7} {'sampling':>9} "
          f"{'entry own/eval':>15} {'orders':>6} {'flatten own/eval':>17} {'orders':>7}")
    try:
        for layout in args.layout or LAYOUTS:
            for n in sizes:
                repeats = 24 if n <= 10_000 else 13  # 5 s apart: 2 (1) of them take a PnL sample
                f = engine_figures(layout, n, repeats) if args.engine else \
                    asyncio.run(runner_figures(layout, n, repeats, work))
                (so, se, _), (po, _, _) = f["steady"], f["sampling"]
                (eo, ee, eord), (fo, fe, ford) = f["entry"], f["flatten"]
                print(f"{layout_text(layout, n):<40} {n:>9,} {so:>8.2f}/{se:<7.2f} {so / n * 1000:>7.2f} {po:>9.2f} "
                      f"{eo:>7.1f}/{ee:<7.1f} {eord:>6,} {fo:>8.1f}/{fe:<8.1f} {ford:>7,}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("targets, one scope (one-account, global): steady ≤ 5 ms at 10k, ≤ 60 ms at 100k; "
          "entry ≤ 25 ms at 10k, ≤ 300 ms at 100k")


if __name__ == "__main__":
    main()
