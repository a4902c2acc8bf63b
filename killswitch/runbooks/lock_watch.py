"""Keeping an open incident's runbook true to the lock that binds now: when a hold on its
scope comes or goes, or a revoke of its accounts' keys changes, its *Trading lock* section is
rendered again from the lock book as it is (``as_of``), stored in place and audited
(``runbook_updated``). Most ticks change nothing: the lock book and the revokes are pure values,
so comparing them by identity (:meth:`~killswitch.events.SinkContext.lock_key`) costs nothing
and nothing is read. A mixin of :class:`~.sink.RunbookSink`, which owns what it follows."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from .lock_view import lock_view
from .render import Runbook, record_of, render_runbook
from .templates import Templates

if TYPE_CHECKING:
    from ..events import SinkContext

MAX_WATCHED = 64  # open incidents whose lock is watched at once; the oldest is let go first
_ENTRY = re.compile(r"/L(\d+)/e(\d+)$")  # an incident (decision id) ends with its level and entry count


class LockWatch:
    """See the module doc."""

    _open: dict[str, "_Open"]
    _lock_key: Optional[tuple[Any, ...]]
    _following: dict[str, Any]
    _clock_ns: Callable[[], int]
    updated: int

    if TYPE_CHECKING:  # the sink's own
        def templates(self, ctx: "SinkContext") -> Optional[Templates]: ...
        def _trace(self, ctx: "SinkContext", data: dict, rb: Runbook, t0: int) -> None: ...

    def _watch_lock(self, data: dict) -> None:
        """Keep ``data``'s lock section current while its incident is open (:meth:`_relock`)."""
        m = _ENTRY.search(data["incident"])
        if m is not None:
            self._open[data["incident"]] = _Open(data["policy"]["name"], data["scope"], int(m.group(1)),
                                                 int(m.group(2)), _lock_gist(data.get("lock") or {}))
        while len(self._open) > MAX_WATCHED:
            self._open.pop(next(iter(self._open)))

    def _relock(self, ctx: "SinkContext", now: int) -> None:
        """The runbooks of the open incidents whose scope's lock changed (a hold came or went,
        a revoke of its accounts' keys), rendered again with the lock book as it is now: the
        section says what binds now, not what bound at entry (``as_of``). An incident whose
        scope left its stage is let go (its end is told by :meth:`~.sink.RunbookSink._ended`)."""
        key, seen = ctx.lock_key(now), self._lock_key
        self._lock_key = key
        unchanged = seen is not None and key[0] is seen[0] and key[1] is seen[1] and key[2:] == seen[2:]
        for incident, o in list(self._open.items()):
            stage = ctx.stage(o.policy, o.scope)
            if stage is None or (stage.level, stage.entries) != (o.level, o.entries):
                del self._open[incident]
                continue
            if unchanged and not o.fresh:  # no hold came or went, no revoke changed: nothing to read
                continue
            o.fresh = False
            lock = {**lock_view(ctx.lock_doc(o.scope, now), o.policy, o.level, o.scope), "refreshed": True}
            if _lock_gist(lock) == o.lock:
                continue
            o.lock = _lock_gist(lock)
            record = ctx.store.runbook(incident)
            if record is None or (record.data.get("story") or {}).get("ended"):
                del self._open[incident]
                continue
            data = record.data
            data["lock"] = lock
            self._also_followed(incident, lock=lock)
            self._store_again(ctx, data, now, lock_as_of=lock.get("as_of"))

    def _also_followed(self, incident: str, **fields: Any) -> None:
        """``fields`` set in the data of ``incident`` as followed too, when it is, so that its next
        follow-up renders them rather than what it held before."""
        following = self._following.get(incident)
        if following is not None:
            following.data.update(fields)

    def _store_again(self, ctx: "SinkContext", data: dict, now: int, **said: Any) -> None:
        """``data``'s runbook rendered again and stored in place, with its ``runbook_updated``
        audit row: the incident, the template, the digest and what ``said`` adds."""
        t0 = self._clock_ns()
        rb = render_runbook(data, self.templates(ctx))
        self._trace(ctx, data, rb, t0)
        ctx.save_runbook(record_of(data, rb))
        ctx.audit("runbook_updated", now, {"incident": data["incident"], "template": rb.template, **said,
                                          "sha256": hashlib.sha256(rb.markdown.encode("utf-8")).hexdigest()})
        self.updated += 1


@dataclass
class _Open:
    policy: str
    scope: str
    level: int
    entries: int  # its decision id's e<n>: another entry of the scope ends it
    lock: str  # what its runbook's lock section was last rendered from (:func:`_lock_gist`)
    fresh: bool = True  # not looked at since it was watched: read its lock once whatever the key


def _lock_gist(lock: Mapping[str, Any]) -> str:
    """What makes a lock section worth rendering again: the holds on the scope, its revokes."""
    return json.dumps([lock.get("locked"), lock.get("holds"), lock.get("revokes")], sort_keys=True, default=str)
