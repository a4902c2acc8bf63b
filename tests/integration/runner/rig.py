"""The runner's rig: a runner over the simulated flash crash (``POLICY``, a three-stage crash
ladder, on the in-process face) with a SQLite store, whose every call into the store and the
exchange is counted and may die (:class:`CrashingProxy`); the run that dies at its k-th call and
the new process on the same store that finishes it (:func:`crash_run`), with what it must leave:
no order repeated or lost, every stage entry audited once, paged and rendered. Its tests are this
room's; most integration tests build their runner with :func:`setup`, read its parts with
:func:`parts_of` and serve its desk's API from a thread of their own with :func:`api_served`.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
import threading
import weakref
from collections import Counter
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Iterator, Optional

from aiohttp import web

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.events import STAGE_TRANSITION
from killswitch.face.api.api import start_api, stop_api
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

T0 = 1_772_456_400_000
TICK_MS = 5_000

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: crash-ladder}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
      triggers:
        soft: {when: "dd >= 1%", on_missing_data: hold}
        harder: {when: "dd >= 2.5%", on_missing_data: hold}
        hard: {when: "dd >= 4%", on_missing_data: hold}
      stages:
        - {level: 1, name: trim, on: [soft], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 2, fraction: 50%}}]}
        - {level: 2, name: trim-more, on: [harder], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 25%}}]}
        - {level: 3, name: flatten, on: [hard], reset: manual,
           actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
      unwind: {chunk_notional: 200k}
    """
)


def graph():
    return compile_graph(POLICY, "crash-ladder.yaml")


class Crash(BaseException):
    """Stands for the process dying at this point: a BaseException, so no `except Exception` can absorb it."""


# an adapter's reads of what it holds in memory (no I/O, no effect): a process dying there dies at
# the next call that does something, and the pre-trade gate's view reads them from the loop's
# callbacks, where no crash of a test could end the process
PURE_READS = ("capabilities", "symbols", "strategy_names", "client_id_prefixes")


class CrashingProxy:
    """Forwards to ``target``; the ``at``-th call (counted across every proxy sharing ``counter``) dies."""

    def __init__(self, target, counter: list, at: int | None):
        self._t, self._c, self._at = target, counter, at

    def __getattr__(self, name):
        attr = getattr(self._t, name)
        if not callable(attr) or name.startswith("_") or name in PURE_READS:
            return attr

        def call(*a, **k):
            self._c[0] += 1
            if self._at is not None and self._c[0] == self._at:
                raise Crash(f"crash at call {self._at}: {name}")
            return attr(*a, **k)

        return call


class DurablePager:
    """A paging sink shaped like the notification sink: an event is queued by ``on_event``
    (lost by a crash), routed into the groups ``state_doc`` saves at the next ``on_tick``
    (held from then on), and delivered to ``receiver`` — the world outside, which outlives the
    process — at the tick after. A restored group that was delivered before the crash but
    saved before its delivery is delivered again: at least once."""

    name = "pager"

    def __init__(self, receiver: list):
        self.receiver = receiver
        self.queue: list = []
        self.groups: dict[str, bool] = {}  # incident → delivered

    def on_tick(self, report, ctx):
        for incident, sent in list(self.groups.items()):
            if not sent:
                self.receiver.append(incident)
                self.groups[incident] = True
        for e in self.queue:
            self.groups.setdefault(e.data["incident"], False)
        self.queue = []

    def on_event(self, event, ctx):
        if event.kind == STAGE_TRANSITION and event.data.get("incident"):
            self.queue.append(event)

    def holds(self, event):
        return all(e is not event for e in self.queue)

    def state_doc(self):
        return {"groups": dict(self.groups)}

    def restore_state(self, doc, ctx):
        self.groups = dict((doc or {}).get("groups") or {})

    async def aclose(self):
        pass


def setup(work, crash_at=None, counter=None, engine=None, clock=None, policies=None, sinks=(),
          lease_ttl_ms: Optional[int] = None, via=None):
    """A runner over the flash crash; ``via(key, adapter)`` is what the runner holds of the
    account (the adapter itself by default; a reader's across its link, test_readers.py).

    The lease outlives a tick (:data:`LONG_LEASE_MS`) unless ``lease_ttl_ms`` says otherwise:
    with a TTL of one tick every tick takes a new token, and a store write of the tick before,
    late on a loaded machine, is fenced off and that tick stops short. A crash run keeps one
    tick's TTL, so that the runner started after it takes a new token."""
    if lease_ttl_ms is None:
        lease_ttl_ms = TICK_MS if crash_at is not None else LONG_LEASE_MS
    clock = clock or ManualClock(T0)
    engine = engine or build("flash-crash", clock)
    counter = counter if counter is not None else [0]
    store = open_store(f"sqlite://{work / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    held = adapter if via is None else via("simulated/sim-main", adapter)
    runner, desk, parts = build_runner_and_desk(
        policies or graph(), {"simulated/sim-main": CrashingProxy(held, counter, crash_at)},
        CrashingProxy(store, counter, crash_at), lock_path=work / "lock.json", dry_run=False,
        clock=clock, confirm_gap_ms=TICK_MS, sinks=sinks, lease_ttl_ms=lease_ttl_ms)
    BUILT[runner] = parts  # the parts the composition root built it from: what a test reads (parts_of)
    return runner, engine, clock, store, counter, desk  # the desk: what an operator (and the API) calls


# runner -> the parts bootstrap built it from: a test reads a part there, never through the runner
BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def parts_of(runner):
    return BUILT[runner]


async def drive(runner, clock, ticks):
    reports = []
    for _ in range(ticks):
        clock.advance(TICK_MS)
        reports.append(await runner.tick())
    return reports


async def started(runner, clock, ticks=60):
    """``runner`` started (settling what a run before left), then ``ticks`` ticks (five minutes)."""
    await runner.start()
    return await drive(runner, clock, ticks)


@contextmanager
def api_served(app: Callable[[], web.Application],
               first: Optional[Callable[[], Awaitable[Any]]] = None) -> Iterator[str]:
    """The API of ``app`` (made on the loop) served on 127.0.0.1 from a loop in a thread of its
    own, once ``first`` (the runner's start and ticks, on that loop) is done; yields its URL, and
    stops the API and the loop after."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    held: dict = {}

    async def serve():
        if first is not None:
            await first()
        held["site"], held["url"] = await start_api(app())
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    try:
        assert ready.wait(60)
        yield held["url"]
    finally:
        if "site" in held:
            asyncio.run_coroutine_threadsafe(stop_api(held["site"]), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def positions(engine):
    return {p.symbol: abs(p.amount) for p in engine.positions("sim-main") if abs(p.amount) > 0}


def fills_by_client_id(engine):
    state = engine.dump_state()
    orders = {}
    for acct in state["accounts"].values():
        for o in acct.get("orders", []):
            orders[o["order_id"]] = o.get("client_order_id")
    fills = Counter()
    for e in state["events"]:
        if e.get("event") == "fill" and e.get("account") == "sim-main":
            fills[orders.get(e["order"], e["order"])] += 1
    return fills


async def lived(runner, clock):
    """``runner`` :func:`started`, then closed as a process that ends: the writes queued off its
    last ticks are written and what they raised is taken up (a crash in the last tick's sample
    write, which no later tick takes up, dies at the close)."""
    reports = await started(runner, clock)
    await runner.aclose()
    return reports


def crash_run(work, crash_at, via=None):
    """A run whose ``crash_at``-th call dies, then a new process on the same store and exchange:
    no order repeated or lost, the book flat, nothing pending (``via``: see :func:`setup`)."""
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    start = positions(engine)
    receiver: list[str] = []  # the pages that reached people, across both processes
    counter, store = [0], None
    crashed = False
    try:  # a crash while the runner is built (its start's reads) is a crash like any other
        runner, _, _, store, counter, _ = setup(work, crash_at=crash_at, engine=engine, clock=clock,
                                             sinks=[RunbookSink(None), DurablePager(receiver)], counter=counter,
                                             via=via)
        asyncio.run(asyncio.wait_for(lived(runner, clock), 60))
    except Crash:
        crashed = True
    if store is not None:
        store.close()
    # a new process: same store, same exchange, fresh objects, no crash
    again, _, _, store2, _, _ = setup(work, engine=engine, clock=clock,
                                   sinks=[RunbookSink(None), DurablePager(receiver)], via=via)
    asyncio.run(asyncio.wait_for(lived(again, clock), 60))
    entries_effects_complete(store2, receiver, f"a crash at call {crash_at}")
    assert crashed or counter[0] < crash_at, f"the crash at call {crash_at} of {counter[0]} was never taken up"
    assert positions(engine) == {}, f"lost: positions left open after a crash at call {crash_at}"
    fills = fills_by_client_id(engine)
    assert all(n == 1 for n in fills.values()), f"repeated: {fills}"
    assert store2.pending_intents() == [], [(e.client_order_id, e.status) for e in store2.pending_intents()]
    filled = sum(e.filled or 0 for e in store2.journal(limit=1000) if e.status == "filled")
    assert filled <= sum(start.values()) + 1e-9  # never more than the book
    store2.close()


def entries_effects_complete(store, receiver: list[str], when: str) -> None:
    """Every stage entry — each decision id the audit trail or the journal names — audited
    exactly once, its runbook stored, and paged at least once."""
    rows = [r.payload for r in store.audit_rows(kinds=["stage_transition"], limit=10_000)]
    audited = Counter(p["decision_id"] for p in rows if p.get("decision_id"))
    journaled = {re.sub(r"/r\d+$", "", e.decision_id) for e in store.journal(limit=10_000)}
    entries = set(audited) | {d for d in journaled if re.search(r"/L\d+/e\d+$", d)}
    assert entries, when
    for did in sorted(entries):
        assert audited[did] == 1, f"{did} audited {audited[did]} times after {when}"
        assert store.runbook(did) is not None, f"{did} has no runbook after {when}"
        assert did in receiver, f"{did} never paged after {when}: {receiver}"


CRASH_POINTS = list(range(3, 1020, 9))  # a run makes ~1008 calls: 113 points across it


def probe(work):
    """A runner on the flash crash whose every adapter and store call is numbered and logged
    (no crash): (clock, store, runner, log of (number, name))."""
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    counter, log = [0], []
    store = open_store(f"sqlite://{work / 'probe.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": Recording(adapter, counter, None, log)},
                          Recording(store, counter, None, log), lock_path=work / "probe.json", dry_run=False,
                          clock=clock, confirm_gap_ms=TICK_MS)
    return clock, store, runner, log


# The lease outlives a tick: the runner keeps its token across the failure (a lease lapsed
# between two ticks would hand it a new token, and a new token reloads the state anyway).
LONG_LEASE_MS = 60_000


class Recording(CrashingProxy):
    """A CrashingProxy that also notes each call's number and name."""

    def __init__(self, target, counter: list, at, log: list):
        super().__init__(target, counter, at)
        self._log = log

    def __getattr__(self, name):
        attr = super().__getattr__(name)
        if not callable(attr) or name.startswith("_") or name in PURE_READS:
            return attr

        def call(*a, **k):
            self._log.append((self._c[0] + 1, name))
            return attr(*a, **k)

        return call


class RecordingSink:
    name = "recording"

    def __init__(self):
        self.ticks, self.events = [], []

    def on_tick(self, report, runner):
        self.ticks.append(report)

    def on_event(self, event, runner):
        self.events.append(event)

    async def aclose(self):
        pass
