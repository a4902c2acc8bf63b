"""Each runner's policies against the expected ones, and the runners against each other.

Pure: the expected documents (path → sha256 of the bytes, as git or a checkout holds them), each
runner's reading (its ``GET /v1/status`` document, or why it was not heard) and a
:class:`History` of the policy path are handed in; ``checked_ms`` is the caller's clock. A verdict
per runner (:func:`verdict`), then the disagreements between them (:func:`disagreements`).

The states, in the order they are decided:

* ``not_heard`` — no answer, an error answer, or an answer that is not a status document;
* ``old_api`` — a status without ``policy_sync``: we cannot tell, and it counts as drift;
* ``reload_failing`` — ``in_sync_with_files`` false: the newest sources it read did not load (or
  are still compiling); what it runs meanwhile is compared as below and said (``runs``);
* ``in_sync`` — its running documents are the expected ones (paths and sha256);
* ``behind`` — they are what git holds at an older revision of the path: its
  ``running.revision`` when git knows that commit, it is in the expected revision's history and
  its documents match; else the newest revision of the history whose documents match. Since: the
  commit time of the first newer commit that changed the path;
* ``diverged`` — they match no revision searched: the documents that differ (changed, missing,
  extra) are named. A ``-dirty`` revision (its files had changes git does not hold) is said.

The documents decide, not the revision a runner names: a runner whose files equal the expected
ones is in sync even when its revision is another commit, or ``-dirty`` over files that are not
policies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Optional, Protocol, Sequence

from .. import figures
from ..facts.drift import short

IN_SYNC, BEHIND, DIVERGED = "in_sync", "behind", "diverged"
RELOAD_FAILING, NOT_HEARD, OLD_API = "reload_failing", "not_heard", "old_api"
STATES = (IN_SYNC, BEHIND, DIVERGED, RELOAD_FAILING, NOT_HEARD, OLD_API)
# the states a runner takes as a posted verdict (contract: in_sync | behind | diverged | reload_failing | unknown)
POSTED_STATES = (IN_SYNC, BEHIND, DIVERGED, RELOAD_FAILING)
DIRTY = "-dirty"
CHANGED, MISSING, EXTRA = "changed", "missing", "extra"
DOCUMENTS_SAID = 5  # documents named in a one-line detail; the rest are counted
# what a runner takes of a posted verdict (killswitch/view/policy_sync.py): one line of at most
# this many characters, at most this many documents
POSTED_TEXT, POSTED_DOCUMENTS = 2000, 1000

Documents = Mapping[str, str]  # path (relative to the policy root, '/' separators) → sha256 hex


@dataclass(frozen=True)
class Revision:
    """The documents of the policy path at one commit. ``ancestor``: the commit is the expected
    revision or one of its ancestors (a runner on a commit outside that history is not behind)."""

    commit: str
    committed_ms: int
    documents: Documents
    ancestor: bool = True


class History(Protocol):
    """The policy path's git history, read on demand (a directory outside git has none)."""

    bound: int  # how many commits :meth:`newest_first` yields at most

    def at(self, commit: str) -> Optional[Revision]:
        """``commit`` when git knows it (its documents of the path), else None."""

    def newest_first(self) -> Iterable[Revision]:
        """The commits that changed the path, the expected revision first, newest first, at most
        ``bound``."""


@dataclass(frozen=True)
class Reading:
    """What was read of one runner. ``status``: its status document; None when not heard, then
    ``code`` (``UNREACHABLE``, ``HTTP_401``, the API's reason code, ``NO_CONSOLE_URL``...) and
    ``reason`` say why; ``answered``: it answered, with an error (as against no answer at all)."""

    url: str
    status: Optional[Mapping[str, Any]] = None
    code: Optional[str] = None
    reason: Optional[str] = None
    answered: bool = False
    http: Optional[int] = None  # the error answer's HTTP status
    shard: Optional[str] = None  # as the firm board names it (a runner not heard has no status to say)


@dataclass(frozen=True)
class DocumentChange:
    path: str
    change: str  # changed | missing | extra (from the runner's side: extra = it runs a document git lacks)


@dataclass(frozen=True)
class Verdict:
    """One runner's state (see the module doc); ``detail`` is one line, the verdict posted."""

    url: str
    state: str
    detail: str
    shard: Optional[str] = None
    holder: Optional[str] = None
    digest: Optional[str] = None
    revision: Optional[str] = None  # what it runs, as it names it
    loaded_ms: Optional[int] = None
    behind_revision: Optional[str] = None  # behind: the revision its documents are
    behind_commits: Optional[int] = None  # behind: commits that changed the path since
    since_ms: Optional[int] = None  # behind: when it fell behind; reload_failing: since when; diverged: loaded
    documents: tuple[DocumentChange, ...] = ()
    reload_error: Optional[str] = None
    runs: Optional[str] = None  # reload_failing: what it runs meanwhile (in_sync, behind or diverged)
    code: Optional[str] = None  # not_heard: why, as a code
    answered: bool = False  # not_heard: it answered with an error
    http: Optional[int] = None  # not_heard: the error answer's HTTP status

    @property
    def drift(self) -> bool:
        return self.state != IN_SYNC


@dataclass(frozen=True)
class Disagreement:
    """Runners that should agree and do not: ``kind`` replicas (one shard, or unsharded, on
    different graph digests) or shards (different revisions); ``values``: (url, digest) of each
    replica, (shard, its revisions) of each shard."""

    kind: str
    shard: Optional[str]
    values: tuple[tuple[str, str], ...]
    detail: str


@dataclass(frozen=True)
class Report:
    against: str
    expected_revision: Optional[str]
    expected: Documents
    checked_ms: int
    verdicts: tuple[Verdict, ...]
    disagreements: tuple[Disagreement, ...] = ()
    problems: tuple[str, ...] = ()  # what stopped a comparison (the firm board not read)
    history_bound: int = 0

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for v in self.verdicts if v.state == s) for s in STATES}

    @property
    def drift(self) -> bool:
        return bool(self.problems or self.disagreements or any(v.drift for v in self.verdicts))


class BadAnswer(ValueError):
    """A ``policy_sync`` that is not what the contract says; the message names the field."""


def iso(ms: Optional[int]) -> str:
    return "an unknown time" if ms is None else figures.iso(ms)


def short_digest(digest: str) -> str:
    """A graph digest as a line shows it: ``sha256:`` and twelve hex digits."""
    kind, sep, hexes = digest.partition(":")
    return f"{kind}:{hexes[:12]}" if sep else digest[:12]


def documents_of(value: Any, where: str) -> dict[str, str]:
    """``[{"path", "sha256"}, ...]`` as path → sha256; BadAnswer naming ``where`` otherwise."""
    if not isinstance(value, list):
        raise BadAnswer(f"{where} is not a list")
    out: dict[str, str] = {}
    for i, doc in enumerate(value):
        path = doc.get("path") if isinstance(doc, dict) else None
        sha = doc.get("sha256") if isinstance(doc, dict) else None
        if not isinstance(path, str) or not path:
            raise BadAnswer(f"{where}[{i}].path is not a path")
        if not isinstance(sha, str) or len(sha) != 64:
            raise BadAnswer(f"{where}[{i}].sha256 is not a sha256")
        out[path] = sha.lower()
    return out


def changes(expected: Documents, running: Documents) -> tuple[DocumentChange, ...]:
    """The documents ``running`` differs from ``expected`` in, by path."""
    out = [DocumentChange(p, CHANGED if p in running else MISSING) for p in expected if running.get(p) != expected[p]]
    out += [DocumentChange(p, EXTRA) for p in running if p not in expected]
    return tuple(sorted(out, key=lambda c: c.path))


def changes_text(found: Sequence[DocumentChange]) -> str:
    """``futures-book.yaml changed, old.yaml extra`` (the first few, then how many more)."""
    said = [f"{c.path} {c.change}" for c in found[:DOCUMENTS_SAID]]
    more = len(found) - DOCUMENTS_SAID
    return ", ".join(said) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class _Runs:
    """What a runner's running documents are against the expected ones and the history."""

    state: str
    detail: str
    behind_revision: Optional[str] = None
    behind_commits: Optional[int] = None
    since_ms: Optional[int] = None
    documents: tuple[DocumentChange, ...] = ()


def _behind_since(running: Documents, history: History) -> tuple[Optional[Revision], Optional[int], int]:
    """The newest revision of the history whose documents are ``running``, the commit time of the
    first newer one (when it fell behind) and how many newer ones changed the path."""
    newer: Optional[Revision] = None
    count = 0
    for rev in history.newest_first():
        if dict(rev.documents) == dict(running):
            return rev, newer.committed_ms if newer is not None else None, count
        newer = rev
        count += 1
    return None, None, count


def _runs(expected: Documents, running: Documents, revision: Optional[str], against: str,
          history: Optional[History], loaded_ms: Optional[int]) -> _Runs:
    if dict(running) == dict(expected):
        note = f" (its revision {short(revision)}: files outside the policies changed)" if (
            revision or "").endswith(DIRTY) else ""
        return _Runs(IN_SYNC, f"runs the documents of {against}{note}")
    found = changes(expected, running)
    dirty = f" (revision {short(revision)}: edited outside git)" if (revision or "").endswith(DIRTY) else ""
    if history is None:
        return _Runs(DIVERGED, f"differs from {against}: {changes_text(found)}{dirty}", documents=found,
                     since_ms=loaded_ms)
    clean = revision if revision and not revision.endswith(DIRTY) else None
    own = history.at(clean) if clean else None
    own_matches = own is not None and dict(own.documents) == dict(running)
    if own_matches and not own.ancestor:  # type: ignore[union-attr]
        return _Runs(DIVERGED, f"runs {short(clean)}, a commit not in the history of {against}: "
                     + changes_text(found), documents=found, since_ms=loaded_ms)
    match, since, count = _behind_since(running, history)
    if match is None and not own_matches:
        return _Runs(DIVERGED, f"differs from {against}: {changes_text(found)}{dirty}; no revision of the last "
                     f"{history.bound} matches", documents=found, since_ms=loaded_ms)
    which = clean if own_matches else match.commit  # type: ignore[union-attr]
    if match is None:
        return _Runs(BEHIND, f"runs {short(which)}, more than {history.bound} commits that changed the policies "
                     f"behind {against}", which, None, None, found)
    if count == 0:  # the newest commit's documents: the expected ones are a checkout's changes not committed
        return _Runs(BEHIND, f"runs {short(which)}, without the changes of {against} not committed", which, 0, None,
                     found)
    commits = f"{count} commit{'' if count == 1 else 's'} that changed the policies"
    return _Runs(BEHIND, f"runs {short(which)}, {commits} behind {against}, since {iso(since)}", which, count, since,
                 found)


def verdict(reading: Reading, expected: Documents, against: str, history: Optional[History]) -> Verdict:
    """One runner's verdict (see the module doc)."""
    if reading.status is None:
        return Verdict(reading.url, NOT_HEARD, f"not heard: {reading.reason or reading.code}", shard=reading.shard,
                       code=reading.code, answered=reading.answered, http=reading.http)
    status = reading.status
    text = {k: status.get(k) if isinstance(status.get(k), str) else None
            for k in ("shard", "holder", "graph_digest", "graph_revision")}
    head = Verdict(reading.url, OLD_API, "old API: its status has no policy_sync, so what it runs cannot be "
                   "compared (counted as drift; upgrade it)", shard=text["shard"] or reading.shard,
                   holder=text["holder"], digest=text["graph_digest"], revision=text["graph_revision"])
    sync = status.get("policy_sync")
    if sync is None:
        return head
    try:
        running, revision, loaded_ms, in_files, since_ms, error = _sync_fields(sync)
    except BadAnswer as e:
        return replace(head, state=NOT_HEARD, detail=f"not heard: BAD_ANSWER: policy_sync.{e}", code="BAD_ANSWER",
                       answered=True)
    runs = _runs(expected, running, revision, against, history, loaded_ms)
    head = replace(head, revision=revision, loaded_ms=loaded_ms, documents=runs.documents,
                   behind_revision=runs.behind_revision, behind_commits=runs.behind_commits)
    if not in_files:
        why = f"the reload failed: {error}" if error else "a reload is pending (its newest sources are compiling)"
        return replace(head, state=RELOAD_FAILING, since_ms=since_ms, reload_error=error, runs=runs.state,
                       detail=f"reload failing since {iso(since_ms)}: {why}; meanwhile it {runs.detail}")
    return replace(head, state=runs.state, detail=runs.detail, since_ms=runs.since_ms)


def _optional(value: Any, kind: type, where: str) -> Any:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is int):
        raise BadAnswer(f"{where} is not {'an integer' if kind is int else 'a string'}")
    return value


def _sync_fields(sync: Any) -> tuple[dict[str, str], Optional[str], Optional[int], bool, Optional[int],
                                     Optional[str]]:
    if not isinstance(sync, dict):
        raise BadAnswer("is not an object")
    running = sync.get("running")
    if not isinstance(running, dict):
        raise BadAnswer("running is not an object")
    documents = documents_of(running.get("documents"), "running.documents")
    in_files = sync.get("in_sync_with_files")
    if not isinstance(in_files, bool):
        raise BadAnswer("in_sync_with_files is not true or false")
    return (documents, _optional(running.get("revision"), str, "running.revision"),
            _optional(running.get("loaded_ms"), int, "running.loaded_ms"), in_files,
            _optional(sync.get("since_ms"), int, "since_ms"), _optional(sync.get("reload_error"), str, "reload_error"))


def disagreements(verdicts: Sequence[Verdict]) -> tuple[Disagreement, ...]:
    """Replicas of one shard (or unsharded runners) on different graph digests; shards on
    different revisions (of those that name one). Runners not heard say nothing here."""
    heard = [v for v in verdicts if v.state != NOT_HEARD]
    out = []
    by_shard: dict[Optional[str], list[Verdict]] = {}
    for v in heard:
        by_shard.setdefault(v.shard, []).append(v)
    for shard, group in sorted(by_shard.items(), key=lambda kv: kv[0] or ""):
        digests = {v.digest for v in group if v.digest}
        if len(digests) > 1:
            values = tuple((v.url, v.digest or "") for v in group)
            who = "unsharded runners" if shard is None else f"replicas of shard {shard}"
            out.append(Disagreement("replicas", shard, values, f"{who} run different graphs: " + ", ".join(
                f"{url} {short_digest(digest)}" for url, digest in values)))
    revisions: dict[str, set[str]] = {}
    for v in heard:
        if v.shard is not None and v.revision:
            revisions.setdefault(v.shard, set()).add(v.revision)
    if len({r for rs in revisions.values() for r in rs}) > 1:
        values = tuple((s, ", ".join(short(r) for r in sorted(rs))) for s, rs in sorted(revisions.items()))
        out.append(Disagreement("shards", None, values, "the shards' runners run different revisions: " + "; ".join(
            f"{s} {r}" for s, r in values)))
    return tuple(out)


def report(readings: Sequence[Reading], expected: Documents, against: str, expected_revision: Optional[str],
           history: Optional[History], checked_ms: int, problems: Sequence[str] = ()) -> Report:
    """Every runner's verdict and the disagreements between them."""
    verdicts = tuple(verdict(r, expected, against, history) for r in readings)
    return Report(against, expected_revision, expected, checked_ms, verdicts, disagreements(verdicts),
                  tuple(problems), history.bound if history is not None else 0)


def posted(v: Verdict, report: Report) -> Optional[dict[str, Any]]:
    """The body of ``POST /v1/policy-drift`` for ``v`` (the contract's verdict without ``by``);
    None for a runner that cannot take one (not heard, old API)."""
    if v.state not in POSTED_STATES:
        return None
    detail = " ".join(v.detail.split())  # one line: a reload's error may hold several
    if len(detail) > POSTED_TEXT:
        detail = detail[:POSTED_TEXT - 1] + "…"
    return {"state": v.state, "against": report.against, "expected_revision": report.expected_revision,
            "detail": detail, "documents": [c.path for c in v.documents][:POSTED_DOCUMENTS],
            "checked_ms": report.checked_ms}

