"""The shape the API's groups of write handlers share: a view call made, its answer checked and
rendered with the HTTP status its reason code maps to.

What it owns: :class:`ChangeHandlers`, the base of the silences' and the revokes' handlers (each
says which of its reason codes are bad input, unknown names or a runner that cannot answer), and
a body read with the fields it may have. Must not: read a field's value (:mod:`killswitch.face.request`
does) or decide anything (the view does).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from ..request import fields


class ChangeHandlers:
    """``call`` runs a view call (the API's ``_call``), ``reply`` renders JSON (``_json``),
    ``body`` reads a request's strict JSON object. A refused change's reason code maps to 400
    (``BAD_INPUT``), 404 (``UNKNOWN``), 503 (``UNAVAILABLE``) or else 409."""

    BAD_INPUT: frozenset[str] = frozenset({"BAD_REQUEST"})
    UNKNOWN: frozenset[str] = frozenset()
    UNAVAILABLE: frozenset[str] = frozenset()
    RESULT = "ChangeResult"  # what the view's calls must return (named in the error of one that does not)
    CARRIES = ""  # the field of the result each answer carries besides done and reason (None when it has none)

    def __init__(self, view: Any, call: Callable[..., Awaitable[Any]], reply: Callable[[int, Any], web.Response],
                 body: Callable[[web.Request], Awaitable[dict]]):
        self.view, self.call, self.reply, self.body = view, call, reply, body

    async def fields_of(self, request: web.Request, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
        """The request's body: its ``required`` fields, maybe ``optional`` ones, none else (or 400)."""
        body = await self.body(request)
        fields(body, required, optional)
        return body

    def status(self, done: bool, why: str) -> int:
        """The HTTP status of a change's answer."""
        if done:
            return 200
        code = why.split(":", 1)[0]
        return 400 if code in self.BAD_INPUT else 404 if code in self.UNKNOWN else \
            503 if code in self.UNAVAILABLE else 409

    def answer(self, result: Any, what: str, **extra: Any) -> web.Response:
        done, why = result.done, result.reason
        if not isinstance(done, bool) or not isinstance(why, str):
            raise TypeError(f"{what}() must return a {self.RESULT}")
        if self.CARRIES:
            extra[self.CARRIES] = getattr(result, self.CARRIES, None)
        return self.reply(self.status(done, why), {"done": done, "reason": why, **extra})
