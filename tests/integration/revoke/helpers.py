"""What the tests of ``revoke_trading`` carried out by the runner share (end to end on SQLite and
the simulated exchange): the venue's switch, the runners made over it, the ticks and the reads.

The venue's permission switch is :class:`KeyVenue`: the bots' keys of the account and their
trading permission, which outlive any runner process (as the venue does), with what the venue
answers (a refusal with its own code and message, no read-back) and where a process dies
(:class:`Crash`). Each runner's adapter is the simulated one with that switch beside it.

The policy ``bot-guard`` enters its one stage (halted, keys revoked; a manual reset by two
people) when bot-x has been silent over a minute; the clock is a manual one. :func:`two_accounts`
adds sim-hedge, an account of the same venue and book without a ``revoke:`` block;
:class:`ServedKeys` serves a runner behind its API for ``ksctl revoke``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from types import SimpleNamespace
from typing import Optional

from adapters.base import PermissionResult, Refusal
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import HALTED, compile_graph, guard_policy

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
ACCOUNT = "simulated/sim-main"
KEYS = ("bot-a-key", "bot-b-key")


def revoking(name: str = "bot-guard") -> str:
    """The guard policy ``name`` whose one stage halts the account and revokes its keys (two approvals)."""
    return guard_policy(name, stage="revoke", approvals=2, actions=(HALTED, "revoke_trading"))


GUARD = revoking()


class Crash(BaseException):
    """Stands for the process dying at this point: no ``except Exception`` absorbs it."""


class KeyVenue:
    """The venue's side: each key's permission, the calls it took (by which runner), and what it
    does next. ``crash``: "before_set" (the process dies before the request leaves),
    "after_set" (the venue applied it; the process dies before hearing back)."""

    def __init__(self, readable: bool = True):
        self.keys = {k: "allowed" for k in KEYS}
        self.readable = readable
        self.refuse: Optional[tuple[str, str]] = None
        self.calls: list[tuple[str, str, int]] = []  # (runner, "revoke" | "restore" | "read", clock)
        self.crash: Optional[str] = None
        self.on_set = None  # called once the venue applied a change (a test's crash point after it)
        self.clock = None

    def set(self, who: str, allowed: bool) -> PermissionResult:
        if self.crash == "before_set":
            self.crash = None
            raise Crash("before the revoke left")
        self.calls.append((who, "restore" if allowed else "revoke", self.clock()))
        if self.refuse is not None:
            return PermissionResult(states={k: "unknown" for k in self.keys},
                                    refusals={k: Refusal(*self.refuse) for k in self.keys}, readable=self.readable)
        self.keys = {k: "allowed" if allowed else "revoked" for k in self.keys}
        if self.crash == "after_set":
            self.crash = None
            raise Crash("after the venue applied it")
        if self.on_set is not None:
            self.on_set()
        return PermissionResult(states=dict(self.keys), readable=self.readable)

    def read(self, who: str) -> PermissionResult:
        self.calls.append((who, "read", self.clock()))
        if not self.readable:
            return PermissionResult(states={k: "unknown" for k in self.keys}, readable=False)
        return PermissionResult(states=dict(self.keys))

    def sent(self, what: str = "revoke", who: Optional[str] = None) -> list[int]:
        return [t for w, k, t in self.calls if k == what and (who is None or w == who)]


class WithKeys:
    """The simulated adapter with the venue's permission switch beside it."""

    def __init__(self, inner, venue: KeyVenue, who: str):
        self.inner, self.venue, self.who = inner, venue, who

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def capabilities(self):
        return replace(self.inner.capabilities, revoke_trading=True)

    @property
    def trading_keys(self):
        return tuple(self.venue.keys)

    async def set_trading(self, allowed: bool) -> PermissionResult:
        return self.venue.set(self.who, allowed)

    async def read_trading(self) -> PermissionResult:
        return self.venue.read(self.who)


class CrashingSave:
    """The store, whose next state save dies once ``armed`` (after the audit row of a revoke)."""

    def __init__(self, store):
        self.store, self.armed = store, False

    def __getattr__(self, name):
        return getattr(self.store, name)

    def save_engine_state(self, *a, **k):
        if self.armed:
            self.armed = False
            raise Crash("after the audit row, before the save")
        return self.store.save_engine_state(*a, **k)


def make(tmp_path, *, venue: KeyVenue, engine=None, clock=None, holder: str = "runner", lease_ttl_ms: int = 5_000):
    clock = clock or ManualClock(T0)
    venue.clock = clock
    if engine is None:
        engine = build("calm", clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            engine.set_mark(symbol, price)
    adapter = WithKeys(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                        timeout_s=2.0), venue, holder)
    store = CrashingSave(open_store(f"sqlite://{tmp_path / 'state.db'}"))
    runner, desk, parts = build_runner_and_desk(
        compile_graph(GUARD, "guard.yaml"), {ACCOUNT: adapter}, store, lock_path=tmp_path / "lock.json", dry_run=False,
        clock=clock, holder=holder, lease_ttl_ms=lease_ttl_ms)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store, venue=venue,
                           db=tmp_path / "state.db")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def ticks(w, n: int, *, beat: bool = False, step_ms: int = TICK_MS) -> list:
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(step_ms)
            if beat:
                await w.desk.heartbeat("bot-x")
            out.append(await w.runner.tick())
        return out
    return run(go())


def rows(w, kind: str) -> list[dict]:
    db = sqlite3.connect(w.db)
    try:
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq",
                                                     (kind,))]
    finally:
        db.close()


def events(reports, kind: str) -> list:
    return [e for r in reports for e in r.events if e.kind == kind]


def shown(w) -> str:
    return w.parts.revokes.status().get(ACCOUNT, {}).get("shown", "allowed")


def entered(w) -> list:
    """Ticks until bot-x's silence enters the stage (13 ticks: over a minute of silence)."""
    started(w)
    reports = ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    return reports


def started(w) -> None:
    """Started, and bot-x heard once: from now on its silence counts."""
    run(w.runner.start())
    run(w.desk.heartbeat("bot-x"))


def metric(w, line_start: str) -> Optional[str]:
    return next((ln for ln in w.desk.metrics_text().splitlines() if ln.startswith(line_start)), None)


OTHER = "simulated/sim-hedge"  # an account of the same venue and book without a revoke: block


def two_accounts(tmp_path, venue: KeyVenue, clock=None, lease_ttl_ms: int = 5_000, prefixes=None):
    """sim-main with the venue's switch, sim-hedge without one, one store (a restart: call again);
    ``prefixes``: sim-main's declared strategies (client id prefix → strategy)."""
    clock = clock or ManualClock(T0)
    venue.clock = clock
    engine = build("calm", clock)
    for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
        engine.set_mark(symbol, price)
    main = WithKeys(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                     timeout_s=2.0, strategy_prefixes=prefixes), venue, "runner")
    other = SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    assert not other.capabilities.revoke_trading
    store = CrashingSave(open_store(f"sqlite://{tmp_path / 'state.db'}"))
    runner, desk, parts = build_runner_and_desk(
        compile_graph(GUARD, "guard.yaml"), {ACCOUNT: main, OTHER: other}, store, lock_path=tmp_path / "lock.json",
        dry_run=False, clock=clock, holder="runner", lease_ttl_ms=lease_ttl_ms)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store, venue=venue,
                           db=tmp_path / "state.db")


class ServedKeys:
    """A runner with the venue's permission switch, behind its API on a thread of its own,
    ticking every few milliseconds of wall time (5 s of its clock each)."""

    def __init__(self, tmp_path, build=None):
        import threading

        from tests.integration.test_ops_commands import PEOPLE, SERVED_LEASE_MS, TOKEN

        # a lease of three ticks, renewed at every tick before it runs out (see Served)
        self.w = (build or make)(tmp_path, venue=KeyVenue(), lease_ttl_ms=SERVED_LEASE_MS)
        self.token, self.people = TOKEN, PEOPLE
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._serve()), daemon=True)

    async def _serve(self):
        from killswitch.face.api.api import make_app, start_api, stop_api

        w = self.w
        await w.runner.start()
        await w.desk.heartbeat("bot-x")
        w.clock.advance(TICK_MS)
        await w.runner.tick()
        self.site, self.url = await start_api(make_app(w.desk, token=self.token, tokens=self.people))
        self.ready.set()
        while not self.stop:
            w.clock.advance(TICK_MS)
            await w.desk.heartbeat("bot-x")  # the policy's stage stays out of it: the operator revokes
            await w.runner.tick()
            await asyncio.sleep(0.01)
        await stop_api(self.site)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(60)
        return self

    def __exit__(self, exc_type, *exc):
        from tests.integration.test_ops_commands import assert_kept_its_lease

        self.stop = True
        self.thread.join(30)
        if exc_type is None:
            assert_kept_its_lease(self.w.parts)
