"""The values of policy sync, as ``GET /v1/status`` answers them (``policy_sync``), and the
checker's verdict read from a body or from the store.

What it owns: :class:`PolicySyncStatus` and its parts (field names as the API writes them, so
:mod:`killswitch.view.decode` reads them back), :data:`DRIFT_STATES`, and
:func:`verdict_of`, the one reading of a verdict (a POST's body, a stored row): strict, every
field named when it is missing or wrong (:class:`VerdictError`).

Must not: import the runner's parts, read a file, or keep state.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Iterable, Optional, Sequence

DRIFT_STATES = ("in_sync", "behind", "diverged", "reload_failing", "unknown")
VERDICT_FIELDS = ("state", "against", "expected_revision", "detail", "documents", "checked_ms")
MAX_VERDICT_DOCUMENTS = 1000  # documents a verdict may name (a policy repository holds far fewer)
MAX_VERDICT_TEXT = 2000  # characters of ``against``, ``detail`` and a document's path


@dataclass(frozen=True)
class PolicyDocument:
    """A source file the runner compiled: its path under the ``--policies`` root it was read
    under ('/' separators; a root that is a file: its base name) and the SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True)
class RunningPolicies:
    """What runs: the graph's revision and digest, when it was loaded, and its sources."""

    revision: Optional[str]
    digest: str
    loaded_ms: Optional[int]
    documents: tuple[PolicyDocument, ...] = ()


@dataclass(frozen=True)
class HandedPolicies:
    """The newest sources the runner read whose documents differ from the running ones (a reload
    that failed, or one still compiling), and when it read them."""

    revision: Optional[str]
    seen_ms: int
    documents: tuple[PolicyDocument, ...] = ()


@dataclass(frozen=True)
class DriftVerdict:
    """A checker's verdict about this runner, as posted (``by``: the poster's identity); when it
    was posted (None: not said) and, for one taken up from the store that was posted to another
    runner of the same store about the graph this one runs (a restart under another holder
    name, a standby taking over), that runner's holder name (``posted_to``; None: to this one)."""

    state: str  # one of DRIFT_STATES
    against: str  # what it was compared with: "origin/main:policies/", a directory
    expected_revision: Optional[str]
    detail: str
    documents: tuple[str, ...]
    checked_ms: int
    by: str
    posted_ms: Optional[int] = None
    posted_to: Optional[str] = None


@dataclass(frozen=True)
class PolicySyncStatus:
    """The ``policy_sync`` block of the status (see docs/api.md)."""

    running: RunningPolicies
    handed: Optional[HandedPolicies]
    in_sync_with_files: bool  # running == the newest sources it read (no failed or pending reload)
    since_ms: Optional[int]  # since when it has not been (None: it is)
    reload_error: Optional[str]  # the failed reload's first error (as policy_error)
    verdict: Optional[DriftVerdict] = None


def document_path(file: str, roots: Sequence[str]) -> str:
    """``file``'s path as a document is named: relative to the first of ``roots`` (the
    ``--policies`` paths) it lies under, with '/' separators; a root that is the file itself
    gives its base name; a file under none of them (a last good bundle read from another
    checkout) is named by its base name too."""
    path = PurePosixPath(file.replace("\\", "/"))
    for root in roots:
        r = PurePosixPath(root.replace("\\", "/"))
        if path == r:
            return path.name
        try:
            return str(path.relative_to(r))
        except ValueError:
            continue
    return path.name


def documents_of(files: Iterable[tuple[str, str]], roots: Sequence[str]) -> tuple[PolicyDocument, ...]:
    """Each (file, text) read as a document, sorted by path. The text is what was read from the
    file's bytes as UTF-8, so encoding it again gives the bytes ``sha256sum`` reads."""
    docs = {document_path(f, roots): hashlib.sha256(text.encode("utf-8")).hexdigest() for f, text in files}
    return tuple(PolicyDocument(p, docs[p]) for p in sorted(docs))


class VerdictError(ValueError):
    """A verdict that cannot be taken: ``field`` is the one at fault, the message says why."""

    def __init__(self, field: str, why: str):
        super().__init__(f'"{field}" {why}')
        self.field = field


def _text(doc: dict, key: str, *, optional: bool = False, empty: bool = False) -> Optional[str]:
    v = doc[key]
    if v is None and optional:
        return None
    if not isinstance(v, str) or not (empty or v.strip()):
        kind = "a string" if empty else "a non-empty string"
        raise VerdictError(key, f"must be {kind}" + (" or null" if optional else ""))
    if len(v) > MAX_VERDICT_TEXT or any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
        raise VerdictError(key, f"must be one line of at most {MAX_VERDICT_TEXT} characters")
    return v


def verdict_of(doc: Any, by: str) -> DriftVerdict:
    """A verdict from its JSON object (:data:`VERDICT_FIELDS`, ``by`` filled from the caller);
    :class:`VerdictError` naming the first field missing, unknown or wrong."""
    if not isinstance(doc, dict):
        raise VerdictError("verdict", "must be a JSON object")
    unknown = sorted(set(doc) - set(VERDICT_FIELDS))
    if unknown:
        raise VerdictError(unknown[0], f"is not a field of a verdict; its fields: {', '.join(VERDICT_FIELDS)}")
    for key in VERDICT_FIELDS:
        if key not in doc:
            raise VerdictError(key, "is missing")
    state = doc["state"]
    if state not in DRIFT_STATES:
        raise VerdictError("state", f"must be one of {', '.join(DRIFT_STATES)}, not {str(state)[:40]!r}")
    documents = doc["documents"]
    if not isinstance(documents, list) or len(documents) > MAX_VERDICT_DOCUMENTS:
        raise VerdictError("documents", f"must be a list of at most {MAX_VERDICT_DOCUMENTS} document paths")
    for i, d in enumerate(documents):
        if not isinstance(d, str) or not d.strip() or len(d) > MAX_VERDICT_TEXT:
            raise VerdictError(f"documents[{i}]", "must be a document's path")
    checked = doc["checked_ms"]
    if isinstance(checked, bool) or not isinstance(checked, (int, float)) or not math.isfinite(checked) \
            or checked < 0 or checked != int(checked):
        raise VerdictError("checked_ms", "must be a whole number of milliseconds since the epoch")
    return DriftVerdict(state, str(_text(doc, "against")), _text(doc, "expected_revision", optional=True),
                        str(_text(doc, "detail", empty=True)), tuple(documents), int(checked), by)


def stored_verdict(doc: Any, posted_ms: Optional[int] = None, posted_to: Optional[str] = None) -> DriftVerdict:
    """A verdict as :func:`verdict_doc` stored it (read back at a start or a takeover), posted at
    ``posted_ms`` (to ``posted_to``: another runner); :class:`VerdictError` when the row is not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("by"), str):
        raise VerdictError("by", "is missing from the stored verdict")
    v = verdict_of({k: v for k, v in doc.items() if k != "by"}, doc["by"])
    return replace(v, posted_ms=posted_ms, posted_to=posted_to)


def verdict_doc(v: DriftVerdict) -> dict:
    """The verdict as the store keeps it (the fields of the contract, ``by`` among them)."""
    return {"state": v.state, "against": v.against, "expected_revision": v.expected_revision, "detail": v.detail,
            "documents": list(v.documents), "checked_ms": v.checked_ms, "by": v.by}
