"""Receivers the latest notifications reached none of: each failing since when, where their failed
pages went (a fallback receiver, and the latest it delivered), whose no fallback delivered."""

from __future__ import annotations

from typing import Optional

from . import Fact, make, names

RANK = 80


def fact(page: dict) -> Optional[Fact]:
    pages = page["pages"]
    if not pages:
        return None
    line = names([f"{r['document']}/{r['receiver']}" + (
        f" failing since {r['since']['clock']} UTC ({r['since']['ago']})" if r["since"] else " failing")
        for r in pages["receivers"]]) + "".join(
        f"; {f['whose']} failed pages go to the fallback {f['fallback']}" + (
            f" (the latest at {f['at']['clock']} UTC ({f['at']['ago']}))" if f["at"] else "")
        for f in pages.get("fallbacks") or ()) + (
        f"; no fallback receiver has delivered {pages['unheard']} pages" if pages.get("unheard") else "")
    return make(__name__, "error", "PAGES ARE FAILING", line)
