"""Policies whose scope matches no account: they protect nothing (one whose scope's
``allow_empty`` lets it select nothing is a calm line of ``ksctl status``, no fact)."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..figures import iso
from . import Fact, Line, When, kind_of, names

RANK = 140
KIND = kind_of(__name__)


def facts(st: Any) -> Iterator[Fact]:
    for r in st.coverage:
        if r.state == "unmatched" and not r.allowed:
            when = f", since {iso(r.since_ms)}" if r.since_ms is not None else ""
            yield Fact(KIND, "error", r.policy, r.since_ms, "its scope selects an account",
                       f"UNMATCHED {r.policy}: {r.detail}{when}: the policy cannot act",
                       label=r.policy)


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    one = len(facts) == 1
    return Line(f"{len(facts)} {'POLICY MATCHES' if one else 'POLICIES MATCH'} NO ACCOUNT",
                ("it protects nothing: " if one else "they protect nothing: ") + names([f.label for f in facts]))
