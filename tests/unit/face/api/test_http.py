"""The server beneath the API (killswitch/face/api/http.py): a request that does not parse is
answered with the API's error document and logged as one line, quoting nothing of it.

Served for real on 127.0.0.1 with the process's logging (killswitch/logs.py) configured; the
token is one the log does not know by value (a tokens document keeps only its hash)."""

from __future__ import annotations

import asyncio
import io
import json
import socket

from aiohttp import web

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.http import QuietAppRunner
from killswitch.logs import configure, unconfigure

from .rig import TOKEN, FakeView, run

AUTH = b"Host: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _parts(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


BROKEN = {
    "a NUL after the token": (b"GET /v1/status HTTP/1.1\r\n" + AUTH + b"\x00\r\n\r\n", "BadHttpMessage"),
    "a header over the size limit": (b"GET /v1/status HTTP/1.1\r\n" + AUTH + b"x" * 9000 + b"\r\n\r\n",
                                     "LineTooLong"),
    "a header without a colon": (b"GET /v1/status HTTP/1.1\r\n" + AUTH.replace(b":", b"") + b"\r\n\r\n",
                                 "BadHttpMessage"),
    "a bad HTTP version": (b"GET /v1/status HTTP/7.x\r\n" + AUTH + b"\r\n\r\n", "BadStatusLine"),
}


def test_a_request_that_does_not_parse_is_answered_and_logged_without_quoting_it():
    out, err = io.StringIO(), io.StringIO()

    async def main():
        runner, base = await start_api(make_app(FakeView(), token=TOKEN))
        port = int(base.rsplit(":", 1)[1])
        try:
            return {case: await asyncio.to_thread(_exchange, port, data) for case, (data, _) in BROKEN.items()}
        finally:
            await stop_api(runner)

    configure("text", env={}, stdout=out, stderr=err)
    try:
        answers = run(main())
    finally:
        unconfigure()
    for case, answer in answers.items():
        status, headers, body = _parts(answer)
        kind = BROKEN[case][1]
        assert status == 400, (case, answer)
        assert json.loads(body) == {"error": "BAD_HTTP_REQUEST", "reason": f"BAD_HTTP_REQUEST: {kind}"}, case
        assert headers["content-type"].startswith("application/json") and headers["cache-control"] == "no-store"
    log = err.getvalue()
    assert TOKEN not in log + out.getvalue() and TOKEN[:12] not in log, log
    lines = log.splitlines()
    assert len(lines) == len(BROKEN) and all(" WARNING killswitch.runner.http BAD_HTTP_REQUEST: " in x for x in lines)
    assert lines[0].endswith("BAD_HTTP_REQUEST: BadHttpMessage from 127.0.0.1")


def test_an_exception_below_the_api_is_a_bare_500_and_a_scrubbed_traceback():
    """Without the API's middleware (which turns every exception into its own 500), the server's
    handler answers: nothing of the exception in the body, its traceback scrubbed in the log."""
    out, err = io.StringIO(), io.StringIO()

    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError(f"failed with {request.headers['Authorization']}")

    async def main():
        app = web.Application()
        app.router.add_get("/x", explode)
        runner = QuietAppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            return await asyncio.to_thread(_exchange, port, b"GET /x HTTP/1.1\r\nConnection: close\r\n" + AUTH
                                           + b"\r\n\r\n")
        finally:
            await runner.cleanup()

    configure("text", env={}, stdout=out, stderr=err)
    try:
        answer = run(main())
    finally:
        unconfigure()
    status, headers, body = _parts(answer)
    assert status == 500 and json.loads(body) == {"error": "INTERNAL", "reason": "INTERNAL"}
    log = err.getvalue()
    assert "ERROR killswitch.runner.http INTERNAL: a request from 127.0.0.1 failed below the API" in log
    assert "RuntimeError: failed with Authorization: ***" in log or "RuntimeError: failed with Bearer ***" in log, log
    assert TOKEN not in log and TOKEN[:12] not in log
