"""An order a cancel meant to take that the venue still lists: a standing fact, never shown cancelled.

The venue is the simulated exchange in process. Its cancels are answered as a venue that
acknowledges a cancel and leaves the order resting is read by the runner's one way out: the
order in ``CancelResult.failed`` as ``ORDER_STILL_OPEN`` with the venue's words, and in
``still_open`` as the list after the cancel gave it (the order stays on the simulator's book).
The runner names it in the cancel's failures, the audit trail, one page, the status, the
console, the incident's runbook and the closure report; a restart between the save that records
it and its page pages it once; a later list without the order ends it.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import CancelResult, CancelSelector
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.console.model import page_model
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.report import closure_report
from killswitch.runbooks.sink import RunbookSink
from killswitch.runner.venue.port import Venues
from killswitch.state import open_store
from tests.integration.close.test_remainders import ROOT
from tests.integration.runner.rig import Crash, RecordingSink
from tests.integration.sim_helpers import T0
from tests.unit.engine_helpers import compile_graph

SCOPE = "simulated/sim-main"
TICK_MS = 5_000
WORDS = "110001 order not exists or too late to cancel"  # (a venue's words, as the port keeps them)
POLICY = """\
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
       actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
"""


class RestingVenues(Venues):
    """The accounts' ports, but a cancel of an order in ``rest`` is answered as a venue that
    leaves it resting: ``ORDER_STILL_OPEN`` with its words, still listed after the cancel."""

    def __init__(self, adapters, rest: set[str]):
        super().__init__(adapters)
        self.rest = rest
        self.asked: list[tuple[str, ...]] = []

    async def cancel(self, key, selector: CancelSelector, purpose: str = "") -> CancelResult:
        listed = {o.id: o for o in (await self[key].snapshot(0)).orders}
        resting = tuple(oid for oid in selector.order_ids if oid in self.rest and oid in listed)
        if not resting:
            return await super().cancel(key, selector, purpose)
        self.asked.append(resting)
        others = tuple(oid for oid in selector.order_ids if oid not in resting)
        done = await super().cancel(key, CancelSelector(order_ids=others), purpose) if others else CancelResult(())
        return CancelResult(done.canceled, {**done.failed, **{oid: "ORDER_STILL_OPEN" for oid in resting}},
                            words={**done.words, **{oid: WORDS for oid in resting}},
                            still_open=tuple(listed[oid] for oid in resting))


def run(coro, timeout: float = 120.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def runner_on(tmp_path, engine, clock, rest: set[str], sinks=()):
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", labels={"book": "futures"}, timeout_s=0.2, time_scale=0.1)
    venues = RestingVenues({SCOPE: adapter}, rest)
    runner, desk, parts = build_runner_and_desk(compile_graph(POLICY, "close-all.yaml"), venues, store,
                                                lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                                confirm_gap_ms=TICK_MS, sinks=sinks)
    return runner, store, desk, parts, venues


async def ticks(runner, clock, n: int, start: bool = True) -> list:
    if start:
        await runner.start()
    out = []
    for _ in range(n):
        clock.advance(TICK_MS)
        out.append(await runner.tick())
    return out


class DiesAfterSave:
    """The runner's saves, but the process dies right after the first save that records an
    order still open (its state and audit row written, its page not yet handed to the sinks)."""

    def __init__(self, persist):
        self.persist = persist

    async def save(self, rows=(), lock_at=None):
        await self.persist.save(rows, lock_at)
        if any(kind == "order_still_open" for kind, _, _ in rows):
            raise Crash()


def _bot_order(engine) -> str:
    """A bot's limit buy far below the market: it rests on the book."""
    o = engine.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 100.0, time_in_force="GTC",
                           client_order_id="bot-a-1")
    return str(o.order_id)


def test_an_order_a_flatten_left_open_is_named_everywhere_and_paged_once_across_a_restart(tmp_path):
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    oid = _bot_order(engine)
    rec = RecordingSink()
    runner, store, desk, parts, venues = runner_on(tmp_path, engine, clock, {oid},
                                                   sinks=[RunbookSink(ROOT / "runbooks"), rec])
    parts.still_open.persist = DiesAfterSave(parts.still_open.persist)
    with pytest.raises(Crash):  # the flatten's cancel is answered; the fact saved and audited, not paged
        run(ticks(runner, clock, 40))
    assert venues.asked, "the flatten never cancelled the bot's order"
    assert not [e for e in rec.events if e.kind == "order_still_open"]
    rows = store.audit_rows(kinds=["order_still_open"])
    assert [(r.payload["order_id"], r.payload["said"]) for r in rows] == [(oid, f"ORDER_STILL_OPEN: {WORDS}")]
    incident = rows[0].payload["incident"]
    assert incident == "close-all/simulated/sim-main/L1/e1" and rows[0].payload["cause"]
    failed = [r.payload for r in store.audit_rows(kinds=["cancel_orders_failed"])]
    assert failed and failed[0]["failed"] == {oid: f"ORDER_STILL_OPEN: {WORDS}"} and failed[0]["canceled"] == []
    store.close()

    # the runner that carries on pages it once (resumed), writes no second audit row, shows it
    rec2 = RecordingSink()
    again, store2, desk2, _, _ = runner_on(tmp_path, engine, clock, {oid},
                                           sinks=[RunbookSink(ROOT / "runbooks"), rec2])
    (st,) = desk2.status().still_open  # rebuilt from the saved book before any tick
    assert (st.order_id, st.symbol, st.side, st.amount, st.incident) == (oid, "ETH/USDT:USDT", "buy", 1.0, incident)
    run(ticks(again, clock, 3))
    pages = [e for e in rec2.events if e.kind == "order_still_open"]
    assert len(pages) == 1 and pages[0].data["resumed"] is True
    assert pages[0].data["order_id"] == oid and pages[0].data["said"] == f"ORDER_STILL_OPEN: {WORDS}"
    assert pages[0].labels["incident"] == incident and pages[0].labels["severity"] == "critical"
    assert len(store2.audit_rows(kinds=["order_still_open"])) == 1
    (st,) = desk2.status().still_open
    assert st.order_id == oid and st.said == f"ORDER_STILL_OPEN: {WORDS}"
    (inc,) = [i for i in run(desk2.incidents()) if i.incident == incident]
    assert [o.order_id for o in inc.still_open] == [oid]
    model = page_model(desk2.status(), (True, "LEADER"), desk2.lock_document(), desk2.dms_status(), (),
                       run(desk2.incidents()))
    assert [(r["order_id"], r["said"]) for r in model["still_open"]] == [(oid, f"ORDER_STILL_OPEN: {WORDS}")]
    # the console's first screen says it in one line among the standing problems, after a restart too
    assert model["standing"]["still_open"].line.startswith("the venue still lists: ")
    assert model["still_open"][0]["account"] in model["standing"]["still_open"].line
    rb = store2.runbook(incident)  # the incident's runbook names it, with what the venue said
    assert [(x["order_id"], x["said"]) for x in rb.data["still_open"]] == [(oid, f"ORDER_STILL_OPEN: {WORDS}")]
    assert f"`{oid}`" in rb.markdown and WORDS in rb.markdown
    report = closure_report(store2, T0, clock() + 1, clock())
    (left,) = report["still_open"]
    assert (left["order_id"], left["said"], left["ended"], left["incident"]) == (
        oid, f"ORDER_STILL_OPEN: {WORDS}", None, incident)
    assert report["summary"]["orders_still_open_at_end"] == 1

    # someone cancels it at the venue: the next list without it ends the fact, audited once
    engine.cancel_order("sim-main", "ETHUSDT", int(oid))
    run(ticks(again, clock, 2, start=False))
    assert desk2.status().still_open == ()
    (ended,) = store2.audit_rows(kinds=["order_still_open_ended"])
    assert ended.payload["order_id"] == oid and ended.payload["why"] == "ORDER_GONE"
    assert len([e for e in rec2.events if e.kind == "order_still_open"]) == 1
    report = closure_report(store2, T0, clock() + 1, clock())
    assert report["still_open"][0]["ended_why"] == "ORDER_GONE"
    assert report["summary"]["orders_still_open_at_end"] == 0
    store2.close()


def test_a_symbols_cancel_the_venue_caps_names_what_rests_and_counts_nothing_cancelled(tmp_path):
    """The simulator's venue answers a symbol's cancel with success and takes none of its orders
    (its cap a call at 0): the port lists again, cancels again within its bound, and names the
    order ``ORDER_STILL_OPEN``; the executor (the path a firm directive's cancel takes) counts
    nothing cancelled, says the venue's words, and keeps the order left open, tied to the
    incident it was for, for the tick to record."""
    from killswitch.orders import CancelIntent

    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    oid = _bot_order(engine)
    engine.cap_cancels("sim-main", 0)
    runner, store, desk, parts, venues = runner_on(tmp_path, engine, clock, set())
    run(runner.start())
    incident = "close-all/simulated/sim-main/L1/e1"
    got = run(parts.executor.cancel([CancelIntent("simulated", "sim-main", "all", (), "CANCEL_ALL",
                                                  ("ETH/USDT:USDT",))], incident, "FIRM_DIRECTIVE 7: drill"))
    assert got.canceled == 0
    assert got.cancel_failed and all(x.startswith("simulated/sim-main ORDER_STILL_OPEN") for x in got.cancel_failed)
    (left,) = got.still_open
    assert (left.order_id, left.symbol, left.side, left.amount, left.incident, left.policy, left.cause) == (
        oid, "ETH/USDT:USDT", "buy", 1.0, incident, "close-all", "FIRM_DIRECTIVE 7: drill")
    assert left.said.startswith("ORDER_STILL_OPEN")
    assert [x.order_id for x in parts.executor.take_still_open()] == [oid]
    assert parts.executor.take_still_open() == []  # taken once
    assert any(o.id == oid for o in run(venues[SCOPE].snapshot(clock())).orders), "the order no longer rests"
    store.close()
