"""Orders a cancel meant to take that the venue still lists: never shown cancelled; cancelling
them at the exchange, or finding why they rest, is up to a person."""

from __future__ import annotations

from typing import Any, Iterator

from ..figures import figure
from . import Fact, kind_of

RANK = 30
KIND = kind_of(__name__)
TITLE, LEAD = ("ORDER", "ORDERS", " STILL OPEN AFTER A CANCEL"), "the venue still lists: "  # the console's line


def facts(st: Any) -> Iterator[Fact]:
    for o in st.still_open:
        of = f"incident {o.incident}" if o.incident else o.cause
        yield Fact(KIND, "error", o.account, o.since_ms, "a later list of the venue no longer shows it",
                   f"STILL OPEN {o.account} {o.symbol} {o.side} {figure(o.amount)} order {o.order_id}: {o.said}; {of}",
                   label=f"{o.symbol} {o.side} {figure(o.amount)} on {o.account}")
