"""Loader: YAML text → validated documents, with the line:col of every key and value.

Takes text, never a path to open (reading files is :mod:`killswitch.sources`' job), so it is
pure and fuzzable. A file may hold several documents (``---``). Every problem becomes a
:class:`~killswitch.policy.diagnostics.Diagnostic`; nothing but diagnostics ever leaves
:func:`load_text`, whatever the input.

When a Policy has schema errors, the loader *salvages* it (:mod:`.schema_errors`): a stage keeps
its identity without its bad field or action, broken signals and triggers are dropped (their
names stay declared), and the rest is validated again, so that the compiler can still report
unresolved references and unsafe stages in the same run, and nothing that is only a consequence.
A document that stops at a YAML error keeps its kind and name (from the lines before the error),
without a model. The documents' loaded form is :mod:`.documents`.

YAML anchors, aliases, merge keys and custom tags are refused: a policy is read by people in
review, and what they read must be what runs. The text is read under the bounds of
:mod:`killswitch.policy.yamlbounds` (nesting depth; aliases refused at the first one), so no
input costs more than a linear scan: a hostile file is refused at the token that crosses a bound.

Ordinary YAML is read by :mod:`.yamlfast` (libyaml, in C) into the same plain data and source
map; whatever it declines (any syntax error, alias, tag, or form it does not read exactly as
ruamel does) is read by ruamel's round-trip loader, which makes every YAML diagnostic.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable

from pydantic import ValidationError

from . import diagnostics as d
from .diagnostics import Diagnostic, Position
from .documents import LoadedDoc as LoadedDoc, LoadResult as LoadResult, Path as Path, SourceMap as SourceMap
from .model import API_VERSION, DOCUMENT_KINDS

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


def _top_scalars(node: Any) -> dict[str, Any]:
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


_EMPTY_HINT = ("write a document (apiVersion: killswitch/v1, kind, metadata, spec), or remove the file; "
               "ksctl validate --allow-empty accepts empty input")
_DEPTH_HINT = ("every indented block and every open [ or { is one level (the example policies need at "
               "most 7); look for brackets that are never closed")


def _load_into(result: LoadResult, text: str, file: str) -> None:
    from . import yamlfast

    index = 0
    loaded = 0
    broken: Any = None
    bad_char: Any = None
    lines = text.splitlines()  # once per file: a file may hold thousands of documents
    fast = yamlfast.read(text, lines)
    if fast is not None:  # ordinary YAML, read in C; anything else is ruamel's below
        for index, (raw, sm) in enumerate(fast):
            if raw is not None:
                loaded += 1
                _checked_document(result, raw, sm, file, index)
        if loaded == 0:
            result.diagnostics.append(_no_document(file))
        return
    from ruamel.yaml.error import MarkedYAMLError, YAMLError  # ruamel only for what the fast path declines
    from ruamel.yaml.reader import ReaderError

    from . import yamlbounds

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
        broken = e  # made into a diagnostic once ruamel is reset: placing it may scan the text again
    except ReaderError as e:
        # a character YAML does not allow (a NUL, an escape): ruamel checks the whole text first
        bad_char = e
    except YAMLError as e:
        result.diagnostics.append(Diagnostic.make(d.KS002, file, None, _first_line(str(e)),
                                                  _yaml_hint("", "", "", None)))
        return
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        # ruamel reports some malformed input (bad timestamps, odd keys, "-_" read as an integer)
        # outside its error types.
        result.diagnostics.append(Diagnostic.make(d.KS002, file, None, f"unreadable YAML: {_first_line(str(e))}",
                                                  _yaml_hint("", "", "", None)))
        return
    finally:
        # Reset this thread's ruamel instance now, even when a document's checks raised half-way:
        # a suspended load would otherwise reset it later, in the middle of the next one.
        docs.close()
    if bad_char is not None:
        at = bad_char.position if isinstance(bad_char.position, int) and 0 <= bad_char.position <= len(text) else 0
        result.diagnostics.append(_bad_character(bad_char, file, text, at))
        _recover_identity(result, text, file, index, at)
        return
    if broken is not None:
        result.diagnostics.append(_yaml_error(broken, file, text))
        marks = [m.index for m in (broken.context_mark, broken.problem_mark) if m is not None]
        if marks:
            _recover_identity(result, text, file, index, min(marks))
        return
    if loaded == 0:
        result.diagnostics.append(_no_document(file))


def _no_document(file: str) -> Diagnostic:
    return Diagnostic.make(d.KS007, file, None, "the file holds no YAML document", _EMPTY_HINT)


_TOP_KEY = re.compile(r"^[A-Za-z_][^:#\n]*:", re.MULTILINE)


def _recover_identity(result: LoadResult, text: str, file: str, index: int, at: int) -> None:
    """Keep the kind and name of document ``index``, which stops at a YAML error at offset ``at``,
    from the lines before the error: a test of a policy whose file does not parse then says that
    the policy has errors, not that it does not exist. The document keeps no model (nothing else
    of it is checked). Best effort, two tries: the lines before the line of the error, then the
    lines before the top-level key whose block holds it (``spec:``); else nothing is kept."""
    cut = text.rfind("\n", 0, max(at, 0)) + 1  # the start of the line the error is on
    top = [m.start() for m in _TOP_KEY.finditer(text, 0, cut)]
    for end in dict.fromkeys((cut, top[-1] if top else cut)):
        doc = _partial_document(text[:end], file, index)
        if doc is not None:
            result.docs.append(doc)
            return


def _bad_character(e: Any, file: str, text: str, at: int) -> Diagnostic:
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    code = e.character if isinstance(e.character, int) else None
    what = f"character U+{code:04X}" if code is not None else "a character"
    return Diagnostic.make(d.KS002, file, Position(line, col), f"{what} is not allowed in YAML ({e.reason})",
                           "remove it: a control character (a NUL byte, an escape) has no place in a policy; "
                           "inside double quotes it can be written as an escape such as \\x1b")


def _partial_document(prefix: str, file: str, index: int) -> LoadedDoc | None:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    from . import yamlbounds

    docs, _ = yamlbounds.load_all(prefix)
    node: Any = None
    try:
        for i, each in enumerate(docs):
            if i == index:
                node = each
                break
    except (YAMLError, yamlbounds.ShapeRefused, ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    finally:
        docs.close()
    if not isinstance(node, CommentedMap):
        return None
    sm = SourceMap(doc=Position(node.lc.line + 1, node.lc.col + 1), lines=prefix.splitlines())
    try:
        raw = _plain(node, (), sm, set(), sm.doc)
    except _Refused:
        return None
    return _identity_only(raw, file, index, sm)


def _identity_only(raw: Any, file: str, index: int, sm: SourceMap) -> LoadedDoc | None:
    """A document of a known kind with a name, and nothing else known of it: no model."""
    if not isinstance(raw, dict):
        return None
    kind, md = raw.get("kind"), raw.get("metadata")
    if raw.get("apiVersion") != API_VERSION or not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
        return None
    if not isinstance(md, dict) or not isinstance(md.get("name"), str):
        return None
    return LoadedDoc(file=file, index=index, kind=kind, raw=raw, srcmap=sm, complete=False)


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
    """KS002 (KS003 for a duplicate key) at the mistake, which is not always where ruamel noticed
    it: an unclosed bracket or quote at its opening, a key without ":" at the key."""
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
    message = _first_line(problem or context or "invalid YAML")
    if context and context.startswith("while "):
        message = f"{message} ({context})"
    if e.problem_mark is not None:
        unclosed = _unclosed_bracket(e, text)
        if unclosed is not None:
            return Diagnostic.make(d.KS002, file, unclosed[0], unclosed[1], unclosed[2])
    if e.context_mark is not None and e.problem_mark is not None and (
            e.problem_mark.index >= len(text.rstrip()) or "scanning a quoted scalar" in context
            or "could not find expected ':'" in problem):
        # Noticed at the end of the file (an unterminated quote or bracket), or on the line after
        # a key without ":": the construct's start is where the fix goes.
        mark = e.context_mark
    pos = _mark(mark)
    if "mapping values are not allowed" in problem and e.problem_mark is not None:
        deeper = _deeper_than_key_above(text, e.problem_mark)
        if deeper is not None:
            return Diagnostic.make(d.KS002, file, deeper, "this line is indented deeper than the key above it, "
                                   "so YAML reads it as part of that key's value",
                                   "line it up with the keys of its mapping (indent with spaces only); if it "
                                   "continues the value above, quote that value")
    return Diagnostic.make(d.KS002, file, pos, message, _yaml_hint(problem, context, text, mark))


def _unclosed_bracket(e: Any, text: str) -> tuple[Position, str, str] | None:
    """A ``[`` or ``{`` left open on an earlier line than the error, when what follows it is not
    indented as a continuation of it (or the file ends): the bracket is the mistake."""
    from . import yamlbounds

    pm = e.problem_mark
    if not ("flow" in (e.context or "") or "flow" in (e.problem or "") or pm.index >= len(text.rstrip())):
        return None
    stack = yamlbounds.open_flow_collections(text, pm.index)
    if not stack:
        return None
    line, col, ch = stack[-1]
    if line >= pm.line:
        return None
    lines = text.splitlines()
    opener_indent = _indent(lines[line]) if line < len(lines) else 0
    following = next((ln for ln in lines[line + 1:pm.line + 1] if ln.strip() and not ln.lstrip().startswith("#")),
                     None)
    if following is not None and _indent(following) > opener_indent and pm.index < len(text.rstrip()):
        return None  # a collection written over several lines: the error is inside it
    closer = "]" if ch == "[" else "}"
    return (Position(line + 1, col + 1), f'"{ch}" is never closed',
            f'close it with "{closer}" on line {line + 1} (a flow {"list" if ch == "[" else "mapping"} '
            "continued on the next lines must indent them deeper than its key)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _deeper_than_key_above(text: str, pm: Any) -> Position | None:
    """Where a line starts that is indented deeper than the ``key: value`` line above it (YAML
    then reads it as the continuation of that value, and fails at its ":")."""
    lines = text.splitlines()
    if pm.line >= len(lines):
        return None
    here = lines[pm.line]
    above = next((ln for ln in reversed(lines[:pm.line]) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if above is None or _indent(here) <= _indent(above):
        return None
    key, sep, value = above.strip().partition(": ")
    if not sep or not value.strip() or value.strip().startswith(("|", ">", "#")):
        return None
    return Position(pm.line + 1, _indent(here) + 1)


_YAML_HINTS = (
    ("mapping values are not allowed", 'a ": " inside a plain value starts a mapping: quote the value ("...")'),
    ("found character '\\t'", "YAML indents with spaces only: replace the tab with spaces"),
    ("could not find expected ':'", 'a key needs ": " after it (name: value); a value continued on the next '
                                    "line must be indented deeper than its key"),
    ("scanning a quoted scalar", "the quote opened here is never closed: close it on the same line"),
    ("expected <block end>", "this line's indentation matches no mapping or list above it: line it up with the "
                             "keys of its mapping, or the dashes of its list"),
    ("did not find expected key", "this line's indentation matches no mapping above it: line it up with the "
                                  "keys of its mapping"),
    ("did not find expected '-'", 'every item of a list starts with "- " at the same indentation'),
    ("expected ',' or", 'items of a [list] or {mapping} are separated by ", "; check that each bracket is closed'),
    ("block sequence entries are not allowed", 'a "- " item cannot follow a value on the same key: put the list '
                                               "on the lines below the key"),
    ("expected a comment or a line break", "nothing may follow a closed quote or bracket on its line but a comment"),
    ("found unexpected ':'", 'quote a value that holds ":" ("...")'),
    ("found unknown escape character", 'in "double quotes" a backslash starts an escape: write \\\\ or use '
                                       "'single quotes'"),
    ("control character", "remove the control character (a byte such as \\x00 or \\x1b) from the file"),
    ("special characters are not allowed", "remove the special character, or quote the value"),
)


_DASH_NO_SPACE = re.compile(r"^\s*-[^\s-]")


def _yaml_hint(problem: str, context: str, source: str, mark: Any) -> str:
    if mark is not None:
        lines = source.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if _DASH_NO_SPACE.match(line) and "block" in f"{problem} {context}":
            return 'a list item needs a space after its dash: "- level: 2", not "-level: 2"'
    text = f"{problem} {context}"
    for needle, hint in _YAML_HINTS:
        if needle in text:
            return hint
    return ('check the YAML here: keys end with ": ", indentation uses spaces and lines up, quotes and brackets '
            "are closed")


def _mark(mark: Any) -> Position | None:
    return Position(mark.line + 1, mark.column + 1) if mark is not None else None


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0] if s.strip() else "invalid YAML"


def _source_map(node: Any, index: int, lines: list[str], starts: list[tuple[int, int]]) -> SourceMap:
    """The (still empty) source map of document ``index``, whose root ruamel composed as ``node``."""
    from ruamel.yaml.comments import CommentedBase

    if isinstance(node, CommentedBase):
        return SourceMap(doc=Position(node.lc.line + 1, node.lc.col + 1), lines=lines)
    # a scalar document carries no position of its own: the composer noted where it starts
    line, col = starts[index] if index < len(starts) else (0, 0)
    return SourceMap(doc=Position(line + 1, col + 1), lines=lines)


def _one_document(result: LoadResult, node: Any, file: str, index: int, lines: list[str],
                  starts: list[tuple[int, int]]) -> None:
    sm = _source_map(node, index, lines, starts)
    doc_pos = sm.doc
    try:
        raw = _plain(node, (), sm, set(), doc_pos)
    except _Refused as e:
        result.diagnostics.append(Diagnostic.make(d.KS008, file, e.pos, e.message, _ALIAS_HINT))
        identity = _identity_only(_top_scalars(node), file, index, sm)
        if identity is not None:  # what it is called, so that a test of it says it has errors
            result.docs.append(identity)
        return
    _checked_document(result, raw, sm, file, index)


def _checked_document(result: LoadResult, raw: Any, sm: SourceMap, file: str, index: int) -> None:
    """One document's plain data, checked: a mapping of a known apiVersion and kind, validated by
    its model (salvaged when it has errors)."""
    doc_pos = sm.doc
    if not isinstance(raw, dict):
        result.diagnostics.append(
            Diagnostic.make(d.KS004, file, doc_pos,
                            "a document must be a mapping with apiVersion, kind, metadata and spec",
                            "start it with apiVersion: killswitch/v1 and kind: Policy (or Accounts, "
                            "NotificationRoutes, PolicyTest); documents are separated by lines of ---")
        )
        return
    api = raw.get("apiVersion")
    if api != API_VERSION:
        where = sm.value(("apiVersion",)) if "apiVersion" in raw else doc_pos
        msg = "missing apiVersion" if api is None else f'unknown apiVersion "{api}"'
        result.diagnostics.append(Diagnostic.make(d.KS005, file, where, msg, f"write apiVersion: {API_VERSION}"))
        return
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
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
        # imported on the first document with errors: a clean repository never needs it
        from .schema_errors import clean_errors, diagnostic, salvage

        errors = clean_errors(e, raw, cls)
        result.diagnostics.extend(diagnostic(err, doc, cls) for err in errors)
        doc.complete = False
        salvage(doc, cls, errors)
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
