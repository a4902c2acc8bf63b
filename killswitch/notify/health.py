"""Whether pages reach people: each receiver's latest delivery round, and the lines that say so.

What it owns: per receiver (routes document, name), whether its latest round failed every
attempt, why (:mod:`.causes`), since when and how many rounds in a row; since when any receiver
has been failing (the current run of failures); and the two log lines of the issue's contract:

- ``PAGES_FAILING`` (ERROR), for every notification that reached no receiver — its round and
  its fallback both failed, or it had no fallback — naming each receiver tried and its cause;
- ``PAGES_RECOVERED`` (INFO), once, when a receiver named in such a line delivers a round again.

Also its families for ``/metrics`` (``killswitch_notification_receiver_failing{document,receiver}``,
``killswitch_notifications_failing_since_seconds``) and the status fields (``pages_failing``,
``pages_failing_since_ms``) as plain values: the runner's view turns them into its dataclasses
(a sink does not import the runner).

Must not: quote a receiver's URL (a cause is words from :mod:`.causes`), or do I/O: the sink
writes the lines it returns.

Pure: no I/O, no clock (the sink passes its time in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional

from ..metrics import Registry


@dataclass
class _Receiver:
    cause: str
    since_ms: int  # the first failed round of this run
    failures: int  # failed rounds in a row
    failing: bool = True


class PageHealth:
    """See the module doc. One per notification sink; called from its worker on the loop."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], _Receiver] = {}
        self._known: set[tuple[str, str]] = set()  # every receiver of the routes, for a 0 series each
        self.since_ms: Optional[int] = None  # the first failed round while some receiver fails
        self._named: set[tuple[str, str]] = set()  # receivers a PAGES_FAILING line named, until one delivers

    def know(self, receivers: Iterable[tuple[str, str]]) -> None:
        """The receivers of the routes now in force (a reload forgets the others)."""
        self._known = set(receivers)
        for key in [k for k in self._state if k not in self._known]:
            del self._state[key]
        self._named &= self._known
        if not self.failing_keys():
            self.since_ms = None

    # --- rounds -------------------------------------------------------------------------------------

    def round_failed(self, document: str, receiver: str, cause: str, now_ms: int) -> None:
        """A round (its every attempt) to this receiver failed."""
        key = (document, receiver)
        st = self._state.get(key)
        if st is None or not st.failing:
            self._state[key] = _Receiver(cause, now_ms, 1)
        else:
            st.cause, st.failures = cause, st.failures + 1
        if self.since_ms is None:
            self.since_ms = now_ms

    def round_delivered(self, document: str, receiver: str, now_ms: int) -> Optional[str]:
        """A round to this receiver delivered. Returns the ``PAGES_RECOVERED`` line when it is
        one that a ``PAGES_FAILING`` line named (once, until pages fail again)."""
        key = (document, receiver)
        st = self._state.pop(key, None)
        if not self.failing_keys():
            self.since_ms = None
        if key not in self._named:
            return None
        self._named.clear()
        was = f" after {st.failures} failed round(s) since {iso(st.since_ms)} ({_age(now_ms - st.since_ms)})" \
            if st is not None else ""
        still = "; ".join(f"{d}/{r}: {s.cause}" for (d, r), s in sorted(self._failing()))
        return (f"PAGES_RECOVERED: {document}/{receiver} delivers again{was}"
                + (f"; still failing: {still}" if still else "; every receiver delivers"))

    def lost(self, tried: Iterable[tuple[str, str]], what: str, now_ms: int) -> str:
        """The ``PAGES_FAILING`` line of a notification that reached none of ``tried`` (the
        receiver, then its fallback): each with its cause as its latest round left it."""
        keys = list(dict.fromkeys(tried))
        self._named.update(keys)
        parts = []
        for d, r in keys:
            st = self._state.get((d, r))
            parts.append(f"{d}/{r}: {st.cause if st is not None else 'failed'}"
                         + (f" ({st.failures} failed rounds)" if st is not None and st.failures > 1 else ""))
        since = self.since_ms if self.since_ms is not None else now_ms
        return (f"PAGES_FAILING: a {what} reached no receiver: {'; '.join(parts)}; pages failing since "
                f"{iso(since)}; see ksctl status and the notification_failed receipts")

    # --- what the runner shows ----------------------------------------------------------------------

    def _failing(self) -> list[tuple[tuple[str, str], _Receiver]]:
        return [(k, s) for k, s in self._state.items() if s.failing]

    def failing_keys(self) -> list[tuple[str, str]]:
        return sorted(k for k, _ in self._failing())

    def status_fields(self) -> dict:
        """``pages_failing`` (one dict per failing receiver, as ``ReceiverFailure`` holds it)
        and ``pages_failing_since_ms``."""
        rows = [{"document": d, "receiver": r, "cause": s.cause, "since_ms": s.since_ms, "failures": s.failures}
                for (d, r), s in sorted(self._failing())]
        return {"pages_failing": rows, "pages_failing_since_ms": self.since_ms if rows else None}

    def collect_metrics(self, registry: Registry) -> None:
        failing = registry.sampled("killswitch_notification_receiver_failing", "gauge",
                                   "1 when the latest delivery round to a receiver failed every attempt, else 0.",
                                   ("document", "receiver"))
        for d, r in sorted(self._known | set(self._state)):
            st = self._state.get((d, r))
            failing.add(int(st is not None and st.failing), document=d, receiver=r)
        since = registry.sampled("killswitch_notifications_failing_since_seconds", "gauge",
                                 "Unix time of the first failed delivery round of the current run of failures "
                                 "(absent while every receiver's latest round delivered).")
        if self.since_ms is not None and self._failing():
            since.add(self.since_ms / 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
