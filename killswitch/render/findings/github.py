"""Findings as GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=T::message``,
one a finding, which the runner turns into an annotation on that line of the pull request.

Escaped as GitHub's toolkit escapes them (``@actions/core``'s ``issueCommand``): in the message,
``%`` ``\\r`` ``\\n`` as ``%25`` ``%0D`` ``%0A``; in a property, ``:`` and ``,`` too (``%3A``,
``%2C``), which would otherwise end the value. A finding without a position gets ``file`` alone;
a file is named relative to the current directory (the workspace the job runs in) when it is under
it, else as given.
"""

from __future__ import annotations

import os
from typing import Iterable

from . import Finding, relative_to

COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(f: Finding, root: str) -> str:
    props = {"file": relative_to(f.file, root) or f.file}
    if f.line is not None:
        props["line"] = str(f.line)
        if f.col is not None:
            props["col"] = str(f.col)
    props["title"] = f.title
    body = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{COMMANDS[f.level]} {body}::{escape_data(f.message)}"


def workflow_commands(findings: Iterable[Finding], root: str | None = None) -> list[str]:
    base = root if root is not None else os.getcwd()
    return [workflow_command(f, base) for f in findings]
