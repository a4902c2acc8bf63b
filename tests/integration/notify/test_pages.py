"""Notifications end to end: a real Runner through the flash crash, apprise ``json://`` receivers
served by a local aiohttp server, receipts read back from the audit trail.

- a page reaches its receiver once per group, with the runbook link; the repeat interval holds;
- a receiver that hangs and one that refuses connections neither delay the ticks (counted while
  their deliveries are in flight) nor lose a receipt, and the fallback receiver gets the failed pages;
- ``ksctl run`` wires the sink and names a missing secret by its reference at start."""

from __future__ import annotations

import asyncio
import json
import time

from killswitch.compile.compiler import compile_documents
from killswitch.events import Event
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.policy.load import load_text
from killswitch.process.options import RunOptions
from tests.integration.runner.rig import T0, TICK_MS, parts_of, setup
from tests.procs import free_port

from .rig import Receipts, ReceiverServer, audit, deliveries_done, desk_routes, routes


def test_a_page_reaches_the_receiver_once_per_group_with_the_runbook_link_and_repeats_on_time(tmp_path):
    with ReceiverServer() as srv:
        doc = desk_routes(srv, group_wait="2m")
        runner, engine, clock, store, _, _ = setup(tmp_path)
        parts = parts_of(runner)
        sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(
            external_url="https://ks.example.com", timeout_s=5.0, poll_s=0.05))
        parts.fanout.sinks.append(sink)

        async def go():
            await runner.start()
            for i in range(60 + 20):  # the crash (5s ticks), then 20 quiet 30s ticks: 15 minutes
                clock.advance(TICK_MS if i < 60 else 30_000)
                await runner.tick()
                await deliveries_done(sink, budget_s=2 * 5.0 + 1)
            await runner.aclose()

        asyncio.run(asyncio.wait_for(go(), 300))
    pages = srv.got["desk"]
    assert len(pages) == 2, [p["title"] for p in pages]
    first, reminder = pages
    incidents = [p["decision_id"] for _, _, p in audit(store, "stage_transition")]
    assert [i.split("/")[-2] for i in incidents] == ["L1", "L2", "L3"]
    for inc in incidents:  # all three stage entries in the one page of the group, each with its runbook
        assert f"ksctl runbook render --incident {inc}" in first["message"]
        assert "https://ks.example.com/#runbook=" + inc.replace("/", "%2F") in first["message"]
    assert first["title"].startswith("[CRITICAL] crash-ladder simulated/sim-main: entered stage 3 flatten (from 2)")
    assert "mode: LIVE" in first["message"] and "reason: ESCALATED" in first["message"]
    assert "(reminder: still active)" in reminder["title"]
    assert incidents[2] in reminder["message"] and incidents[0] not in reminder["message"]  # the halt holds
    rows = [r for r in audit(store, "notification_delivered", "notification_failed") if r[2]["receiver"] == "desk"]
    assert [k for k, _, _ in rows] == ["notification_delivered"] * 2
    # the ladder was blind for its first 30 s and armed again before its group's wait of 2 minutes
    # ended: nothing to page (a page then would say BLIND of a scope armed for 95 s)
    assert srv.got["watch"] == []
    (_, t1, p1), (_, t2, _) = rows
    assert 195_000 <= t1 - T0 <= 205_000  # 75s (first entry) + group_wait 2m; the receipt may take a tick
    assert t2 - t1 >= 600_000  # not before the repeat interval
    assert p1["receiver"] == "desk" and p1["incidents"] == incidents and p1["attempt"] == 1 and p1["mode"] == "live"
    assert 'killswitch_notifications_total{receiver="desk",result="delivered"} 2.0' in sink.metrics_text()


def test_a_restarted_runner_neither_pages_again_nor_forgets_to_remind(tmp_path):
    """The halt was paged, then the runner restarted: the new one must not page it again, and
    must still remind at the repeat interval while the stage holds."""
    with ReceiverServer() as srv:
        doc = desk_routes(srv, group_wait="30s")
        runner, engine, clock, store, _, _ = setup(tmp_path)

        async def run(runner, ticks):
            sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(timeout_s=5.0, poll_s=0.05))
            parts_of(runner).fanout.sinks.append(sink)
            await runner.start()
            for _i in range(ticks):
                clock.advance(TICK_MS if clock() - T0 < 300_000 else 30_000)
                await runner.tick()
                # and the delivery under way finishes before the "restart"
                await deliveries_done(sink, budget_s=2 * 5.0 + 1)
            await runner.aclose()

        asyncio.run(asyncio.wait_for(run(runner, 62), 300))  # the crash and its pages
        before = list(srv.got["desk"])
        assert before and "entered stage 3 flatten" in before[-1]["title"]
        paged_at = [r for r in audit(store, "notification_delivered") if r[2]["receiver"] == "desk"][-1][1]
        store.close()
        again, *_ = setup(tmp_path, engine=engine, clock=clock)
        asyncio.run(asyncio.wait_for(run(again, 24), 300))  # 12 minutes more, the halt holding
    after = srv.got["desk"][len(before):]
    assert len(after) == 1, [p["title"] for p in after]  # not the halt again: only its reminder
    assert "(reminder: still active)" in after[0]["title"] and "stage 3 flatten" in after[0]["title"]
    (_, t2, _) = [r for r in audit(again.store, "notification_delivered") if r[2]["receiver"] == "desk"][-1]
    assert t2 - paged_at >= 600_000


ATTEMPT_S = 1.5  # a hanging receiver's attempt times out after this long


def test_hanging_and_refusing_receivers_neither_delay_ticks_nor_lose_receipts(tmp_path):
    closed = free_port()  # nothing listens there: connections are refused
    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route:
                receiver: fallback
                group_by: [policy, scope]
                group_wait: 2m
                group_interval: 1m
                routes:
                  - {{match: {{event: scope_blind}}, receiver: watch}}  # the ladder's first 30 s
                  - {{match_re: {{severity: ".+"}}, receiver: hang, continue: true}}
                  - {{match_re: {{severity: ".+"}}, receiver: refuse}}
              receivers:
                - {{name: hang, apprise: ["{srv.url('hang')}"]}}
                - {{name: refuse, apprise: ["json://127.0.0.1:{closed}/x"]}}
                - {{name: fallback, apprise: ["{srv.url('fallback')}"]}}
                - {{name: watch, apprise: ["{srv.url('watch')}"]}}
              fallback_receiver: fallback
            """)
        runner, engine, clock, store, _, _ = setup(tmp_path)
        parts = parts_of(runner)
        # one round of two attempts (no retry round at the next group interval: that is the same
        # delivery again, and test_a_page_that_fails_a_round_is_retried_... shows when it comes):
        # a hanging receiver's round lasts 2 x ATTEMPT_S of real time, and two rounds were most
        # of this test's wall time
        sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(
            timeout_s=ATTEMPT_S, attempts=2, backoff_s=0.2, poll_s=0.05, close_timeout_s=5.0, group_retries=0))
        parts.fanout.sinks.append(sink)
        durations, in_flight_ticks = [], 0

        def settled() -> bool:
            final = [p for k, _, p in audit(store, "notification_failed") if p["final"]]
            return {p["receiver"] for p in final} >= {"hang", "refuse"} and not sink._tasks and not sink._deliveries

        async def go():
            nonlocal in_flight_ticks
            await runner.start()
            i = 0
            while i < 60 or (not settled() and i < 600):
                clock.advance(TICK_MS if i < 60 else 1_000)
                started = time.perf_counter()
                report = await runner.tick()
                durations.append(time.perf_counter() - started)
                assert report.leader
                if sink._tasks:
                    in_flight_ticks += 1
                await asyncio.sleep(0.02)
                i += 1
            await runner.aclose()

        asyncio.run(asyncio.wait_for(go(), 120))
    print(f"\nticks: {len(durations)}, while deliveries were in flight: {in_flight_ticks}, "
          f"tick max {max(durations) * 1000:.1f}ms mean {sum(durations) / len(durations) * 1000:.1f}ms")
    assert srv.hits["hang"] >= 2  # the receiver was reached, and hung
    # A tick that waited for a hanging attempt would last at least the attempt's timeout: that is
    # the bound, not a guess at how fast a tick is (a few ms idle; tens of ms with both cores
    # busy). And the runner kept ticking while the attempts hung (2 x ATTEMPT_S of real time).
    assert max(durations) < ATTEMPT_S, f"a tick took {max(durations):.2f}s: it waited for a delivery"
    assert in_flight_ticks >= 3
    failed = [p for k, _, p in audit(store, "notification_failed")]
    for name, result in (("hang", "timeout"), ("refuse", "failed")):
        mine = [p for p in failed if p["receiver"] == name]
        assert mine and {p["result"] for p in mine} == {result}, mine
        assert sorted(p["attempt"] for p in mine if p["final"]) == [2] * len([p for p in mine if p["final"]])
        assert {p["attempt"] for p in mine} == {1, 2}
    delivered = [p for k, _, p in audit(store, "notification_delivered") if p["receiver"] != "watch"]
    assert {p["fallback_for"] for p in delivered} == {"hang", "refuse"}
    titles = [m["title"] for m in srv.got["fallback"]]
    assert any(t.startswith("[CRITICAL] NOTIFICATION FAILED to hang: ") for t in titles), titles
    assert any(t.startswith("[CRITICAL] NOTIFICATION FAILED to refuse: ") for t in titles), titles
    trail = json.dumps(failed + delivered)
    # a receiver's address would show as host:port in some string; a bare 5-digit number in the
    # trail (a latency, a hash) is not one, and matching it made this test fail by chance
    for leak in ("127.0.0.1", f":{srv.port}", f":{closed}", "json://"):
        assert leak not in trail, leak
    metrics = sink.metrics_text()
    assert 'killswitch_notifications_total{receiver="hang",result="failed"}' in metrics
    assert 'killswitch_notification_attempts_total{receiver="refuse",result="failed"}' in metrics


def test_a_delivery_cut_short_by_shutdown_leaves_a_cancelled_receipt(tmp_path):
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route: {{receiver: hang, group_wait: 0s}}
              receivers: [{{name: hang, apprise: ["{srv.url('hang')}"]}}]
            """)
        sink = NotifySink.from_documents([doc], receipts=Receipts(store), options=NotifyOptions(
            timeout_s=30.0, poll_s=0.05, close_timeout_s=0.5))

        class R:
            graph, dry_run = None, False

        async def go():
            sink.on_event(Event.make("dms_fired", T0, {"incident": "dms/1"}, reason="HEARTBEAT_LOST"), R())
            for _ in range(100):
                await asyncio.sleep(0.02)
                if srv.hits["hang"]:
                    break
            started = time.perf_counter()
            await sink.aclose()
            return time.perf_counter() - started

        closing = asyncio.run(asyncio.wait_for(go(), 30))
    assert srv.hits["hang"] == 1 and closing < 2.0
    (row,) = [p for _, _, p in audit(store, "notification_failed")]
    assert row["result"] == "cancelled" and row["final"] and row["receiver"] == "hang"
    assert row["event_kinds"] == ["dms_fired"] and row["incidents"] == ["dms/1"] and row["mode"] == "live"
    store.close()


def test_a_page_for_a_receiver_whose_secret_is_missing_goes_to_the_fallback(tmp_path):
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route: {{receiver: pager, group_wait: 0s}}
              receivers:
                - {{name: pager, apprise: [{{env: KS_TEST_MISSING_PAGER}}]}}
                - {{name: fallback, apprise: ["{srv.url('fallback')}"]}}
                - {{name: watch, apprise: ["{srv.url('watch')}"]}}
              fallback_receiver: fallback
            """)
        sink = NotifySink.from_documents([doc], receipts=Receipts(store), environ={}, strict=False,
                                         options=NotifyOptions(poll_s=0.05))

        class R:
            graph, dry_run = None, True

        async def go():
            sink.on_event(Event.make("order_failed", T0, {"client_order_id": "ks-1"}, venue="binanceusdm",
                                     account="main", reason="INSUFFICIENT_MARGIN"), R())
            for _ in range(200):
                await asyncio.sleep(0.02)
                if srv.got["fallback"]:
                    break
            await sink.aclose()

        asyncio.run(asyncio.wait_for(go(), 30))
    (page,) = srv.got["fallback"]
    assert page["title"] == ("[CRITICAL] NOTIFICATION FAILED to pager: [CRITICAL] [DRY RUN] order failed on "
                             "binanceusdm/main: INSUFFICIENT_MARGIN")
    assert "last result: unresolved" in page["message"]
    rows = audit(store, "notification_receivers_unresolved", "notification_failed", "notification_delivered")
    assert [(k, p.get("receiver"), p.get("result")) for k, _, p in rows] == [
        ("notification_receivers_unresolved", None, None), ("notification_failed", "pager", "unresolved"),
        ("notification_delivered", "fallback", "delivered")]
    assert rows[0][2]["problems"] == ['receiver "pager" of routes desk: {env: KS_TEST_MISSING_PAGER} is not set']
    assert rows[2][2]["mode"] == "dry-run"
    store.close()


def test_enqueueing_an_event_costs_microseconds(tmp_path):
    doc = routes("""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {name: desk}
        spec:
          route: {receiver: r}
          receivers: [{name: r, apprise: ["json://127.0.0.1:9/r"]}]
        """)
    sink = NotifySink.from_documents([doc], options=NotifyOptions(queue_size=100_000))
    event = Event.make("stage_transition", T0, {"incident": "p/s/L1/e1"}, policy="p", scope="s", level=1)

    class R:
        graph, dry_run, store = None, True, None

    async def go():
        r = R()
        sink.on_event(event, r)  # starts the worker
        n = 10_000
        started = time.perf_counter()
        for _ in range(n):
            sink.on_event(event, r)
        per_event = (time.perf_counter() - started) / n
        sink._closing = True
        sink._wake()
        await sink._worker
        return per_event

    per_event = asyncio.run(go())
    print(f"\non_event: {per_event * 1e6:.2f}µs per event")
    assert per_event < 100e-6


def test_ksctl_run_adds_the_sink_last_and_names_a_missing_secret_by_its_reference(tmp_path, monkeypatch):
    monkeypatch.delenv("KS_APPRISE_DESK_CHAT", raising=False)
    from tests.conftest import POLICIES

    text = (POLICIES / "futures-book.yaml").read_text() + "\n---\n" + (POLICIES / "routes.yaml").read_text()
    result = compile_documents(load_text(text, "p.yaml"))
    errors: list[str] = []
    from killswitch.process.bootstrap import SinkOptions, runner_sinks
    from killswitch.state import open_store

    opts = RunOptions(("unused",), "unused", "unused", "unused")
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")  # the audit anchor sink reads its head
    sinks = runner_sinks(result, store, SinkOptions(policies=opts.policies), echo=lambda m: None,
                         err=errors.append)  # the sinks as `ksctl run` builds them

    async def close_all():
        for s in sinks:
            await s.aclose()

    asyncio.run(close_all())
    store.close()
    assert isinstance(sinks[-1], NotifySink)
    assert any("{file: /var/run/secrets/killswitch/desk-chat-url} does not exist" in e for e in errors), errors
    assert any("{file: /var/run/secrets/killswitch/pager-url} does not exist" in e for e in errors), errors
    assert ("desk", "audit-webhook") in sinks[-1].receivers
