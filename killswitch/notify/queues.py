"""The notification sink's queues: the events not yet routed, the notifications not yet
started, and what a full queue drops (the oldest entry that is not critical).

What it owns: the sink's options, the shapes of a queued event and of a delivery job, and the
bounded append. Must not: route, group or deliver (the sink and the dispatcher do).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

from ..events import Event
from .dispatch import RESOLVE_TIMEOUT_MS
from .message import Message
from .receivers import DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class NotifyOptions:
    timeout_s: float = DEFAULT_TIMEOUT_S  # one attempt
    attempts: int = 3
    backoff_s: float = 1.0  # before the 2nd attempt; doubles, up to backoff_max_s
    backoff_max_s: float = 30.0
    group_retries: int = 1  # rounds retried at the group's next flush before the fallback receiver
    queue_size: int = 1000  # events not yet routed
    delivery_queue_size: int = 256  # notifications not yet started
    concurrency: int = 4  # deliveries in flight
    close_timeout_s: float = 5.0
    resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS
    external_url: Optional[str] = None  # prefix of runbook links, e.g. https://killswitch.example.com
    poll_s: float = 1.0  # the worker looks at its timers at least this often


@dataclass(frozen=True)
class _Item:
    event: Event
    graph: Any
    dry_run: Optional[bool]

    @property
    def critical(self) -> bool:
        return self.event.labels.get("severity") == "critical"


@dataclass
class _Job:
    tree: str
    receiver: str
    group_key: str
    message: Message
    severity: str
    event_kinds: list[str]
    incidents: list[str]
    mode: str
    fallback_for: Optional[str] = None
    attempts_made: int = 0
    new: tuple[str, ...] = ()  # fingerprints the notification told first: taken back for a retry
    told: tuple[str, ...] = ()  # fingerprints of every alert the notification tells (first or again)
    resolved_fps: tuple[str, ...] = ()  # fingerprints of the resolutions it tells ([RESOLVED])
    round: int = 1
    resolved_only: bool = False  # a [RESOLVED] message and nothing firing
    page: Optional[str] = None  # a fallback's: what the failed page was ("warning page (snapshot_failed)")
    dedup_key: Optional[str] = None  # the notification's (a fallback carries the failed page's)
    cause: Optional[tuple[int, str]] = None  # the notification's (ms, source): its latency counts from it
    latency_ms: Optional[int] = None  # from its cause to the receiver's acceptance (set when handed)
    # the labels of the alerts it tells (receipts.told_labels: distinct, bounded), for its receipt
    labels: tuple[dict[str, str], ...] = ()

    def what(self) -> str:
        """What this notification is, for a log line: "critical page (stage_transition)"."""
        if self.page is not None:
            return self.page
        kinds = f" ({', '.join(dict.fromkeys(self.event_kinds))})" if self.event_kinds else ""
        return ("resolved notice" if self.resolved_only else f"{self.severity} page") + kinds

    @property
    def critical(self) -> bool:
        return self.severity == "critical"


def _bounded_append(q: deque, item, limit: int, dropped: dict, queue: str):
    """Append; when full, drop the oldest non-critical entry (the new one if it is the only one).
    Returns what was dropped, if anything."""
    if len(q) < limit:
        q.append(item)
        return None
    victim = next((x for x in q if not x.critical), None)
    if victim is None and not item.critical:
        victim = item
    if victim is None:
        victim = q[0]
    sev = "critical" if victim.critical else "other"
    dropped[(queue, sev)] = dropped.get((queue, sev), 0) + 1
    if victim is not item:
        q.remove(victim)
        q.append(item)
    return victim
