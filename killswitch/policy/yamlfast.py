"""The loader's fast path: ordinary YAML read through libyaml's event stream (PyYAML's C parser).

ruamel's round-trip loader is pure Python: reading 100 KB of policies costs it about half a
second, most of it in its scanner. libyaml scans the same text in C. This module turns the
events libyaml reports into what :mod:`killswitch.policy.load` would have made of ruamel's
nodes: the plain data of each document and its :class:`~.documents.SourceMap` (the line:col of
every key and value, where a scalar's text starts), read the way ruamel reads YAML 1.2.

It reads only what it can read exactly as ruamel would, and declines everything else by
returning None, so that the round-trip loader reads the text instead and every diagnostic stays
its own. Declined: a text libyaml refuses (any syntax error, a control character), a ``%YAML``
or ``%TAG`` directive, a document that is a scalar (other than an empty one), an anchor, an
alias, a tag, a key that is not a plain string or appears twice, a merge key, a plain scalar
that YAML 1.2 reads as a number, date or null other than the simple forms below, and
collections nested deeper than :data:`~killswitch.policy.yamlbounds.MAX_DEPTH` (counting every
collection, which is never less than the scanner's count). A tab, a byte-order mark or a NEL /
LS / PS character anywhere also declines: libyaml (YAML 1.1) and ruamel (1.2) do not read them
alike. So a file that the round-trip loader would refuse is always read by it;
``tests/unit/policy/test_yamlfast.py`` compares the two paths on every YAML file of the repository, on
their mutations and on generated text.

Without PyYAML's C extension (a platform without libyaml), every text is declined.

Pure: no I/O; it must not make diagnostics or build models.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .diagnostics import Position
from .documents import Path, SourceMap
from .yamlbounds import MAX_DEPTH

try:  # libyaml's binding; absent when PyYAML was built without it
    from yaml import events as _ev
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - every text then goes to the round-trip loader
    _CParser = None

# What YAML 1.2 (ruamel's resolver) reads as something other than a string, by the first character
# of a plain scalar, in ruamel's order: the first that matches wins.
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_FLOAT = re.compile(r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP = re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X)
_BY_FIRST: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
for _tag, _rx, _first in (("bool", _BOOL, "tTfF"), ("float", _FLOAT, "-+0123456789."),
                          ("int", _INT, "-+0123456789"), ("merge", re.compile(r"^(?:<<)$"), "<"),
                          ("null", _NULL, "~nN"), ("timestamp", _TIMESTAMP, "0123456789"),
                          ("value", re.compile(r"^(?:=)$"), "=")):
    for _ch in _first:
        _BY_FIRST[_ch] = _BY_FIRST.get(_ch, ()) + ((_tag, _rx),)

# The forms of those read here; ruamel makes the same number of them (other forms decline).
_SIMPLE_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_SIMPLE_FLOAT = re.compile(r"^[-+]?[0-9]+\.[0-9]+$")
_TRUE = frozenset({"true", "True", "TRUE"})

# read by libyaml and ruamel differently (or only by one): the round-trip loader decides
_UNALIKE = ("\t", "\ufeff", "\x85", "\u2028", "\u2029")
# a document end marker: "..." at the start of a line, alone or before a space
_END_MARKER = re.compile(r"\.\.\.(?: |$)")


class _Decline(Exception):
    """The text holds something this path does not read as ruamel would."""


def available() -> bool:
    """Whether libyaml's parser is there (otherwise :func:`read` declines every text)."""
    return _CParser is not None


def read(text: str, lines: list[str]) -> list[tuple[Any, SourceMap]] | None:
    """Every document of ``text`` as (plain data, source map), in order; an empty document is
    (None, its source map). None when this path declines the text (see the module's docstring).

    ``lines`` is ``text.splitlines()``, shared by the documents' source maps."""
    if _CParser is None or any(ch in text for ch in _UNALIKE):
        return None
    try:
        parser = _CParser(text)
    except (ValueError, TypeError):  # a lone surrogate cannot be handed to libyaml as UTF-8
        return None
    try:
        reader = _Reader(parser.get_event, lines)
        docs = reader.documents()
    except Exception:  # _Decline, and libyaml's errors: the round-trip loader reads (and reports) them
        return None
    finally:
        parser.dispose()
    if (text.startswith("...") or "\n..." in text) and reader.explicit_ends != sum(
            1 for ln in lines if _END_MARKER.match(ln)):
        # a "..." that ends no document (libyaml passes over one after another, ruamel refuses it)
        return None
    return docs


class _Reader:
    def __init__(self, next_event: Callable[[], Any], lines: list[str]):
        self.next = next_event
        self.lines = lines
        self.sm = SourceMap(doc=Position(1, 1))
        self.explicit_ends = 0  # documents ended by "..."

    def documents(self) -> list[tuple[Any, SourceMap]]:
        out: list[tuple[Any, SourceMap]] = []
        self.next()  # the stream's start
        while True:
            ev = self.next()
            if type(ev) is _ev.StreamEndEvent:
                return out
            if ev.version is not None or ev.tags:  # %YAML / %TAG: ruamel reads by them
                raise _Decline
            root = self.next()
            if type(root) is _ev.ScalarEvent and (root.style or root.value):
                # a document that is a scalar is an error whichever way it is read, and ruamel
                # reads a block scalar at the root to the end of the stream, over "---"
                raise _Decline
            mark = root.start_mark
            self.sm = SourceMap(doc=Position(mark.line + 1, mark.column + 1), lines=self.lines)
            value = self.node(root, (), 1)
            out.append((value, self.sm))
            if self.next().explicit:  # the document's end
                self.explicit_ends += 1

    def node(self, ev: Any, path: Path, depth: int) -> Any:
        t = type(ev)
        if ev.anchor is not None or (t is not _ev.ScalarEvent and ev.tag is not None):
            raise _Decline  # an alias, an anchor or a tag
        if t is _ev.ScalarEvent:
            if ev.tag is not None:
                raise _Decline
            return _scalar(ev)
        if depth > MAX_DEPTH:
            raise _Decline
        if t is _ev.MappingStartEvent:
            return self.mapping(path, depth)
        if t is _ev.SequenceStartEvent:
            return self.sequence(path, depth)
        raise _Decline

    def mapping(self, path: Path, depth: int) -> dict[str, Any]:
        sm = self.sm
        out: dict[str, Any] = {}
        while True:
            k = self.next()
            if type(k) is _ev.MappingEndEvent:
                return out
            if type(k) is not _ev.ScalarEvent or k.anchor is not None or k.tag is not None:
                raise _Decline
            key = k.value
            if (not k.style and _plain_type(key) is not None) or key in out:
                raise _Decline  # a key that is not a string (or a merge key), or one seen before
            p = path + (key,)
            km = k.start_mark
            sm.keys[p] = kpos = Position(km.line + 1, km.column + 1)
            v = self.next()
            vm = v.start_mark
            sm.values[p] = Position(vm.line + 1, vm.column + 1)
            value = out[key] = self.node(v, p, depth + 1)
            if value is None:
                sm.values[p] = kpos
            elif type(value) is str:
                sm.content_offset[p] = _offset(v.style)

    def sequence(self, path: Path, depth: int) -> list[Any]:
        sm = self.sm
        out: list[Any] = []
        while True:
            v = self.next()
            if type(v) is _ev.SequenceEndEvent:
                return out
            p = path + (len(out),)
            vm = v.start_mark
            sm.values[p] = Position(vm.line + 1, vm.column + 1)
            value = self.node(v, p, depth + 1)
            out.append(value)
            if type(value) is str:
                sm.content_offset[p] = _offset(v.style)


def _offset(style: Any) -> int | None:
    """Where a string's text starts after its position: past the quote of a quoted scalar; a
    block scalar's columns do not map (ruamel's ``_note_scalar``)."""
    if style == '"' or style == "'":
        return 1
    if style == "|" or style == ">":
        return None
    return 0


def _plain_type(value: str) -> str | None:
    """The type YAML 1.2 gives a plain scalar (None: a string), as ruamel's resolver does."""
    for tag, rx in _BY_FIRST.get(value[:1], _NULL_ONLY if not value else ()):
        if rx.match(value):
            return tag
    return None


_NULL_ONLY = (("null", _NULL),)


def _scalar(ev: Any) -> Any:
    value = ev.value
    if ev.style:  # quoted or block: always a string
        return value
    tag = _plain_type(value)
    if tag is None:
        return value
    if tag == "null":
        return None
    if tag == "bool":
        return value in _TRUE
    if tag == "int" and _SIMPLE_INT.match(value):
        return int(value)
    if tag == "float" and _SIMPLE_FLOAT.match(value):
        return float(value)
    raise _Decline  # another form of a number, a date, a merge key or "=": ruamel constructs it
