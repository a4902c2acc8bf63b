"""Reading a file's YAML once: text → every document's plain data and source map, or where it stops.

What it owns: :func:`read`, the one parse of a file the loader makes, and :class:`Reading`, what
it found. Ordinary YAML is read by :mod:`.yamlfast` (libyaml, in C); a text it declines (any
syntax error, alias, tag, or form it does not read exactly as ruamel does) is read by ruamel's
round-trip loader under the bounds of :mod:`.yamlbounds`, every document to the end of the file or
to the error that stops it, and ruamel's nodes are made into the same plain data and source maps
(:func:`plain`). Nothing is parsed again here: the error path (:mod:`.yamlerrors`) says where a
text that stops went wrong.

It must not build models or make diagnostics (it reports what stopped the reading, as it was
raised) and it reads no file.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from .diagnostics import Position
from .documents import Path, SourceMap

if TYPE_CHECKING:
    from .yamlbounds import ShapeRefused


@dataclass
class Document:
    """One document that is not empty: its plain data and source map; or, when it holds what the
    loader refuses (a tag, a merge key, an alias of a collection), ``refused`` — the place and the
    words of the refusal — with ``raw`` holding only its apiVersion, kind and name."""

    index: int  # its place in the file, empty documents counted
    raw: Any
    sm: SourceMap
    refused: Optional[tuple[Position, str]] = None


@dataclass
class Reading:
    """What :func:`read` found: the documents read, in order, and what stopped the reading, if
    anything: ``refused`` (a shape of :mod:`.yamlbounds`: nothing of the file is kept) or
    ``error`` (ruamel's exception: the documents before it stand), raised in document
    ``stopped_at``."""

    documents: list[Document] = field(default_factory=list)
    refused: Optional[ShapeRefused] = None
    error: Optional[BaseException] = None
    stopped_at: int = 0


def read(text: str, lines: list[str]) -> Reading:
    """Every document of ``text``; ``lines`` is ``text.splitlines()``, shared by the source maps."""
    from . import yamlfast

    fast = yamlfast.read(text, lines)
    if fast is not None:  # ordinary YAML, read in C
        return Reading([Document(i, raw, sm) for i, (raw, sm) in enumerate(fast) if raw is not None])
    return _round_trip(text, lines)


def _round_trip(text: str, lines: list[str]) -> Reading:
    """ruamel's reading, under the bounds; ruamel is imported only for what the fast path declines."""
    from ruamel.yaml.error import YAMLError

    from . import yamlbounds

    reading = Reading()
    index = 0
    docs, starts = yamlbounds.load_all(text)
    try:
        for node in docs:
            if node is not None:
                reading.documents.append(_document(node, index, lines, starts))
            index += 1
    except yamlbounds.ShapeRefused as e:
        reading.refused = e
    except (YAMLError, ValueError, TypeError, AttributeError, KeyError, IndexError, AssertionError,
            NotImplementedError) as e:
        # ruamel reports some malformed input (bad timestamps, odd keys, "-_" read as an integer)
        # outside its error types, and its comment handling gives up on comments it cannot place
        # (an assertion, "overlap in comment") in valid YAML too; every one stops the reading here
        reading.error = e
        reading.stopped_at = index
    finally:
        # Reset this thread's ruamel instance now: a suspended load would otherwise reset it
        # later, in the middle of the next one.
        docs.close()
    return reading


def _document(node: Any, index: int, lines: list[str], starts: list[tuple[int, int]]) -> Document:
    sm = source_map(node, index, lines, starts)
    try:
        return Document(index, plain(node, (), sm, set(), sm.doc), sm)
    except Refused as e:
        return Document(index, top_scalars(node), sm, refused=(e.pos, e.message))


# --- ruamel's nodes → plain data + positions -------------------------------------------------------


class Refused(Exception):
    """A node the loader refuses (a tag, a merge key, an alias of a collection), at ``pos``."""

    def __init__(self, pos: Position, message: str):
        self.pos = pos
        self.message = message


def source_map(node: Any, index: int, lines: list[str], starts: list[tuple[int, int]]) -> SourceMap:
    """The (still empty) source map of document ``index``, whose root ruamel composed as ``node``."""
    from ruamel.yaml.comments import CommentedBase

    if isinstance(node, CommentedBase):
        return SourceMap(doc=Position(node.lc.line + 1, node.lc.col + 1), lines=lines)
    # a scalar document carries no position of its own: the composer noted where it starts
    line, col = starts[index] if index < len(starts) else (0, 0)
    return SourceMap(doc=Position(line + 1, col + 1), lines=lines)


def plain(node: Any, path: Path, sm: SourceMap, seen: set[int], pos: Position) -> Any:
    """``node``'s plain data (dicts, lists, scalars), noting every key's and value's position in
    ``sm``; raises :class:`Refused` at what the loader refuses."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    if isinstance(node, (CommentedMap, CommentedSeq)):
        _refuse_repeat_or_tag(node, seen, pos)
    if isinstance(node, TaggedScalar):
        raise Refused(pos, f"YAML tag {node.tag.value} is not allowed")
    if isinstance(node, CommentedMap):
        return _plain_map(node, path, sm, seen, pos)
    if isinstance(node, CommentedSeq):
        return _plain_seq(node, path, sm, seen, pos)
    return _plain_scalar(node)


def _refuse_repeat_or_tag(node: Any, seen: set[int], pos: Position) -> None:
    """Refuses a collection met before (an alias) or tagged outside YAML's own tags."""
    if id(node) in seen:
        raise Refused(pos, "YAML aliases are not allowed; write the value out")
    seen.add(id(node))
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag and not str(tag).startswith("tag:yaml.org,2002:"):
        raise Refused(pos, f"YAML tag {tag} is not allowed")


def _plain_map(node: Any, path: Path, sm: SourceMap, seen: set[int], pos: Position) -> dict[str, Any]:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString, SingleQuotedScalarString

    if getattr(node, "merge", None):
        raise Refused(pos, "YAML merge keys (<<) are not allowed; write the keys out")
    out: dict[str, Any] = {}
    lc = node.lc.data
    for k, v in node.items():
        key = k if isinstance(k, str) else _scalar_key(k)
        p = path + (key,)
        entry = lc.get(k)
        if entry:
            sm.keys[p] = Position(entry[0] + 1, entry[1] + 1)
            sm.values[p] = Position(entry[2] + 1, entry[3] + 1)
        if v is None and p in sm.keys:
            sm.values[p] = sm.keys[p]
        vpos = sm.values.get(p, pos)
        out[key] = plain(v, p, sm, seen, vpos)
        _note_scalar(v, p, sm, DoubleQuotedScalarString, SingleQuotedScalarString, ScalarString)
    return out


def _plain_seq(node: Any, path: Path, sm: SourceMap, seen: set[int], pos: Position) -> list[Any]:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString, SingleQuotedScalarString

    items = []
    lc = node.lc.data
    for i, v in enumerate(node):
        p = path + (i,)
        entry = lc.get(i)
        if entry:
            sm.values[p] = Position(entry[0] + 1, entry[1] + 1)
        items.append(plain(v, p, sm, seen, sm.values.get(p, pos)))
        _note_scalar(v, p, sm, DoubleQuotedScalarString, SingleQuotedScalarString, ScalarString)
    return items


def _plain_scalar(node: Any) -> Any:
    """A scalar as the plain value of its type: ruamel's subclasses of int, float and str made
    the built-in types, a date its ISO text."""
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (_dt.date, _dt.datetime)):
        return node.isoformat()
    return str(node)


def top_scalars(node: Any) -> dict[str, Any]:
    """apiVersion, kind and metadata.name of a document node, when they are plain text (read
    without converting the rest, which may hold what the loader refuses)."""
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(node, CommentedMap):
        return {}
    md = node.get("metadata")
    name = md.get("name") if isinstance(md, CommentedMap) else None
    out: dict[str, Any] = {k: str(node[k]) for k in ("apiVersion", "kind") if isinstance(node.get(k), str)}
    if isinstance(name, str):
        out["metadata"] = {"name": str(name)}
    return out


def _scalar_key(k: Any) -> str:
    if k is None:
        return "null"
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(k)


def _note_scalar(v: Any, p: Path, sm: SourceMap, dq: type, sq: type, ss: type) -> None:
    if isinstance(v, (dq, sq)):
        sm.content_offset[p] = 1
    elif isinstance(v, ss):  # literal or folded block scalar: columns do not map
        sm.content_offset[p] = None
    elif isinstance(v, str):
        sm.content_offset[p] = 0
