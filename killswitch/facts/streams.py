"""Accounts whose stream is degraded: polled over REST until live and reconciled again (not
blind while REST answers). ``ksctl status`` says it on the account's data-age line."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from . import Fact, Line, When, counted, kind_of, names

RANK = 130
KIND = kind_of(__name__)


def facts(st: Any) -> Iterator[Fact]:
    for account, s in sorted(st.streams.items()):
        if s.get("degraded"):
            yield Fact(KIND, "blind", account, s.get("since_ms"), "the stream is live and reconciled again", "",
                       label=account)


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    return Line(counted(len(facts), "STREAM", "STREAMS") + " DEGRADED",
                "polled over REST: " + names([f.label for f in facts]))
