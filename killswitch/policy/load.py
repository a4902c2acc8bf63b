"""Loader: YAML text → validated documents, with the line:col of every key and value.

Takes text, never a path to open (reading files is :mod:`killswitch.sources`' job), so it is
pure and fuzzable. A file may hold several documents (``---``). Every problem becomes a
:class:`~killswitch.policy.diagnostics.Diagnostic`; nothing but diagnostics ever leaves
:func:`load_text`, whatever the input.

When a Policy has schema errors, the loader *salvages* it: the broken signals, triggers and
stages are dropped and the rest is validated again, so that the compiler can still report
unresolved references and unsafe stages in the same run. Names of dropped items are
remembered (``poisoned``) so that nothing is reported twice.

YAML anchors, aliases, merge keys and custom tags are refused: a policy is read by people in
review, and what they read must be what runs. The text is read under the bounds of
:mod:`killswitch.policy.yamlbounds` (nesting depth; aliases refused at the first one), so no
input costs more than a linear scan: a hostile file is refused at the token that crosses a bound.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from . import diagnostics as d
from .diagnostics import Diagnostic, Position
from .model import API_VERSION, DOCUMENT_KINDS

Path = tuple[Any, ...]  # a key path into a document, e.g. ("spec", "stages", 2)


@dataclass
class SourceMap:
    """Positions (1-based) of keys and values by path, e.g. ``("spec", "stages", 2, "on", 0)``."""

    doc: Position
    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)
    # Where the text of a scalar starts relative to its position (1 for a quoted scalar),
    # or None when columns inside it cannot be mapped (block scalars).
    content_offset: dict[Path, int | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list, repr=False)  # the source, for scalars over several lines

    def key(self, path: Path) -> Position:
        """Position of the key that introduces ``path`` (or of the nearest enclosing one)."""
        for n in range(len(path), 0, -1):
            p = tuple(path[:n])
            if p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
        return self.doc

    def value(self, path: Path) -> Position:
        """Position of the value at ``path`` (or of the nearest enclosing one)."""
        for n in range(len(path), 0, -1):
            p = tuple(path[:n])
            if p in self.values:
                return self.values[p]
            if p in self.keys:
                return self.keys[p]
        return self.doc

    def inside(self, path: Path, offset: int, value: str | None = None) -> Position:
        """Position of character ``offset`` of the scalar ``value`` at ``path``.

        Follows a plain or quoted scalar over line breaks (YAML folds each break and the next
        line's indentation into one space). Falls back to the scalar's start when the text
        cannot be followed (escape sequences, block scalars).
        """
        path = tuple(path)
        base = self.value(path)
        extra = self.content_offset.get(path)
        if path not in self.values or extra is None:
            return base
        simple = Position(base.line, base.col + extra + offset)
        if value is None or not self.lines:
            return simple
        line, col = base.line - 1, base.col - 1 + extra
        for ch in value[:offset]:
            src = self.lines[line] if line < len(self.lines) else ""
            if src[col:].strip() == "" and line + 1 < len(self.lines):
                line += 1  # a folded line break: it reads as one space
                while line + 1 < len(self.lines) and not self.lines[line].strip():
                    line += 1
                src = self.lines[line]
                col = len(src) - len(src.lstrip())
                if ch == " ":
                    continue
            if col < len(src) and src[col] == ch:
                col += 1
                continue
            return simple
        return Position(line + 1, col + 1)


@dataclass
class LoadedDoc:
    file: str
    index: int  # 0-based position of the document in its file
    kind: str
    raw: dict[str, Any]
    srcmap: SourceMap
    model: BaseModel | None = None  # None when invalid and not salvageable
    complete: bool = True  # False when the model was salvaged from a document with errors
    poisoned: frozenset[Path] = frozenset()  # paths of dropped items, e.g. ("spec", "signals", "dd")
    dropped_names: dict[str, list[str]] = field(default_factory=dict)  # section → names of dropped items
    # For lists under spec that lost items: item i of the model is item kept[section][i] of the file.
    kept: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        md = self.raw.get("metadata")
        return md.get("name") if isinstance(md, dict) and isinstance(md.get("name"), str) else None

    def item_path(self, section: str, i: int) -> Path:
        """Path in the file of item ``i`` of the list ``spec.<section>`` of the (salvaged) model."""
        kept = self.kept.get(section)
        return ("spec", section, kept[i] if kept else i)

    def stage_path(self, i: int) -> Path:
        return self.item_path("stages", i)

    def poisoned_names(self, section: str) -> set[str]:
        """Names of the items of ``spec.<section>`` dropped by salvage: declared, but broken."""
        return set(self.dropped_names.get(section, ()))


@dataclass
class LoadResult:
    docs: list[LoadedDoc] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def extend(self, other: "LoadResult") -> None:
        self.docs.extend(other.docs)
        self.diagnostics.extend(other.diagnostics)


# --- YAML → plain data + positions ----------------------------------------------------------


class _Refused(Exception):
    def __init__(self, pos: Position, message: str):
        self.pos = pos
        self.message = message


def _plain(node: Any, path: Path, sm: SourceMap, seen: set[int], pos: Position) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString, ScalarString

    if isinstance(node, (CommentedMap, CommentedSeq)):
        if id(node) in seen:
            raise _Refused(pos, "YAML aliases are not allowed; write the value out")
        seen.add(id(node))
        tag = getattr(getattr(node, "tag", None), "value", None)
        if tag and not str(tag).startswith("tag:yaml.org,2002:"):
            raise _Refused(pos, f"YAML tag {tag} is not allowed")
    if isinstance(node, TaggedScalar):
        raise _Refused(pos, f"YAML tag {node.tag.value} is not allowed")
    if isinstance(node, CommentedMap):
        if getattr(node, "merge", None):
            raise _Refused(pos, "YAML merge keys (<<) are not allowed; write the keys out")
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
            out[key] = _plain(v, p, sm, seen, vpos)
            _note_scalar(v, p, sm, DoubleQuotedScalarString, SingleQuotedScalarString, ScalarString)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        lc = node.lc.data
        for i, v in enumerate(node):
            p = path + (i,)
            entry = lc.get(i)
            if entry:
                sm.values[p] = Position(entry[0] + 1, entry[1] + 1)
            items.append(_plain(v, p, sm, seen, sm.values.get(p, pos)))
            _note_scalar(v, p, sm, DoubleQuotedScalarString, SingleQuotedScalarString, ScalarString)
        return items
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


# --- entry points ------------------------------------------------------------------------------


def load_text(text: str, file: str) -> LoadResult:
    """Parse and validate every document in ``text``. Never raises for bad input.

    A text nested deeper than :data:`~killswitch.policy.yamlbounds.MAX_DEPTH` levels (KS009) or
    holding an alias (KS008) is refused as a whole, with that one diagnostic: the scan stops at
    the offending token, so such a file costs no more than reading up to it.
    """
    result = LoadResult()
    try:
        _load_into(result, text, file)
    except RecursionError:
        # Not expected within the depth bound; a last line of defence, and still one diagnostic.
        result = LoadResult(diagnostics=[Diagnostic.make(
            d.KS009, file, None, "the document is nested too deeply to be read", _DEPTH_HINT)])
    return result


def load_sources(sources: Iterable[tuple[str, str]]) -> LoadResult:
    """Load several ``(file, text)`` pairs into one result."""
    result = LoadResult()
    for file, text in sources:
        result.extend(load_text(text, file))
    return result


_DEPTH_HINT = ("every indented block and every open [ or { is one level (the example policies need at "
               "most 7); look for brackets that are never closed")


def _load_into(result: LoadResult, text: str, file: str) -> None:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from . import yamlbounds

    index = 0
    loaded = 0
    lines = text.splitlines()  # once per file: a file may hold thousands of documents
    docs, starts = yamlbounds.load_all(text)
    try:
        for node in docs:
            if node is not None:
                loaded += 1
                _one_document(result, node, file, index, lines, starts)
            index += 1
    except yamlbounds.NestingTooDeep as e:
        _refuse_file(result, Diagnostic.make(
            d.KS009, file, Position(e.line, e.col), f"nesting deeper than {yamlbounds.MAX_DEPTH} levels",
            _DEPTH_HINT))
        return
    except yamlbounds.AliasFound as e:
        _refuse_file(result, _alias_diagnostic(e, file, text))
        return
    except MarkedYAMLError as e:
        result.diagnostics.append(_yaml_error(e, file, text))
        return
    except YAMLError as e:
        result.diagnostics.append(Diagnostic.make(d.KS002, file, None, _first_line(str(e))))
        return
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        # ruamel reports some malformed input (bad timestamps, odd keys) outside its error types.
        result.diagnostics.append(Diagnostic.make(d.KS002, file, None, f"unreadable YAML: {_first_line(str(e))}"))
        return
    finally:
        # Reset this thread's ruamel instance now, even when a document's checks raised half-way:
        # a suspended load would otherwise reset it later, in the middle of the next one.
        docs.close()
    if loaded == 0:
        result.diagnostics.append(Diagnostic.make(d.KS007, file, None, "the file holds no YAML document"))


def _refuse_file(result: LoadResult, why: Diagnostic) -> None:
    """Nothing of a file with a refused shape is kept, not even the documents before the token
    that was refused: a file is reviewed, and runs, as a whole. (``result`` holds this file only.)"""
    result.docs.clear()
    result.diagnostics[:] = [why]


_MERGE_KEY = re.compile(r"<<[ \t]*:[ \t]*$")


def _alias_diagnostic(e: Any, file: str, text: str) -> Diagnostic:
    """KS008 for the alias at ``e``; a merge key (``<<: *base``) is named, at its ``<<``."""
    line_start = text.rfind("\n", 0, e.index) + 1
    merge = _MERGE_KEY.search(text, line_start, e.index)
    if merge is not None:
        return Diagnostic.make(d.KS008, file, Position(e.line, merge.start() - line_start + 1),
                               "YAML merge keys (<<) are not allowed", _ALIAS_HINT)
    return Diagnostic.make(d.KS008, file, Position(e.line, e.col), "YAML aliases are not allowed", _ALIAS_HINT)


_ALIAS_HINT = "write the value out: what reviewers read must be what runs"


_DUPLICATE = re.compile(r'duplicate key "(.*?)" with value')


def _yaml_error(e: Any, file: str, text: str) -> Diagnostic:
    problem = (e.problem or "").strip()
    context = (e.context or "").strip()
    mark = e.problem_mark or e.context_mark
    if type(e).__name__ == "DuplicateKeyError" or "duplicate key" in problem:
        # ruamel's own text repeats both values, which may be secrets: name the key only.
        m = _DUPLICATE.search(problem)
        key = m.group(1) if m else "a key"
        first = e.context_mark
        hint = "each key may appear once in a mapping"
        if first is not None:
            hint = f"the mapping that starts at line {first.line + 1} already has it; " + hint
        return Diagnostic.make(d.KS003, file, _mark(e.problem_mark), f'duplicate key "{key}"', hint)
    if e.context_mark is not None and e.problem_mark is not None and e.problem_mark.index >= len(text.rstrip()):
        # The problem is only noticed at the end of the file (an unterminated quote or
        # bracket): the construct's start is where the fix goes.
        mark = e.context_mark
    message = _first_line(problem or context or "invalid YAML")
    if context and context.startswith("while "):
        message = f"{message} ({context})"
    return Diagnostic.make(d.KS002, file, _mark(mark), message)


def _mark(mark: Any) -> Position | None:
    return Position(mark.line + 1, mark.column + 1) if mark is not None else None


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0] if s.strip() else "invalid YAML"


def _one_document(result: LoadResult, node: Any, file: str, index: int, lines: list[str],
                  starts: list[tuple[int, int]]) -> None:
    from ruamel.yaml.comments import CommentedBase

    if isinstance(node, CommentedBase):
        doc_pos = Position(node.lc.line + 1, node.lc.col + 1)
    else:
        # a scalar document carries no position of its own: the composer noted where it starts
        line, col = starts[index] if index < len(starts) else (0, 0)
        doc_pos = Position(line + 1, col + 1)
    sm = SourceMap(doc=doc_pos, lines=lines)
    try:
        raw = _plain(node, (), sm, set(), doc_pos)
    except _Refused as e:
        result.diagnostics.append(Diagnostic.make(d.KS008, file, e.pos, e.message))
        return
    if not isinstance(raw, dict):
        result.diagnostics.append(
            Diagnostic.make(d.KS004, file, doc_pos,
                            "a document must be a mapping with apiVersion, kind, metadata and spec")
        )
        return
    api = raw.get("apiVersion")
    if api != API_VERSION:
        where = sm.value(("apiVersion",)) if "apiVersion" in raw else doc_pos
        msg = "missing apiVersion" if api is None else f'unknown apiVersion "{api}"'
        result.diagnostics.append(Diagnostic.make(d.KS005, file, where, msg, f"write apiVersion: {API_VERSION}"))
        return
    kind = raw.get("kind")
    if kind not in DOCUMENT_KINDS:
        where = sm.value(("kind",)) if "kind" in raw else doc_pos
        msg = "missing kind" if kind is None else f'unknown kind "{kind}"'
        hint = d.suggestion_hint(str(kind), DOCUMENT_KINDS,
                                 "kinds are Policy, Accounts, NotificationRoutes, PolicyTest")
        result.diagnostics.append(Diagnostic.make(d.KS006, file, where, msg, hint))
        return
    cls = DOCUMENT_KINDS[kind]
    doc = LoadedDoc(file=file, index=index, kind=kind, raw=raw, srcmap=sm)
    try:
        doc.model = cls.model_validate(raw)
    except ValidationError as e:
        errors = _clean_errors(e, raw, cls)
        result.diagnostics.extend(_diagnostic(err, doc, cls) for err in errors)
        doc.complete = False
        _salvage(doc, cls, errors)
    if kind == "Accounts":
        _check_dry_run(result, doc)
    result.docs.append(doc)


def _check_dry_run(result: LoadResult, doc: LoadedDoc) -> None:
    spec = doc.raw.get("spec")
    if isinstance(spec, dict) and "dry_run" in spec and not isinstance(spec["dry_run"], bool):
        result.diagnostics.append(
            Diagnostic.make(
                d.KS210,
                doc.file,
                doc.srcmap.value(("spec", "dry_run")),
                "dry_run is not a boolean, so the accounts stay in dry run",
                "write dry_run: false (unquoted) to send real orders, or dry_run: true",
            )
        )


# --- pydantic errors → diagnostics ----------------------------------------------------------------


@dataclass
class _Err:
    type: str
    path: Path  # cleaned: only keys and indices of the document
    message: str
    ctx: dict[str, Any]
    input: Any
    union: bool  # the error came from one branch of a union


def _looks_like_tag(el: Any) -> bool:
    """pydantic's names for union branches and validators (``constrained-float``, ``function-after[…]``,
    ``AppriseTarget``, ``str``). Only met for elements that are not keys of the document."""
    return isinstance(el, str) and (
        "[" in el or "-" in el or el[:1].isupper() or el in ("str", "int", "float", "bool", "dict", "list")
    )


def _clean_errors(e: ValidationError, raw: dict[str, Any], cls: type) -> list[_Err]:
    out: list[_Err] = []
    seen: dict[Path, _Err] = {}
    missing: dict[Path, _Err] = {}
    for err in e.errors(include_url=False):
        path: list[Any] = []
        node: Any = raw
        union = False
        for el in err["loc"]:
            if isinstance(node, dict) and isinstance(el, str) and el in node:
                path.append(el)
                node = node[el]
            elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
                path.append(el)
                node = node[el]
            elif el == "[key]":
                path.append(el)
                node = None
            elif _looks_like_tag(el):
                union = True
            else:
                path.append(el)
                node = None
        key = tuple(path)
        if union and key in seen:
            # one diagnostic per place: the branches of a union become "expected A, or B"
            prev = seen[key]
            if err["msg"] not in prev.message:
                prev.message += ", or " + _reword(err["msg"]).replace("expected ", "", 1)
            continue
        item = _Err(err["type"], key, err["msg"], dict(err.get("ctx") or {}), err.get("input"), union)
        if item.type == "missing" and key:
            # all missing keys of one mapping in one diagnostic
            group = missing.get(key[:-1])
            if group is not None:
                group.ctx["keys"].append(str(key[-1]))
                continue
            item.ctx["keys"] = [str(key[-1])]
            missing[key[:-1]] = item
        seen[key] = item
        out.append(item)
    return out


_TYPE_CODES = {
    "ks_duration": d.KS110,
    "ks_percent": d.KS111,
    "ks_amount": d.KS112,
    "ks_confirmation": d.KS113,
    "ks_secret": d.KS209,
    "ks_series": d.KS140,
    "ks_missing": d.KS102,
}

_SECRET_KEYS = {"credentials", "apprise", "url"}


def human_path(path: Path) -> str:
    parts: list[str] = []
    for el in path:
        if isinstance(el, int):
            parts.append(f"[{el}]")
        elif el == "[key]":
            continue
        else:
            parts.append(("." if parts else "") + str(el))
    text = "".join(parts)
    return text[5:] if text.startswith("spec.") else text


def _diagnostic(err: _Err, doc: LoadedDoc, cls: type) -> Diagnostic:
    sm, file, path = doc.srcmap, doc.file, err.path
    where = human_path(path)
    secret = any(isinstance(el, str) and el in _SECRET_KEYS for el in path)
    if err.type == "extra_forbidden":
        key = str(path[-1])
        allowed = allowed_keys(cls, path[:-1])
        parent = human_path(path[:-1]) or "the document"
        return Diagnostic.make(d.KS101, file, sm.key(path), f'unknown key "{key}" in {parent}',
                               d.suggestion_hint(key, allowed, f"keys allowed under {parent}"))

    if err.type == "missing":
        keys = err.ctx.get("keys") or [str(path[-1])]
        parent_path = path[:-1]
        where_parent = human_path(parent_path) or "the document"
        pos = sm.key(parent_path) if parent_path else sm.doc
        names = ", ".join(f'"{k}"' for k in keys)
        noun = "key" if len(keys) == 1 else "keys"
        return Diagnostic.make(d.KS102, file, pos, f"missing required {noun} {names} in {where_parent}",
                               f"add {', '.join(k + ':' for k in keys)} under {where_parent}")
    if path and path[-1] == "[key]":
        name = str(path[-2])
        return Diagnostic.make(d.KS103, file, sm.key(path[:-1]), f'invalid name "{name}" in {human_path(path[:-2])}',
                               _name_hint(err))
    if err.type == "ks_one_kind":
        choices = err.ctx.get("choices", [])
        return Diagnostic.make(d.KS103, file, sm.key(path), f"{where}: {err.message}",
                               "one of: " + ", ".join(choices) if choices else None)
    if err.type == "ks_missing":
        return Diagnostic.make(d.KS102, file, sm.key(path), f"{where}: {err.message}")
    code = _TYPE_CODES.get(err.type, d.KS103)
    message = _reword(err.message)
    hint = None
    if err.type == "string_pattern_mismatch":
        shown = f' "{err.input}"' if isinstance(err.input, str) and not secret and len(err.input) <= 80 else ""
        message = f"{where}:{shown} is not a valid name"
        hint = _PATTERN_HINTS.get(err.ctx.get("pattern", ""), f"it must match {err.ctx.get('pattern', '')}")
        return Diagnostic.make(code, file, sm.value(path), message, hint)
    if err.type in ("literal_error", "enum") and isinstance(err.input, str) and not secret:
        options = [o.strip().strip("'") for o in err.ctx.get("expected", "").replace(" or ", ", ").split(",")
                   if o.strip()]
        best = d.did_you_mean(err.input, options)
        if best:
            hint = f'did you mean "{best}"?'
        message = f'"{err.input}" is not allowed; expected {err.ctx.get("expected", "")}'
    elif "choices" in err.ctx and isinstance(err.input, list):
        pass
    if err.type == "ks_value" and "choices" in err.ctx:
        bad = message.split('"')[1] if '"' in message else ""
        best = d.did_you_mean(bad, err.ctx["choices"])
        hint = f'did you mean "{best}"?' if best else "one of: " + ", ".join(err.ctx["choices"])
    return Diagnostic.make(code, file, sm.value(path), f"{where}: {message}" if where else message, hint)


def _pattern_hints() -> dict[str, str]:
    from .model import IDENT_RE, NAME_RE

    return {
        NAME_RE: "names take lower-case letters, digits and dashes, and start and end with a letter or digit",
        IDENT_RE: "names used in conditions take letters, digits and _, and start with a letter or _",
        r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name takes letters, digits and _",
        r"^[a-z0-9_]+$": "a venue is a ccxt exchange id such as binanceusdm, bybit or okx",
    }


_PATTERN_HINTS = _pattern_hints()


def _name_hint(err: _Err) -> str:
    pattern = err.ctx.get("pattern", "")
    if "_" in pattern and "A-Z" in pattern:
        return "names used in conditions take letters, digits and _ and start with a letter"
    return "names take lower-case letters, digits and dashes"


def _reword(msg: str) -> str:
    msg = msg.replace("Input should be", "expected").replace("Value error, ", "")
    msg = msg.replace("String should match pattern", "does not match the pattern")
    return msg


# --- the model tree, for did-you-mean on keys -------------------------------------------------------


def _unwrap(ann: Any) -> Any:
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            pick = next((a for a in args if _is_model(_unwrap(a)) or typing.get_origin(_unwrap(a)) in (list, dict)),
                        None)
            if pick is None:
                return ann
            ann = pick
        else:
            return ann


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _field_ann(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key == name or key == f.alias:
            return f.annotation
    return None


def allowed_keys(root: type[BaseModel], path: Path) -> list[str]:
    """The keys allowed at ``path`` of a document of class ``root`` (empty when unknown)."""
    ann: Any = root
    for el in path:
        ann = _unwrap(ann)
        if _is_model(ann):
            ann = _field_ann(ann, el)
            if ann is None:
                return []
        elif typing.get_origin(ann) in (list, dict):
            ann = typing.get_args(ann)[-1]
        else:
            return []
    ann = _unwrap(ann)
    if not _is_model(ann):
        return []
    return [f.alias or name for name, f in ann.model_fields.items()]


# --- salvage ----------------------------------------------------------------------------------------

def _salvage(doc: LoadedDoc, cls: type[BaseModel], errors: list[_Err]) -> None:
    """Drop the broken items of the collections under ``spec`` and validate the rest again.

    An error inside ``spec.<section>.<item>`` drops that item (its name is remembered, so
    references to it are not reported as unknown); an error in an optional ``spec`` field
    drops the field. Anything else (metadata.name, the spec itself) leaves no model.
    """
    raw = copy.deepcopy(doc.raw)
    spec = raw.get("spec")
    spec_model = _unwrap(cls.model_fields["spec"].annotation)
    if not isinstance(spec, dict) or not _is_model(spec_model):
        return
    optional = {f.alias or n for n, f in spec_model.model_fields.items() if not f.is_required()}
    drop_items: dict[str, set[Any]] = {}

    drop_fields: set[str] = set()
    for err in errors:
        p = err.path
        if len(p) >= 3 and p[0] == "spec" and isinstance(spec.get(p[1]), (dict, list)) and p[2] != "[key]":
            drop_items.setdefault(p[1], set()).add(p[2])
        elif len(p) >= 4 and p[0] == "spec" and p[3] == "[key]":
            drop_items.setdefault(p[1], set()).add(p[2])
        elif len(p) >= 2 and p[0] == "spec" and p[1] in optional:
            drop_fields.add(p[1])
        elif len(p) >= 2 and p[0] == "metadata" and p[1] != "name":
            raw["metadata"].pop(p[1], None)
        else:
            return  # the document's frame is broken; nothing trustworthy to check further
    for name in drop_fields:
        spec.pop(name, None)
    names: dict[str, list[str]] = {}
    poisoned: set[Path] = {("spec", f) for f in drop_fields}
    for section, items in drop_items.items():
        coll = spec.get(section)
        if isinstance(coll, dict):
            for key in items:
                coll.pop(key, None)
                names.setdefault(section, []).append(str(key))
                poisoned.add(("spec", section, key))
        elif isinstance(coll, list):
            keep = tuple(i for i in range(len(coll)) if i not in items)
            for i in sorted(items):
                item = coll[i] if isinstance(i, int) and i < len(coll) else None
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    names.setdefault(section, []).append(item["name"])
                poisoned.add(("spec", section, i))
            spec[section] = [coll[i] for i in keep]
            doc.kept[section] = keep
    try:
        doc.model = cls.model_validate(raw)
    except ValidationError:
        doc.model = None
        doc.kept = {}
        return
    doc.poisoned = frozenset(poisoned)
    doc.dropped_names = names
