"""Orders a cancel meant to take that the venue still lists: never shown cancelled; cancelling
them at the exchange, or finding why they rest, is up to a person."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..figures import figure
from . import Fact, kind_of

RANK = 30
KIND = kind_of(__name__)
TITLE, LEAD = ("ORDER", "ORDERS", " STILL OPEN AFTER A CANCEL"), "the venue still lists: "  # the console's line


def still_open_text(o: Mapping[str, Any]) -> str:
    """``STILL OPEN <account> <symbol> <side> <amount> order <id>: <what the venue said>; <its
    incident, else the cancel's cause>`` (``o``: status's order, or its page's data)."""
    size = figure(o["amount"]) if isinstance(o.get("amount"), (int, float)) else "?"
    return (f"STILL OPEN {o.get('account')} {o.get('symbol')} {o.get('side')} {size} order {o.get('order_id')}: "
            f"{o.get('said')}; " + (f"incident {o['incident']}" if o.get("incident") else str(o.get("cause"))))


def facts(st: Any) -> Iterator[Fact]:
    for o in st.still_open:
        yield Fact(KIND, "error", o.account, o.since_ms, "a later list of the venue no longer shows it",
                   still_open_text(vars(o)),
                   label=f"{o.symbol} {o.side} {figure(o.amount)} on {o.account}")
