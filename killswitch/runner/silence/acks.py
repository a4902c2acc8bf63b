"""An incident acknowledged ("I have it", ``ksctl ack``): who has it, with their note, audited and
stored (fenced), then the book saved and an event for the sinks. A person's same words again are
``ALREADY_ACKNOWLEDGED``; new words replace their note and say which. A mixin of
:class:`~.silences.Silences`, whose book, leadership and store it writes through, in the order
every change of the silences keeps (audit, store, save).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from ...events import INCIDENT_ACKNOWLEDGED, Event
from ...figures import iso_ms as _iso
from ...policy.matchers import close_names
from ...silences import Acknowledgement, holders, own_words
from ...state.store import StateStore
from ...view import ChangeResult
from ..book.book import Book
from ..lease.leadership import Leadership
from ..names import Catalog

MAX_COMMENT = 500


class Acknowledgements:
    """See the module doc."""

    book: Book
    lead: Leadership
    store: StateStore
    clock: Callable[[], int]
    catalog: Callable[[], Catalog]
    emit: Callable[[Event], None]

    if TYPE_CHECKING:  # the silences' own, which every change goes through
        def open_incidents(self) -> dict[str, tuple[Optional[str], str, int]]: ...
        def _store(self, kind: str, payload: dict, write: Callable[[int], None], now: int,
                   take: Callable[[], None]) -> Awaitable[Optional[str]]: ...

    async def acknowledge(self, incident: Optional[str], policy: Optional[str], scope: Optional[str], comment: str,
                          *, actor: str) -> ChangeResult:
        if (standby := self.lead.not_leader("acknowledgement")) is not None:
            return ChangeResult(False, standby)
        why = self._ack_refusal(incident, policy, scope, comment)
        if why is not None:  # audited with its author, as a refused lock or silence is
            await self.lead.audit_refusal("incident_acknowledged", self.clock(), {
                "incident": incident, "policy": policy, "scope": scope, "comment": comment[:MAX_COMMENT], "by": actor},
                why)
            return ChangeResult(False, why)
        open_ = self.open_incidents()
        if incident is None:
            incident = next(i for i, (p, s, _) in open_.items() if p == policy and s == scope)
        now = self.clock()
        comment = own_words(actor, comment)
        ack = Acknowledgement(incident, actor, now, comment)
        have = self.book.acks.get(incident, ())
        same = next((a for a in have if a.author == actor and a.comment == comment), None)
        if same is not None:  # said again: nothing new to audit, store or page
            note = f": {same.comment}" if same.comment else ""
            return ChangeResult(True, f"ALREADY_ACKNOWLEDGED: {incident} by {actor} at {_iso(same.ts_ms)}{note}")
        others = [a for a in have if a.author != actor]
        # the person's earlier note: status, the console and the runbook show each person's latest
        mine = max((a for a in have if a.author == actor), key=lambda a: a.ts_ms, default=None)
        payload: dict[str, Any] = {"incident": incident, "comment": comment, "by": actor}
        if have:
            last = max(have, key=lambda a: a.ts_ms)
            payload["previous"] = {"by": last.author, "ts_ms": last.ts_ms}
        refused = await self._store("incident_acknowledged", payload, lambda fence: self.store.record_ack(ack, fence),
                                    now, lambda: self.book.incident_held(incident, holders((*have, ack))))
        if refused:
            return ChangeResult(False, refused)
        p, s, level = open_[incident]
        self.emit(Event.make(INCIDENT_ACKNOWLEDGED, now, {"incident": incident, "author": actor, "comment": comment,
                                                          "ts_ms": now}, policy=p, scope=s, level=level or None))
        also = "; " + ", ".join(f"{a.author} has it too (since {_iso(a.ts_ms)}" + (f": {a.comment})" if a.comment
                                                                                    else ")") for a in others) \
            if others else ""
        was = "" if mine is None else (f" (note updated; was: {mine.comment!r} at {_iso(mine.ts_ms)})" if mine.comment
                                       else f" (note updated; was: no note, at {_iso(mine.ts_ms)})")
        return ChangeResult(True, f"ACKNOWLEDGED: {incident} by {actor}{was}{also}")

    def _ack_refusal(self, incident: Optional[str], policy: Optional[str], scope: Optional[str], comment: str
                     ) -> Optional[str]:
        """Why an acknowledgement is refused (a bad request, an unknown or closed incident), or None."""
        if len(comment) > MAX_COMMENT:
            return f"BAD_REQUEST: the comment is longer than {MAX_COMMENT} characters"
        open_ = self.open_incidents()
        if incident is None:
            if not policy or not scope:
                return "BAD_REQUEST: name the incident, or its policy and scope"
            unknown = self.catalog().resolve_policy_scope(policy, scope)
            if unknown is not None:
                return unknown.reason
            if not any(p == policy and s == scope for p, s, _ in open_.values()):
                return f"NOT_ENGAGED: {policy} {scope} is in no stage: no incident to acknowledge"
        elif incident not in open_:
            near = close_names(incident, open_)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            return f"UNKNOWN_INCIDENT: {incident!r} is not an open incident{hint}"
        return None
