"""Silences and acknowledgements: the operator's "I have it", as commands and reads of the runner.

What it owns: adding a silence (its matchers resolved against what the runner knows: a label no
page carries is ``UNKNOWN_LABEL``, an unknown policy or scope named by ``=`` is refused with
close matches, a silence that would silence everything is ``SILENCE_TOO_BROAD``), expiring one,
acknowledging an open incident (named, or the one a policy's scope is in now), and the views of
them: the silence list, who has each incident, and which silences hold back an incident's pages.

The order of a change is the one of every operator command (:mod:`..operator.commands`): refused on a
standby, audited first (fenced, with its author), then stored (fenced), then the book takes it
and is saved so that a standby following it reads them again (``notes_mark``). The
notification sink reads the silences from the book through its context at every flush; the
acknowledgement is handed to the sinks as an ``incident_acknowledged`` event (the runbook sink
renders the incident's runbook again with it).

Must not: send or hold back a page itself (the notification sink does), or run outside the
operator turn (the API's view calls take it).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable, Container, Mapping, Optional, Sequence

from ...engine.stages import decision_id
from ...events import RESET, SEVERITY, Event
from ...figures import iso_ms as _iso
from ...policy.matchers import PAGE_LABELS, LabelMatcher, SilenceError, close_names, matcher_problem, parse_matchers
from ...silences import INCIDENT_ENDED, Silence, every_scope_problem, own_words
from ...state.store import FencedError, StateStore
from ...view import SilenceResult, SilenceStatus
from ...view.silence_preview import SilencePreview
from ..book.book import Book
from ..book.still_open import manual_scope
from ..book.view import BookView
from ..lease.leadership import Leadership
from ..names import Catalog
from ..storeio import StoreIO
from .acks import Acknowledgements
from .check import Incidents, idle, known_values, page_labels, preview, value_problem
from .history import past_text, read_past

MAX_SILENCE_S = 30 * 86_400
SHOWN_EXPIRED_MS = 86_400_000  # expired silences listed for a day after they end


def silence_status(s: Silence, now: int, open_: Optional[Container[str]] = None,
                   idle: Optional[str] = None) -> SilenceStatus:
    """``s`` as shown at ``now``; one made from an incident that is no longer among ``open_``
    ended with it (expired by "incident ended"), at the moment the runner recorded (its end shown
    in place of the planned one; ``now`` until it is recorded, at the tick that ended it)."""
    ended = s.ended_with_incident(open_) and now < s.ends_ms
    ends_ms = (s.ended_ms if s.ended_ms is not None else now) if ended else s.ends_ms
    return SilenceStatus(s.id, tuple(str(m) for m in s.matchers), s.starts_ms, ends_ms, s.author, s.comment,
                         s.created_ms, s.state(now, open_), now, INCIDENT_ENDED if ended else s.expired_by,
                         s.incident, s.tied, idle)


def known_labels(book: BookView) -> set[str]:
    """The label names a page of this runner can carry: the events' and every policy's own."""
    return set(PAGE_LABELS) | {k for p in book.graph.policies for k in p.labels}


def holding_back(book: BookView, labels: dict[str, str], now: int, open_: Optional[Container[str]] = None
                 ) -> tuple[SilenceStatus, ...]:
    """The active silences that hold back a page with ``labels`` for at least one receiver (a
    ``receiver`` matcher is left out: which receivers a page reaches is the routes' business)."""
    return tuple(silence_status(s, now, open_) for s in book.silences if s.active(now, open_) and _holds(s, labels))


def held_already(book: BookView, catalog: Catalog, open_: Incidents, incidents: Sequence[str], now: int
                 ) -> tuple[str, ...]:
    """Each of ``incidents`` whose pages a silence in force holds back already (the dispatcher's
    rule, :func:`_holds`), that silence named: id, author, end (a silence's preview says so)."""
    out = []
    for i in incidents:
        labels = page_labels(book, catalog, i, open_[i]) if i in open_ else None
        for s in book.silences:
            if labels is not None and s.active(now, open_) and _holds(s, labels):
                tie = f", or when {s.incident} ends" if s.tied and s.incident else ""
                out.append(f"{i}: its pages are already held back by silence {s.id} ({s.matcher_text}, by "
                           f"{s.author}, until {_iso(s.ends_ms)}{tie})")
    return tuple(out)


def _matches(s: Silence, labels: dict[str, str]) -> bool:
    return s.matches(labels, receiver=False)


def _holds(s: Silence, labels: dict[str, str]) -> bool:
    """Whether ``s`` holds back a page with ``labels`` (its matchers, but ``receiver``, and
    :meth:`Silence.holds`: the dispatcher's rule)."""
    return _matches(s, labels) and s.holds(labels)


class Silences(Acknowledgements):
    """See the module doc. ``save`` saves the book (awaited); ``emit`` hands an event to the sinks."""

    def __init__(self, book: Book, lead: Leadership, store: StateStore, io: StoreIO, *, clock: Callable[[], int],
                 catalog: Callable[[], Catalog], save: Callable[[], Awaitable[None]], emit: Callable[[Event], None],
                 open_closes: Callable[[], Sequence[str]] = tuple,
                 pages: Callable[[], list[tuple[Mapping[str, str], str]]] = list):
        self.book = book
        self.lead = lead
        self.store = store
        self.io = io
        self.clock = clock
        self.catalog = catalog
        self.save = save
        self.emit = emit
        self.open_closes = open_closes  # the ids of the manual closes the runner tracks
        self.pages = pages  # the pages the notification sink holds in force: (labels, receiver) each

    # --- reads ------------------------------------------------------------------------------------------

    def shown(self) -> tuple[SilenceStatus, ...]:
        """Every silence in force and those ended in the last day; one in force that names
        something and matches no open incident says so (``idle``)."""
        now = self.clock()
        open_ = self.open_incidents()
        catalog = self.catalog()
        return tuple(silence_status(s, now, open_, idle(s, self.book, catalog, open_) if s.active(now, open_)
                                    else None)
                     for s in self.book.silences if s.ends_ms > now - SHOWN_EXPIRED_MS)

    def idle_flags(self) -> tuple[str, ...]:
        """The flags of the silences in force on a scope with no open incident (for the status)."""
        return tuple(s.idle for s in self.shown() if s.idle)

    def in_force(self) -> tuple[Silence, ...]:
        """What the notification sink honours now."""
        now = self.clock()
        open_ = self.open_incidents()
        return tuple(s for s in self.book.silences if s.active(now, open_))

    async def preview(self, texts: Sequence[str], incident: Optional[str] = None) -> SilencePreview:
        """What a silence of ``texts`` (made from ``incident``) would hold back now, whether it spans
        every scope, what it matches of the last day's pages (:mod:`.history`); refused as :meth:`add`
        would refuse it (duration, comment and the confirmation of one spanning every scope aside)."""
        matchers, why = self._problem(texts, 1.0, "preview", incident)
        if why is None and incident is not None:
            why = self._already(incident, matchers, self.clock(), self.open_incidents())
        if why is not None:
            return SilencePreview(False, why)
        open_, catalog = self.open_incidents(), self.catalog()
        p = preview(matchers, self.book, catalog, open_, self.pages())
        past = await read_past(self.io, self.store, matchers, self.clock())
        return replace(p, reason=f"{p.reason}; {past_text(past)}", past=past.shown, past_text=past_text(past),
                       already=held_already(self.book, catalog, open_, p.incidents, self.clock()))

    def held_by_reset(self, policy: str, scope: str) -> tuple[str, ...]:
        """What a reset of ``policy`` on ``scope`` (its open incident) should say of the silences
        in force that hold back the incident's pages or the reset's own: one made from the
        incident ends with it; any other outlives it, and how to expire it."""
        now = self.clock()
        open_ = self.open_incidents()
        incident = next((i for i, (p, sc, _) in open_.items() if p == policy and sc == scope), None)
        if incident is None:
            return ()
        labels = page_labels(self.book, self.catalog(), incident, open_[incident])
        # the reset's page: the incident's labels, its own event (it names no incident)
        own = {**{k: v for k, v in labels.items() if k != "incident"}, "event": RESET, "severity": SEVERITY[RESET]}
        out = []
        for s in self.book.silences:
            if not s.active(now, open_) or not (s.incident == incident or _matches(s, labels) or _matches(s, own)):
                continue
            # what it holds back and what pages through it, by the dispatcher's rule (Silence.holds)
            held = [w for w, lab in (("the incident's pages", labels), ("this reset's page", own)) if _holds(s, lab)]
            through = [w for w, lab in ((f"stage {open_[incident][2]}'s pages", labels), ("the reset's page", own))
                       if _matches(s, lab) and not _holds(s, lab)]
            said = f"silence {s.id} ({', '.join(str(m) for m in s.matchers)}, by {s.author})"
            said += f" holds back {' and '.join(held)}" if held else " holds back none of its pages"
            if through:
                said += f"; {' and '.join(through)} page through it"
            if not held:
                out.append(said)
            elif s.incident == incident and s.tied:
                out.append(f"{said}; made from the incident, it ends with it")
            else:
                out.append(f"{said}; it OUTLIVES the incident (until {_iso(s.ends_ms)}): "
                           f"ksctl silence expire --silence {s.id}")
        return tuple(out)

    def for_incident(self, incident: str, before: Incidents) -> tuple[SilenceStatus, ...]:
        """The silences that were in force, while ``incident`` was open (``before``), made from it
        or holding back its pages; shown as they are now (a reset lists them: those made from it
        ended with it, the others go on until expired)."""
        now = self.clock()
        where = before.get(incident)
        labels = page_labels(self.book, self.catalog(), incident, where) if where is not None else None
        after = self.open_incidents()
        return tuple(silence_status(s, now, after) for s in self.book.silences if s.active(now, before)
                     and (s.incident == incident or (labels is not None and _holds(s, labels))))

    # --- changes ----------------------------------------------------------------------------------------

    def _problem(self, texts: Sequence[str], duration_s: float, comment: str, incident: Optional[str] = None,
                 every_scope: bool = True) -> tuple[list[LabelMatcher], Optional[str]]:
        try:
            matchers = [m for t in texts for m in parse_matchers(t)]  # each: one matcher, or a {…} list
        except SilenceError as e:
            return [], e.reason
        open_ = self.open_incidents()
        if incident is not None:
            if incident not in open_:
                near = close_names(incident, open_)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                return matchers, f"UNKNOWN_INCIDENT: {incident!r} is not an open incident{hint}"
            if not any(m.name == "incident" for m in matchers):  # it matches that incident's pages alone
                matchers.append(LabelMatcher.make("incident", "=", incident))
        why = matcher_problem(matchers, known_labels(self.book)) or value_problem(matchers, self.catalog(), open_) \
            or every_scope_problem(matchers, every_scope, known_values(self.catalog(), open_))
        if why is not None:
            return matchers, why
        if not 0 < duration_s <= MAX_SILENCE_S:
            return matchers, f"BAD_REQUEST: a silence lasts more than 0s and at most {MAX_SILENCE_S // 86_400} days"
        if not comment.strip():
            return matchers, "BAD_REQUEST: say why in the comment (who is handling what)"
        return matchers, None

    async def add(self, texts: Sequence[str], duration_s: float, comment: str, *, actor: str,
                  incident: Optional[str] = None, every_scope: bool = False) -> SilenceResult:
        """A silence of ``texts``; made from ``incident``, it also matches that incident alone and
        ends with it unless extended. One that spans every scope is made only when its author
        confirms it (``every_scope``: audited with it)."""
        if (standby := self.lead.not_leader("silence")) is not None:
            return SilenceResult(False, standby)
        comment = own_words(actor, comment)
        matchers, why = self._problem(texts, duration_s, comment, incident, every_scope)
        payload: dict[str, Any] = {"matchers": list(texts), "duration_s": duration_s, "comment": comment, "by": actor,
                                   **({"every_scope": True} if every_scope else {})}
        if incident is not None:
            payload["incident"] = incident
        now = self.clock()
        open_ = self.open_incidents()
        if why is None and incident is not None:
            why = self._already(incident, matchers, now, open_)
        if why is not None:
            await self.lead.audit_refusal("silence_added", self.clock(), payload, why)
            return SilenceResult(False, why)
        affects = preview(matchers, self.book, self.catalog(), open_, self.pages())
        # what the person silencing saw: the open incidents it matches; a stage entry of any other
        # (another policy's, an entry after a reset, an escalation) goes out, but a cooldown re-run of
        # one of them (settle: Silence.rerun) is held (None: made ahead of any incident,
        # it holds every page it matches). The highest stage is kept for a runner of before.
        seen = tuple(i for i in affects.incidents if i in open_)
        up_to = max(open_[i][2] for i in seen) if seen else None
        s = Silence(uuid.uuid4().hex[:12], tuple(matchers), now, now + int(round(duration_s * 1000)), actor, comment,
                    now, now, incident=incident, tied=incident is not None, up_to_level=up_to,
                    incidents=seen or None)
        refused = await self._store("silence_added", {**payload, "id": s.id, "matchers": [str(m) for m in matchers],
                                                      "starts_ms": s.starts_ms, "ends_ms": s.ends_ms,
                                                      "affects": affects.summary, "up_to_level": up_to,
                                                      "incidents": list(seen)},
                                    lambda fence: self.store.save_silence(s, fence), now,
                                    lambda: self.book.silence_added(s))
        if refused:
            return SilenceResult(False, refused)
        tie = f", or when {incident} ends" if incident is not None else ""
        past = (f"; holds back: the pages of the {len(seen)} open incident{'' if len(seen) == 1 else 's'} it "
                "matches now, and the pages it matches that are not stage entries; pages through: a NEW "
                "incident's stage entry (another policy, an entry after a reset, an escalation; a cooldown re-run "
                "of a stage it holds is held)" if seen else
                f"; holds back: {s.holds_later} (it matches no open incident now)")
        return SilenceResult(True, f"SILENCED: {s.id} {s.matcher_text} until {_iso(s.ends_ms)}{tie} by {actor}; "
                                   f"{affects.summary}{past}", silence_status(s, now))

    def _already(self, incident: str, matchers: Sequence[LabelMatcher], now: int, open_: Incidents
                 ) -> Optional[str]:
        """``ALREADY_SILENCED`` when a silence in force made from ``incident`` has these matchers
        already (a second one would only be one more to expire); None otherwise."""
        same = {str(m) for m in matchers}
        for s in self.book.silences:
            if s.incident == incident and s.active(now, open_) and {str(m) for m in s.matchers} == same:
                tie = f", or when {incident} ends" if s.tied else ""
                return (f"ALREADY_SILENCED: incident {incident}'s pages are held back by silence {s.id} ({s.author}, "
                        f"until {_iso(s.ends_ms)}{tie}); extend it with ksctl silence extend --silence {s.id} "
                        "--duration D")
        return None

    async def change(self, silence_id: str, duration_s: Optional[float], comment: Optional[str], *,
                     actor: str) -> SilenceResult:
        """Extend a silence (it then ends ``duration_s`` from now, and no longer with its incident)
        or edit its comment: audited (``silence_changed``, before and after), stored, as an add."""
        if (standby := self.lead.not_leader("silence change")) is not None:
            return SilenceResult(False, standby)
        now = self.clock()
        s, why = self._find(silence_id, now)
        words = own_words(actor, comment) if comment is not None else None
        if why is None and duration_s is None and comment is None:
            why = "BAD_REQUEST: give a duration (extend) or a comment (edit)"
        elif why is None and duration_s is not None and not 0 < duration_s <= MAX_SILENCE_S:
            why = f"BAD_REQUEST: a silence lasts more than 0s and at most {MAX_SILENCE_S // 86_400} days from now"
        elif why is None and words is not None and not words:
            why = "BAD_REQUEST: say why in the comment (who is handling what)"
        if s is None or why is not None:  # audited with its author, as a refused add is
            await self.lead.audit_refusal("silence_changed", self.clock(), {"id": silence_id, "by": actor}, str(why))
            return SilenceResult(False, str(why), silence_status(s, now, self.open_incidents()) if s else None)
        done = replace(s, updated_ms=now, comment=s.comment if words is None else words,
                       ends_ms=s.ends_ms if duration_s is None else now + int(round(duration_s * 1000)),
                       tied=s.tied and duration_s is None)
        payload: dict[str, Any] = {"id": s.id, "matchers": [str(m) for m in s.matchers], "by": actor,
                                   "ends_ms": {"before": s.ends_ms, "after": done.ends_ms},
                                   "comment": {"before": s.comment, "after": done.comment},
                                   "ends_with_incident": {"before": s.tied, "after": done.tied}}
        refused = await self._store("silence_changed", payload, lambda fence: self.store.save_silence(done, fence),
                                    now, lambda: self.book.silence_changed(done))
        if refused:
            return SilenceResult(False, refused)
        what = [f"until {_iso(done.ends_ms)}" + (f" (no longer ends with {s.incident})" if s.tied else "")
                if duration_s is not None else "", f"comment {done.comment!r}" if words is not None else ""]
        return SilenceResult(True, f"SILENCE_CHANGED: {s.id} {s.matcher_text} {'; '.join(w for w in what if w)} "
                                   f"by {actor}", silence_status(done, now, self.open_incidents()))

    def _find(self, silence_id: str, now: int) -> tuple[Optional[Silence], Optional[str]]:
        """The silence of ``silence_id`` still in force, or why not (``UNKNOWN_SILENCE`` with close
        matches, ``SILENCE_EXPIRED``)."""
        s = next((x for x in self.book.silences if x.id == silence_id), None)
        if s is None:
            near = close_names(silence_id, [x.id for x in self.book.silences if x.ends_ms > now])
            hint = f"; did you mean {', '.join(near)}?" if near else " (ksctl silence list shows them)"
            return None, f"UNKNOWN_SILENCE: no silence {silence_id!r}{hint}"
        open_ = self.open_incidents()
        if s.state(now, open_) == "expired":
            shown = silence_status(s, now, open_)
            how = f" (with its incident {s.incident})" if shown.expired_by == INCIDENT_ENDED else \
                f" (expired by {s.expired_by})" if s.expired_by else ""
            return s, f"SILENCE_EXPIRED: {s.id} already ended at {_iso(min(shown.ends_ms, now))}{how}"
        return s, None

    async def expire(self, silence_id: str, *, actor: str) -> SilenceResult:
        if (standby := self.lead.not_leader("silence expiry")) is not None:
            return SilenceResult(False, standby)
        now = self.clock()
        s, why = self._find(silence_id, now)
        if s is None or why is not None:  # audited with its author, as a refused add is
            await self.lead.audit_refusal("silence_expired", self.clock(), {"id": silence_id, "by": actor}, str(why))
            return SilenceResult(False, str(why), silence_status(s, now, self.open_incidents()) if s else None)
        done = s.expire(actor, now)
        refused = await self._store("silence_expired", {"id": s.id, "matchers": [str(m) for m in s.matchers],
                                                        "author": s.author, "comment": s.comment,
                                                        "starts_ms": s.starts_ms, "ends_ms": s.ends_ms, "by": actor},
                                    lambda fence: self.store.save_silence(done, fence), now,
                                    lambda: self.book.silence_changed(done))
        if refused:
            return SilenceResult(False, refused)
        return SilenceResult(True, f"SILENCE_EXPIRED: {s.id} {s.matcher_text} by {actor}; its pages are sent again",
                             silence_status(done, now))

    async def settle(self, now: Optional[int] = None, reruns: Sequence[str] = ()) -> None:
        """Carry every silence in force that holds a stage's incident on to that stage's same-level
        cooldown re-runs of this tick (``reruns``, their incident ids: :meth:`Silence.rerun`: the
        same stage still held is no news), then record the end of every silence made from a
        stage's incident that has ended since (a reset, a release, an escalation: its incident is
        no longer open, nor re-run): ``expired_by``
        "incident ended" at ``now``, stored (fenced) and saved, so that every view (the list, the
        console, a runbook rendered from the store) names its real end. The incident's end is
        audited already; a manual close's silence lasts until its own end (the sink's rule). A
        fenced write raises :class:`FencedError` to the caller (the tick, the reset)."""
        if not self.lead.leader:
            return
        now = self.clock() if now is None else now
        carried = [c for i in reruns for c in self._reruns(i, now)]
        for done in carried:
            await self.io(self.store.save_silence, done, self.lead.fence)  # (FencedError: the caller's)
            self.book.silence_changed(done)
        tied = [s for s in self.book.silences if s.ended_ms is None and s.incident is not None and s.tied
                and not s.incident.startswith("manual/") and now < s.ends_ms]
        open_ = self.open_incidents() if tied else {}  # (most ticks: no silence made from a stage's incident)
        ended = [s for s in tied if s.ended_with_incident(open_)]
        for s in ended:
            done = s.ended_with(now)
            await self.io(self.store.save_silence, done, self.lead.fence)  # (FencedError: the caller's)
            self.book.silence_changed(done)
        if ended or carried:
            await self._saved(now)

    def _reruns(self, incident: str, now: int) -> list[Silence]:
        """The silences in force carried on to ``incident``, a cooldown re-run (``…/L1/e4`` re-runs
        ``…/L1/e3``: the stage entered again at the same level, one entry later)."""
        head, _, n = incident.rpartition("/e")
        if not n.isdigit() or int(n) < 2:
            return []
        previous = f"{head}/e{int(n) - 1}"
        return [done for s in self.book.silences if s.active(now) and (done := s.rerun(previous, incident))]

    def open_incidents(self) -> dict[str, tuple[Optional[str], str, int]]:
        """incident → (policy, scope, level) of every stage a scope is in now and tracked manual close."""
        out: dict[str, tuple[Optional[str], str, int]] = {}
        for key, ss in sorted(self.book.state.scopes.items()):
            if ss.stage.level > 0:
                policy, _, scope = key.partition("|")
                out[decision_id(policy, scope, ss.stage.level, ss.stage.entries)] = (policy, scope, ss.stage.level)
        for cid in self.open_closes():
            out[cid] = (None, manual_scope(cid), 0)
        return out

    # --- the order of a change ----------------------------------------------------------------------------

    async def _store(self, kind: str, payload: dict, write: Callable[[int], None], now: int,
                     take: Callable[[], None]) -> Optional[str]:
        """Audit (fenced), then store (fenced), then the book takes it (``take``) and is saved
        (:meth:`_saved`); why it was refused, or None."""
        try:
            await self.lead.audit(kind, self.clock(), payload)
            fence = self.lead.fence
            await self.io(write, fence)
        except FencedError:
            return self.lead.deposed()
        take()
        await self._saved(now)
        return None

    async def _saved(self, now: int) -> None:
        """The book saved with the new mark, so that a standby reads the silences again."""
        self.book.notes_changed(now)
        try:
            await self.save()
        except FencedError:
            self.lead.stale = True  # stored under our token; the next leader reads them from the store
