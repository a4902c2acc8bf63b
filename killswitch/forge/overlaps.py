"""Concurrent changes: the other open pull requests that change a pull request's policy documents.

Two pull requests that change one policy are each reviewed against the base branch, not against
each other: whichever merges second changes a policy its reviewers did not see. This finds them,
from the forge's answers (:mod:`.github`): the policy documents a pull request changes (YAML files
under the paths given; a renamed file by both of its names), and each other open pull request
with the documents it changes too.

Pure: values in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

POLICY_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    author: str
    url: str
    base: str
    draft: bool

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> "PullRequest":
        """One item of GitHub's list of pull requests (``GET /repos/{owner}/{repo}/pulls``)."""
        user = item.get("user") or {}
        return cls(int(item["number"]), str(item.get("title") or ""), str(user.get("login") or "(unknown)"),
                   str(item.get("html_url") or ""), str((item.get("base") or {}).get("ref") or ""),
                   bool(item.get("draft")))


@dataclass(frozen=True)
class Overlap:
    pull: PullRequest
    files: tuple[str, ...]  # the policy documents both change, sorted


@dataclass
class Concurrent:
    """What ``ksctl pr overlaps`` found. ``reason``: why it could not look (``NO_TOKEN``,
    ``GITHUB_ERROR``, ``UNREACHABLE``), with ``message``; None when it looked."""

    repo: str
    pr: int
    paths: tuple[str, ...]  # the repository's paths that hold policy documents ("" is all of it)
    token_env: str
    reason: Optional[str] = None
    message: Optional[str] = None
    status: Optional[int] = None  # the forge's HTTP status of an error
    files: tuple[str, ...] = ()  # this pull request's policy documents
    base: Optional[str] = None
    open_checked: int = 0  # the other open pull requests whose files were compared
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        return self.reason is None


def under(path: str, paths: Sequence[str]) -> bool:
    """``path`` (relative to the repository's root) is one of ``paths`` or inside one ("": all)."""
    for p in paths:
        p = p.strip("/")
        if p in ("", ".") or path == p or path.startswith(p + "/"):
            return True
    return False


def policy_files(files: Iterable[dict[str, Any]], paths: Sequence[str]) -> set[str]:
    """The policy documents among the entries of a pull request's file list (``GET
    /repos/{owner}/{repo}/pulls/{n}/files``): YAML files under ``paths``, a renamed one under
    both its names (the old name is the policy another pull request may change)."""
    out = set()
    for entry in files:
        for name in (entry.get("filename"), entry.get("previous_filename")):
            if isinstance(name, str) and name.endswith(POLICY_SUFFIXES) and under(name, paths):
                out.add(name)
    return out


def overlaps(mine: set[str], others: Iterable[tuple[PullRequest, set[str]]]) -> list[Overlap]:
    """Each other pull request that changes a document of ``mine``, by number."""
    found = [Overlap(pull, tuple(sorted(mine & theirs))) for pull, theirs in others if mine & theirs]
    return sorted(found, key=lambda o: o.pull.number)
