"""The receipts and counters of :class:`~.sink.NotifySink`: every audit row the sink writes, and
its families for ``/metrics``.

What it owns: :class:`Receipts`, the part of the sink that records what became of each page;
it shares the sink's counters (:class:`~.sink_hooks.SinkHooks`).

- Every attempt leaves an audit row, written on the event loop thread, never in the apprise
  thread: ``notification_delivered`` or ``notification_failed`` with the receiver's *name*, the
  routes document, the group key, the event kinds and incidents the page told
  (:attr:`~.dispatch.Notification.told`: not the earlier alerts of its group), severity,
  attempt, result, elapsed time, mode and the fingerprints of the alerts it carried (``alerts``:
  what a runner taking up the state marks notified, :mod:`.replay`) and the labels of the alerts
  it told (``labels``: distinct, at most :data:`MAX_RECEIPT_LABELS`; what a silence's preview
  matches the last day's pages with) — never a URL. A delivery
  still running at shutdown leaves ``cancelled``; a dropped one ``dropped``, and the drops of a
  full queue a ``notification_dropped`` row. Before each attempt a ``notification_sending`` row
  (not a receipt: not counted, never in the page's way) marks a page a kill may cut off.
- Every row goes through the runner's audit writer (``SinkContext.audit_receipt``), fenced by
  its token: a deposed runner's receipt is refused, counted (``receipt_errors``) and said once
  (WARNING ``RECEIPTS_FENCED``, again after a receipt is written); the page stands, never sent again.
- A page an active silence matches leaves a ``notification_silenced`` audit row (receiver,
  routes document, group key, event kinds, incidents, severity, the silences' ids, the labels of
  the alerts held back) and an INFO line ``PAGE_SILENCED``.
- ``collect_metrics(registry)``, into the one ``/metrics`` registry:
  ``killswitch_notifications_total{receiver,result}`` (per notification, final outcome:
  delivered, partial, failed, dropped, cancelled, silenced),
  ``killswitch_notification_attempts_total{receiver,result}``,
  ``killswitch_notifications_dropped_total{queue,severity}``,
  ``killswitch_notifications_inhibited_total``, ``killswitch_notifications_time_muted_total``,
  ``killswitch_notification_queue_depth{queue}``,
  ``killswitch_notification_receipt_errors_total``,
  ``killswitch_notification_receiver_failing{document,receiver}``,
  ``killswitch_notifications_failing_since_seconds``, and the histogram
  ``killswitch_page_latency_seconds{receiver,severity,source}``: from the time of what caused a
  page (:attr:`killswitch.events.Event.cause`; ``source`` ``venue`` or ``runner``, who stamped it;
  a grouped page: its oldest new alert's) to the receiver's acceptance of it, once per page per
  receiver; a page sent again after failed attempts or a failed round is observed at its success,
  from the same cause, and one that never got through is not observed (its failed attempts are
  in ``killswitch_notification_attempts_total``, the page lost in
  ``killswitch_notifications_total{result="failed"}``).

Must not: raise (a delivered page is done, whatever became of its receipt), or write a URL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Iterable, Optional

from ..metrics import Histogram, Registry, render_collected
from ..state.store import FencedError
from .alerts import Alert
from .dispatch import Notification
from .queues import _Job
from .receivers import SendResult
from .sink_hooks import SinkHooks

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..events import ReceiptWriter

log = logging.getLogger("killswitch.notify")


MAX_RECEIPT_LABELS = 50  # label sets a receipt keeps of the alerts it told (a group of more: the first)


def told_labels(alerts: Iterable[Alert]) -> tuple[dict[str, str], ...]:
    """The labels of ``alerts`` as a receipt keeps them: each distinct set once, in order, at
    most :data:`MAX_RECEIPT_LABELS`."""
    out: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for a in alerts:
        labels = {str(k): str(v) for k, v in a.labels.items()}
        out.setdefault(tuple(sorted(labels.items())), labels)
        if len(out) >= MAX_RECEIPT_LABELS:
            break
    return tuple(out.values())


# seconds: resolving around the 5 s within which RTS 6 asks a page be handed over (1–10 s)
PAGE_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.5, 10.0, 15.0, 30.0, 60.0, 300.0)


def page_latency_histogram(registry: Registry) -> Histogram:
    """``killswitch_page_latency_seconds`` in ``registry`` (the notify sink's own)."""
    return registry.histogram("killswitch_page_latency_seconds",
                              "Time from the event that caused a page (the venue's stamp where there is one) "
                              "to the page handed to its receiver.", ("receiver", "severity", "source"),
                              PAGE_LATENCY_BUCKETS)


class Receipts(SinkHooks):
    """Writes the sink's audit rows and keeps its counters (see the module doc)."""

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
            "resolved": sum(1 for a in held if a.resolved_ms is not None), "result": "silenced",
            "labels": list(told_labels(held))})
        log.info("PAGE_SILENCED: %s page (%s) to %s/%s held back by silence %s%s", n.silenced_severity,
                 ", ".join(kinds), n.tree, n.receiver, ", ".join(ids),
                 f"; incidents {', '.join(incidents)}" if incidents else "")

    def _handed(self, job: _Job) -> None:
        """``job``'s page was accepted by its receiver now: its latency, from the time of what
        caused it (:attr:`~.dispatch.Notification.cause`) to now on the sink's clock, observed
        once in ``killswitch_page_latency_seconds`` and kept for its receipt. A reminder and a
        resolved notice carry no cause and are not observed; a venue clock ahead of ours counts 0."""
        if job.cause is None:
            return
        at, source = job.cause
        job.latency_ms = max(0, self.clock() - at)
        self.page_latency.observe(job.latency_ms / 1000, receiver=job.receiver, severity=job.severity, source=source)

    def _receipt(self, job: _Job, attempt: int, res: SendResult, final: bool, retry_at: Optional[int] = None
                 ) -> None:
        payload = {"receiver": job.receiver, "routes": job.tree, "group_key": job.group_key,
                   "title": job.message.title[:300],
                   "event_kinds": job.event_kinds, "incidents": job.incidents, "severity": job.severity,
                   "attempt": attempt, "attempts": self.options.attempts, "round": job.round,
                   "result": res.result, "final": final, "elapsed_ms": int(res.elapsed_s * 1000), "mode": job.mode,
                   "resolved": job.resolved_only, "alerts": list(job.told), "labels": list(job.labels)}
        if job.resolved_fps:  # the resolutions it told: not told again by a runner taking up the state
            payload["resolved_alerts"] = list(job.resolved_fps)
        if job.dedup_key is not None:
            payload["dedup_key"] = job.dedup_key
        if retry_at is not None:
            payload["retry_at_ms"] = retry_at
        if job.fallback_for is not None:
            payload["fallback_for"] = job.fallback_for
        if res.ok and job.latency_ms is not None and job.cause is not None:
            payload["latency_ms"], payload["cause_ms"], payload["cause_source"] = job.latency_ms, *job.cause
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
        for name, what, labels, counts in (
                ("killswitch_notifications_total", "Notifications by receiver and final outcome.",
                 ("receiver", "result"), self.notifications),
                ("killswitch_notification_attempts_total", "Delivery attempts by receiver and result.",
                 ("receiver", "result"), self.attempts),
                ("killswitch_notifications_dropped_total", "Entries dropped from a full notification queue.",
                 ("queue", "severity"), self.dropped)):
            family = registry.sampled(name, "counter", what, labels)
            for key, n in sorted(counts.items()):
                family.add(n, **dict(zip(labels, key)))
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
        registry.include(self.latency_registry)

    def metrics_text(self) -> str:
        """This sink's families alone (``/metrics`` takes them through :meth:`collect_metrics`)."""
        return render_collected(self.collect_metrics)
