"""A reset made while the trigger still fires: the stage is entered again at the next tick, a new
incident, and it says which incident it continues — the flatten the reset released, with its
orders and who had acknowledged it — on its page, in the status (after a restart too), on the
console's strip and in its runbook (issue 81: it read "0 orders, from 0, not acknowledged")."""

from __future__ import annotations

import asyncio
import re

from killswitch.client import LockDocument
from killswitch.events import STAGE_TRANSITION
from killswitch.notify.alerts import Alert
from killswitch.notify.message import detail, headline
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.status import status_text
from killswitch.runbooks.sink import RunbookSink
from tests.integration.runner.rig import TICK_MS, drive, graph, setup, started

SCOPE = "simulated/sim-main"
FLATTEN = "crash-ladder/simulated/sim-main/L3/e3"  # the flash crash's flatten
AGAIN = "crash-ladder/simulated/sim-main/L3/e4"  # entered again at the tick after its reset
NO_LOCKS = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


class Events:
    name = "events"

    def __init__(self):
        self.events: list = []

    def on_tick(self, report, ctx) -> None:
        pass

    def on_event(self, event, ctx) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        pass


def test_a_stage_entered_again_after_a_reset_names_the_incident_it_continues(tmp_path):
    told = Events()
    runner, _, clock, store, _, desk = setup(tmp_path, sinks=[told, RunbookSink(None)])

    async def go():
        await started(runner, clock)  # the flash crash: stage 3 flatten, its closes sent
        acked = await desk.acknowledge(None, "crash-ladder", SCOPE, "on it", actor="carol")
        assert acked.done, acked.reason
        clock.advance(1_000)
        done = await desk.reset("crash-ladder", SCOPE, "alice", "flat", confirm_relatch=True)
        assert done.done and done.warnings, done
        await drive(runner, clock, 1)  # the trigger still fires: latched again
        return done

    asyncio.run(go())
    orders = len(store.journal_of(FLATTEN, 0))
    assert orders > 0
    (entry,) = [e for e in told.events if e.kind == STAGE_TRANSITION and e.data.get("incident") == AGAIN]
    said = re.compile(r"after a reset by alice at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; continues incident "
                      + re.escape(f"{FLATTEN} ({orders} orders, acknowledged by carol)"))
    # the page
    alert = Alert("fp", dict(entry.labels), entry, entry.ts_ms, entry.ts_ms, True)
    assert headline(alert) == f"crash-ladder {SCOPE}: entered stage 3 flatten (from 0, relatched after a reset)"
    (line,) = [x for x in detail(alert, None) if "continues incident" in x]
    assert line.startswith("  relatched ") and said.search(line), line
    # the status and the incidents (the console's strip reads them)
    (scope,) = desk.status().scopes
    assert scope.continues is not None and scope.continues.incident == FLATTEN
    text = status_text(desk.status(), NO_LOCKS)
    assert re.search(r"\n    RELATCHED " + said.pattern, text), text

    async def incidents():
        return await desk.incidents()

    (card,) = asyncio.run(incidents())
    assert card.incident == AGAIN and card.continues == scope.continues
    # the runbook of the new incident
    rb = store.runbook(AGAIN)
    assert rb is not None and re.search(r"> \*\*RELATCHED\*\* " + said.pattern, rb.markdown), rb.markdown[:800]
    assert rb.data["continues"]["incident"] == FLATTEN
    # a restart on the same store says it too: the mark is saved with the stage
    again, again_desk, _ = build_runner_and_desk(graph(), runner.venues, store, lock_path=tmp_path / "again.json",
                                                 dry_run=False, clock=clock, confirm_gap_ms=TICK_MS)
    asyncio.run(again.start())
    assert re.search(r"\n    RELATCHED " + said.pattern, status_text(again_desk.status(), NO_LOCKS))



def test_a_dry_runs_relatch_counts_the_orders_the_flatten_planned(tmp_path):
    """A dry run journals nothing: the incident it continues counts the orders it planned."""
    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from killswitch.orders import PLANNED_KINDS, planned_intents
    from killswitch.state import open_store
    from tests.integration.runner.rig import T0

    clock = ManualClock(T0)
    store = open_store(f"sqlite://{tmp_path / 'dry.db'}")
    adapter = SimulatedAdapter(build("flash-crash", clock), "sim-main", venue="simulated", labels={"book": "futures"},
                               timeout_s=2.0)
    runner, desk, _ = build_runner_and_desk(graph(), {SCOPE: adapter}, store, lock_path=tmp_path / "dry.json",
                                            dry_run=True, clock=clock, confirm_gap_ms=TICK_MS)

    async def go():
        await started(runner, clock)
        done = await desk.reset("crash-ladder", SCOPE, "alice", "flat", confirm_relatch=True)
        assert done.done, done
        await drive(runner, clock, 1)

    asyncio.run(go())
    planned = sum(1 for r in store.audit_rows(kinds=list(PLANNED_KINDS)) for p in planned_intents(r.kind, r.payload)
                  if str(p.get("decision_id") or "").startswith(FLATTEN))
    assert planned > 0 and not store.journal_of(FLATTEN, 0)
    (scope,) = desk.status().scopes
    assert scope.continues is not None and (scope.continues.incident, scope.continues.orders) == (FLATTEN, planned)
    assert scope.continues.acked_by == ()
    assert f"({planned} orders, not acknowledged)" in status_text(desk.status(), NO_LOCKS)
    store.close()
