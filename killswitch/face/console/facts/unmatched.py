"""Policies whose scope matches no account: they protect nothing."""

from __future__ import annotations

from typing import Optional

from . import Fact, make, names

RANK = 140


def fact(page: dict) -> Optional[Fact]:
    unmatched = page["unmatched"]
    if not unmatched:
        return None
    one = len(unmatched) == 1
    return make(__name__, "error", f"{len(unmatched)} {'POLICY MATCHES' if one else 'POLICIES MATCH'} NO ACCOUNT",
                ("it protects nothing: " if one else "they protect nothing: ")
                + names([c["policy"] for c in unmatched]))
