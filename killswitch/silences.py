"""Silences and acknowledgements: what an on-call engineer says about the pages and incidents
they are handling.

What it owns, as Alertmanager's ``silence`` package does for its model:

- :class:`LabelMatcher`: ``name op "value"`` over a page's labels, with Alertmanager's four
  operators — ``=``, ``!=``, ``=~`` and ``!~`` (RE2 patterns anchored as ``^(?:re)$``, through
  :func:`killswitch.policy.patterns.compile_label_pattern`: linear time, as Alertmanager's); a
  label the page lacks counts as the empty string. :func:`parse_matcher` reads the text form
  (``policy=futures-book``, ``severity=~"critical|warning"``).
- :class:`Silence`: matchers, a start and an end (UTC ms), its author and comment; it is
  *active* from its start until its end, *expired* after (an expiry sets the end to the moment
  it was expired, and who expired it). A page whose labels every matcher of an active silence
  matches is silenced: recorded, never sent (the notification sink's business).
- :class:`Acknowledgement`: someone has an incident ("I have it"), since when, with what note.
- :func:`matcher_problem`: why a set of matchers is refused (``UNKNOWN_LABEL`` with close
  matches, ``SILENCE_TOO_BROAD`` when every matcher also matches the empty string, as
  Alertmanager refuses), given the label names the caller knows pages to carry.

The labels a page carries are those of killswitch's events (:data:`PAGE_LABELS`), the labels of
the policy's metadata, and ``receiver`` — the receiver of the route a page is about to go to.

Pure: no clock (every time is an argument), no I/O. Must not decide who may silence what (the
runner's commands do), nor send or drop anything (the notification sink does).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Sequence

from .policy.patterns import LabelPattern, PatternError, compile_label_pattern

OPS = ("=", "!=", "=~", "!~")
# what killswitch's events carry (killswitch.events.Event.make and the runner's events), and the route's receiver
PAGE_LABELS = frozenset({"event", "severity", "policy", "scope", "stage", "level", "from_level", "owner", "venue",
                         "account", "symbol", "reason", "source", "holder", "receiver"})
MAX_MATCHERS = 16
MAX_VALUE = 256
MAX_TEXT = 2 * MAX_VALUE + 64  # name, operator, and a value quoted with every character escaped
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEXT = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*')


class SilenceError(ValueError):
    """A matcher or a silence that cannot be taken; ``reason`` starts with its code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LabelMatcher:
    name: str
    op: str
    value: str
    pattern: Optional[LabelPattern] = field(default=None, compare=False, repr=False)

    @staticmethod
    def make(name: str, op: str, value: str) -> "LabelMatcher":
        """A checked matcher; :class:`SilenceError` (``BAD_MATCHER``) says what is wrong."""
        if not _NAME.fullmatch(name or ""):
            raise SilenceError(f"BAD_MATCHER: {name!r} is not a label name (letters, digits, _)")
        if op not in OPS:
            raise SilenceError(f"BAD_MATCHER: {op!r} is not an operator; one of {', '.join(OPS)}")
        if len(value) > MAX_VALUE:
            raise SilenceError(f"BAD_MATCHER: the value of {name} is longer than {MAX_VALUE} characters")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = compile_label_pattern(value)
            except PatternError as e:
                raise SilenceError(f"BAD_MATCHER: {name}{op}{value!r}: the pattern {e.problem.message} "
                                   f"({e.problem.hint})") from None
        return LabelMatcher(name, op, value, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.pattern is not None
        hit = self.pattern.matches(got)
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{value}"'

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "value": self.value}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> "LabelMatcher":
        return LabelMatcher.make(str(doc["name"]), str(doc["op"]), str(doc["value"]))


def parse_matcher(text: str) -> LabelMatcher:
    """``name=value``, ``name!=value``, ``name=~re``, ``name!~re``; the value may be quoted
    (``"..."``, backslash escapes). Raises :class:`SilenceError` (``BAD_MATCHER``)."""
    if len(text or "") > MAX_TEXT:  # before the regex, whose lazy value is quadratic in a run of spaces
        raise SilenceError(f"BAD_MATCHER: a matcher is at most {MAX_TEXT} characters (its value at most {MAX_VALUE})")
    m = _TEXT.fullmatch(text or "")
    if m is None:
        raise SilenceError(f"BAD_MATCHER: {text!r} is not name=value (operators: {', '.join(OPS)})")
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r'\\(.)', r'\1', value[1:-1])
    return LabelMatcher.make(name, op, value)


def close_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, sorted(set(known)), n=n, cutoff=0.6)


def matcher_problem(matchers: Sequence[LabelMatcher], known_labels: Iterable[str]) -> Optional[str]:
    """Why these matchers cannot make a silence, or None: none at all, too many, a label no page
    carries (``UNKNOWN_LABEL``, with close matches and the labels known), or only matchers that
    also match a page without the label (``SILENCE_TOO_BROAD``: it would silence everything)."""
    if not matchers:
        return "BAD_REQUEST: a silence needs at least one matcher (--match policy=futures-book)"
    if len(matchers) > MAX_MATCHERS:
        return f"BAD_REQUEST: at most {MAX_MATCHERS} matchers"
    known = set(known_labels)
    for m in matchers:
        if m.name not in known:
            near = close_names(m.name, known)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            return f"UNKNOWN_LABEL: no page carries a label {m.name!r}{hint} (labels: {', '.join(sorted(known))})"
    if all(m.matches({}) for m in matchers):
        return ("SILENCE_TOO_BROAD: every matcher also matches a page without its label, so the silence "
                "would silence every page; add one that names something (policy=..., scope=...)")
    return None


@dataclass(frozen=True)
class Silence:
    """A silence as stored; ``ends_ms`` moves to the moment of an early expiry (``expired_by``)."""

    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_ms: int
    ends_ms: int
    author: str
    comment: str
    created_ms: int
    updated_ms: int
    expired_by: Optional[str] = None

    def state(self, now_ms: int) -> str:
        if now_ms >= self.ends_ms:
            return "expired"
        return "pending" if now_ms < self.starts_ms else "active"

    def active(self, now_ms: int) -> bool:
        return self.starts_ms <= now_ms < self.ends_ms

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def expire(self, by: str, now_ms: int) -> "Silence":
        return replace(self, ends_ms=min(self.ends_ms, now_ms), updated_ms=now_ms, expired_by=by)

    @property
    def matcher_text(self) -> str:
        return ", ".join(str(m) for m in self.matchers)

    def to_json(self) -> dict:
        return {"id": self.id, "matchers": [m.to_json() for m in self.matchers], "starts_ms": self.starts_ms,
                "ends_ms": self.ends_ms, "author": self.author, "comment": self.comment,
                "created_ms": self.created_ms, "updated_ms": self.updated_ms, "expired_by": self.expired_by}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> "Silence":
        return Silence(str(doc["id"]), tuple(LabelMatcher.from_json(m) for m in doc["matchers"]),
                       int(doc["starts_ms"]), int(doc["ends_ms"]), str(doc["author"]), str(doc["comment"]),
                       int(doc["created_ms"]), int(doc["updated_ms"]), doc.get("expired_by"))


def silencing(labels: Mapping[str, str], silences: Iterable[Silence], now_ms: int) -> tuple[str, ...]:
    """The ids of the active silences that match ``labels``, in their order."""
    return tuple(s.id for s in silences if s.active(now_ms) and s.matches(labels))


@dataclass(frozen=True)
class Acknowledgement:
    """Someone has an incident: the latest acknowledgement of an incident is who has it now."""

    incident: str
    author: str
    ts_ms: int
    comment: str = ""

    def to_json(self) -> dict:
        return {"incident": self.incident, "author": self.author, "ts_ms": self.ts_ms, "comment": self.comment}


__all__ = ["Acknowledgement", "LabelMatcher", "OPS", "PAGE_LABELS", "Silence", "SilenceError", "close_names",
           "matcher_problem", "parse_matcher", "silencing"]
