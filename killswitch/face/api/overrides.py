"""The API's overrides of the pre-trade limits (:mod:`killswitch.runner.override` does them;
the operations' table lists the routes, :mod:`killswitch.view.operations`; their bodies and
answers are docs/api.md's).

Refusals: 400 for what the caller must write differently (:attr:`OverrideHandlers.BAD_INPUT`),
404 for a name the runner does not know (``UNKNOWN``), 409 otherwise (also ``NOT_LEADER``, and
``DEPOSED``: another runner took the lease).

What it owns: reading strictly the bodies the table's kinds do not say, and the status of each
answer. Must not: decide anything (the runner does), or import :mod:`.api` (which imports it).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...policy.units import LIMIT_VALUE_HINT, UnitError, parse_limit_value
from ...runner.gate.request import finite as _finite
from ..request import MAX_REASON, bad, seconds, show, string_field
from .access import caller
from .changes import ChangeHandlers

MAX_EXPIRY_S = 86_400  # the longest any policy may allow (limits.override.max_duration)


def _raise_to(v: Any, limit: Any) -> float:
    """A raise's ``raise_to``: a number above 0, or the text a person typed (the console sends it
    as typed), read as ``ksctl override request --raise-to`` reads it (``200k``, ``1.5M``, ``7%``:
    :func:`~killswitch.policy.units.parse_limit_value`). A refusal names the field and the limit."""
    if v is None:
        raise bad(f"raise_to for {limit}: a value is needed; {LIMIT_VALUE_HINT}")
    if isinstance(v, str):
        try:
            v = parse_limit_value(v)
        except UnitError as e:
            if e.short.endswith("is too large"):  # read, and past any limit's bound
                raise bad(f"raise_to for {limit}: {show(v)} is too large; {e.hint}") from None
            raise bad(f"raise_to for {limit}: cannot read {show(v)} as a number; {LIMIT_VALUE_HINT}") from None
    if not _finite(v) or v <= 0:
        raise bad(f"raise_to for {limit}: must be a finite number above 0, not {show(v)}")
    return float(v)


class OverrideHandlers(ChangeHandlers):
    """Overrides (see :class:`.changes.ChangeHandlers`)."""

    BAD_INPUT = frozenset({"BAD_REQUEST", "EXPIRY_TOO_LONG"})
    UNKNOWN = frozenset({"UNKNOWN_SCOPE", "UNKNOWN_LIMIT", "UNKNOWN_STRATEGY", "UNKNOWN_OVERRIDE", "UNKNOWN_VENUE",
                         "UNKNOWN_ACCOUNT", "UNKNOWN_SYMBOL", "ORDER_NOT_REFUSED"})
    RESULT = "OverrideResult"
    CARRIES = "override"

    async def override_request(self, request: web.Request) -> web.Response:
        body = await self.fields_of(request, ("scope", "reason_code", "reason", "expires_s"),
                                    ("strategy", "limit", "raise_to", "waive", "order"))
        named = [k for k in ("limit", "waive", "order") if body.get(k) is not None]
        if len(named) != 1:
            raise bad('name one of "limit" (with "raise_to"), "waive" or "order"')
        kind = {"limit": "raise", "waive": "waive", "order": "order"}[named[0]]
        limit = string_field(body, named[0]) if kind != "order" else None
        if kind != "raise" and body.get("raise_to") is not None:
            raise bad('"raise_to" goes with "limit" (a raise), and only with it')
        raise_to = _raise_to(body.get("raise_to"), limit) if kind == "raise" else None
        if "expires_s" not in body or body["expires_s"] is None:
            raise bad('"expires_s" is required: an override is temporary')
        expires_s = seconds(body, "expires_s", MAX_EXPIRY_S)
        order = string_field(body, "order") if kind == "order" else None
        strategy = string_field(body, "strategy") if body.get("strategy") is not None else None
        result = await self.call(self.view.override_request, string_field(body, "scope"), kind,
                                 string_field(body, "reason_code", 64), string_field(body, "reason", MAX_REASON,
                                                                                    free_text=True),
                                 expires_s, actor=caller(request).name, strategy=strategy, limit=limit,
                                 raise_to=raise_to, order=order)
        return self.answer(result, "override_request")
