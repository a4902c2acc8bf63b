"""``killswitch_page_latency_seconds``: from the time of what caused a page to the page handed to
its receiver, on the notify sink's clock (a fake one here), with hand-written receivers."""

from __future__ import annotations

import asyncio
import re

from killswitch.events import STAGE_TRANSITION, Event
from killswitch.notify.alerts import alert_from_json, alert_json
from killswitch.notify.receivers import SendResult
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.runner.sinks.entries import event_doc, event_of, scope_cause
from killswitch.snapshot import FetchStatus, Snapshot
from tests.unit.notify.routes.test_routes import routes_doc

DOC = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route:
    receiver: pager
    group_by: [scope]
    group_wait: 2s
    group_interval: 1m
  receivers:
    - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
"""


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Receiver:
    """Takes ``took_ms`` of the fake clock per send; fails the first ``fail`` sends."""

    def __init__(self, clock: Clock, took_ms: int, fail: int = 0):
        self.clock, self.took_ms, self.fail = clock, took_ms, fail
        self.sends = 0

    def send(self, message, timeout_s):
        self.sends += 1
        self.clock.ms += self.took_ms
        if self.sends <= self.fail:
            return SendResult("failed")
        return SendResult("delivered")


class Store:
    def __init__(self):
        self.rows = []

    def audit_receipt(self, kind, ts, payload):
        self.rows.append((kind, payload))
        return len(self.rows)


class R:
    graph, dry_run = None, False


def sink_of(clock: Clock, receiver: Receiver, store: Store, **options) -> NotifySink:
    opts = NotifyOptions(poll_s=0.01, attempts=2, backoff_s=0.0, **options)
    return NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "pager"): receiver}, receipts=store,
                      clock=clock, options=opts)


def histogram(sink: NotifySink) -> dict[tuple[str, str], float]:
    """(sample name, labels text) → value of the page latency's _sum and _count lines."""
    out = {}
    for line in sink.metrics_text().splitlines():
        m = re.match(r"^killswitch_page_latency_seconds_(sum|count)\{(.*)\} (\S+)$", line)
        if m:
            out[(m[1], m[2])] = float(m[3])
    return out


async def until(cond, clock: Clock | None = None, to_ms: int | None = None) -> None:
    """Wait for ``cond``, the clock moved to ``to_ms`` once the worker has routed what came."""
    if clock is not None and to_ms is not None:
        await asyncio.sleep(0.05)
        clock.ms = to_ms
    for _ in range(500):
        await asyncio.sleep(0.01)
        if cond():
            return
    raise AssertionError("not reached")


def critical(ts: int, scope: str, kind: str = STAGE_TRANSITION, **labels) -> Event:
    return Event.make(kind, ts, {"incident": f"p/{scope}/L3/e1"}, policy="p", scope=scope, severity="critical",
                      level=3, **labels)


def test_a_venue_stamp_counts_from_the_venue_and_a_runner_event_from_its_observation():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=400)
    sink = sink_of(clock, rcv, store)

    async def go():
        # the venue stamped the data that fired it 1.5 s before the runner's tick saw it
        sink.on_event(critical(100_000, "a").caused_at(98_500, "venue"), R())
        sink.on_event(critical(100_000, "b"), R())  # no venue stamp: the runner's own
        await until(lambda: rcv.sends == 2, clock, 102_000)  # group_wait 2 s
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    h = histogram(sink)
    venue = 'receiver="pager",severity="critical",source="venue"'
    runner = 'receiver="pager",severity="critical",source="runner"'
    assert h[("count", venue)] == 1 and h[("count", runner)] == 1
    # handed when the send returns: 102_000 + 400 (the first) and + 800 (the second, one at a time)
    delivered = {p["cause_source"]: p for k, p in store.rows if k == "notification_delivered"}
    assert {s: p["cause_ms"] for s, p in delivered.items()} == {"venue": 98_500, "runner": 100_000}
    handed = {s: p["cause_ms"] + p["latency_ms"] for s, p in delivered.items()}
    assert sorted(handed.values()) == [102_400, 102_800]
    assert h[("sum", venue)] == (handed["venue"] - 98_500) / 1000
    assert h[("sum", runner)] == (handed["runner"] - 100_000) / 1000


def test_a_grouped_page_counts_from_its_oldest_event():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=0)
    sink = sink_of(clock, rcv, store)

    async def go():
        sink.on_event(critical(100_000, "a", stage="one").caused_at(99_000, "venue"), R())
        await asyncio.sleep(0.05)
        clock.ms = 101_000
        sink.on_event(critical(101_000, "a", stage="two").caused_at(100_900, "venue"), R())
        await until(lambda: rcv.sends == 1, clock, 102_000)
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    assert rcv.sends == 1  # one page, both alerts in it
    h = histogram(sink)
    labels = 'receiver="pager",severity="critical",source="venue"'
    assert h[("count", labels)] == 1 and h[("sum", labels)] == 3.0  # from 99_000, the oldest, not 100_900


def test_a_retried_page_is_observed_once_at_its_success_and_its_failures_apart():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=100, fail=2)  # the first round's two attempts fail
    sink = sink_of(clock, rcv, store)

    async def go():
        sink.on_event(critical(100_000, "a").caused_at(99_000, "venue"), R())
        await until(lambda: any(k == "notification_failed" and p.get("retry_at_ms") for k, p in store.rows),
                    clock, 102_000)
        assert histogram(sink) == {}  # nothing handed yet: nothing observed
        await until(lambda: rcv.sends == 3, clock, 162_000)  # the group's next flush, a minute later
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    h = histogram(sink)
    labels = 'receiver="pager",severity="critical",source="venue"'
    assert h[("count", labels)] == 1
    assert h[("sum", labels)] == 63.1  # 99_000 → 162_100: the retry's time counts
    text = sink.metrics_text()
    assert 'killswitch_notification_attempts_total{receiver="pager",result="failed"} 2.0' in text


def test_a_page_that_never_gets_through_is_not_observed():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=0, fail=99)
    sink = sink_of(clock, rcv, store, group_retries=0)

    async def go():
        sink.on_event(critical(100_000, "a").caused_at(99_000, "venue"), R())
        await until(lambda: rcv.sends == 2, clock, 102_000)
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    assert histogram(sink) == {}
    assert 'killswitch_notifications_total{receiver="pager",result="failed"} 1.0' in sink.metrics_text()


def test_a_reminder_is_no_page_latency():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=0)
    sink = sink_of(clock, rcv, store)

    async def go():
        sink.on_event(critical(100_000, "a").caused_at(99_000, "venue"), R())
        await until(lambda: rcv.sends == 1, clock, 102_000)
        await until(lambda: rcv.sends == 2, clock, 102_000 + 4 * 3600_000 + 60_000)  # repeat_interval 4h
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    assert histogram(sink)[("count", 'receiver="pager",severity="critical",source="venue"')] == 1


def test_a_cause_survives_the_saved_state_and_the_outbox():
    e = critical(100_000, "a").caused_at(98_000, "venue")
    assert event_of(event_doc(e)).cause == (98_000, "venue")
    assert critical(100_000, "a").cause == (100_000, "runner")
    assert critical(100_000, "a").caused_at(98_000, "made-up").cause == (100_000, "runner")
    from killswitch.notify.alerts import Alert

    a = Alert("fp", dict(e.labels), e, 100_000, 100_000, True)
    b = alert_from_json(alert_json(a))
    assert b.cause == (98_000, "venue") and b.event.cause == (98_000, "venue")


class Node:
    """The scope a policy node declares, as :func:`killswitch.engine.scope.instances` reads it."""

    scope = {"level": "account", "venues": [], "accounts": {"names": [], "match_labels": {}},
             "strategies": [], "symbols": []}


def snap(account: str, ts_event: int, observed: int, source, ok: bool = True) -> Snapshot:
    return Snapshot(venue="binanceusdm", account=account, market_type="futures", ts_event=ts_event,
                    ts_observed=observed, ts_source=source, fetch=FetchStatus(ok=ok))


def test_a_transition_counts_from_its_scopes_snapshot_venue_stamp_else_our_receipt():
    snaps = [snap("main", 99_200, 99_900, "venue"), snap("other", 99_800, 99_950, "venue"),
             snap("quiet", 99_000, 99_700, None)]
    assert scope_cause(Node(), "binanceusdm/main", snaps, 100_000) == (99_200, "venue")
    assert scope_cause(Node(), "binanceusdm/quiet", snaps, 100_000) == (99_700, "runner")  # not vouched for
    failed = [snap("main", 100_000, 100_000, "venue", ok=False)]
    assert scope_cause(Node(), "binanceusdm/main", failed, 100_000) == (100_000, "runner")
    assert scope_cause(Node(), "binanceusdm/gone", snaps, 100_000) == (100_000, "runner")


def test_the_closure_report_shows_each_delivered_pages_latency():
    from killswitch.render.report import _incident, _notification_lines, page_latency
    from killswitch.runbooks.report import _count_receipts

    delivered = {"at": "t1", "kind": "notification_delivered", "receiver": "pager", "title": "[CRITICAL] x",
                 "events": ["stage_transition"], "result": "delivered", "final": True, "attempt": 1,
                 "incidents": ["p/a/L3/e1"], "fallback_for": None, "dropped": None, "silences": [],
                 "verified": True, "latency_ms": 3240, "cause_source": "venue"}
    failed = {**delivered, "kind": "notification_failed", "result": "failed", "latency_ms": None,
              "cause_source": None, "final": False}
    lines = _notification_lines([failed, delivered])
    assert lines[2] == "| at | receipt | receiver | event | title | result | attempt | latency | incidents |"
    assert "| delivered | 1 | handed after 3.2 s (venue) | p/a/L3/e1 |" in lines[5]
    assert "| failed (retried) | pager |" in lines[4] and "| 1 | - | p/a/L3/e1 |" in lines[4]
    assert page_latency({"latency_ms": None}) == "-" and page_latency({"latency_ms": True}) == "-"
    incidents = {"p/a/L3/e1": {"notifications": {"delivered": [], "failed": [], "silenced": [], "handed": {}}}}
    _count_receipts([failed, delivered, {**delivered, "latency_ms": 9000}], incidents)
    sent = incidents["p/a/L3/e1"]["notifications"]
    assert sent["handed"] == {"pager": {"latency_ms": 3240, "cause_source": "venue"}}  # the first page
    line = next(x for x in _incident({**_INCIDENT, "notifications": sent}) if x.startswith("- notifications"))
    assert line == "- notifications: delivered to pager (handed after 3.2 s (venue))"


_INCIDENT = {"incident": "p/a/L3/e1", "stage": "halt", "at": "t0", "policy": "p", "scope": "a", "from": 0,
             "level": 3, "dry_run": False, "reason": "ESCALATED", "graph_digest": "d", "revision": None,
             "orders": {"total": 0, "filled": 0, "failed": 0, "open": 0, "planned_dry_run": 0, "refused": {}},
             "approvals": [], "runbook": None, "ended": None, "verified": True}


def test_a_venue_clock_ahead_of_ours_counts_zero_never_negative():
    clock, store = Clock(100_000), Store()
    rcv = Receiver(clock, took_ms=0)
    sink = sink_of(clock, rcv, store)

    async def go():
        sink.on_event(critical(100_000, "a").caused_at(109_000, "venue"), R())  # 9 s in our future
        await until(lambda: rcv.sends == 1, clock, 102_000)
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    labels = 'receiver="pager",severity="critical",source="venue"'
    assert histogram(sink)[("sum", labels)] == 0.0 and histogram(sink)[("count", labels)] == 1
    assert [p["latency_ms"] for k, p in store.rows if k == "notification_delivered"] == [0]
