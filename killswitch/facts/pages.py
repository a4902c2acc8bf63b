"""Receivers the latest notifications reached none of: each failing since when, where their
failed pages went (a fallback receiver, and the latest it delivered), whose no fallback
delivered. ``ksctl status`` says them in one line, the console names each."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from . import Fact, Line, When, kind_of, names, time_of_day

RANK = 80
KIND = kind_of(__name__)
INDENT = ""  # the runner's own failure: loud, at the left of ksctl status


def failing_text(document: str, receiver: str, cause: str, failures: int) -> str:
    """A receiver failing, as status and the ``PAGES_FAILING`` and ``PAGES_RECOVERED`` lines say it:
    ``alerts/ops: HTTP_503 (3 failed rounds)``."""
    return f"{document}/{receiver}: {cause}" + (f" ({failures} failed rounds)" if failures > 1 else "")


def _fallback_heard(f: Any, ref_ms: Optional[int]) -> str:
    """Whether a failing receiver's pages reach anyone: the fallback that delivered the latest, or none."""
    if f.fallback:
        return f", its failed pages go to the fallback {f.document}/{f.fallback}" + (
            f" (the latest at {time_of_day(f.fallback_ms, ref_ms)})" if f.fallback_ms is not None else "")
    return ", no fallback receiver has delivered its pages" if f.failures else ""


def facts(st: Any) -> Iterator[Fact]:
    failing = st.pages_failing
    if not failing:
        return
    since = st.pages_failing_since_ms if st.pages_failing_since_ms is not None else min(f.since_ms for f in failing)
    receivers = "; ".join(failing_text(f.document, f.receiver, f.cause, f.failures)
                          + _fallback_heard(f, st.last_tick_ms) for f in failing)
    text = f"Pages are failing since {time_of_day(since, st.last_tick_ms)}: {receivers}"
    for f in failing:
        yield Fact(KIND, "error", f"{f.document}/{f.receiver}", f.since_ms, "a delivery round to it succeeds", text,
                   hint="ksctl routes test", label=f"{f.document}/{f.receiver}",
                   data={"fallback": f"{f.document}/{f.fallback}" if f.fallback else None,
                         "fallback_ms": f.fallback_ms, "failures": f.failures})


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    """Each receiver failing since when; each fallback receiver that delivered some of their
    pages, whose (``its``, ``their``, or the receivers' names) and the latest it delivered; and
    whose failed pages no fallback delivered."""
    def whose(named: Sequence[str]) -> str:
        if len(facts) == 1:
            return "its"
        return "their" if len(named) == len(facts) else ", ".join(f"{n}'s" for n in named)

    def clock(ms: Optional[int]) -> str:
        at = when(ms)
        return f"{at['clock']} UTC ({at['ago']})" if at else ""

    groups: dict[str, list[Fact]] = {}
    for f in facts:
        if f.data.get("fallback"):
            groups.setdefault(f.data["fallback"], []).append(f)
    line = names([f.label + (f" failing since {clock(f.since_ms)}" if f.since_ms is not None else " failing")
                  for f in facts])
    for fallback, fs in groups.items():  # (its time can be missing: then none is said, never an empty one)
        at = max((f.data["fallback_ms"] for f in fs if f.data.get("fallback_ms") is not None), default=None)
        line += f"; {whose([f.label for f in fs])} failed pages go to the fallback {fallback}" + (
            f" (the latest at {clock(at)})" if at is not None else "")
    unheard = [f.label for f in facts if f.data.get("failures") and not f.data.get("fallback")]
    if unheard:
        line += f"; no fallback receiver has delivered {whose(unheard)} pages"
    return Line("PAGES ARE FAILING", line)
