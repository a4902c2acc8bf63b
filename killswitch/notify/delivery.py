"""The delivery part of :class:`~.sink.NotifySink`: a flushed notification composed into a job,
queued, and sent through its receiver, with the retries and the fallback a failed one gets.

What it owns: :class:`Delivery`, the calls from a notification the dispatcher flushed to the
receipt of its last attempt; it shares the sink's queues, tasks and counters
(:class:`~.sink_hooks.SinkHooks`), and writes its receipts through :mod:`.receipts`.

- Deliveries start oldest first, at most ``concurrency`` at a time, one at a time per
  receiver; a full delivery queue drops its oldest non-critical entry, whose receipt the
  worker writes.
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
- A notification that failed every round goes, as a failed-page notice carrying the original
  text, to the document's ``fallback_receiver`` (once: a failed fallback is only recorded).
  The receipt of a round's last attempt says ``final: false`` and ``retry_at_ms`` when a
  retry follows; ``round`` counts the rounds. One that reached nobody is said as an ERROR
  line ``PAGES_FAILING`` (:class:`~.health.PageHealth`).

Must not: block the event loop on apprise, print a URL, or send a page again that a receipt
says was delivered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from .causes import cause_of_result
from .dispatch import Notification
from .message import compose, failed_page, mode_of, possible_repeat
from .queues import _bounded_append, _Job
from .receipts import told_labels
from .receivers import ResolvedReceiver, SendResult
from .sink_hooks import SinkHooks

THREAD_GRACE_S = 2.0  # beyond apprise's own deadline, before the thread is given up on

log = logging.getLogger("killswitch.notify")


class Delivery(SinkHooks):
    """Sends the sink's notifications through their receivers (see the module doc)."""

    def _submit(self, n: Notification) -> None:
        msg = compose(n, self.options.external_url)
        modes = {mode_of(a) for a in n.alerts + n.resolved}
        mode = "dry-run" if modes == {"DRY RUN"} else "live" if modes == {"LIVE"} else "mixed" if len(modes) > 1 \
            else "unknown"
        at = self._maybe_handed.maybe_sent(n.dedup_key, n.new)
        if at is not None:  # once: the copy sent now is recorded as any other
            msg = possible_repeat(msg, at)
            self._maybe_handed.forget(n.dedup_key, n.new)
        job = _Job(n.tree, n.receiver, n.group_key, msg, n.severity, n.event_kinds, n.incidents, mode,
                   new=n.new, told=tuple(a.fp for a in n.alerts), resolved_fps=tuple(a.fp for a in n.resolved),
                   round=n.round, resolved_only=n.resolved_only, dedup_key=n.dedup_key, cause=n.cause,
                   labels=told_labels(n.told))
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
                    self._sending(job, attempt)
                    last = await self._attempt(rcv, job)
                self._count(self.attempts, job.receiver, last.result)
                if last.ok:
                    self._handed(job)
                    self._receipt(job, attempt, last, True)
                    self._count(self.notifications, job.receiver, last.result)
                    if job.fallback_for is None:
                        self.dispatcher.delivery_succeeded(job.group_key, job.told)
                    else:
                        self.health.fallback_delivered(job.tree, job.fallback_for, job.receiver, self.clock())
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
        if job.fallback_for is None:
            self.dispatcher.undelivered(job.group_key, job.told)
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

    def _sending(self, job: _Job, attempt: int) -> None:
        """Written before an attempt: a runner that dies between the receiver's answer and the
        receipt leaves this row alone, and the next one sends the page again marked as a
        possible repeat (:mod:`.replay`). Not counted as a receipt, and never in the page's way."""
        payload = {"receiver": job.receiver, "routes": job.tree, "group_key": job.group_key,
                   "title": job.message.title[:300], "attempt": attempt, "alerts": list(job.told)}
        if job.dedup_key is not None:
            payload["dedup_key"] = job.dedup_key
        if job.fallback_for is not None:
            payload["fallback_for"] = job.fallback_for
        writer = self._writer()
        try:  # best effort, and not a receipt: a refused or failed row is the receipt's to count and say
            if writer is not None:
                writer.audit_receipt("notification_sending", self.clock(), payload)
        except Exception:  # noqa: BLE001 - the page goes out; at worst a repeat is not marked as one
            pass

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
                          job.group_key, job.round, job.severity, job.resolved_only)
        self._queue_delivery(_Job(job.tree, fb, job.group_key, msg, "critical", job.event_kinds, job.incidents,
                                  job.mode, fallback_for=job.receiver, page=job.what(), dedup_key=job.dedup_key,
                                  cause=job.cause, told=job.told, resolved_fps=job.resolved_fps, labels=job.labels))
        self._start_deliveries()
        return True
