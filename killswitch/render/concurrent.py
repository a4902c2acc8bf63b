"""Render what ``ksctl pr overlaps`` found (:class:`killswitch.forge.overlaps.Concurrent`): text,
markdown (a part of the pull-request comment) or JSON (``format_version`` 1).

Every format says plainly when it could not look (no token, GitHub's error, no answer): an
absence of overlaps is only said when the other pull requests were read.

JSON: ``{"format_version": 1, "repo", "pr", "checked": bool, "reason": null|"NO_TOKEN"|
"GITHUB_ERROR"|"UNREACHABLE", "message", "status", "paths", "base", "files", "open_checked",
"overlaps": [{"number", "title", "author", "url", "base", "draft", "files"}]}``.
"""

from __future__ import annotations

import json

from ..facts import counted
from ..forge.overlaps import Concurrent, Overlap

JSON_FORMAT_VERSION = 1
HEADING = "### Concurrent changes"


def not_checked(c: Concurrent) -> str:
    if c.reason == "NO_TOKEN":
        return f"no token: other pull requests not checked ({c.token_env} is not set)"
    return f"other pull requests not checked: {c.reason}: {c.message}"


def _verdict(c: Concurrent) -> str:
    if not c.files:
        return (f"pull request #{c.pr} changes no policy document under {', '.join(c.paths)}: "
                "no other pull request to compare")
    if not c.overlaps:
        return (f"no other open pull request changes the policy documents of #{c.pr} "
                f"({counted(c.open_checked, 'other open pull request')} checked)")
    return (f"{counted(len(c.overlaps), 'other open pull request')} of {c.open_checked} "
            f"change{'s' if len(c.overlaps) == 1 else ''} the policy documents of #{c.pr}")


def _base(o: Overlap, c: Concurrent) -> str:
    """`` (into BRANCH)`` for a pull request into another branch than this one's."""
    return f" (into {o.pull.base})" if c.base and o.pull.base and o.pull.base != c.base else ""


def concurrent_text(c: Concurrent) -> str:
    if not c.checked:
        return not_checked(c)
    lines = [_verdict(c)]
    for o in c.overlaps:
        draft = " [draft]" if o.pull.draft else ""
        lines.append(f"  #{o.pull.number}{draft} {o.pull.title!r} by {o.pull.author}{_base(o, c)}: "
                     f"{', '.join(o.files)}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def concurrent_markdown(c: Concurrent) -> str:
    lines = [HEADING, ""]
    if not c.checked:
        return "\n".join(lines + [f"_{_cell(not_checked(c))}_"])
    verdict = _verdict(c)
    lines.append(verdict[0].upper() + verdict[1:] + ("." if not c.overlaps else ":"))
    if c.overlaps:
        lines += ["", "| pull request | author | policy documents in common |", "|---|---|---|"]
        for o in c.overlaps:
            draft = " (draft)" if o.pull.draft else ""
            title = f"[#{o.pull.number}]({o.pull.url})" if o.pull.url else f"#{o.pull.number}"
            files = ", ".join(f"`{f}`" for f in o.files)
            what = _cell(f"{o.pull.title}{draft}{_base(o, c)}")
            lines.append(f"| {title} {what} | @{o.pull.author} | {files} |")
        lines += ["", "Whichever merges second changes what the other's reviewers read: rebase it and review "
                      "again."]
    return "\n".join(lines)


def concurrent_json(c: Concurrent) -> str:
    return json.dumps({
        "format_version": JSON_FORMAT_VERSION, "repo": c.repo, "pr": c.pr, "checked": c.checked,
        "reason": c.reason, "message": c.message, "status": c.status, "paths": list(c.paths), "base": c.base,
        "files": list(c.files), "open_checked": c.open_checked,
        "overlaps": [{"number": o.pull.number, "title": o.pull.title, "author": o.pull.author, "url": o.pull.url,
                      "base": o.pull.base, "draft": o.pull.draft, "files": list(o.files)} for o in c.overlaps],
    }, indent=2)
