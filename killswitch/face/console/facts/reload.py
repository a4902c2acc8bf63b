"""A reload of the policies that failed: the last good graph keeps running."""

from __future__ import annotations

from typing import Optional

from . import Fact, make

RANK = 110


def fact(page: dict) -> Optional[Fact]:
    if page["reload_ok"]:
        return None
    good = page["last_good_reload"]
    return make(__name__, "error", "POLICIES: RELOAD FAILED", "the last good graph keeps running" + (
        f" (loaded at {good['clock']} UTC)" if good else ""))
