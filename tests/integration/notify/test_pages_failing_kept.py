"""A receiver the runner cannot reach is failing from the start, and stays failing across a restart
(issue 65, H1): a real Runner on a SQLite store, its routes through the sink as ``ksctl run``
builds it (``strict=False``).

- a receiver whose ``{file:}`` secret does not exist is in ``pages_failing`` (cause "secret not
  resolved: …", since the start) and its gauge is 1 before any page is tried;
- a receiver whose delivery failed (nothing listens on its port), the runner restarted on the same
  store: the new runner shows it failing with the same "since" in its status and ``/metrics``
  until a round to it delivers; then it is failing no more.

On main the restarted runner said ``pages_failing: []`` and a 0 gauge until the next page failed,
and before the first page nothing said that the unresolved receiver cannot be reached.
"""

from __future__ import annotations

import asyncio

from prometheus_client.utils import floatToGoString as number

from killswitch.facts import pages, status_lines
from killswitch.metrics import parse_families
from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.integration.notify.rig import ReceiverServer, Steps, deliveries_done, routes
from tests.integration.runner.rig import T0, TICK_MS, parts_of, setup
from tests.procs import free_port

OPTIONS = NotifyOptions(timeout_s=2.0, attempts=1, backoff_s=0.05, poll_s=0.02)


def gauge(metrics: str, receiver: str) -> str:
    fams = parse_families(metrics)
    return next(s for s in fams["killswitch_notification_receiver_failing"]["samples"]
                if f'receiver="{receiver}"' in s).rsplit(" ", 1)[1]


def test_a_receiver_whose_secret_file_does_not_exist_is_failing_from_the_start(tmp_path):
    missing = tmp_path / "pager-url"
    doc = routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: pager, group_wait: 0s}}
          receivers:
            - {{name: pager, apprise: [{{file: {missing}}}]}}
        """)
    runner, _, clock, store, _, desk = setup(tmp_path)
    sink = NotifySink.from_documents([doc], clock=clock, strict=False, environ={}, options=OPTIONS)
    parts_of(runner).fanout.sinks.append(sink)
    steps = Steps(sink)
    seen: dict = {}

    async def go():
        await runner.start()
        seen["status"], seen["metrics"] = desk.status(), desk.metrics_text()  # before any page
        for _ in range(50):
            clock.advance(TICK_MS)
            await runner.tick()
            await steps.next()  # the worker routes the tick's events
            await deliveries_done(sink, budget_s=10)
            seen["later"] = desk.status()  # once the blind scope's page failed: the same since
            if any(f.failures for f in seen["later"].pages_failing):
                break
        await runner.aclose()

    asyncio.run(asyncio.wait_for(go(), 60))
    store.close()
    st = seen["status"]
    assert [(f.document, f.receiver, f.cause, f.since_ms, f.failures) for f in st.pages_failing] == [
        ("desk", "pager", f"secret not resolved: {{file: {missing}}} does not exist", T0, 0)]
    assert st.pages_failing_since_ms == T0
    assert gauge(seen["metrics"], "pager") == "1.0"
    later = seen["later"]
    assert [(f.receiver, f.since_ms) for f in later.pages_failing] == [("pager", T0)]
    assert later.pages_failing[0].failures >= 1 and later.pages_failing_since_ms == T0
    assert status_lines(pages.facts(st)) == [f"Pages are failing since 2026-03-02T13:00:00Z: desk/pager: secret not "
                                             f"resolved: {{file: {missing}}} does not exist"]


def test_a_failing_receiver_stays_failing_with_its_since_across_a_restart_until_it_delivers(tmp_path):
    port = free_port()  # nothing listens here until the end: connections are refused
    doc = routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: pager, group_by: [policy, scope], group_wait: 0s, group_interval: 30s,
                   repeat_interval: 1m}}
          receivers:
            - {{name: pager, apprise: ["json://127.0.0.1:{port}/pager"]}}
        """)
    runner, engine, clock, store, _, desk = setup(tmp_path)
    seen: dict = {}

    async def run(runner, desk, until, ticks: int = 200):
        sink = NotifySink.from_documents([doc], clock=clock, strict=False, environ={}, options=OPTIONS)
        parts_of(runner).fanout.sinks.append(sink)
        await runner.start()
        seen.setdefault("started", []).append((desk.status(), desk.metrics_text()))
        for _ in range(ticks):
            clock.advance(TICK_MS)
            await runner.tick()
            await deliveries_done(sink, budget_s=10)
            if until(desk.status()):
                break
        await runner.tick()  # the state saved after the last round
        seen.setdefault("ended", []).append((desk.status(), desk.metrics_text()))
        await runner.aclose()

    asyncio.run(asyncio.wait_for(run(runner, desk, lambda st: bool(st.pages_failing)), 120))
    (first,) = seen["ended"][0][0].pages_failing
    assert (first.receiver, first.cause) == ("pager", "connection refused") and first.failures >= 1
    store.close()
    clock.advance(60_000)  # the runner down for a minute

    again, _, _, store2, _, desk2 = setup(tmp_path, engine=engine, clock=clock)
    restarted_at = clock()
    srv = ReceiverServer()
    srv.port = port  # the pager comes up after the restart
    with srv:
        asyncio.run(asyncio.wait_for(run(again, desk2, lambda st: not st.pages_failing and bool(srv.got["pager"])),
                                     120))
    store2.close()
    st, metrics = seen["started"][1]
    assert [(f.receiver, f.cause, f.since_ms) for f in st.pages_failing] == [("pager", "connection refused",
                                                                              first.since_ms)]
    assert first.since_ms < restarted_at
    assert st.pages_failing_since_ms == seen["ended"][0][0].pages_failing_since_ms
    assert gauge(metrics, "pager") == "1.0"
    assert parse_families(metrics)["killswitch_notifications_failing_since_seconds"]["samples"] == [
        f"killswitch_notifications_failing_since_seconds {number(st.pages_failing_since_ms / 1000)}"]
    after, metrics_after = seen["ended"][1]
    assert srv.got["pager"], "a round to the pager delivered after the restart"
    assert after.pages_failing == () and after.pages_failing_since_ms is None
    assert gauge(metrics_after, "pager") == "0.0"
