"""Benchmark: close-all under partial fills and the full fault plan — how long to flat, what is left.

A flash crash takes ``sim-main`` (one-way: long 5 BTC, long 100 ETH, short 1,000 SOL) through a
4 % drawdown; the policy's one stage is ``close_all`` with a halt (no ``cancel_orders``: the
runner's own open remainders are its business). The simulated venue's book is thin: every
order fills 40 % of itself on arrival, rounded down to the market's step, and the rest stays
open on the book (``rest_remainder``: a venue that works an IOC instead of killing it). On top,
the full fault plan below (429, 418, a timeout after the order was applied, 5xx, a dropped
connection after send, truncated JSON, an order hidden from the next query; on orders, cancels
and order queries). The runner ticks every 5 s of simulated time on a manual clock.

Printed per face (the in-process adapter, and the production ccxt adapter driving the real ccxt
client of each venue the simulator speaks — ``binanceusdm``, ``bybit``, ``okx`` — over its HTTP
face for that venue on 127.0.0.1; ``--venue`` picks some):

- time to flat: the ticks and simulated seconds from the stage entry to the first tick where
  the book is flat or holds only residuals, no order of ours is open at the venue and the
  journal has nothing pending; then three more ticks must send nothing;
- orders left open at the venue (must be 0); the residuals (symbol, amount, why);
- orders and cancels sent (requests that reached the venue's face, faults included);
- the most the open closes on one position ever exceeded it by (must be 0), checked at every
  order the venue received;
- the wall time of a run (median of ``--runs``, default 5 in-process and 3 through ccxt).

``--quick``: one run per face. ``--fill 0.4`` / ``--expire`` (remainders expire, as a venue
that honours IOC) change the book. Prints figures; asserts nothing (the integration test
``tests/integration/close/test_remainders.py`` asserts the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/close_all_faults.py` from a checkout
    sys.path.insert(0, str(ROOT))

from adapters.simulated.adapter import SimulatedAdapter  # noqa: E402
from adapters.simulated.engine import EPS, ManualClock, SimExchange  # noqa: E402
from adapters.simulated.faults import FaultPlan  # noqa: E402
from adapters.simulated.scenarios import BOOK_MAIN, build  # noqa: E402
from adapters.simulated.venues import VENUES, spot_venues  # noqa: E402
from killswitch.compile.compiler import compile_documents  # noqa: E402
from killswitch.policy.load import load_text  # noqa: E402
from killswitch.process.bootstrap import build_runner_and_desk  # noqa: E402
from killswitch.runner.tick.loop import Runner  # noqa: E402
from killswitch.state import open_store  # noqa: E402

# the venues the simulator answers as for a futures book (a spot account holds no position to close)
SIM_VENUES = tuple(v for v in VENUES if v not in spot_venues())

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
ACCOUNT = "sim-main"
FILL_RATIO = 0.4
POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: close-all}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 1h, min_coverage: 1%}}
      triggers:
        hard: {when: "dd >= 4%", on_missing_data: hold}
      stages:
        - {level: 1, name: flatten, on: [hard], reset: manual,
           actions: [close_all, {lock_trading: {mode: halted}}]}
      unwind: {chunk_notional: 200k}
    """)

# (operation, fault, when): n-th calls of that operation on sim-main, counted from the first
FULL_FAULTS = (
    ("place_order", "http_429", {"calls": (2,)}),
    ("place_order", "timeout", {"calls": (3,), "applied": True}),
    ("place_order", "http_418", {"calls": (5,)}),
    ("place_order", "http_500", {"calls": (7,)}),
    ("place_order", "disconnect_after_send", {"calls": (9,)}),
    ("place_order", "malformed_json", {"calls": (11,)}),
    ("place_order", "hide_from_next_query", {"calls": (13,)}),
    ("place_order", "http_503", {"calls": (15,)}),
    ("cancel_order", "http_429", {"calls": (1,)}),
    ("cancel_order", "timeout", {"calls": (2,), "applied": True}),
    ("cancel_order", "disconnect_after_send", {"calls": (4,)}),
    ("get_order", "malformed_json", {"calls": (3,)}),
    ("get_order", "http_503", {"calls": (6,)}),
)


def fault_plan(rules=FULL_FAULTS) -> FaultPlan:
    plan = FaultPlan()
    for op, kind, when in rules:
        plan.add(op, kind, account=ACCOUNT, **when)
    return plan


def graph():
    res = compile_documents(load_text(POLICY, "close-all.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


class Watch:
    """Checks every order the venue receives: the closes already open on its position plus it
    never exceed the position (``worst``: the largest excess seen, 0 when it held)."""

    def __init__(self, engine: SimExchange):
        self.engine = engine
        self.worst = 0.0
        self.checked = 0
        place = engine.place_order

        def spy(account, symbol, side, type, quantity, *a, **kw):
            self._check(account, symbol, side, quantity, kw.get("position_side"))
            return place(account, symbol, side, type, quantity, *a, **kw)

        engine.place_order = spy

    def _check(self, account: str, symbol: str, side: str, quantity, position_side: Optional[str]) -> None:
        a = self.engine.accounts.get(account)
        if a is None or quantity is None:
            return
        side = (side or "").upper()
        ps = (position_side or "BOTH").upper()
        leg = a.legs.get((symbol, ps))
        amount = leg.amount if leg else 0.0
        position = max(0.0, amount) if side == "SELL" else max(0.0, -amount)
        resting = sum(o.remaining for o in a.live.values()
                      if o.is_open and o.closes and o.symbol == symbol and o.position_side == ps and o.side == side)
        self.checked += 1
        self.worst = max(self.worst, resting + float(quantity) - position)


@dataclass
class Result:
    face: str
    entered_tick: Optional[int] = None
    done_tick: Optional[int] = None
    ticks: int = 0
    open_orders: int = 0
    pending: int = 0
    positions: dict = field(default_factory=dict)  # symbol → signed contracts left
    residuals: list = field(default_factory=list)  # (symbol, amount, why, detail)
    orders_sent: int = 0
    cancels_sent: int = 0
    overcommit: float = 0.0
    orders_checked: int = 0
    after_done_sent: int = 0  # orders sent in the ticks after "done": must be 0
    wall_s: float = 0.0
    faults_fired: int = 0

    @property
    def ticks_to_done(self) -> Optional[int]:
        return None if self.done_tick is None or self.entered_tick is None else self.done_tick - self.entered_tick

    @property
    def covered(self) -> bool:
        """Flat, or every position left is a residual (by base coin: a face may quote the engine's
        USDT markets in its venue's own settle coin, as Hyperliquid's does in USDC)."""
        return {base(s) for s in self.positions} <= {base(r[0]) for r in self.residuals}


def base(symbol: str) -> str:
    """``BTC`` of ``BTC/USDT:USDT``."""
    return symbol.split("/", 1)[0]


def _left(engine: SimExchange) -> dict:
    a = engine.accounts[ACCOUNT]
    return {engine.markets[s].unified: leg.amount for (s, _), leg in sorted(a.legs.items()) if abs(leg.amount) > EPS}


def _open(engine: SimExchange) -> int:
    return sum(1 for o in engine.accounts[ACCOUNT].live.values() if o.is_open)


def _residuals(parts: Any) -> list:
    return [(r.symbol, r.amount, r.why, r.detail) for r in parts.book.residuals]


async def drive(face: str, runner: Runner, parts: Any, engine: SimExchange, clock: ManualClock, plan: FaultPlan, store,
                max_ticks: int, settle_ticks: int = 3) -> Result:
    res = Result(face)
    watch = Watch(engine)
    start = time.perf_counter()
    await runner.start()
    for t in range(1, max_ticks + 1):
        clock.advance(TICK_MS)
        report = await runner.tick()
        res.ticks = t
        if res.done_tick is not None:
            res.after_done_sent += report.execution.sent
            if t - res.done_tick >= settle_ticks:
                break
            continue
        if res.entered_tick is None and report.transitions:
            res.entered_tick = t
        if res.entered_tick is None:
            continue
        if settled(parts, engine, store):
            res.done_tick = t
    res.wall_s = time.perf_counter() - start
    return tally(res, parts, engine, store, plan, watch)


def settled(parts: Any, engine: SimExchange, store) -> bool:
    """Flat or residual-only: nothing open at the venue, no intent pending, and every position
    left one the runner stopped closing (a residual)."""
    residual = {base(r[0]) for r in _residuals(parts)}
    return _open(engine) == 0 and not store.pending_intents() and {base(s) for s in _left(engine)} <= residual


def tally(res: Result, parts: Any, engine: SimExchange, store, plan: FaultPlan, watch: Watch) -> Result:
    """``res`` with what the run left: orders open, intents pending, positions, residuals, what
    was sent, the worst excess of open closes over a position, the faults fired."""
    res.open_orders = _open(engine)
    res.pending = len(store.pending_intents())
    res.positions = _left(engine)
    res.residuals = _residuals(parts)
    res.orders_sent = plan.counts.get("place_order", 0)
    res.cancels_sent = plan.counts.get("cancel_order", 0) + plan.counts.get("cancel_all", 0)
    res.overcommit = max(0.0, watch.worst)
    res.orders_checked = watch.checked
    res.faults_fired = len(plan.log)
    return res


def _engine(ratio: float, rest: bool, plan: FaultPlan) -> tuple[SimExchange, ManualClock]:
    clock = ManualClock(T0)
    engine = build("flash-crash", clock, faults=plan)
    engine.set_fill_ratio(ratio, rest_remainder=rest)
    return engine, clock


async def run_inprocess(work: Path, *, ratio: float = FILL_RATIO, rest: bool = True, faults=FULL_FAULTS,
                        max_ticks: int = 90) -> Result:
    plan = fault_plan(faults)
    engine, clock = _engine(ratio, rest, plan)
    store = open_store(f"sqlite://{work / 'inprocess.db'}")
    adapter = SimulatedAdapter(engine, ACCOUNT, labels={"book": "futures"}, timeout_s=0.2, time_scale=0.1)
    runner, _, parts = build_runner_and_desk(graph(), {f"simulated/{ACCOUNT}": adapter}, store,
                          lock_path=work / "lock-inprocess.json", dry_run=False, clock=clock, confirm_gap_ms=TICK_MS,
                          send_wait_s=None)  # simulated time ticked at full speed: a tick waits for its sends
    try:
        return await drive("in-process", runner, parts, engine, clock, plan, store, max_ticks)
    finally:
        await runner.aclose()  # its writes in flight (a chart sample) end before the store does
        store.close()


async def run_ccxt(work: Path, *, ratio: float = FILL_RATIO, rest: bool = True, faults=FULL_FAULTS,
                   max_ticks: int = 90, venue: str = "binanceusdm", timeout_s: float = 2.0) -> Result:
    """``timeout_s``: the ccxt client's request timeout, which each ``timeout`` fault of the plan
    waits out on the wall clock (the face holds that request longer)."""
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import sim_account

    plan = fault_plan(faults)
    engine, clock = _engine(ratio, rest, plan)
    store = open_store(f"sqlite://{work / 'ccxt.db'}")
    async with SimServer(engine, faults=plan, auth_clock=wall_clock, hang_s=timeout_s + 1.0) as server:
        server.warm()  # (the faces' one-time loads, before anything is timed)
        acc = sim_account(server, ACCOUNT, venue, labels={"book": "futures"})
        adapter = CcxtAdapter(acc, urls=server.base_url, timeout=timeout_s, max_retries=1, backoff_s=0.05,
                              orders_per_second=1000, ccxt_rate_limit=False)
        runner, _, parts = build_runner_and_desk(graph(), {f"{venue}/{ACCOUNT}": adapter}, store,
                              lock_path=work / "lock-ccxt.json", dry_run=False, clock=clock, confirm_gap_ms=TICK_MS,
                              snapshot_timeout_s=timeout_s + 1.0, send_wait_s=None)
        try:
            return await drive(f"ccxt {venue} over HTTP", runner, parts, engine, clock, plan, store, max_ticks)
        finally:
            await runner.aclose()
            await adapter.close()
            store.close()


def machine() -> str:
    from harness import machine as bench_machine

    return f"{bench_machine()}, {platform.system()}"


def layout(ratio: float, rest: bool) -> str:
    book = ", ".join(f"{side} {amount:g} {symbol}" for acct, symbol, side, amount, _ in BOOK_MAIN if acct == ACCOUNT)
    faults = "; ".join(f"{op} {kind} call {','.join(map(str, w['calls']))}{' (applied)' if w.get('applied') else ''}"
                       for op, kind, w in FULL_FAULTS)
    return (f"layout: 1 account ({ACCOUNT}, one-way), 3 symbols ({book}); scenario flash-crash, a tick every "
            f"{TICK_MS / 1000:g} s of simulated time; policy close_all + halt at a 4 % drawdown, chunks of 200k; "
            f"every order fills {ratio:.0%} (rounded down to the step), the rest "
            f"{'rests on the book' if rest else 'expires'}; retry budget {Runner.MAX_CLOSE_RETRIES} re-plans\n"
            f"  fault plan (sim-main): {faults}")


def report(results: list[Result]) -> None:
    r = results[0]
    walls = [x.wall_s for x in results]
    secs = r.ticks_to_done * TICK_MS / 1000 if r.ticks_to_done is not None else None
    print(f"{r.face} ({len(results)} run{'s' if len(results) != 1 else ''}):")
    if r.entered_tick is None:
        print("  the stage was never entered")
        return
    done = (f"{r.ticks_to_done} ticks = {secs:g} s of simulated time after the stage entry (tick {r.entered_tick})"
            if secs is not None else f"NOT within {r.ticks} ticks")
    print(f"  flat or residual-only with nothing open: {done}")
    print(f"  orders open at the venue: {r.open_orders}; journal intents pending: {r.pending}; "
          f"orders sent after that: {r.after_done_sent}")
    left = ", ".join(f"{s} {a:g}" for s, a in r.positions.items()) or "none"
    print(f"  positions left: {left}")
    for s, a, why, detail in r.residuals:
        print(f"  residual: {s} {a:g} {why} ({detail})")
    if not r.residuals:
        print("  residuals: none reported")
    print(f"  orders sent {r.orders_sent}, cancels sent {r.cancels_sent}, faults fired {r.faults_fired}; "
          f"largest excess of open closes over a position: {r.overcommit:g} (over {r.orders_checked} orders)")
    print(f"  wall time of a run: median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f})")
    if len({(x.done_tick, x.orders_sent, x.cancels_sent, tuple(x.residuals)) for x in results}) > 1:
        print("  NOTE: the runs differed (timing-dependent faults):",
              [(x.done_tick, x.orders_sent, x.cancels_sent) for x in results])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run per face")
    ap.add_argument("--runs", type=int, default=None, help="runs per face (default 5 in-process, 3 ccxt)")
    ap.add_argument("--fill", type=float, default=FILL_RATIO, help="fill ratio of every order (default 0.4)")
    ap.add_argument("--expire", action="store_true", help="remainders expire (IOC honoured) instead of resting")
    ap.add_argument("--no-ccxt", action="store_true", help="the in-process face only")
    ap.add_argument("--venue", action="append", choices=SIM_VENUES,
                    help="the dialects the ccxt face runs in (repeatable; default: every one the simulator speaks)")
    args = ap.parse_args()
    rest = not args.expire
    print(f"close-all under the full fault plan with partial fills — "
          f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(layout(args.fill, rest))
    work = Path(tempfile.mkdtemp(prefix="ks-closeall-"))
    n_in = 1 if args.quick else (args.runs or 5)
    n_cx = 1 if args.quick else (args.runs or 3)
    results = []
    for i in range(n_in):
        d = work / f"in{i}"
        d.mkdir()
        results.append(asyncio.run(run_inprocess(d, ratio=args.fill, rest=rest)))
    report(results)
    if args.no_ccxt:
        return
    for venue in args.venue or SIM_VENUES:
        results = []
        for i in range(n_cx):
            d = work / f"cx-{venue}-{i}"
            d.mkdir()
            results.append(asyncio.run(asyncio.wait_for(run_ccxt(d, ratio=args.fill, rest=rest, venue=venue), 600)))
        report(results)


if __name__ == "__main__":
    main()
