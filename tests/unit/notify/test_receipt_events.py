"""A page's receipt records the events that page told, new and resolved, not every alert its
group still holds: the closure report's *Notifications* table shows them (issue 65, medium 7)."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.events import ORDER_FAILED, POLICY_RELOAD_FAILED, TRADING_RESTORED, TRADING_REVOKED, Event
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.state import open_store
from tests.unit.notify.routes.test_routes import routes_doc
from tests.unit.notify.test_one_off import LONG_RESOLVE, ONE_OFFS
from tests.unit.notify.test_resolved_retry import (
    put,
    transition,
    tree as tree,  # noqa: F401 - the fixture
)
from tests.unit.notify.test_sink import Capture

T0 = 1_795_823_000_000  # 2026-11-27T23:43:20Z
DOC = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route:
    receiver: hook
    group_by: [policy]
    group_wait: 0s
    group_interval: 1m
  receivers:
    - {name: hook, apprise: ["json://127.0.0.1:9/hook"]}
"""

# as the walk had them: pages with no policy label, so they share one group
REVOKED = Event.make(TRADING_REVOKED, T0, {"keys": ["sim-main-bot-key"]}, account="binanceusdm/sim-main")
RESTORED = Event.make(TRADING_RESTORED, T0 + 60_000, {"keys": ["sim-main-bot-key"]}, account="binanceusdm/sim-main")
FAILED = Event.make(ORDER_FAILED, T0 + 120_000, {"detail": "-2022 ReduceOnly Order is rejected."},
                    venue="binanceusdm", account="binanceusdm/sim-hedge", reason="REJECTED", severity="critical")
RELOAD = Event.make(POLICY_RELOAD_FAILED, T0 + 180_000, {"errors": 1}, severity="critical")


def test_each_page_of_a_group_names_its_own_events_not_the_groups_earlier_ones(tree):  # noqa: F811
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, FAILED, 0)
    [first] = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    assert first.event_kinds == [ORDER_FAILED]
    put(d, RELOAD, 80_000)
    [second] = [n for n in d.flush_due(90_000) if n.receiver == "pager"]
    assert [a.event.kind for a in second.alerts] == [ORDER_FAILED, POLICY_RELOAD_FAILED]  # both in its body
    assert second.event_kinds == [POLICY_RELOAD_FAILED]


def test_a_resolution_is_an_event_of_the_page_that_tells_it_and_a_reminder_names_its_states(tree):  # noqa: F811
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, transition(0, 3, "flatten"), 0)
    put(d, ONE_OFFS[1], 1_000)  # an order failed, in the stage's group
    [first] = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    assert first.event_kinds == [ORDER_FAILED, "stage_transition"]
    reminders = [n for t in range(70_000, 3_700_000, 60_000) for n in d.flush_due(t) if n.receiver == "pager"]
    assert reminders and all(n.event_kinds == ["stage_transition"] for n in reminders)
    assert reminders[0].incidents == ["book/okx/main/L3/e1"]
    put(d, transition(3_800_000, 0, "", frm=3, severity="info", reason="RESET"), 3_800_000)
    [told] = [n for n in d.flush_due(3_900_000) if n.receiver == "pager"]
    assert {a.event.kind for a in told.resolved} == {"stage_transition"}
    assert told.event_kinds == ["stage_transition"] and ORDER_FAILED not in told.event_kinds


class Writer:
    """The runner's audit writer (``SinkContext.audit_receipt``) over a real store."""

    def __init__(self, store):
        self.store = store

    def audit_receipt(self, kind, ts, payload):
        return self.store.audit(kind, ts, payload)


def test_the_reports_notifications_table_credits_each_page_with_its_own_events(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    store = open_store(url)
    clock = [T0]
    capture = Capture()
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "hook"): capture},
                      receipts=Writer(store), clock=lambda: clock[0], options=NotifyOptions(poll_s=0.01))

    class Ctx:
        graph, dry_run = None, False

    async def page(event: Event, at: int) -> None:
        clock[0] = at
        sink.on_event(event, Ctx())
        sent = len(capture.messages)
        for _ in range(300):
            await asyncio.sleep(0.01)
            if len(capture.messages) > sent:
                return
        raise AssertionError(f"{event.kind} was not paged")

    async def go():
        for event in (REVOKED, RESTORED, FAILED, RELOAD):
            await page(event, event.ts_ms)
        await sink.aclose()

    asyncio.run(go())
    store.close()
    out = CliRunner().invoke(cli, ["report", "--since", "2026-11-27", "--state", url, "-o", "md"])
    rows = [line for line in out.stdout.splitlines() if "| delivered | hook |" in line]
    assert len(rows) == 4, out.stdout
    events = [row.split(" | ")[3] for row in rows]
    assert events == ["trading_revoked", "trading_restored", "order_failed", "policy_reload_failed"], rows
    assert "POLICY RELOAD FAILED (last good graph running)" in rows[3]
