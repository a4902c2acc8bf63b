"""A reload of the policies that failed: the last good graph keeps running."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from . import Fact, Line, When, kind_of, stamp

RANK = 110
KIND = kind_of(__name__)
INDENT = ""  # the runner's own failure: loud, at the left of ksctl status


def failed_text(error: object) -> str:
    """``POLICY RELOAD FAILED (last good graph running): <the first error>``."""
    return "POLICY RELOAD FAILED (last good graph running)" + (f": {error}" if error else "")


def facts(st: Any) -> Iterator[Fact]:
    if st.reload_ok and st.policy_error is None:
        return
    lines = [failed_text(st.policy_error)] if st.policy_error else []
    if not st.reload_ok:
        lines.append(f"policies: reload FAILED at {stamp(st.reload_failed_ms)}, running the graph loaded at "
                     f"{stamp(st.last_good_reload_ms)}")
    yield Fact(KIND, "error", "policies", st.reload_failed_ms, "a reload of good policies", "\n".join(lines),
               hint="ksctl validate", data={"loaded_ms": st.last_good_reload_ms})


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    good = when(facts[0].data.get("loaded_ms"))
    return Line("POLICIES: RELOAD FAILED", "the last good graph keeps running" + (
        f" (loaded at {good['clock']} UTC)" if good else ""))
