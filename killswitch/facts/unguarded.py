"""Accounts no running policy's scope selects: no trigger watches them, no stage locks them."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..engine.guarded import unguarded_text
from . import Fact, Line, When, counted, kind_of, names

RANK = 100
KIND = kind_of(__name__)


def facts(st: Any) -> Iterator[Fact]:
    for account in st.unguarded:
        yield Fact(KIND, "error", account, None, "a running policy's scope selects it", unguarded_text(account),
                   label=account)


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    return Line(counted(len(facts), "ACCOUNT", "ACCOUNTS") + " GUARDED BY NO POLICY",
                "no policy's scope selects " + names([f.label for f in facts]))
