"""A live runner's stage entry on the simulated exchange, paged through the notification sink: the
transition carries the venue's stamp of the snapshot that fired it, the page's latency is counted
from it on ``/metrics``, in the delivery receipt and in the incident's runbook."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.events import STAGE_TRANSITION
from killswitch.notify.receivers import SendResult
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import open_store
from tests.integration.runner.rig import T0, TICK_MS, graph
from tests.unit.notify.routes.test_routes import routes_doc

SCOPE = "simulated/sim-main"
ROUTES = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route: {receiver: pager, group_by: [policy, scope], group_wait: 0s, group_interval: 1m}
  receivers:
    - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
"""


class Receiver:
    def __init__(self):
        self.titles: list[str] = []

    def send(self, message, timeout_s):
        self.titles.append(message.title)
        return SendResult("delivered")


def test_a_stage_entry_is_paged_with_its_latency_from_the_venue_stamp(tmp_path):
    clock = ManualClock(T0)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(build("flash-crash", clock), "sim-main", venue="simulated",
                               labels={"book": "futures"}, timeout_s=2.0)
    receiver = Receiver()
    notify = NotifySink({"desk": compile_routes(routes_doc(ROUTES))}, {("desk", "pager"): receiver}, clock=clock,
                        options=NotifyOptions(poll_s=0.01))
    root = Path(__file__).resolve().parents[2] / "runbooks"
    runner, desk, parts = build_runner_and_desk(graph(), {SCOPE: adapter}, store, sinks=[notify, RunbookSink(root)],
                                                lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                                confirm_gap_ms=TICK_MS)
    events = []

    async def go():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            report = await runner.tick()
            events.extend(e for e in report.events if e.kind == STAGE_TRANSITION)
            for _ in range(20):  # the notify worker's turn (its sends run in a thread)
                await asyncio.sleep(0.005)
        await notify.aclose()

    asyncio.run(asyncio.wait_for(go(), 120))
    entries = [e for e in events if e.data.get("incident") and e.labels.get("level") != "0"]
    assert entries and receiver.titles
    for e in entries:  # the simulated venue stamps its answers: the cause is its snapshot's ts_event
        at, source = e.cause
        assert source == "venue" and e.ts_ms - 2 * TICK_MS <= at <= e.ts_ms
    receipts = [r.payload for r in store.audit_rows(0, ("notification_delivered",), 1000)]
    delivered = [p for p in receipts if p["event_kinds"] == [STAGE_TRANSITION]]
    assert len(delivered) >= 2 and all(p["cause_source"] == "venue" for p in delivered)
    # the first entry pages at once (group_wait 0s, the venue's stamp a tick old at most); an
    # escalation of the same scope is a new alert of the same group: it waits for the group's
    # next flush, group_interval (1m) after the last, and that wait is in its latency
    assert 0 <= delivered[0]["latency_ms"] <= TICK_MS
    assert all(0 <= p["latency_ms"] <= 60_000 + TICK_MS for p in delivered)
    assert max(p["latency_ms"] for p in delivered[1:]) > TICK_MS
    # the blind scope's page before it (no venue stamp of a fault the runner sees) is the runner's
    blind = [p for p in receipts if p["event_kinds"] == ["scope_blind"] and not p["resolved"]]
    assert blind and {p["cause_source"] for p in blind} == {"runner"}
    # its resolved notice is no page: no latency
    assert all("latency_ms" not in p for p in receipts if p["resolved"])
    text = notify.metrics_text()
    count = re.search(r'^killswitch_page_latency_seconds_count\{receiver="pager",severity="critical",'
                      r'source="venue"\} (\S+)$', text, re.M)
    assert count and float(count.group(1)) == len(delivered)
    incident = delivered[0]["incidents"][0]
    rb = store.runbook(incident)
    handed = rb.data["story"]["pages"]["handed"]  # the receipts read back: each receiver's first page
    assert [p["receiver"] for p in handed] == ["pager"]
    assert handed[0]["after_ms"] == delivered[0]["latency_ms"] and handed[0]["source"] == "venue"
    assert re.search(r"handed to `pager` after \d+\.\d s \(venue stamp\)", rb.markdown), rb.markdown[-1500:]
    store.close()
