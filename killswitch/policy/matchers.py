"""Label matchers in Alertmanager's text: the one parser of matchers, which the routes
documents' ``matchers:`` and the silences (:mod:`killswitch.silences`) both read.

What it owns:

- :class:`LabelMatcher`: ``name op "value"`` over a page's labels, with Alertmanager's four
  operators — ``=``, ``!=``, ``=~`` and ``!~`` (RE2 patterns anchored as ``^(?:re)$``, through
  :func:`killswitch.policy.patterns.compile_label_pattern`: linear time, as Alertmanager's); a
  label the page lacks counts as the empty string, so ``venue!=okx`` matches a page without a
  venue. :func:`parse_matcher` reads one in Alertmanager's text form (``policy=futures-book``,
  ``severity=~"critical|warning"``), :func:`parse_matchers` a list (``{a="b", c=~"d"}``). Their
  text (:func:`matcher_text`, :func:`quoted`) is Alertmanager's, so that it reads back the same
  and two different matchers never print alike.
- :func:`matcher_problem`: why a set of matchers is refused (``UNKNOWN_LABEL`` with close
  matches, ``SILENCE_TOO_BROAD`` when every matcher also matches the empty string, as
  Alertmanager refuses), given the label names the caller knows pages to carry.
- :data:`PAGE_LABELS`: the labels killswitch's events carry, and ``receiver``.

Pure: no clock, no I/O. It sits in the policy layer because a policy document (a route's
``matchers:``) is read with it; the silences above build on it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..records import record
from .patterns import LabelPattern, PatternError, compile_label_pattern

OPS = ("=", "!=", "=~", "!~")
# what killswitch's events carry (killswitch.events.Event.make and the runner's events), and the route's receiver
PAGE_LABELS = frozenset({"event", "severity", "policy", "scope", "stage", "level", "from_level", "owner", "venue",
                         "account", "strategy", "symbol", "reason", "source", "holder", "incident", "receiver"})
MAX_MATCHERS = 16
MAX_VALUE = 256
MAX_NAME = 128
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a name, plain or in double quotes (a label name that is not an identifier: "team.name"), and an
# operator ("=~" before "=", as Alertmanager reads them); the value is the rest, spaces around it
# dropped (by str.strip: a pattern ending in a lazy value and \s* takes time in the square of a
# run of spaces)
_HEAD = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)', re.S)
OP_ORDER = {op: i for i, op in enumerate(OPS)}


class SilenceError(ValueError):
    """A matcher or a silence that cannot be taken; ``reason`` starts with its code; ``offset``:
    where in the text read the matcher at fault starts."""

    def __init__(self, reason: str, offset: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


@record
class LabelMatcher:
    name: str
    op: str
    value: str
    pattern: Optional[LabelPattern] = field(default=None, compare=False, repr=False)

    @staticmethod
    def make(name: str, op: str, value: str, max_value: Optional[int] = MAX_VALUE) -> "LabelMatcher":
        """A checked matcher; :class:`SilenceError` (``BAD_MATCHER``) says what is wrong.
        ``max_value``: the longest value taken (None: any; a document's file size bounds it)."""
        if not name or len(name) > MAX_NAME:
            raise SilenceError(f"BAD_MATCHER: {name!r} is not a label name (1 to {MAX_NAME} characters)")
        if op not in OPS:
            raise SilenceError(f"BAD_MATCHER: {op!r} is not an operator; one of {', '.join(OPS)}")
        if max_value is not None and len(value) > max_value:
            raise SilenceError(f"BAD_MATCHER: the value of {name} is longer than {max_value} characters")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = compile_label_pattern(value)
            except PatternError as e:
                raise SilenceError(f"BAD_MATCHER: {name}{op}{_shown(value)}: the pattern {e.problem.message} "
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
        return matcher_text(self.name, self.op, self.value)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> "LabelMatcher":
        return LabelMatcher.make(str(doc["name"]), str(doc["op"]), str(doc["value"]))


def parse_matcher(text: str, max_value: Optional[int] = MAX_VALUE) -> LabelMatcher:
    """One matcher as Alertmanager reads it: ``name=value``, ``name!=value``, ``name=~re``,
    ``name!~re``, spaces allowed around each part. The value may be in double quotes; inside or
    out, ``\\"`` is a quote, ``\\\\`` a backslash and ``\\n`` a line feed, and any other backslash
    is itself (``=~"\\d+"`` is the pattern ``\\d+``); a quote elsewhere is refused. A name that is
    not an identifier is written in double quotes (``"team.name"=fx``). Raises
    :class:`SilenceError` (``BAD_MATCHER``)."""
    m = _HEAD.match(text or "")
    if m is None:
        raise SilenceError(f"BAD_MATCHER: {_shown(text)} is not name=value (operators: {', '.join(OPS)})")
    name, op = m.groups()
    raw = text[m.end():].strip()
    if name.startswith('"'):
        name = _unescaped(name, text)
    return LabelMatcher.make(name, op, _unescaped(raw, text), max_value)


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut to its first 60 characters."""
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _unescaped(raw: str, text: str) -> str:
    """The value of ``raw`` (Alertmanager's classic parser): quoted or not, with its escapes."""
    in_quotes = raw.startswith('"')
    body = raw[1:] if in_quotes else raw
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "\\" and i < n - 1:
            nxt = body[i + 1]
            out.append("\n" if nxt == "n" else nxt if nxt in '"\\' else ch + nxt)
            i += 2
            continue
        if ch == '"':
            if not in_quotes or i < n - 1:
                raise SilenceError(f'BAD_MATCHER: {_shown(text)} has a " inside its value: write it \\" or quote '
                                   f'the whole value')
            in_quotes = False  # the closing quote
        else:
            out.append(ch)
        i += 1
    if in_quotes:
        raise SilenceError(f"BAD_MATCHER: {_shown(text)} opens a quote it does not close")
    return "".join(out)


def parse_matchers(text: str, max_value: Optional[int] = MAX_VALUE) -> list[LabelMatcher]:
    """Several matchers in one text, as Alertmanager's ``matchers:`` lines and ``amtool`` take
    them: separated by commas outside double quotes, optionally in braces, a trailing comma
    allowed (``{severity="critical", venue!~"okx|bybit",}``). The braces go as a pair only, so
    that a pattern's own (``x=~a{2}``) is never taken for them. Each is read by
    :func:`parse_matcher`; the :class:`SilenceError` of the first that does not parse carries
    its offset in ``text``."""
    body, start = text, 0
    stripped = text.strip()
    if stripped.startswith("{") and not stripped.endswith("}"):
        raise SilenceError(f"BAD_MATCHER: {_shown(text)} opens a brace it does not close", text.index("{"))
    if stripped.startswith("{"):
        start = text.index("{") + 1
        body = text[start:text.rindex("}")]
    out: list[LabelMatcher] = []
    parts = _split(body)
    for k, (token, at) in enumerate(parts):
        if not token.strip():
            if k == len(parts) - 1:
                continue  # nothing, or a trailing comma
            raise SilenceError(f"BAD_MATCHER: {_shown(text)} has an empty matcher (two commas in a row, or "
                               f"one first)", start + at)
        try:
            out.append(parse_matcher(token.strip(), max_value))
        except SilenceError as e:
            raise SilenceError(e.reason, start + at + len(token) - len(token.lstrip())) from None
    return out


def _split(body: str) -> list[tuple[str, int]]:
    """``body`` cut at the commas outside double quotes: (token, its offset) each."""
    out: list[tuple[str, int]] = []
    in_quotes = escaped = False
    begin = 0
    for i, ch in enumerate(body):
        if ch == "," and not in_quotes:
            out.append((body[begin:i], begin))
            begin = i + 1
            continue
        if ch == '"' and not escaped:
            in_quotes = not in_quotes
        escaped = ch == "\\" and not escaped
    out.append((body[begin:], begin))
    return out


def quoted(text: str) -> str:
    """``text`` as Go's ``%q`` writes it (``strconv.Quote``): in double quotes, a quote, a
    backslash and what is not printable escaped. Alertmanager writes a group's label values so."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def label_name_text(name: str) -> str:
    """A label name as written in a matcher or a group key: plain when it is an identifier, else
    quoted (as Alertmanager prints a name its classic parser could not read)."""
    return name if _NAME.fullmatch(name) else quoted(name)


def matcher_text(name: str, op: str, value: str) -> str:
    """``name op "value"`` as Alertmanager prints a matcher: the value in double quotes with
    ``\\``, ``"`` and a line feed escaped (OpenMetrics), which :func:`parse_matcher` reads back."""
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'{label_name_text(name)}{op}"{escaped}"'


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
