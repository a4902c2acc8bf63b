"""The notification sink of the runner: route, group, send through apprise, leave a receipt.

What it owns: a bounded queue of events, the :class:`~killswitch.notify.dispatch.Dispatcher`
(groups, timers, inhibition), a bounded queue of deliveries, and the asyncio tasks that work
them off. What it must not do: block a tick, print a secret, or lose a receipt.

- ``on_event`` / ``on_tick`` only enqueue and wake the worker (microseconds). A full queue
  drops its oldest non-critical entry (a critical one only when everything queued is
  critical) and counts the drop; the worker writes a ``notification_dropped`` audit row, and
  a dropped notification leaves its own ``notification_failed`` receipt (result ``dropped``).
- The worker task routes events, flushes groups when their timers come (the clock is the
  sink's, in milliseconds, so tests drive it with a fake clock) and starts deliveries, at most
  ``concurrency`` at a time.
- A delivery calls apprise in a worker thread (apprise is synchronous; its 2.x ``async_notify``
  still runs plugins in apprise's own thread pool), bounded by ``timeout_s`` — apprise's call
  deadline, the plugins' socket timeouts, and an ``asyncio.wait_for`` around the thread — and
  is attempted ``attempts`` times with exponential backoff (a *round*). One delivery at a time
  per receiver.
- A round that failed every attempt is retried at the group's next flush, ``group_interval``
  later, with what the group then holds (:meth:`~killswitch.notify.dispatch.Dispatcher.delivery_failed`),
  ``group_retries`` times (1 by default): a receiver down for a minute still gets the page
  itself. The fallback receiver gets it only when the retries failed too, when the receiver's
  secret did not resolve (no retry can help), or at shutdown.
- Every attempt leaves an audit row, written on the event loop thread, never in the apprise
  thread: ``notification_delivered`` or ``notification_failed`` with the receiver's *name*, the
  routes document, the group key, event kinds, incidents, severity, attempt, result, elapsed
  time and mode — never a URL. A delivery still running at shutdown leaves ``cancelled``.
- Every row goes through the runner's audit writer (``SinkContext.audit_receipt``), fenced by
  its token: a deposed runner's receipt is refused, counted (``receipt_errors``) and said once
  (WARNING ``RECEIPTS_FENCED``, again after a receipt is written); the page stands, never sent again.
- A notification that failed every round goes, as a failed-page notice carrying the original
  text, to the document's ``fallback_receiver`` (once: a failed fallback is only recorded).
  The receipt of a round's last attempt says ``final: false`` and ``retry_at_ms`` when a
  retry follows; ``round`` counts the rounds.
- Silences (:mod:`killswitch.silences`, read from the runner's context at every flush): a page
  an active silence matches is not sent but recorded — a ``notification_silenced`` audit row
  (receiver, routes document, group key, event kinds, incidents, severity, the silences' ids),
  an INFO line ``PAGE_SILENCED``, and ``killswitch_notifications_total{result="silenced"}`` — when
  it would have been sent, a repeat included: never dropped unseen.
- Whether pages reach people (:class:`~killswitch.notify.health.PageHealth`): every round's
  outcome per receiver, with the cause of a failure in fixed words (connection refused, HTTP
  401, timeout after 10s); a notification that reached no receiver — its rounds and its
  fallback failed, or it had no fallback — is an ERROR line ``PAGES_FAILING`` naming each
  receiver and its cause, and the first round a named receiver delivers again an INFO line
  ``PAGES_RECOVERED``. ``status_fields()`` gives the runner's status ``pages_failing`` and
  ``pages_failing_since_ms``.
- ``collect_metrics(registry)``, into the one ``/metrics`` registry:
  ``killswitch_notifications_total{receiver,result}`` (per notification, final outcome:
  delivered, partial, failed, dropped, cancelled, silenced),
  ``killswitch_notification_attempts_total{receiver,result}``,
  ``killswitch_notifications_dropped_total{queue,severity}``,
  ``killswitch_notifications_inhibited_total``, ``killswitch_notifications_time_muted_total``,
  ``killswitch_notification_queue_depth{queue}``,
  ``killswitch_notification_receipt_errors_total``,
  ``killswitch_notification_receiver_failing{document,receiver}``,
  ``killswitch_notifications_failing_since_seconds``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from ..policy.routes_doc import NotificationRoutes
from ..events import NOT_PAGED, Event
from ..metrics import Registry, render_collected
from ..state.store import FencedError
from .causes import cause_of_result
from .dispatch import Dispatcher, Notification, placements
from .health import PageHealth
from .message import compose, failed_page, mode_of
from .queues import NotifyOptions, _bounded_append, _Item, _Job
from .receivers import ResolvedReceiver, SendResult, resolve_all, resolve_receivers
from .routes import RouteTree, trees_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..events import ReceiptWriter, SinkContext

THREAD_GRACE_S = 2.0  # beyond apprise's own deadline, before the thread is given up on

log = logging.getLogger("killswitch.notify")


def wall_ms() -> int:
    return int(time.time() * 1000)


class NotifySink:
    """A runner sink (see :mod:`killswitch.events`) delivering notifications through apprise.

    Size: about 460 lines because grouping, timers, the delivery workers, receipts and the state
    kept across takeovers (``state_doc`` / ``restore_state``) share one lock and one worker's
    queue; the route tree (:mod:`.routes`), receivers (:mod:`.receivers`), rendering and dispatch
    already live apart. The delivery half (``_deliver`` … ``_receipt``) is where it would split.
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
        self.worker_errors = 0
        self.health = PageHealth()
        self.health.know(set(self.receivers) | set(self.unresolved))

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
        return self.problems

    @property
    def problems(self) -> list[str]:
        return [p for ps in self.unresolved.values() for p in ps]

    # --- kept with the runner's state -------------------------------------------------------------

    def state_doc(self) -> dict:
        """Groups, alerts and what was last notified: saved with the engine state every tick."""
        return self.dispatcher.to_json()

    def restore_state(self, doc: Optional[dict], ctx: Optional["SinkContext"] = None) -> None:
        """Take up the groups a previous leader saved (on taking the lease). Events not yet
        routed and deliveries under way when it stopped are not in it."""
        if ctx is not None:
            self._ctx = ctx
        skipped = self.dispatcher.restore(doc)
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
                self.worker_errors += 1
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
                self.dispatcher.insert(item.event, p, now, {"dry_run": item.dry_run, "signal_types": node_types})

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
            self.worker_errors += 1
            return ()

    def _record_silenced(self, n: Notification) -> None:
        """What a silence held back, recorded where a delivery's receipt would be (never sent)."""
        held = n.silenced
        kinds = sorted({a.event.kind for a in held})
        incidents = [a.event.data["incident"] for a in held if a.event.data.get("incident")]
        ids = n.silence_ids
        self._count(self.notifications, n.receiver, "silenced")
        self._audit("notification_silenced", {
            "receiver": n.receiver, "routes": n.tree, "group_key": n.group_key, "event_kinds": kinds,
            "incidents": incidents, "severity": n.silenced_severity, "silences": ids, "alerts": len(held),
            "resolved": sum(1 for a in held if a.resolved_ms is not None), "result": "silenced"})
        log.info("PAGE_SILENCED: %s page (%s) to %s/%s held back by silence %s%s", n.silenced_severity,
                 ", ".join(kinds), n.tree, n.receiver, ", ".join(ids),
                 f"; incidents {', '.join(incidents)}" if incidents else "")

    def _submit(self, n: Notification) -> None:
        msg = compose(n, self.options.external_url)
        modes = {mode_of(a) for a in n.alerts + n.resolved}
        mode = "dry-run" if modes == {"DRY RUN"} else "live" if modes == {"LIVE"} else "mixed" if len(modes) > 1 \
            else "unknown"
        job = _Job(n.tree, n.receiver, n.group_key, msg, n.severity, n.event_kinds, n.incidents, mode,
                   new=n.new, round=n.round, resolved_only=n.resolved_only, dedup_key=n.dedup_key)
        self._queue_delivery(job)

    def _queue_delivery(self, job: _Job) -> None:
        victim = _bounded_append(self._deliveries, job, self.options.delivery_queue_size, self.dropped, "deliveries")
        if victim is not None:
            self._dropped_jobs.append(victim)  # its receipt is written by the worker, not here

    def _start_deliveries(self) -> None:
        """Start queued deliveries, oldest first, one at a time per receiver (a receiver gets its
        notifications in order, and a hung one holds a single slot, not all of them)."""
        loop = asyncio.get_running_loop()
        for job in list(self._deliveries):
            if len(self._tasks) >= self.options.concurrency:
                return
            key = (job.tree, job.receiver)
            if key in self._busy:
                continue
            self._deliveries.remove(job)
            self._busy.add(key)
            task = loop.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._delivery_done, key=key))

    def _delivery_done(self, task: asyncio.Task, key: tuple[str, str]) -> None:
        self._tasks.discard(task)
        self._busy.discard(key)
        self._wake()

    async def _deliver(self, job: _Job) -> None:
        rcv = self.receivers.get((job.tree, job.receiver))
        last = SendResult("failed")
        try:
            for attempt in range(1, self.options.attempts + 1):
                job.attempts_made = attempt
                if rcv is None:
                    last = SendResult("unresolved" if (job.tree, job.receiver) in self.unresolved else "unknown")
                else:
                    last = await self._attempt(rcv, job)
                self._count(self.attempts, job.receiver, last.result)
                if last.ok:
                    self._receipt(job, attempt, last, True)
                    self._count(self.notifications, job.receiver, last.result)
                    if job.fallback_for is None:
                        self.dispatcher.delivery_succeeded(job.group_key)
                    recovered = self.health.round_delivered(job.tree, job.receiver, self.clock())
                    if recovered:
                        log.info(recovered)
                    return
                if attempt == self.options.attempts or rcv is None:
                    break
                self._receipt(job, attempt, last, False)
                await asyncio.sleep(min(self.options.backoff_s * 2 ** (attempt - 1), self.options.backoff_max_s))
        except asyncio.CancelledError:
            self._count(self.notifications, job.receiver, "cancelled")
            self._receipt(job, job.attempts_made, SendResult("cancelled"), True)
            raise
        retry_at = None
        if rcv is not None and job.fallback_for is None and not self._closing:
            retry_at = self.dispatcher.delivery_failed(job.group_key, job.new, self.clock(),
                                                       self.options.group_retries)
        self._receipt(job, job.attempts_made, last, retry_at is None, retry_at)
        self.health.round_failed(job.tree, job.receiver, self._cause(job, last), self.clock())
        if retry_at is not None:
            return  # the group's next flush sends it again
        self._count(self.notifications, job.receiver, "failed")
        if not self._fallback(job, last):
            self._lost(job)

    def _cause(self, job: _Job, res: SendResult) -> str:
        """Why ``res`` failed, in the fixed words of :mod:`.causes` (never a URL)."""
        return res.cause or cause_of_result(res.result, self.options.timeout_s,
                                            self.unresolved.get((job.tree, job.receiver), ()))

    def _lost(self, job: _Job) -> None:
        """``job``'s notification reached nobody: said as an ERROR line, each receiver with its cause."""
        tried = ([(job.tree, job.fallback_for)] if job.fallback_for is not None else []) + [(job.tree, job.receiver)]
        log.error(self.health.lost(tried, job.what(), self.clock()))

    async def _attempt(self, rcv: ResolvedReceiver, job: _Job) -> SendResult:
        start_ns = time.time_ns()
        res = await self._send(rcv, job)
        self._trace(job, res, start_ns)
        return res

    async def _send(self, rcv: ResolvedReceiver, job: _Job) -> SendResult:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        fut = loop.run_in_executor(self._executor, rcv.send, job.message, self.options.timeout_s)
        try:
            return await asyncio.wait_for(fut, self.options.timeout_s + THREAD_GRACE_S)
        except asyncio.TimeoutError:
            return SendResult("timeout", elapsed_s=time.monotonic() - started)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the type only: an apprise error text may quote a URL
            return SendResult(f"error:{type(e).__name__}", elapsed_s=time.monotonic() - started)

    def _trace(self, job: _Job, res: SendResult, start_ns: int) -> None:
        """The attempt as a span under its incident's decision, when the runner has telemetry."""
        from ..telemetry import find

        tel = find(self._ctx)
        if tel is None:
            return
        try:
            tel.record_notification(job.receiver, res.ok, start_ns, time.time_ns(),
                                    incident=job.incidents[0] if job.incidents else None,
                                    reason=None if res.ok else res.result.upper(), attempt=job.attempts_made,
                                    event_kind=job.event_kinds[0] if job.event_kinds else None)
        except Exception:  # noqa: BLE001 - tracing a page never fails the page
            pass

    def _fallback(self, job: _Job, last: SendResult) -> bool:
        """The failed page to the document's fallback receiver. False: there is none to try."""
        tree = self.trees.get(job.tree)
        fb = tree.fallback_receiver if tree is not None else None
        if job.fallback_for is not None or fb is None or fb == job.receiver:
            return False
        msg = failed_page(job.message, job.receiver, f"{last.result} ({self._cause(job, last)})", job.attempts_made,
                          job.group_key, job.round)
        self._queue_delivery(_Job(job.tree, fb, job.group_key, msg, "critical", job.event_kinds, job.incidents,
                                  job.mode, fallback_for=job.receiver, page=job.what(), dedup_key=job.dedup_key))
        self._start_deliveries()
        return True

    # --- receipts and counters ---------------------------------------------------------------------

    def _receipt(self, job: _Job, attempt: int, res: SendResult, final: bool, retry_at: Optional[int] = None
                 ) -> None:
        payload = {"receiver": job.receiver, "routes": job.tree, "group_key": job.group_key,
                   "event_kinds": job.event_kinds, "incidents": job.incidents, "severity": job.severity,
                   "attempt": attempt, "attempts": self.options.attempts, "round": job.round,
                   "result": res.result, "final": final, "elapsed_ms": int(res.elapsed_s * 1000), "mode": job.mode,
                   "resolved": job.resolved_only}
        if job.dedup_key is not None:
            payload["dedup_key"] = job.dedup_key
        if retry_at is not None:
            payload["retry_at_ms"] = retry_at
        if job.fallback_for is not None:
            payload["fallback_for"] = job.fallback_for
        self._audit("notification_delivered" if res.ok else "notification_failed", payload)

    def _writer(self) -> Optional["ReceiptWriter"]:
        return self.receipts if self.receipts is not None else self._ctx

    def _audit(self, kind: str, payload: dict) -> None:
        # Nothing raises from here: a delivered page is done, whatever became of its receipt.
        writer = self._writer()
        if writer is None:
            self.receipt_errors += 1
            return
        try:
            writer.audit_receipt(kind, self.clock(), payload)
        except FencedError as e:
            self.receipt_errors += 1
            if not self._fenced_said:
                self._fenced_said = True
                receiver = payload.get("receiver")
                log.warning("RECEIPTS_FENCED: a %s receipt%s was refused: this runner no longer holds the lease "
                            "(fence %d is stale, current %d); its receipts are not written while it does not "
                            "lead, each counted in killswitch_notification_receipt_errors_total", kind,
                            f" ({payload.get('routes')}/{receiver})" if receiver else "", e.fence, e.current)
            return
        except Exception:  # noqa: BLE001 - the store may be down: count it, keep paging
            self.receipt_errors += 1
            return
        self._fenced_said = False  # said again if this runner is deposed again

    def _audit_drops(self) -> None:
        while self._dropped_jobs:
            job = self._dropped_jobs.pop(0)
            self._count(self.notifications, job.receiver, "dropped")
            self._receipt(job, 0, SendResult("dropped"), True)
        total = sum(self.dropped.values())
        if total > self._dropped_audited:
            by_queue = {f"{q}/{s}": n for (q, s), n in sorted(self.dropped.items())}
            self._audit("notification_dropped", {"dropped": total - self._dropped_audited, "by_queue": by_queue})
            self._dropped_audited = total

    @staticmethod
    def _count(table: dict, receiver: str, result: str) -> None:
        table[(receiver, result)] = table.get((receiver, result), 0) + 1

    def collect_metrics(self, registry: Registry) -> None:
        """This sink's families into the scrape's registry (one name space for ``/metrics``)."""
        sent = registry.sampled("killswitch_notifications_total", "counter",
                                "Notifications by receiver and final outcome.", ("receiver", "result"))
        for (r, x), n in sorted(self.notifications.items()):
            sent.add(n, receiver=r, result=x)
        tries = registry.sampled("killswitch_notification_attempts_total", "counter",
                                 "Delivery attempts by receiver and result.", ("receiver", "result"))
        for (r, x), n in sorted(self.attempts.items()):
            tries.add(n, receiver=r, result=x)
        dropped = registry.sampled("killswitch_notifications_dropped_total", "counter",
                                   "Entries dropped from a full notification queue.", ("queue", "severity"))
        for (q, sev), n in sorted(self.dropped.items()):
            dropped.add(n, queue=q, severity=sev)
        registry.sampled("killswitch_notifications_inhibited_total", "counter",
                         "Notices left out of notifications by inhibit rules.").add(self.dispatcher.inhibited)
        registry.sampled("killswitch_notifications_time_muted_total", "counter",
                         "Due notifications held back by a route's mute or active time intervals.") \
            .add(self.dispatcher.time_muted)
        depth = registry.sampled("killswitch_notification_queue_depth", "gauge",
                                 "Entries waiting in the notification queues.", ("queue",))
        depth.add(len(self._events), queue="events")
        depth.add(len(self._deliveries), queue="deliveries")
        registry.sampled("killswitch_notification_receipt_errors_total", "counter",
                         "Receipts that could not be written.").add(self.receipt_errors)
        self.health.collect_metrics(registry)

    def pages_in_force(self) -> list[tuple[Mapping[str, str], str]]:
        """Each alert a group holds that still fires (not resolved, not expired), with the
        receiver of the group's route: what a silence added now would hold back."""
        now = self.clock()
        out: list[tuple[Mapping[str, str], str]] = []
        d = self.dispatcher
        for g in d.groups.values():
            for a in g.alerts.values():
                if a.active(now, d.resolve_timeout_ms):
                    out.append((dict(a.labels), g.route.receiver))
        return out

    def status_fields(self) -> dict:
        """What the runner's status shows of the pages: ``pages_failing`` (each receiver whose
        latest round failed every attempt, with its cause, since when and how many rounds) and
        ``pages_failing_since_ms``, as plain values (:class:`killswitch.events.ReportingSink`)."""
        return self.health.status_fields()

    def metrics_text(self) -> str:
        """This sink's families alone (``/metrics`` takes them through :meth:`collect_metrics`)."""
        return render_collected(self.collect_metrics)

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
            self.worker_errors += 1
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
