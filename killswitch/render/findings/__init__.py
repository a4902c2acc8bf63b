"""Findings for a code host: policy diagnostics and failed policy tests where a pull request's
reviewers see them, on the lines they are about.

A :class:`Finding` is one of either, in the shape both outputs need: where (a file, and a line
and column when known), a level (``error``, ``warning``), the rule it breaks (a diagnostic code,
``KS104``, or a policy test's rule) with its short description, and the message. Two renderers
take them: :mod:`.github` prints GitHub Actions workflow commands (``::error file=…``: an
annotation on the line), :mod:`.sarif` one SARIF 2.1.0 log (code scanning, and any SARIF viewer).

What it owns: the finding value, the rules of the policy tests, the file names as a code host
reads them (relative to a root). What it must not do: decide an exit code, or read a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ...policy.diagnostics import Diagnostic
    from ...preview.policytest import Failure

# Where the tool's documentation lives (SARIF's tool.driver.informationUri).
INFORMATION_URI = "https://github.com/trading-platform/killswitch"


@dataclass(frozen=True)
class Rule:
    """What a finding breaks: its id and a short description (SARIF's reportingDescriptor)."""

    id: str
    title: str
    level: str  # its default level: error | warning | note


@dataclass(frozen=True)
class Finding:
    file: str
    line: Optional[int]
    col: Optional[int]
    level: str  # error | warning | note
    rule: str  # a Rule's id
    title: str  # the annotation's title: the rule's id for a diagnostic, the test for a failure
    message: str


# A policy test's two outcomes that fail ``ksctl test``: an expectation not met, and a test that
# could not run (its policy was not among the paths).
TEST_FAILED = Rule("policytest/failed", "policy test expectation not met", "error")
TEST_NOT_RUN = Rule("policytest/not-run", "policy test not run: its policy is not loaded", "error")
TEST_RULES = (TEST_FAILED, TEST_NOT_RUN)


def diagnostic_rules() -> tuple[Rule, ...]:
    """Every diagnostic code of the catalogue, in its order."""
    from ...policy.diagnostics import CODES

    return tuple(Rule(c.code, c.title, c.severity.value) for c in CODES.values())


def from_diagnostic(x: "Diagnostic") -> Finding:
    message = x.message + (f"\nhint: {x.hint}" if x.hint else "")
    return Finding(x.file, x.pos.line if x.pos else None, x.pos.col if x.pos else None, x.severity.value,
                   x.code, x.code, message)


def from_test_failure(f: "Failure") -> Finding:
    rule = TEST_FAILED if f.ran else TEST_NOT_RUN
    title = f"FAIL {f.test}" if f.ran else "NOT RUN"
    return Finding(f.file, f.pos.line if f.pos else None, f.pos.col if f.pos else None, "error", rule.id,
                   title, f.message)


def relative_to(file: str, root: str) -> Optional[str]:
    """``file`` (as the command was given it: relative to the current directory, or absolute) as
    a path relative to ``root``, with ``/`` between its parts; None when it is not under ``root``.
    Neither is resolved through symbolic links: a host names files as its checkout holds them."""
    path = os.path.abspath(file)
    base = os.path.abspath(root)
    try:
        if os.path.commonpath([path, base]) != base:
            return None
    except ValueError:  # another drive
        return None
    return os.path.relpath(path, base).replace(os.sep, "/")

