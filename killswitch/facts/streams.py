"""Accounts whose stream is degraded: polled over REST until live and reconciled again (not
blind while REST answers), or holding pairs whose prices the venue refused to stream (valued
from REST each snapshot: its label names them). ``ksctl status`` says it on the account's
data-age line."""

from __future__ import annotations

from typing import Any, Iterator

from . import Fact, kind_of, names

RANK = 130
KIND = kind_of(__name__)
TITLE, LEAD = ("STREAM", "STREAMS", " DEGRADED"), "polled over REST: "  # the console's line


def facts(st: Any) -> Iterator[Fact]:
    for account, s in sorted(st.streams.items()):
        if s.get("degraded"):
            unstreamed = list(s.get("unstreamed") or ())
            label = f"{account} ({names(unstreamed)} priced from REST)" if unstreamed else account
            ends = "the stream is live and reconciled again" + (
                ", every held pair's price streamed (a reconnect asks again)" if unstreamed else "")
            yield Fact(KIND, "blind", account, s.get("since_ms"), ends, "", label=label,
                       data={"unstreamed": unstreamed})
