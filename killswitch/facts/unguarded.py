"""Accounts no running policy's scope selects: no trigger watches them, no stage locks them."""

from __future__ import annotations

from typing import Any, Iterator

from ..engine.guarded import unguarded_text
from . import Fact, kind_of

RANK = 100
KIND = kind_of(__name__)
TITLE, LEAD = ("ACCOUNT", "ACCOUNTS", " GUARDED BY NO POLICY"), "no policy's scope selects "  # the console's line


def facts(st: Any) -> Iterator[Fact]:
    for account in st.unguarded:
        yield Fact(KIND, "error", account, None, "a running policy's scope selects it", unguarded_text(account),
                   label=account)
