"""The drift checker's verdict when what runs is not what git holds (``ksctl drift --post``):
behind, diverged, a reload failing, or not known. ``ksctl status`` says it under what runs
(:mod:`killswitch.render.policy_sync`); the console's badge and its line say it in these words."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from . import Fact, kind_of, names

RANK = 120
KIND = kind_of(__name__)
TITLE, LEAD = "POLICY DRIFT", ""  # the console's line (one fact at most)


def short(revision: Optional[str]) -> str:
    """A commit as the badges show it: 12 hex digits, ``-dirty`` kept; ``not in git``."""
    if not revision:
        return "not in git"
    dirty = revision.endswith("-dirty")
    return revision.removesuffix("-dirty")[:12] + ("-dirty" if dirty else "")


def verdict_words(state: str, expected: Optional[str], documents: Any, against: str) -> str:
    """``BEHIND rev 1a2b3c4d5e6f``, ``DIVERGED: futures-book.yaml``, ``in sync with origin/main:policies/``."""
    if state == "in_sync":
        return f"in sync with {against}"
    if state == "behind":
        return "BEHIND" + (f" rev {short(expected)}" if expected else f" {against}")
    if state == "diverged":
        return "DIVERGED" + (f": {names(list(documents))}" if documents else f" from {against}")
    if state == "reload_failing":
        return "RELOAD FAILING"
    return "DRIFT UNKNOWN"


def facts(st: Any) -> Iterator[Fact]:
    v = st.policy_sync.verdict if st.policy_sync is not None else None
    if v is not None and v.state != "in_sync":
        yield Fact(KIND, "error", "policies", v.checked_ms, "a check finds the runner in sync with git", "",
                   hint=f"ksctl drift --against {v.against}",
                   label=f"{verdict_words(v.state, v.expected_revision, v.documents, v.against)} ({v.against}), "
                         f"checked by {v.by}")
