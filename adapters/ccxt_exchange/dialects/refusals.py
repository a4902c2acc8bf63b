"""A venue's refusal of an order, read from its own answer and mapped by its table.

What it owns
    * :class:`Rule`: one line of a venue's refusal table — the venue's code (and, where one code
      covers several causes, a pattern of its message), the reason code it maps to and how a
      retry fares (:data:`adapters.base.PERMANENT`, ``TRANSIENT``, ``MODE``);
    * :func:`body_of`: the venue's JSON answer inside ccxt's error message (ccxt raises
      ``"<id> <body>"`` for every venue the adapter has a dialect for);
    * :func:`refusal`: the venue's (code, message) as its dialect reads them from that body,
      mapped by its table; a code the table does not know is ``VENUE_REFUSED``, verbatim.

What it must not do
    import ccxt, or know a venue: each venue's table and its reader of the body live in the
    venue's module (``binance.py``, ``bybit.py``, ``okx.py``, ``hyperliquid.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ...base import PERMANENT, VenueRefusal

# how much of a venue's message a refusal keeps (a view shows it whole)
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Rule:
    """One line of a venue's refusal table: ``code`` (the venue's, as text), an optional
    ``pattern`` (case-insensitive, searched in the venue's message: the first rule of a code
    whose pattern matches, or that has none, wins), ``reason`` and ``kind``."""

    code: str
    reason: str
    kind: str = PERMANENT
    pattern: Optional[str] = None

    def matches(self, code: str, message: str) -> bool:
        return self.code == code and (self.pattern is None or re.search(self.pattern, message, re.I) is not None)


def body_of(text: str) -> Any:
    """The first JSON object in ``text`` (ccxt's ``"binanceusdm {...}"``), None when there is none
    or it does not parse (a message cut short keeps its code for :func:`refusal`'s fallback)."""
    at = text.find("{")
    while at >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[at:])
            return value
        except ValueError:
            at = text.find("{", at + 1)
    return None


def refusal(text: str, read: Callable[[Any], Optional[tuple[str, str]]], rules: Iterable[Rule],
            fallback: Optional[re.Pattern[str]] = None) -> Optional[VenueRefusal]:
    """The venue's refusal in ccxt's error ``text``: ``read(body)`` gives the venue's (code,
    message) from its answer (None: no refusal in it); ``fallback`` finds a code in a text whose
    body did not parse (cut short). Mapped by the first rule that matches, else VENUE_REFUSED."""
    body = body_of(text)
    found = read(body) if body is not None else None
    if found is None and fallback is not None:
        m = fallback.search(text)
        if m is not None:
            found = (m.group("code"), (m.groupdict().get("message") or "").strip())
    if found is None:
        return None
    return mapped(found[0], found[1], rules)


def mapped(code: Any, message: Any, rules: Iterable[Rule]) -> VenueRefusal:
    """The venue's ``code`` and ``message`` (a row of a batch's answer, a cancel's status) mapped
    by the first rule of ``rules`` that matches, else VENUE_REFUSED, verbatim."""
    code, message = str(code).strip(), " ".join(str(message).split())[:MAX_MESSAGE]
    for rule in rules:
        if rule.matches(code, message):
            return VenueRefusal(code, message, rule.reason, rule.kind)
    return VenueRefusal(code, message)


def codes(rules: Iterable[Rule]) -> frozenset[str]:
    """Every venue code a table maps."""
    return frozenset(r.code for r in rules)


__all__ = ["MAX_MESSAGE", "Rule", "body_of", "codes", "mapped", "refusal"]
