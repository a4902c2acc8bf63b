"""The documents ``ksctl drift`` expects, and the history a runner behind is found in.

``--against REV:PATH``: PATH (relative to the current directory, as ``ksctl diff`` reads it) as
git holds it at REV; ``--against DIR``: the files of a checkout, with the history of DIR when it
is in a git work tree. The documents are the policy files (``*.yaml``, ``*.yml``; hidden files
and folders left out, as every command reads them), each as its path relative to PATH ('/'
separators; a PATH that is a file gives its base name) and the sha256 of its bytes: what
``sha256sum`` gives in a checkout, and what a runner reports of the files it compiled.

Git is read through one ``git cat-file --batch`` process: a tree is read and a blob hashed once
per object id, however many commits share them, so searching a long history costs the trees
that changed. The history is ``git log --format='%H %ct' REV -- PATH``, newest first, at most
:data:`HISTORY_BOUND` commits, read on demand (only when a runner runs something else).

Must not: write to the repository, or follow a link out of it (a symbolic link's target is not
read: a link is left out of the documents, as its target is not a file git holds there).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Optional

from ..sources import GIT_TIMEOUT_S, YAML_SUFFIXES, git, git_revision, policy_files
from .compare import DIRTY, Documents, Revision

HISTORY_BOUND = 500  # commits that changed the path searched for a runner's documents


class SourceError(Exception):
    """What was given cannot be read: a revision git does not know, a path it does not hold, no
    policy files there. ``code``: KS007 for no policy files, else None. A usage error (exit 2)."""

    def __init__(self, message: str, code: Optional[str] = None):
        super().__init__(message)
        self.code = code


def _git(args: list[str], cwd: str) -> str:
    return git(args, cwd, SourceError, errors="surrogateescape")


class GitObjects:
    """Objects read through one ``git cat-file --batch`` process; trees' documents and blobs'
    sha256 kept by object id. Close it (a context manager)."""

    def __init__(self, top: str):
        self.top = top
        self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=top, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._hash_bytes = 32 if _git(["rev-parse", "--show-object-format"], top) == "sha256" else 20
        self._trees: dict[str, dict[str, str]] = {}
        self._blobs: dict[str, str] = {}

    def __enter__(self) -> "GitObjects":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=GIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def read(self, name: str) -> tuple[Optional[str], Optional[str], bytes]:
        """(object id, type, contents) of ``name`` (an id or ``REV:path``); (None, None, b"") when
        git has no such object."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        if "\n" in name:
            return None, None, b""
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        header = stdout.readline().decode("utf-8", "surrogateescape").rstrip("\n")
        parts = header.split(" ")
        if len(parts) != 3 or not parts[2].isdigit():
            return None, None, b""  # "<name> missing", "<name> ambiguous"
        data = _read_exactly(stdout, int(parts[2]))
        stdout.read(1)  # the newline after the contents
        return parts[0], parts[1], data

    def blob_sha256(self, oid: str) -> str:
        if oid not in self._blobs:
            _, kind, data = self.read(oid)
            if kind != "blob":
                raise SourceError(f"git object {oid} is no file")
            self._blobs[oid] = hashlib.sha256(data).hexdigest()
        return self._blobs[oid]

    def tree_documents(self, oid: str) -> dict[str, str]:
        """The policy files under the tree ``oid``: relative path → sha256."""
        if oid in self._trees:
            return self._trees[oid]
        _, kind, data = self.read(oid)
        if kind != "tree":
            raise SourceError(f"git object {oid} is no directory")
        out: dict[str, str] = {}
        at, n = 0, self._hash_bytes
        while at < len(data):
            space = data.index(b" ", at)
            nul = data.index(b"\0", space)
            mode, name = data[at:space], data[space + 1:nul].decode("utf-8", "surrogateescape")
            child = data[nul + 1:nul + 1 + n].hex()
            at = nul + 1 + n
            if name.startswith("."):
                continue
            if mode == b"40000":
                out.update({f"{name}/{path}": sha for path, sha in self.tree_documents(child).items()})
            elif mode in (b"100644", b"100755") and name.endswith(YAML_SUFFIXES):
                out[name] = self.blob_sha256(child)
            # 120000 a symbolic link, 160000 a submodule: no policy file git holds here
        self._trees[oid] = dict(sorted(out.items()))
        return self._trees[oid]

    def documents_at(self, commit: str, path: str) -> Optional[dict[str, str]]:
        """The documents of ``path`` (from the repository's top, '' the top) at ``commit``; None
        when it does not exist there."""
        oid, kind, _ = self.read(f"{commit}:{path}")
        if oid is None:
            return None
        if kind == "tree":
            return self.tree_documents(oid)
        if kind == "blob":
            return {posixpath.basename(path): self.blob_sha256(oid)}
        return None


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise SourceError("git cat-file stopped before the end of an object")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class GitHistory:
    """:class:`~killswitch.drift.compare.History` of ``path`` (from the repository's top) back
    from ``commit``, read through ``objects``."""

    def __init__(self, objects: GitObjects, commit: str, path: str, bound: int = HISTORY_BOUND):
        self.objects, self.commit, self.path, self.bound = objects, commit, path, bound
        self._log: Optional[list[tuple[str, int]]] = None
        self._revisions: dict[str, Revision] = {}

    def _commits(self) -> list[tuple[str, int]]:
        if self._log is None:
            out = _git(["log", "--format=%H %ct", f"-n{self.bound}", self.commit, "--", self.path or "."],
                       self.objects.top)
            self._log = [(c, int(t) * 1000) for c, _, t in (line.partition(" ") for line in out.splitlines())]
        return self._log

    def _revision(self, commit: str, committed_ms: int, ancestor: bool = True) -> Revision:
        if commit not in self._revisions:
            docs = self.objects.documents_at(commit, self.path)
            self._revisions[commit] = Revision(commit, committed_ms, docs or {}, ancestor)
        return self._revisions[commit]

    def newest_first(self) -> Iterator[Revision]:
        for commit, ms in self._commits():
            yield self._revision(commit, ms)

    def at(self, commit: str) -> Optional[Revision]:
        if not commit or commit.startswith("-") or any(c.isspace() for c in commit):
            return None
        try:
            full = _git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], self.objects.top)
            when = _git(["log", "-1", "--format=%ct", full], self.objects.top)
        except SourceError:
            return None
        ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", full, self.commit], cwd=self.objects.top,
                                  capture_output=True, timeout=GIT_TIMEOUT_S).returncode == 0
        docs = self.objects.documents_at(full, self.path)
        return Revision(full, int(when) * 1000, docs or {}, ancestor)


@dataclass
class Expected:
    """What the runners are compared with: the documents, the revision they are (None: a
    checkout with changes, or outside git), the history (None outside git) and ``close`` to
    call when done."""

    against: str
    documents: Documents
    revision: Optional[str]
    history: Optional[GitHistory]
    objects: Optional[GitObjects] = None

    def close(self) -> None:
        if self.objects is not None:
            self.objects.close()


def _no_policies(where: str) -> SourceError:
    return SourceError(f"KS007: no .yaml or .yml files in {where}: check the path (policies are *.yaml or *.yml "
                       "files; hidden folders are skipped)", "KS007")


def from_git(rev: str, path: str, cwd: str, against: str, bound: int = HISTORY_BOUND) -> Expected:
    """The documents of ``path`` (relative to ``cwd``) at ``rev``; SourceError saying what is wrong."""
    if not rev:
        raise SourceError("give a revision before the colon (REV:PATH)")
    if rev.startswith("-") or any(c.isspace() for c in rev):
        raise SourceError(f"{rev!r} is not a revision")
    if os.path.isabs(path):
        raise SourceError("the path after the colon is inside the repository, relative to this directory")
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd)
    except SourceError:
        raise SourceError(f"unknown revision {rev!r}: git knows no commit of that name (git fetch it?)") from None
    inside = posixpath.normpath(posixpath.join(_git(["rev-parse", "--show-prefix"], cwd), path or "."))
    if inside == ".." or inside.startswith("../"):
        raise SourceError(f"{path} is outside the repository")
    inside = "" if inside == "." else inside
    objects = GitObjects(top)
    try:
        docs = objects.documents_at(commit, inside)
        if docs is None:
            raise SourceError(f"{path or '.'} does not exist at {rev} ({commit[:12]})")
        if not docs:
            raise _no_policies(f"{path or '.'} at {rev} ({commit[:12]})")
    except BaseException:
        objects.close()
        raise
    return Expected(against, docs, commit, GitHistory(objects, commit, inside, bound), objects)


def from_directory(directory: str, against: str, bound: int = HISTORY_BOUND) -> Expected:
    """The documents of a checkout; its git history when it is in a work tree."""
    root = Path(directory)
    files = policy_files(root) if root.is_dir() else [root]
    docs = {}
    for f in files:
        rel = f.name if not root.is_dir() else f.relative_to(root).as_posix()
        try:
            docs[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
        except OSError as e:
            raise SourceError(f"{f}: {e.strerror or 'cannot be read'}") from None
    if not docs:
        raise _no_policies(directory)
    revision = git_revision([directory])
    if revision is None:
        return Expected(against, dict(sorted(docs.items())), None, None)
    where = str(root if root.is_dir() else root.parent)
    top = _git(["rev-parse", "--show-toplevel"], where)
    inside = _git(["rev-parse", "--show-prefix"], where).rstrip("/")
    if not root.is_dir():
        inside = posixpath.join(inside, root.name) if inside else root.name
    objects = GitObjects(top)
    history = GitHistory(objects, revision.removesuffix(DIRTY), inside, bound)
    return Expected(against, dict(sorted(docs.items())), None if revision.endswith(DIRTY) else revision, history,
                    objects)
