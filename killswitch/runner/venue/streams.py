"""The accounts' private streams as the runner sees them: their health, said once per change.

What it owns: per account ("venue/account") whose adapter streams (``stream_health()`` not None),
the latest :class:`~adapters.base.StreamHealth` read at each tick, and the lines that say it in
the runner's log — at start, one INFO per account that polls (``STREAM_OFF``: a dialect without
streams, or streams not enabled); one WARNING (``STREAM_STALE``, ``STREAM_DOWN``,
``LISTEN_KEY_EXPIRED``…) when an account's stream leaves live, the account falling back to REST
polling at the policy interval; one INFO (``STREAM_LIVE``) when it is live again; one WARNING
(``STREAM_RECONCILE_OVERDUE``) when an account's last good REST reconcile grows older than
``OVERDUE_AFTER`` × its ``reconcile_every`` (its REST reads failing: the stream is not confirmed
any more and its snapshots read REST in front), one INFO (``STREAM_RECONCILED``) when a
reconcile is good again — never one a tick. Its ``killswitch_stream_*`` families for
``/metrics``, the status's ``streams``, and :meth:`StreamWatch.lead`: the streams start when the
runner leads.

A stream that is not live, or whose reconcile is overdue, is *degraded*, not blind: the
adapter's snapshot reads REST then, so the data stays fresh; a REST read that fails as well is a
failed snapshot, which the coverage already reports as blind (:mod:`.fetches` says it in the log).

Must not: read a stream or change an adapter's state (the adapter owns its stream; this only
reads ``stream_health()`` and calls ``start_streams()``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional

from adapters.base import OVERDUE_AFTER, StreamHealth

from ...metrics import Registry
from .port import VenuePort

log = logging.getLogger("killswitch.runner.streams")

LIVE = "live"
OFF = "off"
DEGRADED = ("stale", "down")  # a stream that was asked for and does not deliver: REST polls meanwhile


def _age_s(since_ms: Optional[int], now_ms: int) -> Optional[float]:
    return None if since_ms is None else round(max(0, now_ms - since_ms) / 1000, 3)


def degraded(health: Any, was_live: bool) -> bool:
    """A stream the account relies on that does not deliver now: stale or down, or reconnecting
    after it was live (REST polls meanwhile)."""
    return health.state in DEGRADED or (health.state != LIVE and health.state != OFF and was_live)


class StreamWatch:
    """See the module doc. Read on the runner's loop: at start, at every leader tick, by the views."""

    def __init__(self, venues: Mapping[str, VenuePort], clock: Callable[[], int]):
        self.venues = venues
        self.clock = clock  # UTC ms: the ages of the status and /metrics
        self.health: dict[str, Any] = {}  # account -> its latest StreamHealth
        self._live_once: set[str] = set()  # accounts whose stream has been live in this process
        self._warned: dict[str, int] = {}  # account -> when its stream left live (the WARNING said)
        self._started: set[str] = set()  # accounts whose streams were started (start_streams returned)
        self._start_failed: set[str] = set()  # accounts whose start failed (said once)
        self._overdue: set[str] = set()  # accounts whose reconcile is overdue (the WARNING said)

    def _streaming(self) -> dict[str, StreamHealth]:
        return {k: h for k, p in self.venues.items() if (h := p.stream_health()) is not None}

    def announce(self) -> None:
        """At start: the accounts that poll, each said once, with why (a dialect without streams,
        streams not enabled in the Accounts document)."""
        for key, port in sorted(self.venues.items()):
            health = port.stream_health()
            if health is not None:
                self.health[key] = health
            if health is None or health.state == OFF:
                why = (health.reason if health is not None else None) or "STREAM_UNSUPPORTED"
                log.info("STREAM_OFF: %s: polls over REST at the policy interval (%s)", key, why)

    async def lead(self) -> None:
        """The runner leads: start every account's streams (idempotent on the adapter's side; an
        account whose start failed is tried again at the next leader tick, said once). A standby
        does not stream: its snapshots are not read. Stopped by the adapter's ``close()``."""
        for key, port in sorted(self.venues.items()):
            if key in self._started:
                continue
            try:
                await port.start_streams()
            except Exception as e:  # noqa: BLE001 - the account polls meanwhile; retried next tick
                if key not in self._start_failed:
                    self._start_failed.add(key)
                    log.warning("STREAM_DOWN: %s: its streams could not start (%s); it polls over REST at the "
                                "policy interval, tried again every tick", key, type(e).__name__)
                continue
            self._started.add(key)
            self._start_failed.discard(key)

    def observe(self, now_ms: int) -> None:
        """A tick: every streaming account's health, and the log line of one whose state changed."""
        for key, health in self._streaming().items():
            self.health[key] = health
            was_live = key in self._live_once
            if health.state == LIVE:
                self._live_once.add(key)
                left = self._warned.pop(key, None)
                if left is not None:
                    log.info("STREAM_LIVE: %s: its stream is live again after %.1fs; the snapshot is kept from it "
                             "(%d reconnect(s) so far)", key, max(0, now_ms - left) / 1000, health.reconnects)
                elif not was_live:
                    log.info("STREAM_LIVE: %s: its stream is live; the snapshot is kept from it", key)
            elif degraded(health, was_live) and key not in self._warned:
                self._warned[key] = health.since_ms if health.since_ms is not None else now_ms
                age = _age_s(health.last_message_ms, now_ms)
                log.warning("%s: %s: its stream is %s (last message %s); falling back to REST polling at the "
                            "policy interval (said once; STREAM_LIVE when it is live again)",
                            health.reason or f"STREAM_{health.state.upper()}", key, health.state,
                            "never" if age is None else f"{age:.1f}s ago")
            self._said_reconcile(key, health, now_ms)

    def _said_reconcile(self, key: str, health: Any, now_ms: int) -> None:
        """The WARNING when an account's reconcile becomes overdue, the INFO when it is not."""
        overdue = health.reconcile_overdue
        if overdue and key not in self._overdue:
            self._overdue.add(key)
            age = _age_s(health.reconciled_ms, now_ms)
            every = (health.reconcile_every_ms or 0) / 1000
            log.warning("STREAM_RECONCILE_OVERDUE: %s: not reconciled against REST for %s (reconcile_every %gs; "
                        "%d failed read(s) in a row, the last %s); its stream is not confirmed any more: each "
                        "snapshot reads REST in front, blind while REST fails (said once; STREAM_RECONCILED when "
                        "a reconcile is good again)", key, "?" if age is None else f"{age:.1f}s", every,
                        health.reconcile_failures, health.reconcile_failure_reason or "unknown")
        elif not overdue and key in self._overdue:
            self._overdue.discard(key)
            log.info("STREAM_RECONCILED: %s: a REST reconcile is good again; %s", key,
                     "its stream answers alone" if health.answers else "the snapshots read REST until one agrees")

    def status(self) -> dict:
        """``streams`` of the status: per streaming account, its state and counts, and its REST
        reconciles (the last good one's time and age, the cadence, the failed ones since)."""
        now_ms = self.clock()
        return {key: {"state": h.state, "reason": h.reason, "since_ms": h.since_ms,
                      "last_message_ms": h.last_message_ms,
                      "last_message_age_s": _age_s(h.last_message_ms, now_ms),
                      "reconnects": h.reconnects, "disagreements": h.disagreements,
                      "reconciles": h.reconciles, "answers": h.answers,
                      "dropped": dict(sorted(h.dropped.items())),
                      "last_reconcile_ms": h.reconciled_ms,
                      "last_reconcile_age_s": _age_s(h.reconciled_ms, now_ms),
                      "reconcile_every_s": None if h.reconcile_every_ms is None else h.reconcile_every_ms / 1000,
                      "reconcile_failures": h.reconcile_failures,
                      "reconcile_failure_reason": h.reconcile_failure_reason,
                      "reconcile_overdue": h.reconcile_overdue,
                      "unstreamed": list(h.unstreamed),
                      "degraded": degraded(h, key in self._live_once) or h.reconcile_overdue or bool(h.unstreamed)}
                for key, h in sorted(self.health.items())}

    def collect_metrics(self, registry: Registry) -> None:
        now_ms = self.clock()
        labels = ("venue", "account")
        connected = registry.sampled("killswitch_stream_connected", "gauge",
                                     "1 while an account's private stream is live, 0 otherwise (it polls over REST).",
                                     labels)
        age = registry.sampled("killswitch_stream_last_message_age_seconds", "gauge",
                               "Seconds since an account's private stream last delivered a message.", labels)
        reconnects = registry.sampled("killswitch_stream_reconnects_total", "counter",
                                      "Reconnects of an account's private stream.", labels)
        disagreements = registry.sampled("killswitch_stream_disagreements_total", "counter",
                                         "REST reconciles that found an account's stream state wrong (REST won).",
                                         labels)
        dropped = registry.sampled("killswitch_stream_dropped_total", "counter",
                                   "Stream messages dropped unapplied, by kind (malformed, duplicate, out_of_order, "
                                   "unknown).", (*labels, "kind"))
        reconciled = registry.sampled("killswitch_stream_last_reconcile_age_seconds", "gauge",
                                      "Seconds since an account's last good REST reconcile of its stream (none "
                                      "before the first).", labels)
        every = registry.sampled("killswitch_stream_reconcile_every_seconds", "gauge",
                                 "An account's stream reconcile cadence (reconcile_every); past "
                                 f"{OVERDUE_AFTER}x it unreconciled, its snapshots read REST.", labels)
        failures = registry.sampled("killswitch_stream_reconcile_consecutive_failures", "gauge",
                                    "REST reconciles of an account's stream that failed since its last good one.",
                                    labels)
        unstreamed = registry.sampled("killswitch_stream_unstreamed_symbols", "gauge",
                                      "Held symbols whose marks the venue refused to stream (STREAM_MARKS_REFUSED): "
                                      "valued from REST, the account's snapshots read REST.", labels)
        for key, h in sorted(self.health.items()):
            venue, _, account = key.partition("/")
            if h.state == OFF:
                continue  # an account that polls has no stream to measure
            connected.add(int(h.state == LIVE), venue=venue, account=account)
            if h.last_message_ms is not None:
                age.add(max(0, now_ms - h.last_message_ms) / 1000, venue=venue, account=account)
            reconnects.add(h.reconnects, venue=venue, account=account)
            disagreements.add(h.disagreements, venue=venue, account=account)
            for kind, n in sorted(h.dropped.items()):
                dropped.add(n, venue=venue, account=account, kind=kind)
            if h.reconciled_ms is not None:
                reconciled.add(max(0, now_ms - h.reconciled_ms) / 1000, venue=venue, account=account)
            if h.reconcile_every_ms is not None:
                every.add(h.reconcile_every_ms / 1000, venue=venue, account=account)
            failures.add(h.reconcile_failures, venue=venue, account=account)
            unstreamed.add(len(h.unstreamed), venue=venue, account=account)
