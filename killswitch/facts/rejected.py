"""Closes the venue refused: up to their bound, those positions are left open and not sent
again (``CLOSE_REJECTED``, a person closes or accepts them); below it, tried again
(``CLOSE REFUSED``, said in ``ksctl status`` alone).

Also the ``ksctl close-accept`` command of a refused leg, as a person types it
(:func:`accept_command`): ``ksctl status`` says it under its CLOSE_REJECTED lines, the incident's
runbook for each refused leg, exactly. Words are quoted for a POSIX shell; a placeholder (``A``,
``R``) is left as it is.
"""

from __future__ import annotations

import shlex
from typing import Any, Iterator, Optional, Sequence

from ..figures import iso
from . import Fact, Line, When, counted, kind_of, names

RANK = 20
KIND = kind_of(__name__)
REASON = '"<why it is accepted>"'
ENDS = "its position is closed, a later close of it fills, or a person accepts it"


def accept_command(account: str, symbol: Optional[str] = None, leg: Optional[str] = None,
                   reason: str = REASON) -> str:
    """``ksctl close-accept --account … [--symbol … --leg …] --reason …`` of one refused leg
    (``leg``: long | short, or LONG | SHORT in hedge mode, as the venue's position says)."""
    words = f"ksctl close-accept --account {shlex.quote(account)}"
    if symbol:
        words += f" --symbol {shlex.quote(symbol)}"
    if leg:
        words += f" --leg {shlex.quote(leg)}"
    return f"{words} --reason {reason}"


def _refusals(n: int) -> str:
    return f"{n} order{'' if n == 1 else 's'} refused"


def _tries(r: dict) -> str:
    """The tries of a leg's close apart from its orders: ``2 tries``, or for a close sent in
    chunks ``1 try of 2 chunks`` (one planning of the close, several orders)."""
    orders = int(r.get("tries") or 0)
    rounds = r.get("rounds")
    # a runner that did not count them: the bound (never "5 tries of 2")
    n = int(rounds) if rounds else min(orders, int(r.get("bound") or orders))
    said = counted(n, "try", "tries")
    if not rounds or orders <= n:
        return said
    return f"{said} of {orders} chunks" if n == 1 else f"{said}, {orders} chunks in all"


def _tried_up_to(n: int) -> str:
    return "tried at most once" if n == 1 else f"tried up to {n} times"


def _text(r: dict, same: Sequence[dict]) -> str:
    """A refused leg's line: CLOSE_REJECTED (one line per leg, naming every incident it was
    refused for) or CLOSE REFUSED (still tried). ``tries``: the venue's refusals of the leg's
    closes (a chunked close counts each order); ``rounds``: the tries (one planning of the close,
    its chunks together: "1 try of 2 chunks" is not "2 tries"); ``bound``: the orders refused
    before it is given up (never "5 of 2")."""
    if len(same) > 1:
        said = "; ".join(dict.fromkeys(f"{x['venue_said']} ({x['reason']})" for x in same))
        each = ", ".join(f"{x['incident']} ({_refusals(x['tries'])}, given up after {_tries(x)}"
                         + (f", since {iso(x['first_ms'])}" if x.get("first_ms") else "") + ")" for x in same)
        return (f"CLOSE_REJECTED {r['account']} {r['symbol']} {r['leg']}: {said}; not sent again for "
                f"incidents {each}")
    if r["state"] == "CLOSE_REJECTED":
        since = f" since {iso(r['first_ms'])}" if r.get("first_ms") else ""
        return (f"CLOSE_REJECTED {r['account']} {r['symbol']} {r['leg']}: {_refusals(r['tries'])} by the venue "
                f"(given up after {_tries(r)}): {r['venue_said']} ({r['reason']}); not sent again for "
                f"incident {r['incident']}{since}")
    return (f"CLOSE REFUSED {r['account']} {r['symbol']} {r['leg']}: {_refusals(r['tries'])} in {_tries(r)} "
            f"({r['kind']}), {_tried_up_to(r['bound'])}: {r['venue_said']} ({r['reason']}); incident {r['incident']}"
            + (f"; tried again at {iso(r['next_ms'])}" if r.get("next_ms") else ""))


def facts(st: Any) -> Iterator[Fact]:
    stopped: dict[tuple[str, str, str], list[dict]] = {}  # a leg's refusals given up, every incident's
    for r in st.close_rejections:
        if r["state"] == "CLOSE_REJECTED":
            stopped.setdefault((r["account"], r["symbol"], str(r["leg"]).casefold()), []).append(r)
    for r in st.close_rejections:
        given_up = r["state"] == "CLOSE_REJECTED"
        same = stopped.get((r["account"], r["symbol"], str(r["leg"]).casefold()), []) if given_up else []
        yield Fact(KIND, "error" if given_up else "notice", r["account"], r.get("first_ms"),
                   ENDS if given_up else "a close of it fills, or the venue refuses it up to its bound",
                   _text(r, same), hint=accept_command(r["account"], r["symbol"], r["leg"]) if given_up else "",
                   label=f"{r['symbol']} {r['leg']} on {r['account']}")


def note(facts: Sequence[Fact]) -> Optional[str]:
    """Under the CLOSE_REJECTED lines: what ends them, and the command that accepts them."""
    if not any(f.severity == "error" for f in facts):
        return None
    return (f"(each stands until its position is closed, a later close fills, or {accept_command('A', reason='R')}; "
            "--symbol S --leg L: that leg alone)")


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    rejected = [f for f in facts if f.severity == "error"]
    if not rejected:
        return None
    return Line(counted(len(rejected), "CLOSE", "CLOSES") + " REJECTED",
                "not sent again: " + names(list(dict.fromkeys(f.label for f in rejected))))
