"""Whether pages reach people: each receiver's latest delivery round, and the lines that say so.

What it owns: per receiver (routes document, name), whether its latest round failed every
attempt, why (:mod:`.causes`), since when and how many rounds in a row; since when any receiver
has been failing (the current run of failures); the receivers known unreachable before any page
(:meth:`PageHealth.unreachable`: a secret that does not resolve, failing from the start or the
reload that found it, with no round tried); what of this a restart or a takeover takes up
(:meth:`PageHealth.to_json` / :meth:`PageHealth.restore`, kept in the notification sink's saved
state: a failing receiver stays failing, with its first "since", until a round to it delivers);
and the two log lines of the issue's contract:

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
from typing import Any, Iterable, Mapping, Optional

from ..facts.pages import failing_text
from ..figures import iso
from ..metrics import Registry


@dataclass
class _Receiver:
    cause: str
    since_ms: int  # the first failed round of this run
    failures: int  # failed rounds in a row
    failing: bool = True
    unresolved: bool = False  # its secret did not resolve when the routes were last read
    # the fallback receiver that delivered this receiver's latest failed page, and when (None:
    # none did: the routes name no fallback, the fallback failed too, or no page has gone there)
    fallback: Optional[str] = None
    fallback_ms: Optional[int] = None


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

    def unreachable(self, causes: Mapping[tuple[str, str], str], now_ms: int) -> None:
        """The receivers the routes now in force cannot reach (a secret that does not resolve),
        with their cause: failing from ``now_ms`` (or since earlier, when they were failing
        already) before any page is tried. One failing only for that cause before, whose secret
        resolves now, is failing no more: the next round says whether it delivers."""
        for key in [k for k, s in self._state.items() if s.unresolved and k not in causes]:
            del self._state[key]
        for key, cause in causes.items():
            st = self._state.get(key)
            if st is None or not st.failing:
                self._state[key] = _Receiver(cause, now_ms, 0, unresolved=True)
            else:
                st.cause, st.unresolved = cause, True
        self._settle()

    def _settle(self, since_ms: Optional[int] = None) -> None:
        """``since_ms`` after receivers were added or dropped other than by a round (``since_ms``:
        an earlier start of the run, as saved): the earliest, None when none is failing."""
        known = [s.since_ms for _, s in self._failing()]
        known += [t for t in (self.since_ms, since_ms) if t is not None]
        self.since_ms = min(known) if self._failing() else None

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
        still = "; ".join(failing_text(d, r, s.cause, s.failures) for (d, r), s in sorted(self._failing()))
        return (f"PAGES_RECOVERED: {document}/{receiver} delivers again{was}"
                + (f"; still failing: {still}" if still else "; every receiver delivers"))

    def fallback_delivered(self, document: str, receiver: str, fallback: str, now_ms: int) -> None:
        """The fallback receiver delivered the page ``receiver`` failed: what the failing
        receiver's line says, so "nobody heard" is told from "only the fallback heard"."""
        st = self._state.get((document, receiver))
        if st is not None and st.failing:
            st.fallback, st.fallback_ms = fallback, now_ms

    def lost(self, tried: Iterable[tuple[str, str]], what: str, now_ms: int) -> str:
        """The ``PAGES_FAILING`` line of a notification that reached none of ``tried`` (the
        receiver, then its fallback): each with its cause as its latest round left it."""
        keys = list(dict.fromkeys(tried))
        self._named.update(keys)
        for key in keys:  # its latest page reached no fallback either
            st = self._state.get(key)
            if st is not None:
                st.fallback, st.fallback_ms = None, None
        parts = []
        for d, r in keys:
            st = self._state.get((d, r))
            parts.append(failing_text(d, r, st.cause, st.failures) if st is not None else f"{d}/{r}: failed")
        since = self.since_ms if self.since_ms is not None else now_ms
        return (f"PAGES_FAILING: a {what} reached no receiver: {'; '.join(parts)}; pages failing since "
                f"{iso(since)}; see ksctl status and the notification_failed receipts")

    # --- kept across restarts and takeovers ----------------------------------------------------------

    def to_json(self) -> dict:
        """The failing receivers, the run's first "since" and the receivers a ``PAGES_FAILING``
        line named: saved with the sink's state every tick."""
        return {"receivers": [{"document": d, "receiver": r, "cause": s.cause, "since_ms": s.since_ms,
                               "failures": s.failures, "unresolved": s.unresolved, "fallback": s.fallback,
                               "fallback_ms": s.fallback_ms}
                              for (d, r), s in sorted(self._failing())],
                "since_ms": self.since_ms, "named": [list(k) for k in sorted(self._named)]}

    def restore(self, doc: Optional[Mapping[str, Any]]) -> None:
        """Take up what a previous leader saved (:meth:`to_json`): each receiver of the routes now
        in force that was failing stays failing with its first "since", its rounds and its cause,
        until a round to it delivers; one failing only because its secret did not resolve is
        taken up only while it still does not (its cause then as read now)."""
        if not doc:
            return
        took = False
        for row in doc.get("receivers") or ():
            key = (str(row["document"]), str(row["receiver"]))
            now = self._state.get(key)
            if key not in self._known or (row.get("unresolved") and (now is None or not now.unresolved)):
                continue
            saved = _Receiver(str(row["cause"]), int(row["since_ms"]), int(row.get("failures") or 0),
                              unresolved=bool(row.get("unresolved")), fallback=row.get("fallback"),
                              fallback_ms=row.get("fallback_ms"))
            if now is not None and now.failing:
                saved.since_ms = min(saved.since_ms, now.since_ms)
                saved.failures = max(saved.failures, now.failures)
                if now.unresolved:
                    saved.cause, saved.unresolved = now.cause, True
            self._state[key], took = saved, True
        self._named |= {(str(d), str(r)) for d, r in doc.get("named") or ()} & self._known
        saved_since = doc.get("since_ms")
        self._settle(int(saved_since) if took and saved_since is not None else None)

    # --- what the runner shows ----------------------------------------------------------------------

    def _failing(self) -> list[tuple[tuple[str, str], _Receiver]]:
        return [(k, s) for k, s in self._state.items() if s.failing]

    def failing_keys(self) -> list[tuple[str, str]]:
        return sorted(k for k, _ in self._failing())

    def status_fields(self) -> dict:
        """``pages_failing`` (one dict per failing receiver, as ``ReceiverFailure`` holds it)
        and ``pages_failing_since_ms``."""
        rows = [{"document": d, "receiver": r, "cause": s.cause, "since_ms": s.since_ms, "failures": s.failures,
                 "fallback": s.fallback, "fallback_ms": s.fallback_ms}
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


def _age(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
