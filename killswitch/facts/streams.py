"""Accounts whose stream is degraded: polled over REST until live and reconciled again (not
blind while REST answers). ``ksctl status`` says it on the account's data-age line."""

from __future__ import annotations

from typing import Any, Iterator

from . import Fact, kind_of

RANK = 130
KIND = kind_of(__name__)
TITLE, LEAD = ("STREAM", "STREAMS", " DEGRADED"), "polled over REST: "  # the console's line


def facts(st: Any) -> Iterator[Fact]:
    for account, s in sorted(st.streams.items()):
        if s.get("degraded"):
            yield Fact(KIND, "blind", account, s.get("since_ms"), "the stream is live and reconciled again", "",
                       label=account)
