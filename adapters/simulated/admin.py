"""The harness endpoints' input (``POST /_sim/mark``, ``POST /_sim/seed``), read whole before
anything is applied: an unknown account or symbol, a side that is neither long nor short, a number
that is not one, answers 400 with a reason code and what it could not read (with the close names
for a name it does not know), never a 500 and a traceback, and changes nothing.

What it owns: :func:`mark_request` and :func:`seed_request`, each the parsed request or an
:class:`AdminRefusal`; :func:`refused`, its JSON answer.

Must not: touch the engine (the server applies what these read), or listen anywhere.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any, Iterable, Mapping, NamedTuple


class AdminRefusal(Exception):
    """A harness request refused: ``code`` (``UNKNOWN_ACCOUNT``, ``UNKNOWN_SYMBOL``, ``BAD_PARAM``)
    and what was wrong, in words."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class Seed(NamedTuple):
    account: str
    wallet: float
    legs: tuple[tuple[str, str, float, float], ...]  # (symbol, side, amount, entry)


def _known(what: str, name: Any, names: Iterable[str]) -> str:
    names = list(names)
    if name in names:
        return str(name)
    close = difflib.get_close_matches(str(name), names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; it has {len(names)}"
    raise AdminRefusal(f"UNKNOWN_{what.upper()}", f"no {what} {name!r}{hint}")


def _number(name: str, text: Any, *, positive: bool = False) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AdminRefusal("BAD_PARAM", f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value) or (positive and value <= 0) or value < 0:
        kind = "positive" if positive else "non-negative"
        raise AdminRefusal("BAD_PARAM", f"{name}: {text!r} must be a {kind} number")
    return value


def mark_request(query: Mapping[str, str], markets: Iterable[str]) -> tuple[str, float]:
    """``?symbol=&price=``: a known market and a positive price."""
    return _known("symbol", query.get("symbol"), markets), _number("price", query.get("price"), positive=True)


def seed_request(query: Mapping[str, str], accounts: Iterable[str], markets: Iterable[str]) -> Seed:
    """``?account=&wallet=&legs=SYMBOL:long|short:AMOUNT:ENTRY,...``, every part read before any is applied."""
    markets = list(markets)
    account = _known("account", query.get("account"), accounts)
    wallet = _number("wallet", query.get("wallet"))
    legs = []
    for leg in filter(None, query.get("legs", "").split(",")):
        parts = leg.split(":")
        if len(parts) != 4:
            raise AdminRefusal("BAD_PARAM", f"legs: {leg!r} is not SYMBOL:long|short:AMOUNT:ENTRY")
        symbol, side, amount, entry = parts
        if side not in ("long", "short"):
            raise AdminRefusal("BAD_PARAM", f"legs: {leg!r}: side {side!r} is neither long nor short")
        legs.append((_known("symbol", symbol, markets), side, _number("amount", amount, positive=True),
                     _number("entry", entry, positive=True)))
    return Seed(account, wallet, tuple(legs))


def refused(e: AdminRefusal) -> tuple[int, str]:
    return 400, json.dumps({"error": e.code, "message": e.message})


__all__ = ["AdminRefusal", "Seed", "mark_request", "refused", "seed_request"]
