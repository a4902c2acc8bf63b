"""Notifications end to end: a real Runner through the flash crash, apprise ``json://`` receivers
served by a local aiohttp server, receipts read back from the audit trail.

- a page reaches its receiver once per group, with the runbook link; the repeat interval holds;
- a receiver that hangs and one that refuses connections neither delay the ticks (counted while
  their deliveries are in flight) nor lose a receipt, and the fallback receiver gets the failed pages;
- ``ksctl run`` wires the sink and names a missing secret by its reference at start.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from collections import defaultdict

from aiohttp import web

from killswitch.compile.compiler import compile_documents
from killswitch.events import Event
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes
from killswitch.process.options import RunOptions
from tests.integration.test_runner import T0, TICK_MS, parts_of, setup
from tests.procs import free_port


class ReceiverServer:
    """apprise json:// receivers on 127.0.0.1 in a thread of their own: /hang never answers,
    /fail answers 500, /unauthorized 401, a path named in ``fail_first`` answers 500 to that many
    requests first, any other path records the message and answers 200."""

    def __init__(self, fail_first: dict[str, int] | None = None):
        self.port = free_port()
        self.got: dict[str, list[dict]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)
        self.fail_first = dict(fail_first or {})
        self._loop = None
        self._stop = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        if name == "hang":
            await asyncio.sleep(60)
        if name == "unauthorized":
            return web.Response(status=401)
        if name == "fail" or self.hits[name] <= self.fail_first.get(name, 0):
            return web.Response(status=500)
        self.got[name].append(json.loads(await request.text()))
        return web.Response(text="ok")

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def url(self, name: str) -> str:
        return f"json://127.0.0.1:{self.port}/{name}"


def routes(text: str) -> NotificationRoutes:
    res = compile_documents(load_text(textwrap.dedent(text), "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))


def desk_routes(srv: ReceiverServer, *, group_wait: str) -> NotificationRoutes:
    """One receiver, ``desk``, on ``srv``; groups by policy and scope, repeats every 10 minutes.
    The pages saying a scope is blind (the ladder's window fills in its first 30 s) go to a
    receiver of their own, ``watch``, so that ``desk`` carries the stage pages alone."""
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route:
            receiver: desk
            group_by: [policy, scope]
            group_wait: {group_wait}
            group_interval: 1m
            repeat_interval: 10m
            routes:
              - {{match: {{event: scope_blind}}, receiver: watch}}
          receivers:
            - {{name: desk, apprise: ["{srv.url('desk')}"]}}
            - {{name: watch, apprise: ["{srv.url('watch')}"]}}
        """)


class Receipts:
    """The runner's receipt writer as a sink with no runner has it: each row appended to ``store``
    unfenced, as a runner that never led writes its own."""

    def __init__(self, store):
        self.store = store

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict) -> int:
        return self.store.audit(kind, ts_ms, payload)


def audit(store, *kinds) -> list[tuple[str, int, dict]]:
    """(kind, ts, payload) of the audit rows of these kinds, in chain order."""
    if hasattr(store, "audit_rows"):
        return [(r.kind, r.ts_ms, r.payload) for r in store.audit_rows(kinds=list(kinds), limit=10_000)]
    with store._tx(write=False) as cur:  # a store without a reader yet: the table itself
        rows = cur.execute("SELECT kind, ts_ms, payload FROM audit_log ORDER BY seq").fetchall()
    return [(k, ts, json.loads(p)) for k, ts, p in rows if k in kinds]


class Steps:
    """The sink worker's steps, counted as each ends: a test waits for the step after what it
    did (a tick, a restore), in which the worker routes what is queued and flushes what is due."""

    def __init__(self, sink: NotifySink):
        self.done = 0
        self.sink = sink
        self.stepped = asyncio.Event()
        step = sink._step

        def counted(*args, **kwargs):
            try:
                step(*args, **kwargs)
            finally:
                self.done += 1
                self.stepped.set()
        sink._step = counted  # type: ignore[method-assign]

    async def next(self) -> None:
        """The worker woken (as an event queued for it wakes it) and its next step waited for:
        left to its poll (``poll_s``, 50 ms here), each tick of a test waited that long in real
        time, and a few hundred ticks took seconds; the fake clock a step reads is the same."""
        seen = self.done

        async def stepped() -> None:
            while self.done <= seen:
                self.stepped.clear()
                self.sink._wake()
                await self.stepped.wait()

        try:
            await asyncio.wait_for(stepped(), 60)
        except asyncio.TimeoutError:
            raise AssertionError("gave up waiting: the notify worker's next step") from None


async def deliveries_done(sink: NotifySink, budget_s: float) -> None:
    """Wait (real time) until the sink has no delivery queued or in flight, at most ``budget_s``.

    The runner's clock here is a fake one that the test moves by 5-30 s a tick, while deliveries
    take real time in apprise's thread. Sleeping a fixed 10 ms between ticks let a slow delivery
    (a loaded machine) span several fake ticks, so its receipt was stamped 30 s or 60 s late and
    the time bounds failed for a reason that is not the sink's. Waiting for the deliveries to end
    before the clock moves on makes the fake time at which a page lands deterministic; the budget
    is what a delivery may take by its own options (attempts of timeout_s each), so a hung sink
    still fails the test instead of hanging it."""
    deadline = time.monotonic() + budget_s
    while sink._deliveries or sink._tasks:
        if time.monotonic() > deadline:
            return  # the assertions that follow say what was (not) delivered
        await asyncio.sleep(0.01)


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


# --- retried at the next group interval, then the fallback; resolved notifications -----------------


def flaky_routes(srv: ReceiverServer) -> NotificationRoutes:
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: pager, group_by: [policy, scope], group_wait: 0s, group_interval: 1m}}
          receivers:
            - {{name: pager, apprise: ["{srv.url('pager')}"]}}
            - {{name: fallback, apprise: ["{srv.url('fallback')}"]}}
          fallback_receiver: fallback
        """)


def halt(ts: int) -> Event:
    return Event.make("stage_transition", ts, {"from": 0, "to": 3, "incident": "book/okx/main/L3/e1",
                                               "dry_run": False, "reason": "DRAWDOWN_LIMIT"},
                      policy="book", scope="okx/main", stage="flatten", level=3, from_level=0,
                      severity="critical")


def run_flaky(tmp_path, fail_first: int) -> tuple[ReceiverServer, list[tuple[str, int, dict]]]:
    """A halt paged to ``pager``, which answers 500 to its first ``fail_first`` requests; two
    attempts per round, one retry at the next group interval (the sink's fake clock advances
    10s of a minute-long group interval per 50ms of real time)."""
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    now = [T0]
    with ReceiverServer(fail_first={"pager": fail_first}) as srv:
        sink = NotifySink.from_documents([flaky_routes(srv)], receipts=Receipts(store), clock=lambda: now[0],
                                         options=NotifyOptions(timeout_s=5.0, attempts=2, backoff_s=0.05, poll_s=0.02,
                                                               group_retries=1))

        class R:
            graph, dry_run = None, False

        async def go():
            sink.on_event(halt(T0), R())
            for _ in range(300):
                await asyncio.sleep(0.05)
                now[0] += 10_000
                if srv.got["pager"] or srv.got["fallback"]:
                    break
            await sink.aclose()

        asyncio.run(asyncio.wait_for(go(), 60))
    rows = audit(store, "notification_delivered", "notification_failed")
    store.close()
    return srv, rows


def test_a_page_that_fails_a_round_is_retried_at_the_next_group_interval_not_sent_to_the_fallback(tmp_path):
    srv, rows = run_flaky(tmp_path, fail_first=2)  # the whole first round fails
    assert srv.hits["pager"] == 3 and len(srv.got["pager"]) == 1 and srv.got["fallback"] == []
    assert srv.got["pager"][0]["title"].startswith("[CRITICAL] book okx/main: entered stage 3 flatten")
    got = [(k, p["round"], p["attempt"], p["result"], p["final"]) for k, _, p in rows]
    assert got == [("notification_failed", 1, 1, "failed", False), ("notification_failed", 1, 2, "failed", False),
                   ("notification_delivered", 2, 1, "delivered", True)]
    (_, _, last_fail), (_, t_ok, _) = rows[1], rows[2]
    assert t_ok >= last_fail["retry_at_ms"] >= T0 + 60_000  # not before the group's next flush
    # each receipt names what was paged: its title, as the receiver got it (the report's table)
    assert {p["title"] for _, _, p in rows} == {srv.got["pager"][0]["title"]}
    assert "json://" not in json.dumps([p for _, _, p in rows]) and f":{srv.port}" not in json.dumps(rows)


def test_a_page_that_fails_its_retry_too_goes_to_the_fallback_receiver(tmp_path):
    srv, rows = run_flaky(tmp_path, fail_first=4)  # both rounds fail
    assert srv.hits["pager"] == 4 and srv.got["pager"] == []
    (page,) = srv.got["fallback"]
    assert page["title"].startswith("[CRITICAL] NOTIFICATION FAILED to pager: [CRITICAL] book okx/main")
    assert "after 2 attempt(s) in each of 2 rounds one group interval apart" in page["message"]
    got = [(p["receiver"], p["round"], p["attempt"], p["final"]) for _, _, p in rows]
    assert got == [("pager", 1, 1, False), ("pager", 1, 2, False), ("pager", 2, 1, False), ("pager", 2, 2, True),
                   ("fallback", 1, 1, True)]  # the fallback is a delivery of its own
    assert rows[-1][2]["fallback_for"] == "pager"


def test_a_reset_halt_sends_a_resolved_notification_only_to_receivers_with_send_resolved(tmp_path):
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    now = [T0]
    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route:
                receiver: chat
                group_by: [policy, scope]
                group_wait: 0s
                group_interval: 1m
                routes:
                  - {{match: {{severity: critical}}, receiver: pager, continue: true}}
                  - {{receiver: chat}}
              receivers:
                - {{name: pager, apprise: ["{srv.url('pager')}"]}}
                - {{name: chat, apprise: ["{srv.url('chat')}"], send_resolved: false}}
            """)
        sink = NotifySink.from_documents([doc], receipts=Receipts(store), clock=lambda: now[0],
                                         options=NotifyOptions(timeout_s=5.0, poll_s=0.02))

        class R:
            graph, dry_run = None, False

        async def wait_for(cond) -> None:
            for _ in range(200):
                await asyncio.sleep(0.05)
                now[0] += 5_000
                if cond():
                    return
            raise AssertionError(f"not reached: pager {srv.got['pager']} chat {srv.got['chat']}")

        async def go():
            sink.on_event(halt(T0), R())
            await wait_for(lambda: srv.got["pager"] and srv.got["chat"])
            sink.on_event(Event.make("reset", now[0], {"released": True, "result": "RESET"}, policy="book",
                                     scope="okx/main", level=3), R())
            await wait_for(lambda: len(srv.got["pager"]) == 2 and len(srv.got["chat"]) == 2)
            await sink.aclose()

        asyncio.run(asyncio.wait_for(go(), 60))
    rows = audit(store, "notification_delivered")
    store.close()
    assert [(p["receiver"], p["resolved"]) for _, _, p in rows if p["receiver"] == "pager"] == [
        ("pager", False), ("pager", True)]
    resolved = srv.got["pager"][1]
    assert resolved["title"] == "[RESOLVED] book okx/main: stage 3 flatten is over, reset (RESET)"
    assert resolved["type"] == "success" and "ksctl runbook render --incident book/okx/main/L3/e1" in \
        resolved["message"]
    assert [("RESOLVED" in m["title"] + m["message"]) for m in srv.got["chat"]] == [False, False]
    assert "reset approval (RESET)" in srv.got["chat"][1]["title"]


def test_a_runner_s_halt_reset_by_an_operator_is_paged_resolved(tmp_path):
    """The real runner through the flash crash: stage 3 latched and paged; an operator's reset
    releases it and the pager hears, once, that it is over."""
    with ReceiverServer() as srv:
        doc = desk_routes(srv, group_wait="10s")
        runner, engine, clock, store, _, desk = setup(tmp_path)
        parts = parts_of(runner)
        sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(timeout_s=5.0, poll_s=0.05))
        parts.fanout.sinks.append(sink)
        steps = Steps(sink)

        async def settle(ticks: int, step_ms: int) -> None:
            for _ in range(ticks):
                clock.advance(step_ms)
                await runner.tick()
                await steps.next()  # the tick's events routed, what is due flushed
                await deliveries_done(sink, budget_s=11)

        async def go():
            await runner.start()
            await settle(60, TICK_MS)  # the crash: stage 3 flatten, latched
            await settle(40, 30_000)  # the market settles; the halt holds (and is repeated)
            assert srv.got["desk"], "the halt was never paged"
            done = await desk.reset("crash-ladder", "simulated/sim-main", "alice", "flat and reconciled",
                                      confirm_relatch=True)
            assert done.done, done.reason
            await settle(30, 5_000)  # past the group's next flush
            await settle(40, 30_000)  # 20 quiet minutes: nothing more
            await runner.aclose()

        asyncio.run(asyncio.wait_for(go(), 120))
    titles = [p["title"] for p in srv.got["desk"]]
    resolved = [t for t in titles if t.startswith("[RESOLVED]")]
    assert resolved == ["[RESOLVED] crash-ladder simulated/sim-main: stage 3 flatten is over, "
                        "reset (MANUAL_RESET: stage=3 approvers=alice)"], titles
    assert titles[-1] == resolved[0]  # nothing after it: no reminder of a released halt
    body = srv.got["desk"][-1]["message"]
    # the halt's entry, once; stages 1 and 2 were superseded by the escalation, not resolved
    assert body.count("RESOLVED ") == 1 and "was: CRITICAL crash-ladder simulated/sim-main: entered stage 3" in body
    assert "INFO crash-ladder simulated/sim-main: reset approval (MANUAL_RESET" in body  # the reset itself
