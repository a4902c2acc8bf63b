"""Benchmark: one full engine tick (evaluate + plan, state update included) by book size.

100 positions per account; the state first holds one hour of one-minute history (60 ticks).
Two figures per size, each the median of several ticks:
- steady: a tick in which nothing is entered (signals, triggers, windows, PnL history);
- entry: a tick in which every account enters a stage and plans its closes.
Snapshots are built before timing: producing them is the adapters' cost, not the engine's.

Targets (issue): steady tick ≤ 3 ms at 1,000 positions, ≤ 25 ms at 10,000, growing linearly.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

from killswitch.compile.compiler import compile_documents
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import State
from killswitch.policy.load import load_text
from killswitch.snapshot import MarketRules, Position, Snapshot

POLICY = """
apiVersion: killswitch/v1
kind: Policy
metadata: {name: bench}
spec:
  scope: {level: account}
  interval: 1m
  signals:
    dd_15m: {equity_drawdown: {window: 15m}}
    dd_1h: {equity_drawdown: {window: 1h}}
    loss: {position_loss: {of: equity}}
    liq: liquidation_distance
    gross: gross_exposure
  triggers:
    soft: {when: "dd_15m >= 4.5% || dd_1h >= 7% || loss >= 3%", for: 2 ticks, on_missing_data: hold}
    liq_near: {when: "liq <= 2% || gross >= 500%", on_missing_data: hold}
    hard: {when: "dd_15m >= 10%", on_missing_data: hold}
  stages:
    - {level: 1, name: reduce, on: [soft, liq_near], cooldown: 30m,
       actions: [{reduce_top_risk: {count: 10, fraction: 50%, close_within_liquidation: 3%}}]}
    - {level: 2, name: flatten, on: [hard], reset: manual,
       actions: [{cancel_orders: entries}, close_all, {lock_trading: {mode: halted}}]}
  unwind: {chunk_notional: 50k}
"""

PER_ACCOUNT = 100
T0 = 1_772_456_400_000
MIN = 60_000
VARIANTS = 6  # distinct snapshot sets cycled through the warm-up (keeps memory bounded)


def book(n_positions: int, variant: int, equity_factor: float) -> list[Snapshot]:
    snaps = []
    n_accounts = max(1, n_positions // PER_ACCOUNT)
    per = min(PER_ACCOUNT, n_positions)
    rules = {f"S{i}/USDT:USDT": MarketRules(amount_step=0.001, min_amount=0.001) for i in range(per)}
    for a in range(n_accounts):
        positions = []
        for i in range(per):
            mark = 100.0 + i + variant * 0.1
            side = "long" if (i + a) % 3 else "short"
            positions.append(Position.model_construct(
                symbol=f"S{i}/USDT:USDT", side=side, position_side=None, contracts=10.0, contract_size=1.0,
                notional=10.0 * mark, entry_price=100.0 + i, mark_price=mark,
                unrealized_pnl=(variant - 3) * 5.0 * (1 if side == "long" else -1) - i * 0.1,
                liquidation_price=mark * (0.7 if side == "long" else 1.3), margin=100.0, leverage=10.0,
                strategy=None))
        snaps.append(Snapshot.model_construct(
            format=1, venue="simulated", account=f"acct-{a}", market_type="futures", ts_event=0, ts_observed=None,
            equity=1_000_000.0 * equity_factor, quote_currency="USDT", balances=[], positions=positions, orders=[],
            fetch=Snapshot.model_fields["fetch"].default, labels={}, markets=rules, initial_capital=None,
            stablecoins=["USDT"]))
    return snaps


def graph():
    res = compile_documents(load_text(POLICY, "bench.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


def measure(n: int, repeats: int) -> tuple[float, float, int]:
    g = graph()
    sets = [book(n, v, 1.0 + 0.0001 * v) for v in range(VARIANTS)]
    crash = book(n, 0, 0.80)  # 20% down: every account enters a stage
    state = State()
    t = T0
    for k in range(60):  # one hour of one-minute history
        _, state = evaluate(g, sets[k % VARIANTS], state, t)
        t += MIN
    steady = []
    gc.collect()
    for k in range(repeats):
        snap = sets[k % VARIANTS]
        start = time.perf_counter()
        _, state = evaluate(g, snap, state, t)
        steady.append(time.perf_counter() - start)
        t += MIN
    entry = []
    orders = 0
    for k in range(max(3, repeats // 2)):
        s = state.copy() if n <= 10_000 else State.from_json(state.to_json())
        start = time.perf_counter()
        ev, _ = evaluate(g, crash, s, t)
        entry.append(time.perf_counter() - start)
        orders = sum(len(p.orders) for p in ev.plans)
    return statistics.median(steady), statistics.median(entry), orders


def main() -> None:
    sizes = [10, 1_000, 10_000, 100_000]
    if "--quick" in sys.argv:
        sizes = [10, 1_000, 10_000]
    from harness import machine

    print(f"machine: {machine()}")
    print(f"layout: one policy at account scope, {PER_ACCOUNT} positions per account (1,000 positions: "
          f"{1_000 // PER_ACCOUNT} accounts), one hour of one-minute history; the pure engine only (no store, no "
          "adapters)")
    print(f"{'positions':>10} {'steady tick':>12} {'positions/s':>13} {'entry tick':>11} {'orders':>7}  per position")
    base = None
    for n in sizes:
        repeats = 15 if n <= 10_000 else 5
        steady, entry, orders = measure(n, repeats)
        per = steady / n * 1e6
        base = base or per
        print(f"{n:>10,} {steady * 1000:>10.2f}ms {n / steady:>13,.0f} {entry * 1000:>9.1f}ms {orders:>7,}  "
              f"{per:.2f} µs")
    print("targets: steady ≤ 3 ms at 1,000 positions, ≤ 25 ms at 10,000")


if __name__ == "__main__":
    main()
