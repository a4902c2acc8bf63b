"""Silences and acknowledgements: what an on-call engineer says about the pages and incidents
they are handling.

What it owns, as Alertmanager's ``silence`` package does for its model:

- :class:`Silence`: matchers, a start and an end (UTC ms), its author and comment; it is
  *active* from its start until its end, *expired* after (an expiry sets the end to the moment
  it was expired, and who expired it). A page whose labels every matcher of an active silence
  matches is silenced: recorded, never sent (the notification sink's business). One made from
  an incident ends with it: the runner records when (:data:`INCIDENT_ENDED`,
  :attr:`Silence.ended_ms`), and it still holds back that incident's own closing pages
  (:meth:`Silence.closing`). A stage's same-level cooldown re-run is a new incident id but the
  same stage still held: a silence that holds the incident it re-runs holds it too, and one made
  from that incident goes on with it (:meth:`Silence.rerun`, added by the runner as it runs).
- :class:`Acknowledgement`: someone has an incident ("I have it"), since when, with what note.
- The breadth of a silence, the one rule the runner's preview and its add, ``ksctl silence``
  and the console read: :func:`spans_every_scope` when none of its matchers names a scope (a
  label of :data:`SCOPE_NAMING`: ``severity="critical"`` alone holds back every critical page of
  every policy on every scope), said in the words of :data:`EVERY_SCOPE`; such a silence is made
  only when its author confirms it (:func:`every_scope_problem`: ``SILENCE_TOO_BROAD`` naming
  the confirmation of each way in, :data:`EVERY_SCOPE_CONFIRM`).

A silence's matchers are those of :mod:`killswitch.policy.matchers`, which owns them
(:class:`LabelMatcher`, :func:`parse_matchers`, :func:`matcher_problem`: re-exported here).
The labels a page carries are those of killswitch's events (:data:`PAGE_LABELS`), the labels of
the policy's metadata, and ``receiver`` — the receiver of the route a page is about to go to.

Pure: no clock (every time is an argument), no I/O. Must not decide who may silence what (the
runner's commands do), nor send or drop anything (the notification sink does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Collection, Container, Iterable, Mapping, Optional, Sequence

from .events import RESET, SCOPE_LABELS, STAGE_TRANSITION
from .policy.matchers import (
    OP_ORDER,
    OPS,
    PAGE_LABELS,
    LabelMatcher,
    SilenceError,
    close_names,
    label_name_text,
    matcher_problem,
    matcher_text,
    parse_matcher,
    parse_matchers,
    quoted,
)

# the ``expired_by`` of a silence that ended with the incident it was made from, at its ``updated_ms``
INCIDENT_ENDED = "incident ended"

# the labels that say which scope a page is about: its policy, its scope, what the scope is (a
# venue, an account, a strategy, a symbol: killswitch.events.SCOPE_LABELS) and its incident (one
# policy's scope). A silence none of whose matchers names one of them spans every scope.
SCOPE_NAMING = ("policy", "scope", *SCOPE_LABELS, "incident")
EVERY_SCOPE = ("spans EVERY scope: none of its matchers names a policy, scope, venue, account, strategy, symbol "
               "or incident, so it holds back the pages it matches of every policy on every scope")
# how the author of such a silence says they mean it, in each way in
EVERY_SCOPE_CONFIRM = ('ksctl silence add --every-scope, "every_scope": true in POST /v1/silences, or the '
                       'console\'s "It spans every scope" box')


def names_scope(m: LabelMatcher, known: Mapping[str, Collection[str]]) -> bool:
    """Whether ``m`` keeps a silence to some scopes: on a label of :data:`SCOPE_NAMING`, an
    ``=`` of a value, or an ``=~`` whose pattern matches neither a page without the label nor
    every one of the ``known`` values of it (``policy=~".+"`` names none). ``!=`` and ``!~``
    name none: they match every scope but one."""
    if m.name not in SCOPE_NAMING or m.op not in ("=", "=~") or m.matches({}):
        return False
    values = known.get(m.name) or ()
    return m.op == "=" or not values or not all(m.matches({m.name: v}) for v in values)


def spans_every_scope(matchers: Sequence[LabelMatcher], known: Mapping[str, Collection[str]]) -> bool:
    """Whether a silence of ``matchers`` holds back what it matches on every scope: none of them
    names one (:func:`names_scope`; ``known``: the values the runner knows of each naming label)."""
    return not any(names_scope(m, known) for m in matchers)


def every_scope_problem(matchers: Sequence[LabelMatcher], confirmed: bool,
                        known: Mapping[str, Collection[str]]) -> Optional[str]:
    """``SILENCE_TOO_BROAD`` for a silence that spans every scope and whose author did not
    confirm it (``confirmed``), naming how to; None otherwise."""
    if confirmed or not spans_every_scope(matchers, known):
        return None
    return (f"SILENCE_TOO_BROAD: it {EVERY_SCOPE}; name one (policy=..., scope=..., account=...), or confirm that "
            f"you mean every scope: {EVERY_SCOPE_CONFIRM}")


@dataclass(frozen=True)
class Silence:
    """A silence as stored; ``ends_ms`` moves to the moment of an early expiry (``expired_by``).
    One that ended with its incident keeps its planned ``ends_ms``: the moment it ended is its
    ``updated_ms`` (``expired_by`` :data:`INCIDENT_ENDED`, :attr:`ended_ms`)."""

    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_ms: int
    ends_ms: int
    author: str
    comment: str
    created_ms: int
    updated_ms: int
    expired_by: Optional[str] = None
    # made from an incident: it matches that incident (an ``incident`` matcher) and, while
    # ``tied``, ends with it (an extension unties it: it then lasts until its own end)
    incident: Optional[str] = None
    tied: bool = False
    # the highest stage of the open incidents it matched when made: a page of a stage above it (an
    # escalation the person silencing never saw) is not held back; None: every level (a silence
    # made ahead of any incident, a maintenance window's)
    up_to_level: Optional[int] = None
    # the open incidents it matched when made: what its author saw, and the same-level cooldown
    # re-runs of those the runner added as they ran (:meth:`rerun`: the same stage still held). A
    # stage entry of any other incident (another policy's, an entry after a reset, an escalation: a
    # new incident id) pages through it; None: a silence stored before this was kept (it keeps the
    # ``up_to_level`` rule), or one made ahead of any incident (a maintenance window's: it holds
    # every page it matches)
    incidents: Optional[tuple[str, ...]] = None

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether this silence holds back a page with ``labels`` that its matchers match: the one
        rule of the dispatcher, the console's card and the reset's preview. A stage entry of an
        incident not among :attr:`incidents` is not held (its author never saw it: a cooldown
        re-run of one of them is among them, :meth:`rerun`); every other
        page it matches is (reminders, resolutions and news of the incidents it was made for, and
        pages of kinds that are not stage entries: a scope going blind, a reset, a failed close).
        A silence without :attr:`incidents` but with :attr:`up_to_level` holds a page of a stage at
        or below it (a page of no stage too)."""
        if self.incidents is not None:
            incident = labels.get("incident")
            return not (labels.get("event") == STAGE_TRANSITION and incident and incident not in self.incidents)
        if self.up_to_level is None:
            return True
        try:
            return int(labels.get("level") or 0) <= self.up_to_level
        except ValueError:
            return True

    @property
    def holds_later(self) -> str:
        """What it holds back from now on, in words, by the rule of :meth:`holds`: the one text of
        the answer to ``ksctl silence add`` and of its ``IDLE`` flag (list, status, console)."""
        if self.incidents is not None:
            return ("only the later pages it matches that are not a new incident's stage entry (a new "
                    "incident pages through it; a cooldown re-run of a stage it holds does not)")
        if self.up_to_level is not None:
            return f"only the later pages it matches of stage {self.up_to_level} or below (or of no stage)"
        return "every page it matches from now on, a new incident's stage entry too"

    def state(self, now_ms: int, open_incidents: Optional[Container[str]] = None) -> str:
        """pending, active or expired at ``now_ms``; a tied silence is expired once its incident
        ended (recorded: :attr:`ended_ms`), or is no longer among ``open_incidents`` (None: not asked)."""
        if now_ms >= self.ends_ms or self.ended_ms is not None or self.ended_with_incident(open_incidents):
            return "expired"
        return "pending" if now_ms < self.starts_ms else "active"

    def ended_with_incident(self, open_incidents: Optional[Container[str]]) -> bool:
        """Whether it ended with its incident: recorded so, or tied to one that is not open (nor is
        any cooldown re-run of it, :meth:`rerun`: the same stage still held)."""
        return self.ended_ms is not None or (self.tied and self.incident is not None and open_incidents is not None
                                             and not any(i in open_incidents for i in self.chain))

    @property
    def chain(self) -> tuple[str, ...]:
        """The incident it was made from and its cooldown re-runs since (:meth:`rerun`), oldest first."""
        if self.incident is None:
            return ()
        return (self.incident,) + tuple(i for i in self.incidents or () if i != self.incident)

    def rerun(self, previous: str, incident: str) -> Optional["Silence"]:
        """This silence holding ``incident`` too, a same-level cooldown re-run of ``previous`` (the
        same stage of the same policy on the same scope, still held: a new incident id, no news)
        when it holds ``previous``'s stage entry; None when it does not (or holds every page already)."""
        seen = self.incidents
        if seen is None and self.tied and self.incident is not None:
            seen = (self.incident,)  # stored before ``incidents`` was kept: it matched its incident alone
        if seen is None or previous not in seen or incident in seen:
            return None
        return replace(self, incidents=seen + (incident,))

    @property
    def ended_ms(self) -> Optional[int]:
        """When it ended with its incident, as the runner recorded it (None: it has not, or not yet)."""
        return self.updated_ms if self.expired_by == INCIDENT_ENDED else None

    def ended_with(self, now_ms: int) -> "Silence":
        """This silence ended with its incident at ``now_ms`` (its planned end kept: :meth:`closing`)."""
        return replace(self, updated_ms=now_ms, expired_by=INCIDENT_ENDED)

    def closing(self) -> "Silence":
        """This silence, its incident ended, holding back that incident's own closing pages alone
        until its planned end: the re-arm and reset pages and its entry's resolution, each of which
        carries the incident's label (a new incident's pages, even of the same scope, go out)."""
        assert self.incident is not None
        # the last of its chain is the incident that ended (an earlier one was re-run, superseded)
        only = (LabelMatcher.make("incident", "=", self.chain[-1], None),
                LabelMatcher.make("event", "=~", f"{STAGE_TRANSITION}|{RESET}"))
        return replace(self, matchers=self.matchers + only, expired_by=None, tied=False)

    def active(self, now_ms: int, open_incidents: Optional[Container[str]] = None) -> bool:
        return self.starts_ms <= now_ms < self.ends_ms and not self.ended_with_incident(open_incidents)

    def matches(self, labels: Mapping[str, str], receiver: bool = True) -> bool:
        """Whether every matcher matches ``labels`` (``receiver``: False leaves a ``receiver``
        matcher out). An ``incident`` matcher takes a page of one of :attr:`incidents` as matched:
        each matched it when the silence was made, or is a cooldown re-run of one that did."""
        ours = self.incidents is not None and labels.get("incident") in self.incidents
        return all(m.matches(labels) or (ours and m.name == "incident")
                   for m in self.matchers if receiver or m.name != "receiver")

    def expire(self, by: str, now_ms: int) -> "Silence":
        return replace(self, ends_ms=min(self.ends_ms, now_ms), updated_ms=now_ms, expired_by=by)

    @property
    def matcher_text(self) -> str:
        return ", ".join(str(m) for m in self.matchers)

    def to_json(self) -> dict:
        return {"id": self.id, "matchers": [m.to_json() for m in self.matchers], "starts_ms": self.starts_ms,
                "ends_ms": self.ends_ms, "author": self.author, "comment": self.comment,
                "created_ms": self.created_ms, "updated_ms": self.updated_ms, "expired_by": self.expired_by,
                "incident": self.incident, "tied": self.tied, "up_to_level": self.up_to_level,
                "incidents": list(self.incidents) if self.incidents is not None else None}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> "Silence":
        return Silence(str(doc["id"]), tuple(LabelMatcher.from_json(m) for m in doc["matchers"]),
                       int(doc["starts_ms"]), int(doc["ends_ms"]), str(doc["author"]), str(doc["comment"]),
                       int(doc["created_ms"]), int(doc["updated_ms"]), doc.get("expired_by"),
                       doc.get("incident"), bool(doc.get("tied", False)),
                       int(doc["up_to_level"]) if doc.get("up_to_level") is not None else None,
                       tuple(str(i) for i in doc["incidents"]) if doc.get("incidents") is not None else None)


def silencing(labels: Mapping[str, str], silences: Iterable[Silence], now_ms: int) -> tuple[str, ...]:
    """The ids of the active silences that match ``labels``, in their order (a silence that
    ended with its incident is not handed here: see :meth:`Silence.active`) and hold the page
    (:meth:`Silence.holds`: a stage entry of an incident its author never saw pages)."""
    return tuple(s.id for s in silences if s.active(now_ms) and s.matches(labels) and s.holds(labels))


def sink_silences(silences: Iterable[Silence], open_stages: Container[str], now_ms: int) -> tuple[Silence, ...]:
    """What the notification sink honours at ``now_ms``: every silence before its planned end,
    but one made from a stage's incident that is no longer among ``open_stages`` (the incidents
    of the stages the scopes are in now), or that was recorded as ended with it, holds back only
    that incident's closing pages (:meth:`Silence.closing`). A manual close's silence matches that
    close's pages alone until its own end."""
    out = []
    for s in silences:
        if s.ends_ms <= now_ms:
            continue
        stage = s.incident is not None and not s.incident.startswith("manual/")
        if stage and (s.ended_ms is not None or (s.tied and not any(i in open_stages for i in s.chain))):
            out.append(s.closing())
        else:
            out.append(s)
    return tuple(out)


@dataclass(frozen=True)
class Acknowledgement:
    """Someone has an incident. A second person's acknowledgement does not replace the first:
    both have it (:func:`holders`); the latest is who said so last."""

    incident: str
    author: str
    ts_ms: int
    comment: str = ""

    def to_json(self) -> dict:
        return {"incident": self.incident, "author": self.author, "ts_ms": self.ts_ms, "comment": self.comment}


def holders(acks: Iterable[Acknowledgement]) -> tuple[Acknowledgement, ...]:
    """Who has an incident, from its acknowledgements in the order they were made: each
    author's latest, in the order of those (a hand-over keeps both people, each with their note)."""
    latest: dict[str, Acknowledgement] = {}
    for a in acks:
        latest.pop(a.author, None)
        latest[a.author] = a
    return tuple(latest.values())


def own_words(author: str, comment: str) -> str:
    """``comment`` without a leading ``author:`` (``alice: on it`` by alice is ``on it``): the
    author is recorded and shown beside it, and said twice it read ``alice: alice: on it``."""
    text = comment.strip()
    head = f"{author}:"
    if author and text.startswith(head):
        text = text[len(head):].strip()
    return text


__all__ = ["EVERY_SCOPE", "EVERY_SCOPE_CONFIRM", "INCIDENT_ENDED", "SCOPE_NAMING", "Acknowledgement", "LabelMatcher",
           "OPS", "OP_ORDER", "PAGE_LABELS", "Silence", "SilenceError", "close_names", "every_scope_problem", "holders",
           "label_name_text", "matcher_problem", "matcher_text", "names_scope", "own_words", "parse_matcher",
           "parse_matchers", "quoted", "silencing", "sink_silences", "spans_every_scope"]
