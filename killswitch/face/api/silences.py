"""The API's silences and acknowledgements (:mod:`killswitch.runner.silence.silences` does them;
the operations' table lists the routes, :mod:`killswitch.view.operations`; their bodies and
answers are docs/api.md's).

Refusals: 400 for what the caller must write differently (:attr:`SilenceHandlers.BAD_INPUT`),
404 for a name the runner does not know (``UNKNOWN``), 409 otherwise (also ``NOT_ENGAGED``,
``NOT_LEADER``, and ``DEPOSED``: another runner took the lease).

What it owns: reading strictly the bodies the table's kinds do not say, and the status of each
answer. Must not: decide anything (the view does), or import :mod:`.api` (which imports it).
"""

from __future__ import annotations

from typing import Any, Optional

from aiohttp import web

from ..request import MAX_REASON, bad, seconds, show, string_field
from .access import caller
from .changes import ChangeHandlers

MAX_SILENCE_S = 30 * 86_400


def _matchers(body: dict) -> tuple[list[str], Optional[str]]:
    """The matchers' texts and the incident a silence is made from (either may be all it names)."""
    matchers = body.get("matchers", [])
    incident = string_field(body, "incident", 600) if body.get("incident") is not None else None
    if not isinstance(matchers, list) or not (matchers or incident) \
            or not all(isinstance(m, str) for m in matchers):
        raise bad('"matchers" must be a non-empty array of strings like "policy=futures-book", '
                  f'not {show(matchers)}')
    return [string_field({"matcher": m}, "matcher", 600, free_text=True) for m in matchers], incident


class SilenceHandlers(ChangeHandlers):
    """Silences and acknowledgements (see :class:`.changes.ChangeHandlers`)."""

    BAD_INPUT = frozenset({"BAD_MATCHER", "UNKNOWN_LABEL", "UNKNOWN_SEVERITY", "UNKNOWN_EVENT", "SILENCE_TOO_BROAD",
                           "BAD_REQUEST"})
    UNKNOWN = frozenset({"UNKNOWN_SILENCE", "UNKNOWN_INCIDENT", "UNKNOWN_POLICY", "UNKNOWN_SCOPE", "UNKNOWN_VENUE",
                         "UNKNOWN_ACCOUNT", "UNKNOWN_STRATEGY", "UNKNOWN_SYMBOL"})
    RESULT = "SilenceResult"
    CARRIES = "silence"

    async def silence_add(self, request: web.Request) -> web.Response:
        body = await self.fields_of(request, ("duration_s", "comment"), ("matchers", "incident", "every_scope"))
        texts, incident = _matchers(body)
        duration_s = seconds(body, "duration_s", MAX_SILENCE_S)
        comment = string_field(body, "comment", MAX_REASON, free_text=True)
        every_scope = body.get("every_scope", False)
        if not isinstance(every_scope, bool):
            raise bad(f'"every_scope" must be true or false, not {show(every_scope)}')
        extra: dict[str, Any] = {"incident": incident} if incident is not None else {}
        if every_scope:
            extra["every_scope"] = True
        result = await self.call(self.view.silence_add, texts, duration_s, comment, actor=caller(request).name,
                                 **extra)
        return self.answer(result, "silence_add")

    async def silence_preview(self, request: web.Request) -> web.Response:
        body = await self.fields_of(request, (), ("matchers", "incident"))
        texts, incident = _matchers(body)
        p = await self.call(self.view.silence_preview, texts, incident)
        return self.reply(200 if p.ok else self.status(False, p.reason), p)

    async def silence_change(self, request: web.Request) -> web.Response:
        body = await self.fields_of(request, ("id",), ("duration_s", "comment"))
        if body.get("duration_s") is None and body.get("comment") is None:
            raise bad('give "duration_s" (extend) or "comment" (edit)')
        duration_s = seconds(body, "duration_s", MAX_SILENCE_S) if body.get("duration_s") is not None else None
        comment = string_field(body, "comment", MAX_REASON, free_text=True) if body.get("comment") is not None \
            else None
        result = await self.call(self.view.silence_change, string_field(body, "id"), duration_s, comment,
                                 actor=caller(request).name)
        return self.answer(result, "silence_change")

    async def acknowledge(self, request: web.Request) -> web.Response:
        body = await self.fields_of(request, (), ("incident", "policy", "scope", "comment"))
        incident = string_field(body, "incident", 600) if "incident" in body else None
        policy = string_field(body, "policy") if "policy" in body else None
        scope = string_field(body, "scope") if "scope" in body else None
        if (incident is None) == (policy is None or scope is None) or (incident is not None and (policy or scope)):
            raise bad('name the incident ("incident"), or its "policy" and "scope"; not both')
        comment = body.get("comment") or ""
        if comment:
            comment = string_field(body, "comment", MAX_REASON, free_text=True)
        result = await self.call(self.view.acknowledge, incident, policy, scope, comment, actor=caller(request).name)
        done, why = result.done, result.reason
        if not isinstance(done, bool) or not isinstance(why, str):
            raise TypeError("acknowledge() must return a ChangeResult")
        return self.reply(self.status(done, why), {"done": done, "reason": why})
