"""The one writer of a runner's policy sync: what runs per document, the newest sources it was
handed, since when the two differ, and the checker's latest verdict.

What it owns: :class:`PolicySync`. The daemon's reload path tells it a reload started
(:meth:`PolicySync.pending`) and what it read (:meth:`PolicySync.handed`, from the compile's
worker thread through the loop), the runner's
``apply_graph`` what came of it (:meth:`PolicySync.took` / :meth:`PolicySync.refused`), the
desk a posted verdict (:meth:`PolicySync.record`); the readout reads :meth:`PolicySync.status`.

Must not: read files, compile, or call the store (the desk stores a verdict before it records it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from ...view.policy_sync import (
    DriftVerdict,
    HandedPolicies,
    PolicyDocument,
    PolicySyncStatus,
    RunningPolicies,
    documents_of,
)


@dataclass(frozen=True)
class StartSources:
    """What a runner started from: the ``--policies`` roots, the sources of the graph it runs,
    and (when they failed and it runs the last good bundle) the sources it read and their revision."""

    roots: tuple[str, ...] = ()
    running: tuple[tuple[str, str], ...] = ()
    handed: tuple[tuple[str, str], ...] = ()
    handed_revision: Optional[str] = None


class PolicySync:
    """See the module doc. ``roots``: the ``--policies`` paths documents are named under."""

    def __init__(self, roots: Sequence[str], digest: str, revision: Optional[str], loaded_ms: int,
                 files: Iterable[tuple[str, str]] = ()):
        self.roots = tuple(roots)
        self._running = RunningPolicies(revision, digest, loaded_ms, documents_of(files, self.roots))
        self._handed: Optional[HandedPolicies] = None
        self._error: Optional[str] = None
        self._since: Optional[int] = None
        self._verdict: Optional[DriftVerdict] = None
        self._pending = False  # a reload started (a file changed, SIGHUP) whose sources are not read yet

    @staticmethod
    def at_start(digest: str, revision: Optional[str], sources: Optional[StartSources], now_ms: int,
                 error: Optional[str]) -> "PolicySync":
        """The sync of a runner starting on a graph (``error``: its policies failed, and it runs
        the last good ones, out of sync with the sources it read)."""
        sources = sources or StartSources()
        sync = PolicySync(sources.roots, digest, revision, now_ms, sources.running)
        if error is not None:
            sync.refused(error, now_ms, sources.handed, sources.handed_revision)
        return sync

    def pending(self, now_ms: int) -> None:
        """A reload started (a policy file changed, or SIGHUP): not in sync until its sources are
        read and found to be what runs, or its graph is taken up."""
        self._pending = True
        if self._since is None:
            self._since = now_ms

    def handed(self, files: Iterable[tuple[str, str]], revision: Optional[str], now_ms: int) -> None:
        """A reload read these sources (its compile still to come, or refused already): handed,
        unless they are what runs."""
        self._pending = False
        docs = documents_of(files, self.roots)
        if docs == self._running.documents and revision == self._running.revision:
            self._handed = None
            if self._error is None:
                self._since = None
            return
        if self._handed is None or self._handed.documents != docs or self._handed.revision != revision:
            self._handed = HandedPolicies(revision, now_ms, docs)
        if self._since is None:
            self._since = now_ms

    def took(self, digest: str, revision: Optional[str], files: Iterable[tuple[str, str]], now_ms: int) -> None:
        """A reload's graph runs now, compiled from ``files``: in sync with them."""
        self._running = RunningPolicies(revision, digest, now_ms, documents_of(files, self.roots))
        self._handed, self._error, self._since, self._pending = None, None, None, False

    def refused(self, error: str, now_ms: int, files: Iterable[tuple[str, str]] = (),
                revision: Optional[str] = None) -> None:
        """A reload failed with ``error``: the last good graph runs on, out of sync with ``files``
        (the sources it read; none when it could not read them)."""
        self._error, self._pending = error, False
        files = list(files)
        if files:
            self.handed(files, revision, now_ms)
        if self._since is None:
            self._since = now_ms

    def record(self, verdict: DriftVerdict) -> None:
        """The checker's latest verdict about this runner (stored already)."""
        self._verdict = verdict

    def recall(self, verdict: DriftVerdict) -> None:
        """A verdict read back from the store (a start, a takeover): this runner's own, or one
        posted to another runner of its store about the graph it runs (``posted_to``), taken
        unless this runner shows its own already or a later one."""
        shown = self._verdict
        if shown is not None and (shown.posted_to is None
                                  or (shown.posted_ms or 0) >= (verdict.posted_ms or 0)):
            return
        self._verdict = verdict

    @property
    def digest(self) -> str:
        """The digest of the graph that runs."""
        return self._running.digest

    def status(self) -> PolicySyncStatus:
        in_sync = self._handed is None and self._error is None and not self._pending
        return PolicySyncStatus(self._running, self._handed, in_sync, None if in_sync else self._since,
                                self._error, self._verdict)

    def summary(self) -> dict:
        """What a shard's leader publishes of it on its firm board, kept small: the revision, the
        digest, whether it runs its files, and the verdict's state (None: none posted)."""
        return {"revision": self._running.revision, "digest": self._running.digest,
                "in_sync_with_files": self.status().in_sync_with_files,
                "verdict": self._verdict.state if self._verdict is not None else None}

    @property
    def documents(self) -> tuple[PolicyDocument, ...]:
        return self._running.documents
