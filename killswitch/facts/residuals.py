"""Positions a close left open that the runner stopped closing (``BELOW_MINIMUM``,
``CLOSE_RETRIES_EXHAUSTED``, ``CLOSE_REJECTED``): closing them, or accepting them, is up to a
person. One line per open leg at the venue, naming every incident whose close of it left it open
(two incidents that failed to close the same 30 ETH long hold 30 ETH, not 60); said by
``ksctl status`` and the incident's card, not among the console's standing problems (those a
person accepted are, last: :mod:`.accepted`).

Also how an acceptance is said everywhere (:func:`accepted_text`), and an open leg by status and
its page (:func:`leg_text`).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional, Sequence

from ..figures import figure, iso, shortfall_text
from . import Fact, Line, When, kind_of
from .rejected import accept_command

RANK = 25
KIND = kind_of(__name__)
ENDS = "its position is closed at the venue, or its incident ends"


def accepted_text(accepted: Mapping[str, Any]) -> str:
    """An acceptance as every view says it: ``accepted by alice at 2026-11-27T23:57:58Z: <reason>``."""
    return f"accepted by {accepted.get('by') or 'an unknown caller'} at {iso(int(accepted.get('ms') or 0))}: " \
           f"{accepted.get('reason')}"


def accepted_note(accepted: Optional[Mapping[str, Any]]) -> str:
    """``; accepted by alice at …Z: <reason>`` for a residual whose refused close a person
    accepted (``ksctl close-accept``); empty for one nobody has."""
    return f"; {accepted_text(accepted)}" if accepted else ""


def leg_text(same: Sequence[Any]) -> str:
    """An open leg's line, naming every incident whose close of it left it open (``same``: its
    residuals, as status holds them or their pages say them): ``RESIDUAL <account> <symbol> …``."""
    x = same[-1]
    leg = f" {x.position_side}" if x.position_side else ""
    why = "; ".join(dict.fromkeys(f"{r.why} ({r.detail})" for r in same))
    whose = f"incident {x.incident}{accepted_note(x.accepted)}" if len(same) == 1 else \
        "incidents " + ", ".join(f"{r.incident}{accepted_note(r.accepted)}" for r in same)
    short = shortfall_text(x.amount, getattr(x, "shortfall", None))  # a partial reduction's, beside the leg
    return f"RESIDUAL {x.account} {x.symbol} {x.side}{leg} {figure(x.amount)}" + (
        f" ({short})" if short else "") + f": {why}; {whose}"


def label_of(r: Any) -> str:
    """A residual in a few words, where several are named: ``ETH/USDT:USDT LONG 30 on <account>``."""
    short = shortfall_text(r.amount, getattr(r, "shortfall", None))
    return f"{r.symbol} {r.position_side or r.side} {figure(r.amount)}" + (f" ({short})" if short else "") + \
        f" on {r.account}"


def residual_facts(st: Any, accepted: bool) -> Iterator[Fact]:
    """The residuals a person accepted (or not), each with its leg's line (shared by that leg's)."""
    legs: dict[tuple[str, str, str], list[Any]] = {}
    for x in st.residuals:
        legs.setdefault((x.account, x.symbol, (x.position_side or x.side).casefold()), []).append(x)
    lines = {id(r): leg_text(same) for same in legs.values() for r in same}
    for r in st.residuals:
        if bool(r.accepted) != accepted:
            continue
        yield Fact("accepted" if accepted else KIND, "accepted" if accepted else "error", r.account,
                   r.since_ms, ENDS, lines[id(r)],
                   hint=accept_command(r.account, r.symbol, r.position_side or r.side)
                   if r.why == "CLOSE_REJECTED" and not accepted else "", label=label_of(r),
                   data={"by": (r.accepted or {}).get("by") or "an unknown caller"} if accepted else {})


def facts(st: Any) -> Iterator[Fact]:
    return residual_facts(st, accepted=False)


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    return None  # on the incident's card, and under Residuals
