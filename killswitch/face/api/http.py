"""The HTTP server beneath the runner's API: what it answers and logs when a request never reaches
the application.

aiohttp answers a request its parser refuses (a control character in a header, a header or a
request line over the size limit, bytes that are not text, a bad method, version or chunked
encoding) itself, before any middleware runs: by default with a 400 whose body quotes the
offending line and an "Error handling request" traceback that quotes it again. That line may
be ``Authorization: Bearer <token>``. Here the answer and the log line say what went wrong, never
what was sent:

- the body is the API's error document, ``{"error": "BAD_HTTP_REQUEST", "reason":
  "BAD_HTTP_REQUEST: InvalidHeader"}`` (the parser's error class), with the headers every answer
  of the API carries (:data:`SECURITY_HEADERS`) and the connection closed;
- the log is one line, ``BAD_HTTP_REQUEST: InvalidHeader from 127.0.0.1``, at WARNING, with no
  traceback (a bad method on a fresh connection — a TLS or non-HTTP client on this port — only
  at DEBUG, as aiohttp does);
- an exception that escaped the application (the API's middleware turns every one into a 500
  ``INTERNAL`` first, so this is a bug below it) is a bare ``INTERNAL`` answer, its traceback
  logged through the scrubber (:mod:`killswitch.logs`), and a handler that timed out a bare
  504 ``TIMEOUT``.

What it owns: :class:`QuietAppRunner`, the :class:`aiohttp.web.AppRunner` that serves the API
with this request handler. Must not: quote a request line, a header or a parser message in a
body or a log line; change how a request that parses is handled.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("killswitch.runner.http")

BAD_HTTP_REQUEST = "BAD_HTTP_REQUEST"
# What every answer of the API carries, whichever route (or none) made it: never cached, its type
# never sniffed, never shown in a frame (clickjacking), no Referer sent from it. A page that
# needs a Content-Security-Policy of its own sets it (the console's, a runbook's); the API's
# middleware adds ``frame-ancestors 'none'`` to it if it lacks one.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def _answer(status: int, code: str, reason: str) -> web.Response:
    body = json.dumps({"error": code, "reason": reason}, separators=(",", ":"))
    resp = web.Response(status=status, text=body, content_type="application/json", headers=SECURITY_HEADERS)
    resp.force_close()
    return resp


class _QuietRequestHandler(RequestHandler):
    """aiohttp's connection handler, with an error answer that quotes nothing of the request."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        remote = request.remote
        if isinstance(exc, HttpProcessingError):  # the parser's: its message and the exception quote the request
            kind = type(exc).__name__
            # a bad method as a connection's first request is a TLS or non-HTTP client: aiohttp's own choice
            scan = isinstance(exc, BadHttpMethod) and getattr(self, "_request_count", 0) == 1
            log.log(logging.DEBUG if scan else logging.WARNING, "%s: %s from %s", BAD_HTTP_REQUEST, kind, remote)
            status, code, reason = 400, BAD_HTTP_REQUEST, f"{BAD_HTTP_REQUEST}: {kind}"
        elif status == 504:
            log.warning("TIMEOUT: a request from %s took too long", remote)
            code, reason = "TIMEOUT", "TIMEOUT: the request took too long"
        else:
            log.error("INTERNAL: a request from %s failed below the API", remote, exc_info=exc)
            status, code, reason = 500, "INTERNAL", "INTERNAL"
        if request.writer.output_size > 0:  # part of an answer went out: the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        return _answer(status, code, reason)


class _QuietServer(web.Server):
    """Makes a :class:`_QuietRequestHandler` for each connection."""

    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class QuietAppRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections answer a request that does not parse
    with the API's error document, quoting nothing of it (see the module doc)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        if type(server) is not web.Server:  # an aiohttp that builds its server otherwise: refuse to serve loudly
            raise TypeError(f"cannot serve quietly with aiohttp's {type(server).__name__}")
        server.__class__ = _QuietServer
        return server


__all__ = ["BAD_HTTP_REQUEST", "QuietAppRunner", "SECURITY_HEADERS"]
