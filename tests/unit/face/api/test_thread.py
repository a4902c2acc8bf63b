"""The API served from threads of its own (killswitch/face/api/thread.py), against a fake view
on 127.0.0.1: a connection whose first request is a bot's is served on the gate's loop, so a
check-order, a heartbeat and the lock are answered while the operators' loop is held by a status
read that does not end; the gate's loop answers every route as the other does (the same
middleware: denied by default); a first line that comes in pieces is still told apart; and a loop
that ends under the API, or accepting that fails, is said by its supervised ``serve``, which
accepts again when started again.

Nothing here is timed: the operators' loop is held by an event, and every wait is a bound."""

from __future__ import annotations

import asyncio
import errno
import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any, Optional

import pytest

from killswitch.face.api.api import make_app
from killswitch.face.api.thread import ApiFailed, ApiThread, is_bot_request, undecided

from .rig import ORDER, TOKEN, FakeView

BOUND_S = 10.0  # a bound on every wait for an answer, never a measured time


class HeldStatus(FakeView):
    """A status that holds the thread it is asked on (the operators' loop: a fake view's calls run
    on the loop that serves the request) until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def status(self):
        self._record("status")
        self.entered.set()
        self.release.wait(BOUND_S * 3)
        return {"mode": "dry-run"}


def served(view: FakeView, *, gate: bool = True) -> tuple[ApiThread, str]:
    app = make_app(view, token=TOKEN)
    api = ApiThread(app, "127.0.0.1", 0, gate=make_app(view, token=TOKEN) if gate else None)
    return api, asyncio.run(api.start())


def ask(url: str, method: str = "GET", body: Optional[dict] = None, token: Optional[str] = None,
        timeout: float = BOUND_S) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_bots_requests_are_answered_while_a_status_read_holds_the_operators_loop():
    view = HeldStatus()
    api, url = served(view)
    read: dict = {}
    reader = threading.Thread(target=lambda: read.update(answer=ask(url + "/v1/status", token=TOKEN,
                                                                    timeout=BOUND_S * 3)))
    try:
        reader.start()
        assert view.entered.wait(BOUND_S)  # the operators' loop is inside the status call now, and stays there
        check = ask(url + "/v1/check-order", "POST", ORDER)
        beat = ask(url + "/v1/heartbeat/bot-1", "POST", token=TOKEN)
        lock = ask(url + "/v1/lock")
        # the premise: the operators' loop answers nothing meanwhile, not even the liveness probe
        with pytest.raises(OSError):
            ask(url + "/healthz", timeout=0.5)
        assert not read
    finally:
        view.release.set()
        reader.join(BOUND_S * 3)
        asyncio.run(api.stop())
    assert check == (200, {"allow": True, "reason": "ACTIVE"})
    assert beat == (204, None) and lock[0] == 200 and lock[1]["mode"] == "active"
    assert read["answer"] == (200, {"mode": "dry-run"})  # answered once released
    assert ("check_order", (ORDER,)) in view.calls and ("heartbeat", ("bot-1", None)) in view.calls
    assert api.handed == {"gate": 3, "api": 2}


def test_the_gates_loop_answers_every_route_as_the_operators_loop_does():
    view = FakeView()
    api, url = served(view)
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=BOUND_S)
    answers = []
    try:
        # one connection, a bot's request first: every later request on it is the gate loop's too
        for method, path, body, token in (("POST", "/v1/check-order", ORDER, None),
                                          ("GET", "/v1/status", None, None),  # a read of the book: a token
                                          ("GET", "/v1/status", None, TOKEN),
                                          ("POST", "/v1/heartbeat/bot-1", None, None),  # a write: a token
                                          ("POST", "/v1/lock", {"scope": "binance/main", "reason": "r"}, "wrong"),
                                          ("GET", "/v1/nowhere", None, None)):
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = conn.getresponse()
            raw = r.read()
            doc = json.loads(raw) if raw else None
            answers.append((r.status, doc.get("error") if isinstance(doc, dict) else None))
    finally:
        conn.close()
        asyncio.run(api.stop())
    assert answers == [(200, None), (401, "AUTH_REQUIRED"), (200, None), (401, "AUTH_REQUIRED"),
                       (401, "AUTH_INVALID"), (404, "NOT_FOUND")]
    assert api.handed == {"gate": 1, "api": 0}
    assert view.names() == ["check_order", "status"]


def test_a_first_line_sent_in_pieces_is_still_a_bots():
    view = HeldStatus()
    api, url = served(view)
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(ORDER).encode()
    request = (b"POST /v1/check-order HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    reader = threading.Thread(target=lambda: ask(url + "/v1/status", token=TOKEN, timeout=BOUND_S * 3))
    try:
        reader.start()
        assert view.entered.wait(BOUND_S)  # answered on the operators' loop, it would wait for ever
        with socket.create_connection((host, int(port)), timeout=BOUND_S) as s:
            for piece in (request[:3], request[3:12], request[12:]):
                s.sendall(piece)
                threading.Event().wait(0.02)  # each piece its own segment (not a measured time)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    finally:
        view.release.set()
        reader.join(BOUND_S * 3)
        asyncio.run(api.stop())
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"allow":true,"reason":"ACTIVE"}')
    assert api.handed["gate"] == 1


@pytest.mark.parametrize("head, bot, more", [
    (b"POST /v1/check-order HTTP/1.1\r\n", True, False),
    (b"POST /v1/check-order?x=1 HTTP/1.1", True, False),
    (b"POST /v1/heartbeat/bot-1 HTTP/1.1", True, False),
    (b"GET /v1/lock?scope=binance/main HT", True, False),
    (b"GET /v1/status HTTP/1.1\r\n", False, False),
    (b"POST /v1/lock HTTP/1.1\r\n", False, False),  # an operator's change
    (b"GET /v1/dms HTTP/1.1\r\n", False, False),
    (b"GET / HTTP/1.1\r\n", False, False),
    (b"\x16\x03\x01\x02\x00\x01", False, False),  # a TLS client's hello: the operators' loop answers it
    (b"POST /v1/che", False, True),  # a beginning of a bot's request: wait for more
    (b"G", False, True),
    (b"", False, False),  # closed before it said anything
])
def test_which_first_bytes_are_a_bots(head, bot, more):
    assert is_bot_request(head) is bot and undecided(head) is more


def test_without_a_gate_application_one_loop_serves_every_connection():
    view = FakeView()
    api, url = served(view, gate=False)
    try:
        check, status = ask(url + "/v1/check-order", "POST", ORDER), ask(url + "/v1/status", token=TOKEN)
    finally:
        asyncio.run(api.stop())
    assert check == (200, {"allow": True, "reason": "ACTIVE"}) and status[0] == 200
    assert api.handed == {"gate": 0, "api": 0}  # (nothing to tell apart)


def test_a_loop_that_ends_under_the_api_is_said_by_its_serve_until_the_api_stops():
    view = FakeView()

    async def go():
        api = ApiThread(make_app(view, token=TOKEN), "127.0.0.1", 0, gate=make_app(view, token=TOKEN))
        url = await api.start()
        watching = asyncio.ensure_future(api.serve())
        await asyncio.sleep(0)
        assert not watching.done()
        gate_loop = api._gate.loop  # its thread's loop ends as a thread that died would
        gate_loop.call_soon_threadsafe(gate_loop.stop)
        with pytest.raises(ApiFailed) as failed:
            await asyncio.wait_for(watching, BOUND_S)
        with pytest.raises(ApiFailed) as again:  # started again by the supervisor: still said
            await asyncio.wait_for(api.serve(), BOUND_S)
        await api.stop()
        after = await asyncio.wait_for(api.serve(), BOUND_S)  # stopped: ends as meant
        return url, str(failed.value), str(again.value), after

    url, failed, again, after = asyncio.run(go())
    assert failed.startswith("API_LOOP_ENDED: the API's thread killswitch-api-gate has ended") and again == failed
    assert after is None
    with pytest.raises(OSError):
        ask(url + "/healthz", timeout=1)  # stopped with the runner: nothing listens


class BrokenOnce(ApiThread):
    """Its first accept fails as no client's could (a descriptor gone bad); the next ones accept."""

    broke = False

    async def _accept(self, sock):
        if not self.broke:
            self.broke = True
            raise OSError(errno.EBADF, "Bad file descriptor")
        await super()._accept(sock)


def test_accepting_that_failed_is_said_and_accepting_starts_again():
    view = FakeView()

    async def go():
        api = BrokenOnce(make_app(view, token=TOKEN), "127.0.0.1", 0, gate=make_app(view, token=TOKEN))
        url = await api.start()
        try:
            with pytest.raises(ApiFailed) as failed:  # it broke before the first call: said by it
                await asyncio.wait_for(api.serve(), BOUND_S)
            again = asyncio.ensure_future(api.serve())  # as the supervisor starts it again
            check = await asyncio.to_thread(ask, url + "/v1/check-order", "POST", ORDER)
            assert not again.done()
        finally:
            await api.stop()
        return str(failed.value), check, await asyncio.wait_for(again, BOUND_S)

    failed, check, ended = asyncio.run(go())
    assert failed == "API_ACCEPT_FAILED: the API stopped accepting connections (OSError: [Errno 9] Bad file descriptor)"
    assert check == (200, {"allow": True, "reason": "ACTIVE"}) and ended is None
