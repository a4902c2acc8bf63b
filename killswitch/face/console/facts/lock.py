"""The trading locks in force: every scope a lock binds, by its binding mode, the most
restrictive first, and how many locks are in force — never the first scope alone."""

from __future__ import annotations

from typing import Optional

from . import Fact, make, names

RANK = 60
_MODES = {"halted": 0, "reducing": 1}


def fact(page: dict) -> Optional[Fact]:
    if not page["summary"]:
        return None
    modes: dict[str, list[str]] = {}
    for lk in page["locks"]:
        if lk.get("binding", True) and lk["scope"] not in modes.get(lk["mode"], []):
            modes.setdefault(lk["mode"], []).append(lk["scope"])
    if not modes:  # (the summary's own, when no hold is listed)
        modes = {page["summary"]["mode"]: [page["summary"]["scope"]]}
    said = "; ".join(f"{mode} on {names(sorted(scopes))}" for mode, scopes in
                     sorted(modes.items(), key=lambda kv: _MODES.get(kv[0], 2)))
    held = len(page["locks"])
    return make(__name__, "error", "TRADING LOCKED", said + (f" ({held} locks in force)" if held > 1 else ""))
