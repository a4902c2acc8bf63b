"""The error path of reading YAML: what stopped a file, as a diagnostic at the mistake, and what the
stopped document is called.

What it owns: :func:`stopped`, the diagnostic of what stopped :func:`.yamlread.read` (a shape
refused, KS009 / KS008 for the whole file; ruamel's error, KS002 / KS003, placed where the fix
goes — an unclosed bracket or quote at its opening, a key without ":" at the key, a line indented
deeper than the key above it —, with a hint), and :func:`recover_identity`, the kind and name of a
document that stops at a YAML error, from the lines before the error, so that a test of a policy
whose file does not parse says that the policy has errors, not that it does not exist.

Only a file that does not read comes here, so only here is text scanned again: the brackets
still open at an error (:func:`.yamlbounds.open_flow_collections`), and the lines before it read
for the document's identity (at most twice).

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from . import diagnostics as d
from .diagnostics import Diagnostic, Position
from .documents import LoadedDoc, SourceMap
from .fields import API_VERSION
from .model import DOCUMENT_KINDS
from .yamlread import Reading, Refused, plain

if TYPE_CHECKING:
    from ruamel.yaml.error import MarkedYAMLError, StreamMark
    from ruamel.yaml.reader import ReaderError

    from .yamlbounds import AliasFound

DEPTH_HINT = ("every indented block and every open [ or { is one level (the example policies need at "
              "most 7); look for brackets that are never closed")


def stopped(reading: Reading, file: str, text: str) -> tuple[Diagnostic, Optional[int]]:
    """The diagnostic of what stopped ``reading`` (its ``refused`` or ``error``), and the offset in
    ``text`` before which the stopped document's identity may be read (None: not tried)."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    from . import yamlbounds

    e = reading.refused if reading.refused is not None else reading.error
    if isinstance(e, yamlbounds.NestingTooDeep):
        return Diagnostic.make(d.KS009, file, Position(e.line, e.col), f"nesting deeper than {yamlbounds.MAX_DEPTH} "
                               "levels", DEPTH_HINT), None
    if isinstance(e, yamlbounds.AliasFound):
        return _alias_diagnostic(e, file, text), None
    if isinstance(e, MarkedYAMLError):
        marks = [m.index for m in (e.context_mark, e.problem_mark) if m is not None]
        return _yaml_error(e, file, text), (min(marks) if marks else None)
    if isinstance(e, ReaderError):
        # a character YAML does not allow (a NUL, an escape): ruamel checks the whole text first
        at = e.position if isinstance(e.position, int) and 0 <= e.position <= len(text) else 0
        return _bad_character(e, file, text, at), at
    if isinstance(e, YAMLError):
        return Diagnostic.make(d.KS002, file, None, _first_line(str(e)), _yaml_hint("", "", "", None)), None
    if isinstance(e, (AssertionError, NotImplementedError)):
        return _unplaced_comment(e, file, text), None
    return Diagnostic.make(d.KS002, file, None, f"unreadable YAML: {_first_line(str(e))}",
                           _yaml_hint("", "", "", None)), None


# A block scalar's header (| or >, with its chomping and indentation indicators) followed by a
# comment, and a comment anywhere: where ruamel's comment handling gives up.
_BLOCK_HEADER_COMMENT = re.compile(r"^(?P<lead>(?:[^#'\"\n]*?[ \t:-])?)[|>][-+0-9]{0,2}[ \t]+#", re.MULTILINE)
_COMMENT = re.compile(r"(?:^|[ \t])(?P<at>#)", re.MULTILINE)
_COMMENT_HINT = ("put the comment on a line of its own, above the value (not after a block scalar's | or >, "
                 "nor next to a NEL or LS line break), or remove it")


def _unplaced_comment(e: BaseException, file: str, text: str) -> Diagnostic:
    """KS002 for a text whose comments ruamel's round-trip reader cannot place: it fails an
    assertion or gives up ("overlap in comment") on YAML that is valid, with no position. Placed
    at a block scalar header that carries a comment (the form known to do it), else at the
    first comment, else at the file's start."""
    header = _BLOCK_HEADER_COMMENT.search(text)
    if header is not None:
        line = text.count("\n", 0, header.start()) + 1
        return Diagnostic.make(d.KS002, file, Position(line, len(header.group("lead")) + 1),
                               "a comment after a block scalar's | or > cannot be read here", _COMMENT_HINT)
    comment = _COMMENT.search(text)
    return Diagnostic.make(d.KS002, file, _at(text, comment.start("at") if comment is not None else 0),
                           f"the YAML reader cannot place the comments of this file ({type(e).__name__})",
                           _COMMENT_HINT)


_TOP_KEY = re.compile(r"^[A-Za-z_][^:#\n]*:", re.MULTILINE)


def recover_identity(text: str, file: str, index: int, at: int) -> Optional[LoadedDoc]:
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
            return doc
    return None


def _at(text: str, offset: int) -> Position:
    """The line and column of ``offset`` in ``text``."""
    return Position(text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))


def _bad_character(e: ReaderError, file: str, text: str, at: int) -> Diagnostic:
    code = e.character if isinstance(e.character, int) else None
    what = f"character U+{code:04X}" if code is not None else "a character"
    return Diagnostic.make(d.KS002, file, _at(text, at), f"{what} is not allowed in YAML ({e.reason})",
                           "remove it: a control character (a NUL byte, an escape) has no place in a policy; "
                           "inside double quotes it can be written as an escape such as \\x1b")


def _partial_document(prefix: str, file: str, index: int) -> Optional[LoadedDoc]:
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
        raw = plain(node, (), sm, set(), sm.doc)
    except Refused:
        return None
    return identity_only(raw, file, index, sm)


def identity_only(raw: Any, file: str, index: int, sm: SourceMap) -> Optional[LoadedDoc]:
    """A document of a known kind with a name, and nothing else known of it: no model."""
    if not isinstance(raw, dict):
        return None
    kind, md = raw.get("kind"), raw.get("metadata")
    if raw.get("apiVersion") != API_VERSION or not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
        return None
    if not isinstance(md, dict) or not isinstance(md.get("name"), str):
        return None
    return LoadedDoc(file=file, index=index, kind=kind, raw=raw, srcmap=sm, complete=False)


_MERGE_KEY = re.compile(r"<<[ \t]*:[ \t]*$")


def _alias_diagnostic(e: AliasFound, file: str, text: str) -> Diagnostic:
    """KS008 for the alias at ``e``; a merge key (``<<: *base``) is named, at its ``<<``."""
    line_start = text.rfind("\n", 0, e.index) + 1
    merge = _MERGE_KEY.search(text, line_start, e.index)
    if merge is not None:
        return Diagnostic.make(d.KS008, file, Position(e.line, merge.start() - line_start + 1),
                               "YAML merge keys (<<) are not allowed", ALIAS_HINT)
    return Diagnostic.make(d.KS008, file, Position(e.line, e.col), "YAML aliases are not allowed", ALIAS_HINT)


ALIAS_HINT = "write the value out: what reviewers read must be what runs"


_DUPLICATE = re.compile(r'duplicate key "(.*?)" with value')


def _yaml_error(e: MarkedYAMLError, file: str, text: str) -> Diagnostic:
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


def _unclosed_bracket(e: MarkedYAMLError, text: str) -> Optional[tuple[Position, str, str]]:
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


def _deeper_than_key_above(text: str, pm: StreamMark) -> Optional[Position]:
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


def _yaml_hint(problem: str, context: str, source: str, mark: Optional[StreamMark]) -> str:
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


def _mark(mark: Optional[StreamMark]) -> Optional[Position]:
    return Position(mark.line + 1, mark.column + 1) if mark is not None else None


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0] if s.strip() else "invalid YAML"
