"""The sink's delivery scheduling, with hand-written receivers instead of apprise: one delivery
at a time per receiver, and a slow receiver does not hold back the others."""

from __future__ import annotations

import asyncio
import threading

from killswitch.events import Event
from killswitch.notify.receivers import SendResult
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.unit.notify.routes.test_routes import routes_doc

DOC = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route:
    receiver: slow
    group_by: [scope]
    group_wait: 0s
    routes:
      - {match: {scope: fast}, receiver: fast}
  receivers:
    - {name: slow, apprise: ["json://127.0.0.1:9/slow"]}
    - {name: fast, apprise: ["json://127.0.0.1:9/fast"]}
"""


class GatedReceiver:
    """Blocks every send until released; records how many sends ran at once."""

    def __init__(self, name: str, gate: threading.Event):
        self.name, self.gate = name, gate
        self.lock = threading.Lock()
        self.running = self.max_running = self.sent = 0

    def send(self, message, timeout_s):
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.gate.wait(10)
        with self.lock:
            self.running -= 1
            self.sent += 1
        return SendResult("delivered")


class Store:
    """The receipts as the runner's audit writer takes them (SinkContext.audit_receipt)."""

    def __init__(self):
        self.rows = []

    def audit_receipt(self, kind, ts, payload):
        self.rows.append((kind, threading.current_thread() is threading.main_thread(), payload))
        return len(self.rows)


class R:
    graph, dry_run = None, True


def test_one_delivery_at_a_time_per_receiver_and_a_slow_one_holds_back_no_other():
    slow_gate, fast_gate = threading.Event(), threading.Event()
    fast_gate.set()
    slow, fast = GatedReceiver("slow", slow_gate), GatedReceiver("fast", fast_gate)
    store = Store()
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "slow"): slow, ("desk", "fast"): fast},
                      receipts=store, options=NotifyOptions(poll_s=0.01, concurrency=4))

    async def go():
        for scope in ("a", "b", "c"):  # three groups for the slow receiver
            sink.on_event(Event.make("snapshot_failed", 0, {}, scope=scope), R())
        sink.on_event(Event.make("snapshot_failed", 0, {}, scope="fast"), R())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if fast.sent:
                break
        fast_done_while_slow_blocked = fast.sent == 1 and slow.sent == 0
        queued_for_slow = len(sink._deliveries)
        slow_gate.set()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if slow.sent == 3:
                break
        await sink.aclose()
        return fast_done_while_slow_blocked, queued_for_slow

    fast_first, queued = asyncio.run(asyncio.wait_for(go(), 30))
    assert fast_first and queued == 2
    assert slow.sent == 3 and slow.max_running == 1
    delivered = [(on_main, p["receiver"]) for kind, on_main, p in store.rows if kind == "notification_delivered"]
    assert sorted(r for _, r in delivered) == ["fast", "slow", "slow", "slow"]
    assert all(on_main for on_main, _ in delivered)  # receipts are written on the event loop's thread


def test_a_notification_dropped_from_a_full_delivery_queue_leaves_a_receipt():
    gate = threading.Event()
    slow = GatedReceiver("slow", gate)
    store = Store()
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "slow"): slow}, receipts=store,
                      options=NotifyOptions(poll_s=0.01, concurrency=1, delivery_queue_size=1))

    async def go():
        sink.on_event(Event.make("snapshot_failed", 0, {}, scope="a"), R())
        for _ in range(200):  # the first is in flight (and blocked) before the others come
            await asyncio.sleep(0.01)
            if slow.running:
                break
        sink.on_event(Event.make("snapshot_failed", 0, {}, scope="b"), R())
        sink.on_event(Event.make("stage_transition", 0, {}, scope="c", severity="critical"), R())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(k == "notification_failed" for k, _, _ in store.rows):
                break
        gate.set()
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    (dropped,) = [p for k, _, p in store.rows if k == "notification_failed"]
    assert dropped["result"] == "dropped" and dropped["group_key"].endswith('{scope="b"}')
    delivered = sorted(p["group_key"].rsplit(":", 1)[1] for k, _, p in store.rows if k == "notification_delivered")
    assert delivered == ['{scope="a"}', '{scope="c"}']
    assert sink.dropped == {("deliveries", "other"): 1}
    assert 'killswitch_notifications_total{receiver="slow",result="dropped"} 1.0' in sink.metrics_text()


class _Answer:
    """What apprise's notify returns (2.x): a status with a name, results, a failed count."""

    def __init__(self, status: str):
        from types import SimpleNamespace

        self.status = SimpleNamespace(name=status)
        self.results: list = []
        self.failed_count = 1


class _SlowApprise:
    def __init__(self, status: str, takes_s: float):
        self.status, self.takes_s = status, takes_s

    def notify(self, **kw):
        import time

        time.sleep(self.takes_s)
        return _Answer(self.status)


def test_a_failure_reported_at_or_after_the_deadline_is_a_timeout_and_an_early_one_a_failure():
    from killswitch.notify.message import Message
    from killswitch.notify.receivers import ResolvedReceiver

    msg = Message("t", "b", "info")
    late = ResolvedReceiver("slow", ("json://…",), _SlowApprise("FAILURE", 0.12)).send(msg, 0.1)
    early = ResolvedReceiver("down", ("json://…",), _SlowApprise("FAILURE", 0.0)).send(msg, 0.1)
    told = ResolvedReceiver("told", ("json://…",), _SlowApprise("TIMEOUT", 0.0)).send(msg, 0.1)
    assert (late.result, early.result, told.result) == ("timeout", "failed", "timeout")


class Capture:
    """A receiver that keeps every message it was given."""

    name = "capture"

    def __init__(self):
        self.messages = []

    def send(self, message, timeout_s):
        self.messages.append(message)
        return SendResult("delivered")


def test_a_refused_close_of_both_legs_of_a_hedge_pages_each_leg():
    """Issue 65, medium 6: both legs' close_residual events had one fingerprint, so the 80 ETH short
    replaced the 30 ETH long in the alert and one leg alone was paged. Each leg is its own alert."""
    doc = DOC.replace("group_by: [scope]", "group_by: [account]")
    capture = Capture()
    sink = NotifySink({"desk": compile_routes(routes_doc(doc))}, {("desk", "slow"): capture, ("desk", "fast"): capture},
                      receipts=Store(), options=NotifyOptions(poll_s=0.01, concurrency=2))

    def leg(side: str, ps: str, amount: float) -> Event:  # as the runner's shortfalls make it
        from types import SimpleNamespace

        from killswitch.runner.book.residuals import Residual, ResidualBook
        from killswitch.runner.venue.shortfalls import Shortfalls

        class Lead:
            async def audit(self, *args):
                return 1

        made = Shortfalls(SimpleNamespace(residuals=ResidualBook()), None, None, dry_run=False, clock=lambda: 0,
                          lead=Lead(), persist=None)
        [event] = asyncio.run(made._residual(Residual(
            "manual/binanceusdm/sim-hedge/m1", None, "binanceusdm/sim-hedge", 0, "binanceusdm/sim-hedge",
            "ETH/USDT:USDT", side, ps, amount, "CLOSE_REJECTED",
            "1 of 1 orders rejected by the venue: -2022 ReduceOnly Order is rejected.", 0, 0)))
        return event

    events = [leg("long", "LONG", 30.0), leg("short", "SHORT", 80.0)]

    async def go():
        for event in events:
            sink.on_event(event, R())
        for _ in range(300):
            await asyncio.sleep(0.01)
            if capture.messages:
                break
        await sink.aclose()

    asyncio.run(go())
    text = "\n".join(m.title + "\n" + m.body for m in capture.messages)
    # each leg in the words of its standing fact (killswitch/facts/residuals.py), as ksctl status says it
    assert "RESIDUAL binanceusdm/sim-hedge ETH/USDT:USDT long LONG 30: CLOSE_REJECTED (1 of 1 orders" in text, text
    assert "RESIDUAL binanceusdm/sim-hedge ETH/USDT:USDT short SHORT 80: CLOSE_REJECTED (1 of 1 orders" in text, text
    # and the title names both legs, the larger not hidden behind "+1 more"
    titles = [m.title for m in capture.messages if "left open" in m.title]
    assert any("2 legs left open, no longer closed: ETH/USDT:USDT LONG 30 on binanceusdm/sim-hedge; ETH/USDT:USDT "
               "SHORT 80 on binanceusdm/sim-hedge" in t for t in titles), titles
    assert not any("more)" in t for t in titles), titles
