"""The rig of the runner's operator-set rules' tests, end to end against the simulated exchange
on a manual clock: a runner and its desk over a sqlite store (``make``), ticked and beaten by hand,
with the readers of what they did (open orders, audit rows, events).

The policy ``bot-guard`` halts the account (manual reset) and arms the venue's countdown when
bot-x has been silent for over a minute; bot-x beats only when a test says so, so the stage is
entered exactly when a test wants it.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from adapters.base import AdapterError, Reason
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.events import DMS_FIRED
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runner.lock.lock import DEAD_MANS_SWITCH, OPERATOR
from killswitch.state import open_store
from tests.unit.engine_helpers import HALTED, compile_graph, guard_policy

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
ACCOUNT = "simulated/sim-main"

COUNTDOWN = (HALTED, "{arm_exchange_dms: {after: 30s}}")  # the stage's actions
GUARD = guard_policy(actions=COUNTDOWN)
TWO_PERSON = guard_policy(actions=COUNTDOWN, approvals=2)


class FlakyCountdown:
    """The simulated adapter, whose cancel-all-after refresh fails while ``failing`` is set, and
    answers ``said`` (after arming) when set: what a per-symbol venue says with nothing to arm."""

    def __init__(self, inner):
        self.inner = inner
        self.failing = False
        self.failing_reads = False  # its snapshots fail: the account is blind
        self.said = None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def snapshot(self):
        if self.failing_reads:
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "venue down", venue="simulated")
        return await self.inner.snapshot()

    async def arm_cancel_all_after(self, seconds, symbols=()):
        if self.failing:
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "venue down", venue="simulated")
        answer = await self.inner.arm_cancel_all_after(seconds, symbols)
        return self.said or answer


OTHER = "simulated/sim-hedge"  # an account of another book: no policy of GUARD acts on it


def make(tmp_path, *, text: str = GUARD, dry_run: bool = False, engine=None, clock=None, holder: str = "runner",
         sinks=(), lease_ttl_ms: int = 5_000, other: bool = False):
    clock = clock or ManualClock(T0)
    if engine is None:
        engine = build("calm", clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            engine.set_mark(symbol, price)
    adapter = FlakyCountdown(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                              strategy_prefixes={"bot-a-": "bot-a"}, timeout_s=2.0))
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapters = {ACCOUNT: adapter}
    if other:  # same venue, same capabilities, another book
        adapters[OTHER] = SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "hedges"},
                                           timeout_s=2.0)
    runner, desk, parts = build_runner_and_desk(compile_graph(text, "guard.yaml"), adapters, store,
            lock_path=tmp_path / "lock.json",
                                         dry_run=dry_run, clock=clock, holder=holder, sinks=sinks,
                                         lease_ttl_ms=lease_ttl_ms)
    # the runner ticks; the desk is what an operator (and the API) calls
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store,
            adapter=adapter,
                           db=tmp_path / "state.db", lock=tmp_path / "lock.json")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def ticks(w, n: int, *, beat: tuple[str, ...] = ()) -> list:
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(TICK_MS)
            for source in beat:
                await w.desk.heartbeat(source)
            out.append(await w.runner.tick())
        return out
    return run(go())


def start(w) -> None:
    run(w.runner.start())


def resting_order(w, cid: str = "bot-a-1") -> None:
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0, time_in_force="GTC",
                         client_order_id=cid)


def open_client_ids(w) -> set:
    return {o.client_order_id for o in w.engine.open_orders("sim-main")}


def audit_kinds(w) -> list[str]:
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        return [k for (k,) in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
    finally:
        db.close()


def audit_rows(w) -> list[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        return list(db.execute("SELECT kind, payload FROM audit_log ORDER BY seq"))
    finally:
        db.close()


def headline(event) -> str:
    from killswitch.notify.message import _HEADLINES

    return _HEADLINES[event.kind](event.labels, event.data, "")


def fired(reports) -> list:
    return [e for r in reports for e in r.events if e.kind == DMS_FIRED]


def order(**kw) -> dict:
    return {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01, **kw}


async def live_close(desk, scope: str, reason: str, **kw):
    """A live close as clients send one: previewed first, then sent with the preview's id."""
    preview = await desk.close(scope, reason, True, symbol=kw.get("symbol"))
    return await desk.close(scope, reason, False, preview_id=preview.preview_id, **kw)


def _hold(book, kind: str):
    """``book`` with a lock of ``kind`` on ACCOUNT: a latched stage's, a stage's with a ttl, the
    operator's or the dead man's switch's."""
    if kind == "manual-stage":
        return book.apply(ACCOUNT, "halted", now_ms=T0, policy="futures-book", stage=3, manual=True, reason="L3")
    if kind == "ttl-stage":
        return book.apply(ACCOUNT, "reducing", now_ms=T0, policy="futures-book", stage=1, ttl_ms=86_400_000,
                          reason="L1")
    if kind == "operator":
        return book.apply(ACCOUNT, "halted", now_ms=T0, policy=OPERATOR, reason="by hand")
    return book.apply(ACCOUNT, "halted", now_ms=T0, policy=DEAD_MANS_SWITCH, reason="silent")
