"""Loader: YAML text → validated documents, with the line:col of every key and value.

Takes text, never a path to open (reading files is :mod:`killswitch.sources`' job), so it is
pure and fuzzable. A file may hold several documents (``---``). Every problem becomes a
:class:`~killswitch.policy.diagnostics.Diagnostic`; nothing but diagnostics ever leaves
:func:`load_text`, whatever the input.

One path, top to bottom (:func:`_load_into`), entered once per file:

1. **Read** the YAML once (:func:`.yamlread.read`): every document's plain data and source map,
   by libyaml's fast path or, for what it declines, ruamel's round-trip loader under the bounds
   of :mod:`.yamlbounds` (nesting depth; aliases refused at the first one), so no input costs
   more than a linear scan: a hostile file is refused at the token that crosses a bound.
2. **Check** each document read: a mapping of a known apiVersion and kind, validated by its
   model. Only a document with schema errors is *salvaged* (:mod:`.schema.salvage`): a stage
   keeps its identity without its bad field or action, broken signals and triggers are dropped
   (their names stay declared), and the rest is validated again, so that the compiler can still
   report unresolved references and unsafe stages in the same run, and nothing that is only a
   consequence.
3. **Say what stopped the reading**, if anything (:mod:`.yamlerrors`, the error path): a refused
   shape drops the whole file; a YAML error keeps the documents before it and the stopped
   document's kind and name (from the lines before the error), without a model.

YAML anchors, aliases, merge keys and custom tags are refused: a policy is read by people in
review, and what they read must be what runs. The documents' loaded form is :mod:`.documents`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from pydantic import ValidationError

from . import diagnostics as d
from .diagnostics import Diagnostic, Position
from .documents import LoadedDoc as LoadedDoc, LoadResult as LoadResult, Path as Path, SourceMap as SourceMap
from .fields import API_VERSION
from .model import DOCUMENT_KINDS

if TYPE_CHECKING:
    from .yamlread import Document

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
        from .yamlerrors import DEPTH_HINT

        # Not expected within the depth bound; a last line of defence, and still one diagnostic.
        result = LoadResult(diagnostics=[Diagnostic.make(
            d.KS009, file, None, "the document is nested too deeply to be read", DEPTH_HINT)])
    return result


def load_sources(sources: Iterable[tuple[str, str]]) -> LoadResult:
    """Load several ``(file, text)`` pairs into one result."""
    result = LoadResult()
    for file, text in sources:
        result.extend(load_text(text, file))
    return result


_EMPTY_HINT = ("write a document (apiVersion: killswitch/v1, kind, metadata, spec), or remove the file; "
               "ksctl validate --allow-empty accepts empty input")


def _load_into(result: LoadResult, text: str, file: str) -> None:
    from . import yamlread

    reading = yamlread.read(text, text.splitlines())  # the one parse of the file
    if reading.refused is not None:  # a shape refused: nothing of the file is kept
        from .yamlerrors import stopped

        _refuse_file(result, stopped(reading, file, text)[0])
        return
    for doc in reading.documents:
        if doc.refused is None:
            _checked_document(result, doc.raw, doc.sm, file, doc.index)
        else:
            _refused_document(result, doc, doc.refused, file)
    if reading.error is not None:  # the error path: where it went wrong, and what the document is called
        from .yamlerrors import recover_identity, stopped

        diagnostic, before = stopped(reading, file, text)
        result.diagnostics.append(diagnostic)
        if before is not None:
            identity = recover_identity(text, file, reading.stopped_at, before)
            if identity is not None:
                result.docs.append(identity)
        return
    if not reading.documents:
        result.diagnostics.append(Diagnostic.make(d.KS007, file, None, "the file holds no YAML document",
                                                  _EMPTY_HINT))


def _refused_document(result: LoadResult, doc: Document, refused: tuple[Position, str], file: str) -> None:
    """KS008 for a document holding a tag, a merge key or an alias of a collection; what it is
    called is kept, so that a test of it says it has errors."""
    from .yamlerrors import ALIAS_HINT, identity_only

    pos, message = refused
    result.diagnostics.append(Diagnostic.make(d.KS008, file, pos, message, ALIAS_HINT))
    identity = identity_only(doc.raw, file, doc.index, doc.sm)
    if identity is not None:
        result.docs.append(identity)


def _refuse_file(result: LoadResult, why: Diagnostic) -> None:
    """Nothing of a file with a refused shape is kept, not even the documents before the token
    that was refused: a file is reviewed, and runs, as a whole. (``result`` holds this file only.)"""
    result.docs.clear()
    result.diagnostics[:] = [why]


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
        from .schema.errors import clean_errors, diagnostic
        from .schema.salvage import salvage

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
