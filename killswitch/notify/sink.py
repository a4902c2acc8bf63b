"""The notification sink of the runner: route, group, send through apprise, leave a receipt.

What it owns: a bounded queue of events, the :class:`~killswitch.notify.dispatch.Dispatcher`
(groups, timers, inhibition), a bounded queue of deliveries, and the asyncio tasks that work
them off. What it must not do: block a tick, print a secret, or lose a receipt.

:class:`NotifySink` is built from three parts, each in its own module over the fields
:mod:`.sink_hooks` declares: :class:`~.delivery.Delivery` (a notification queued, sent
through its receiver, retried, handed to the fallback receiver), :class:`~.receipts.Receipts`
(every audit row the sink writes, and its ``/metrics`` families) and :class:`~.takeup.TakeUp`
(what the receipts say a stopped runner handed over after its save). It keeps here what a page
goes through before it is sent, and the state kept across takeovers:

- ``on_event`` / ``on_tick`` only enqueue and wake the worker (microseconds). A full queue
  drops its oldest non-critical entry (a critical one only when everything queued is
  critical) and counts the drop; the worker writes a ``notification_dropped`` audit row, and
  a dropped notification leaves its own ``notification_failed`` receipt (result ``dropped``).
- The worker task routes events, flushes groups when their timers come (the clock is the
  sink's, in milliseconds, so tests drive it with a fake clock) and starts deliveries, at most
  ``concurrency`` at a time (:mod:`.delivery`).
- Every attempt leaves an audit row, fenced by the runner's token (:mod:`.receipts`).
- Silences (:mod:`killswitch.silences`, read from the runner's context at every flush): a page
  an active silence matches is not sent but recorded (:mod:`.receipts`) when it would have been
  sent, a repeat included: never dropped unseen.
- Whether pages reach people (:class:`~killswitch.notify.health.PageHealth`): every round's
  outcome per receiver, with the cause of a failure in fixed words (connection refused, HTTP
  401, timeout after 10s); a notification that reached no receiver — its rounds and its
  fallback failed, or it had no fallback — is an ERROR line ``PAGES_FAILING`` naming each
  receiver and its cause, and the first round a named receiver delivers again an INFO line
  ``PAGES_RECOVERED``. ``status_fields()`` gives the runner's status ``pages_failing`` and
  ``pages_failing_since_ms``.
- The state kept across takeovers: the groups, their alerts and what was last notified, and the
  receivers failing with their first "since" (``state_doc`` / ``restore_state``), saved with the
  engine state every tick; the receipts written since that save (:mod:`.replay`, taken up by
  :mod:`.takeup`) say what was delivered after it, not sent again. A receiver whose secret does
  not resolve is failing from the start (or the reload that found it), before any page is tried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from ..events import FAILED_LABEL, NOT_PAGED, SENT_LABEL, Event
from ..metrics import Registry
from ..policy.routes_doc import NotificationRoutes
from .causes import cause_of_result
from .delivery import Delivery
from .dispatch import Dispatcher, placements
from .health import PageHealth
from .queues import NotifyOptions, _bounded_append, _Item, _Job
from .receipts import Receipts, page_latency_histogram
from .receivers import ResolvedReceiver, SendResult, resolve_all, resolve_receivers
from .replay import Handed
from .routes import RouteTree, trees_of
from .takeup import TakeUp

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..events import ReceiptWriter, SinkContext

log = logging.getLogger("killswitch.notify")


def wall_ms() -> int:
    return int(time.time() * 1000)


class NotifySink(Delivery, Receipts, TakeUp):
    """A runner sink (see :mod:`killswitch.events`) delivering notifications through apprise:
    the routing, grouping and timers of its worker, the state kept across takeovers and the
    shutdown here; sending (:class:`~.delivery.Delivery`) and receipts and counters
    (:class:`~.receipts.Receipts`) in its parts.
    """

    name = "notify"

    def __init__(self, trees: Mapping[str, RouteTree], receivers: Mapping[tuple[str, str], ResolvedReceiver], *,
                 receipts: Optional["ReceiptWriter"] = None, clock: Callable[[], int] = wall_ms,
                 options: NotifyOptions = NotifyOptions(),
                 unresolved: Optional[Mapping[tuple[str, str], list[str]]] = None):
        self.trees = dict(trees)
        self.receivers = dict(receivers)
        self.unresolved = dict(unresolved or {})  # (document, receiver) -> problems, by reference
        self._unresolved_audited = not self.unresolved
        self.receipts = receipts  # None: the context of the runner whose events this sink pages
        self._ctx: Optional["SinkContext"] = None  # that runner, as its sinks see it
        self.clock = clock
        self.options = options
        self.dispatcher = Dispatcher(self.trees, options.resolve_timeout_ms)
        self._events: deque[_Item] = deque()
        self._deliveries: deque[_Job] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._busy: set[tuple[str, str]] = set()  # (document, receiver) with a delivery in flight
        self._dropped_jobs: list[_Job] = []
        self._worker: Optional[asyncio.Task] = None
        self._wake_ev: Optional[asyncio.Event] = None
        self._executor: Optional[ThreadPoolExecutor] = None
        self._closing = False
        self.dropped: dict[tuple[str, str], int] = {}
        self._dropped_audited = 0
        self.notifications: dict[tuple[str, str], int] = {}  # (receiver, result) -> count
        self.attempts: dict[tuple[str, str], int] = {}
        self.receipt_errors = 0
        self._fenced_said = False  # RECEIPTS_FENCED said since the last receipt written
        self.latency_registry = Registry()
        self.page_latency = page_latency_histogram(self.latency_registry)
        self.health = PageHealth()
        # pages perhaps delivered just before the last runner died, and pages delivered whose
        # events its saved groups did not hold yet (see _handed_since)
        self._maybe_handed = Handed()
        self.health.know(set(self.receivers) | set(self.unresolved))
        self._unreachable()

    @classmethod
    def from_documents(cls, docs: Iterable[Any], *, receipts: Optional["ReceiptWriter"] = None,
                       environ: Optional[Mapping[str, str]] = None,
                       clock: Callable[[], int] = wall_ms, options: NotifyOptions = NotifyOptions(),
                       strict: bool = True) -> "NotifySink":
        """From NotificationRoutes models (or loaded documents).

        ``strict``: raise ReceiverError naming every secret reference that does not resolve.
        Otherwise the sink is built with the receivers that do resolve and ``problems`` lists
        the others (by reference); a notification for one of them fails at once (result
        ``unresolved``, with its receipt) and goes to the fallback receiver."""
        models = [getattr(d, "model", d) for d in docs]
        models = [m for m in models if isinstance(m, NotificationRoutes)]
        unresolved: dict[tuple[str, str], list[str]] = {}
        if strict:
            receivers = resolve_receivers(models, environ, options.timeout_s)
        else:
            receivers, unresolved = resolve_all(models, environ, options.timeout_s)
        return cls(trees_of(models), receivers, receipts=receipts, clock=clock, options=options,
                   unresolved=unresolved)

    def reload(self, docs: Iterable[Any], environ: Optional[Mapping[str, str]] = None) -> list[str]:
        """Swap in new routes documents (a policy reload): receivers are resolved again, groups of
        unchanged documents keep their timers. Returns the problems of unresolved receivers."""
        models = [getattr(d, "model", d) for d in docs]
        models = [m for m in models if isinstance(m, NotificationRoutes)]
        receivers, unresolved = resolve_all(models, environ, self.options.timeout_s)
        trees = trees_of(models)
        self.dispatcher.retree(trees)
        self.trees, self.receivers, self.unresolved = trees, receivers, unresolved
        self._unresolved_audited = not unresolved
        self.health.know(set(receivers) | set(unresolved))
        self._unreachable()
        return self.problems

    def _unreachable(self) -> None:
        """Receivers whose secret does not resolve fail from now, before any page is tried."""
        self.health.unreachable({k: cause_of_result("unresolved", self.options.timeout_s, ps)
                                 for k, ps in self.unresolved.items()}, self.clock())

    @property
    def problems(self) -> list[str]:
        return [p for ps in self.unresolved.values() for p in ps]

    # --- kept with the runner's state -------------------------------------------------------------

    def state_doc(self) -> dict:
        """Groups, alerts and what was last notified, and which receivers are failing since when
        (``health``): saved with the engine state every tick. With them the deliveries the
        receipts showed since the last save whose events the groups have not taken up again yet
        (``unheld``, :meth:`_handed_since`)."""
        now = self.clock()
        doc = {**self.dispatcher.to_json(), "health": self.health.to_json(), "saved_ms": now}
        unheld = self._maybe_handed.unheld_doc(now)
        if unheld:
            doc["unheld"] = unheld
        return doc

    def restore_state(self, doc: Optional[dict], ctx: Optional["SinkContext"] = None) -> None:
        """Take up the groups a previous leader saved (on taking the lease), and its failing
        receivers with their first "since". Events not yet routed and deliveries under way when
        it stopped are not in it."""
        if ctx is not None:
            self._ctx = ctx
        skipped = self.dispatcher.restore(doc)
        self.health.restore((doc or {}).get("health"))
        self._handed_since(doc or {})
        for kind, payload in self.dispatcher.restore_notes(skipped):
            self._audit(kind, payload)
        self._wake()

    def holds(self, event: Event) -> bool:
        """Whether ``event`` is past the queue: routed into the groups that :meth:`state_doc`
        saves (or dropped, which its receipt records). One still queued would be lost by a crash."""
        return all(item.event is not event for item in self._events)

    # --- the runner's side: enqueue only ----------------------------------------------------------

    def on_tick(self, report, ctx: "SinkContext") -> None:
        self._bind(ctx)
        self._wake()

    def on_event(self, event: Event, ctx: "SinkContext") -> None:
        self._bind(ctx)
        if self._closing or event.kind in NOT_PAGED:
            return
        item = _Item(event, getattr(ctx, "graph", None), getattr(ctx, "dry_run", None))
        _bounded_append(self._events, item, self.options.queue_size, self.dropped, "events")
        self._wake()

    def _bind(self, ctx: Optional["SinkContext"]) -> None:
        if ctx is not None:
            self._ctx = ctx
        if self._worker is None and not self._closing:
            self.start()

    def start(self) -> bool:
        """Start the worker on the running loop (done by the first tick or event). False without a loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        wake = self._wake_ev
        if wake is None:
            wake = self._wake_ev = asyncio.Event()
        if self._executor is None:
            # twice the slots: a thread given up on at the deadline may still be closing its socket
            self._executor = ThreadPoolExecutor(max_workers=2 * self.options.concurrency,
                                                thread_name_prefix="killswitch-notify")
        if self._worker is None:
            self._worker = loop.create_task(self._run(wake), name="killswitch-notify")
        return True

    def _wake(self) -> None:
        if self._wake_ev is not None:
            self._wake_ev.set()

    # --- the worker ----------------------------------------------------------------------------------

    async def _run(self, wake: asyncio.Event) -> None:
        while not self._closing:
            wake.clear()
            try:
                self._step(self.clock())
            except Exception as e:  # noqa: BLE001 - a bug here must not stop later pages
                log.error("killswitch: notify worker error: %s", type(e).__name__)
            nd = self.dispatcher.next_due()
            wait = self.options.poll_s
            if nd is not None:
                wait = min(wait, max(0.05, (nd - self.clock()) / 1000))
            try:
                await asyncio.wait_for(wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _step(self, now: int, flush_all: bool = False) -> None:
        if not self._unresolved_audited and self._writer() is not None:
            self._unresolved_audited = True
            self._audit("notification_receivers_unresolved", {
                "receivers": [f"{doc}/{name}" for doc, name in sorted(self.unresolved)], "problems": self.problems})
        self._drain(now)
        silences = self._silences()
        flushed = (self.dispatcher.flush_pending(now, silences) if flush_all
                   else self.dispatcher.flush_due(now, silences))
        for n in flushed:
            if n.silenced:
                self._record_silenced(n)
            if n.sends:
                self._submit(n)
        self._start_deliveries()
        self._audit_drops()

    def _drain(self, now: int) -> None:
        while self._events:
            item = self._events.popleft()
            node_types = self._signal_types(item)
            for p in placements(item.event.labels, item.graph, self.trees):
                routed = self.dispatcher.insert(item.event, p, now, {"dry_run": item.dry_run,
                                                                     "signal_types": node_types})
                if item.event.data.get("resumed") and self._maybe_handed.unheld:
                    self._handed_again(routed)

    @staticmethod
    def _signal_types(item: _Item) -> dict[str, str]:
        policy = item.event.labels.get("policy")
        if not policy or item.graph is None:
            return {}
        node = next((p for p in item.graph.policies if p.name == policy), None)
        return {s.name: s.type.value for s in node.signals} if node is not None else {}

    def _silences(self) -> tuple:
        """The silences of the runner whose events this sink pages (none before it has one)."""
        ask = getattr(self._ctx, "silences", None)
        if not callable(ask):
            return ()
        try:
            return tuple(ask())
        except Exception:  # noqa: BLE001 - a broken lookup must not stop the pages: none silenced
            return ()

    # --- receipts and counters ---------------------------------------------------------------------

    def pages_in_force(self) -> list[tuple[Mapping[str, str], str]]:
        """Each alert a group holds that still fires (not resolved, not expired), with the
        receiver of the group's route: what a silence added now would hold back. One the group
        notified already carries :data:`SENT_LABEL`: a silence holds back only its reminders and
        its resolution, not the page that went out. One whose latest notification failed every
        attempt carries :data:`FAILED_LABEL` instead: its receiver never got it, and a silence
        holds back its retries."""
        now = self.clock()
        out: list[tuple[Mapping[str, str], str]] = []
        d = self.dispatcher
        for g in d.groups.values():
            for a in g.alerts.values():
                if a.active(now, d.resolve_timeout_ms):
                    if a.fp in g.failed_fps:
                        told = {FAILED_LABEL: "true"}
                    else:
                        told = {SENT_LABEL: "true"} if a.fp in (g.last_fps or ()) else {}
                    out.append(({**a.labels, **told}, g.route.receiver))
        return out

    def status_fields(self) -> dict:
        """What the runner's status shows of the pages: ``pages_failing`` (each receiver whose
        latest round failed every attempt, with its cause, since when and how many rounds) and
        ``pages_failing_since_ms``, as plain values (:class:`killswitch.events.ReportingSink`)."""
        return self.health.status_fields()

    # --- shutdown ------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Route what is queued, send every group's unsent alerts now, wait up to ``close_timeout_s``
        for deliveries, then cancel the rest (each leaves a ``cancelled`` receipt)."""
        if self._closing:
            return
        started = self.start()
        self._closing = True
        if not started:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.close_timeout_s
        self._wake()
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._worker, max(0.0, deadline - loop.time()))
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        try:
            self._step(self.clock(), flush_all=True)
        except Exception as e:  # noqa: BLE001
            log.error("killswitch: notify worker error: %s", type(e).__name__)
        while (self._tasks or self._deliveries) and loop.time() < deadline:
            self._start_deliveries()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()),
                                   return_when=asyncio.FIRST_COMPLETED)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._deliveries:
            job = self._deliveries.popleft()
            self._count(self.notifications, job.receiver, "cancelled")
            self._receipt(job, 0, SendResult("cancelled"), True)
        self._audit_drops()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
