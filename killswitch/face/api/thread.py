"""The runner's HTTP API, served from threads of its own: one loop for the bots, one for the rest.

What it owns: the listening sockets of the API's address, and the event loops that serve the
aiohttp applications built by :func:`killswitch.face.api.api.make_app`, each on a thread of its
own, started and stopped from the runner's loop. Accepting, parsing, authenticating and
answering requests then never wait for the runner's work (a tick, a store write), and the
runner's loop spends no time on HTTP: the view hands every call back to the loop its state
lives on (:meth:`killswitch.face.desk.desk.Desk.run_view_call`).

Built with a ``gate`` application (``ksctl run`` builds one: the same routes, middleware and
view, with handlers of its own for its own loop, and the same identities and admission of
writes), the API serves from two loops. Every connection is accepted on the gate's loop, which
looks at the first bytes its client sent without taking them (``MSG_PEEK``) and hands the
connection to the loop that serves it from then on:

- a bot's request first (:data:`BOT_REQUESTS`: ``POST /v1/check-order``, ``POST
  /v1/heartbeat/…``, ``GET /v1/lock``) — the gate's loop;
- anything else (the status, the console, ``/metrics``, an operator's change), or nothing
  within :data:`FIRST_BYTES_S` — the operators' loop.

Both loops answer every route alike, so the hand-over only decides which queue a connection
waits in, never what it is answered. A status read writes its answer (hundreds of kilobytes at
a runner with many sources) on the operators' loop; five hundred of them kept that loop busy
and a pre-trade check on it waited behind them. On the gate's loop a check waits only behind
other bots' requests (a client that sends both kinds on one connection waits behind itself).
Without a ``gate`` application every connection is served on the one loop.

Supervised: :meth:`ApiThread.serve` is a task of the process (``api``): it raises when a loop's
thread ended while the API was not stopping, or when accepting failed other than for a lack of
descriptors or buffers (paused and tried again, said once a minute), and accepts again when it
is started again. :meth:`ApiThread.stop` stops both loops, with the runner.

With ``tls`` (:class:`~killswitch.face.api.tls.context.LiveTls`, ``ksctl run
--web-config-file``) the API serves https: a TLS connection's first bytes cannot be looked into,
so every connection is served on the loop that accepts it (``ksctl run`` builds no gate then),
handshaken with the context in force when it came (a certificate rotated since serves the next
connections; the open ones keep theirs). A connection whose first bytes are plain HTTP, not a
TLS handshake, is answered ``400 TLS_REQUIRED`` in plain text and closed: nothing of its request
is served.

Must not: call into the runner other than through the applications' view calls; read a byte of
a connection that the application then does not see; block the runner's loop while it starts
or stops (both are awaited off it, so that requests in flight can still be answered by that
loop while the servers shut down).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

from aiohttp import web

from .http import QuietAppRunner

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .tls.context import LiveTls

log = logging.getLogger("killswitch.face.api")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
BACKLOG = 128  # aiohttp's own default for a site
# the first bytes of a request a bot sends: its connection is served on the gate's loop
BOT_REQUESTS = (b"POST /v1/check-order", b"POST /v1/heartbeat/", b"GET /v1/lock")
PEEK_BYTES = max(len(p) for p in BOT_REQUESTS)
FIRST_BYTES_S = 5.0  # a connection whose client sends nothing for this long is the operators' loop's
PARTIAL_WAIT_S = 0.005  # a first line that came in pieces is looked at again after this
ACCEPT_PAUSE_S = 0.1  # accepting pauses this long when the process is out of descriptors or buffers
SAY_EVERY_S = 60.0
TLS_HANDSHAKE_S = 10.0  # a TLS client that does not finish its handshake within this is dropped
TLS_RECORD_HANDSHAKE = 0x16  # the first byte of a TLS connection: a handshake record
# what a plain-HTTP request to the TLS port is answered (nothing of it is served)
_TLS_REQUIRED_BODY = b"TLS_REQUIRED: this runner serves https; send the request over TLS\n"
TLS_REQUIRED = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(_TLS_REQUIRED_BODY), _TLS_REQUIRED_BODY))
# accept() failures that pass: the process or the machine out of descriptors or buffers, a client
# that left before it was accepted
_PASSING = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPROTO,
            errno.EPERM}


def is_bot_request(head: bytes) -> bool:
    """Whether the first bytes of a connection begin a bot's request (:data:`BOT_REQUESTS`)."""
    return head.startswith(BOT_REQUESTS)


def undecided(head: bytes) -> bool:
    """Whether more bytes are needed to tell: ``head`` is a beginning of a bot's request, not all of it."""
    return bool(head) and len(head) < PEEK_BYTES and any(p.startswith(head) for p in BOT_REQUESTS)


class ApiFailed(RuntimeError):
    """The API stopped serving part of its connections (a loop's thread ended, accepting failed)."""


class _Served:
    """One application served on an event loop of its own thread, from connections handed in."""

    def __init__(self, app: web.Application, name: str, on_end: Callable[["_Served"], None]):
        self.app = app
        self.name = name
        self._on_end = on_end  # called (on its thread) when the loop ends
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.ended = threading.Event()

    def start(self) -> None:
        """(blocking) The loop and its thread, the application set up on it."""
        loop = self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(self._setup(), loop).result(START_TIMEOUT_S)

    def _run(self) -> None:
        assert self.loop is not None
        try:
            self.loop.run_forever()
        finally:
            self.ended.set()
            self._on_end(self)

    async def _setup(self) -> web.AppRunner:
        # no access log: the runner logs what it does itself; a request that does not parse is
        # answered and logged without quoting it (api_http.py)
        runner = QuietAppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        return runner

    @property
    def running(self) -> bool:
        return self.loop is not None and not self.ended.is_set()

    async def adopt(self, conn: socket.socket, tls: Optional[ssl.SSLContext] = None) -> None:
        """(on this loop) Serve ``conn`` from now on (``tls``: handshaken with that context)."""
        server = self._runner.server if self._runner is not None else None
        if server is None:
            conn.close()
            return
        try:
            if tls is None:
                await asyncio.get_running_loop().connect_accepted_socket(server, conn)
            else:
                await asyncio.get_running_loop().connect_accepted_socket(server, conn, ssl=tls,
                                                                         ssl_handshake_timeout=TLS_HANDSHAKE_S)
        except BaseException:
            conn.close()
            raise

    def hand(self, conn: socket.socket) -> None:
        """(from another thread) Serve ``conn`` on this loop; closed when this loop cannot take it."""
        loop = self.loop
        try:
            if loop is None or self.ended.is_set():
                raise RuntimeError("not serving")
            asyncio.run_coroutine_threadsafe(self.adopt(conn), loop).add_done_callback(_dropped)
        except RuntimeError:  # the loop is closed or stopping: the client connects again
            conn.close()

    def stop(self) -> None:
        """(blocking) Close the open connections, then end the loop and its thread."""
        loop, self.loop = self.loop, None
        if loop is None:
            return
        ended_before = self.ended.is_set()
        try:
            if self._runner is not None and not ended_before:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(STOP_TIMEOUT_S)
        finally:
            runner, self._runner = self._runner, None
            if not self.ended.is_set():
                loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(STOP_TIMEOUT_S)
            if not loop.is_running() and not loop.is_closed():
                if ended_before:
                    _finish(loop, runner)  # a loop that ended under us: its connections and tasks end here
                loop.close()


class ApiThread:
    """The API on ``host:port`` (port 0: a free one); see the module doc. ``gate``: the same
    application built again for the bots' loop (None: one loop serves every connection);
    ``tls``: the server's TLS context, read again as it changes (https; no gate with it)."""

    def __init__(self, app: web.Application, host: str, port: int, *, gate: Optional[web.Application] = None,
                 tls: "Optional[LiveTls]" = None):
        if tls is not None and gate is not None:
            raise ValueError("a TLS listener cannot hand its connections to a gate: build none")
        self.app = app
        self.tls = tls
        self.host = host
        self.port = port
        self.url: Optional[str] = None
        self._api = _Served(app, "killswitch-api", self._loop_ended)
        self._gate = _Served(gate, "killswitch-api-gate", self._loop_ended) if gate is not None else None
        self._listeners: list[socket.socket] = []
        self._accepting: dict[int, asyncio.Task] = {}  # listener's index → its accept loop (on the front loop)
        self._handing: set[asyncio.Task] = set()  # connections whose first bytes are awaited
        self._stopping = False
        self._trouble: concurrent.futures.Future = concurrent.futures.Future()  # why serving broke
        self._said: dict[int, float] = {}  # errno → when an accept failure of it was last said
        self.handed = {"gate": 0, "api": 0}  # connections handed to each loop (with a gate)

    @property
    def _front(self) -> _Served:
        """The loop that accepts (the gate's, when there is one)."""
        return self._gate if self._gate is not None else self._api

    async def start(self) -> str:
        """Serve on ``host:port``; the base URL."""
        return await asyncio.to_thread(self._start)

    async def serve(self) -> None:
        """Until the API stops: raises :class:`ApiFailed` when a loop's thread ended or accepting
        failed; when called again, accepts again (a loop that ended stays said)."""
        if self._stopping:
            return
        trouble = self._trouble
        if trouble.done():  # broke while no call waited (before the first): said now, once
            self._trouble = concurrent.futures.Future()
            error = None if trouble.cancelled() else trouble.exception()
            if error is not None:
                raise error
            trouble = self._trouble
        for served in (self._api, self._gate):
            if served is not None and not served.running:
                raise ApiFailed(f"API_LOOP_ENDED: the API's thread {served.name} has ended; the connections it "
                                "served are not answered")
        self._accept_soon()
        try:
            await asyncio.wrap_future(trouble)  # raises what broke serving; None at a stop
        finally:
            if self._trouble is trouble and trouble.done():  # said by this call: the next starts afresh
                self._trouble = concurrent.futures.Future()

    async def stop(self) -> None:
        """Stop accepting, close the open connections, then end the threads."""
        await asyncio.to_thread(self._stop)

    # --- starting and stopping (off the runner's loop) -------------------------------------------------

    def _start(self) -> str:
        try:
            self._listen()
            for served in (self._api, self._gate):
                if served is not None:
                    served.start()
            self._accept_soon()  # (a client connecting meanwhile waits in the backlog)
        except BaseException:
            self._stop()
            raise
        host, port = self._listeners[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        self.url = f"{'https' if self.tls is not None else 'http'}://{shown}:{port}"
        return self.url

    def _listen(self) -> None:
        """A listening socket on each address ``host`` names (as aiohttp's own site makes them)."""
        infos = socket.getaddrinfo(self.host or None, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        seen = set()
        port = self.port
        for family, kind, proto, _, addr in infos:
            if (family, addr[0]) in seen:
                continue
            seen.add((family, addr[0]))
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((addr[0], port, *addr[2:]))
                sock.listen(BACKLOG)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
            self._listeners.append(sock)
            port = port or sock.getsockname()[1]  # port 0: every address on the port the first got

    def _stop(self) -> None:
        self._stopping = True
        front = self._front
        try:
            if front.running and front.loop is not None:
                try:
                    asyncio.run_coroutine_threadsafe(self._stop_accepting(), front.loop).result(STOP_TIMEOUT_S)
                except RuntimeError:  # its loop is closing already
                    pass
        finally:
            for sock in self._listeners:
                sock.close()
            self._listeners.clear()
            for served in (self._gate, self._api):
                if served is not None:
                    served.stop()
            if not self._trouble.done():
                self._trouble.set_result(None)

    def _loop_ended(self, served: _Served) -> None:
        if not self._stopping:
            log.error("API_LOOP_ENDED: the API's thread %s has ended", served.name)
            self._fail(ApiFailed(f"API_LOOP_ENDED: the API's thread {served.name} has ended; the connections it "
                                 "served are not answered"))

    def _fail(self, error: BaseException) -> None:
        trouble = self._trouble
        if not trouble.done():
            trouble.set_exception(error)

    # --- on the front loop -----------------------------------------------------------------------------

    def _accept_soon(self) -> None:
        """(any thread) :meth:`_accept_all` on the front loop."""
        loop = self._front.loop
        try:
            if loop is None:
                raise RuntimeError("no loop")
            loop.call_soon_threadsafe(self._accept_all)
        except RuntimeError:  # closed under us
            raise ApiFailed(f"API_LOOP_ENDED: the API's thread {self._front.name} has ended; no connection is "
                            "accepted") from None

    def _accept_all(self) -> None:
        """An accept loop on each listening socket that has none running."""
        loop = asyncio.get_running_loop()
        for i, sock in enumerate(self._listeners):
            task = self._accepting.get(i)
            if task is None or task.done():
                task = self._accepting[i] = loop.create_task(self._accept(sock), name=f"api-accept-{i}")
                task.add_done_callback(self._accept_ended)

    def _accept_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or self._stopping:
            return
        error = task.exception()
        why = f"{type(error).__name__}: {error}" if error is not None else "it returned"
        self._fail(ApiFailed(f"API_ACCEPT_FAILED: the API stopped accepting connections ({why})"))

    async def _stop_accepting(self) -> None:
        tasks = [*self._accepting.values(), *self._handing]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._accepting.clear()

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as e:
                if e.errno not in _PASSING:
                    raise
                self._say(e)
                await asyncio.sleep(ACCEPT_PAUSE_S)
                continue
            conn.setblocking(False)
            if self.tls is not None:
                self._track(loop.create_task(self._handshake(conn)))
            else:
                self._track(loop.create_task(self._hand_over(conn) if self._gate is not None
                                             else self._api.adopt(conn)))

    def _say(self, e: OSError) -> None:
        now = time.monotonic()
        if now - self._said.get(e.errno or 0, -SAY_EVERY_S) >= SAY_EVERY_S:
            self._said[e.errno or 0] = now
            log.warning("API_ACCEPT_PAUSED: accepting a connection failed (%s); paused %gs and tried again (said "
                        "once a minute)", errno.errorcode.get(e.errno or 0, e.errno), ACCEPT_PAUSE_S)

    async def _hand_over(self, conn: socket.socket) -> None:
        """Hand ``conn`` to the loop its first bytes ask for."""
        head = await _heard(conn)
        if head == b"":  # closed (or reset) before it said anything
            conn.close()
            return
        assert self._gate is not None
        if head is not None and is_bot_request(head):
            self.handed["gate"] += 1
            try:
                await self._gate.adopt(conn)
            except Exception as e:  # noqa: BLE001 - that client connects again; the API goes on
                log.warning("API_CONNECTION_DROPPED: a connection could not be served (%s)", type(e).__name__)
        else:
            self.handed["api"] += 1
            self._api.hand(conn)

    async def _handshake(self, conn: socket.socket) -> None:
        """Serve ``conn`` over TLS with the context in force; a plain-HTTP request is answered
        :data:`TLS_REQUIRED` and closed."""
        assert self.tls is not None
        head = await _heard(conn, 1)
        if not head:  # closed, or silent for FIRST_BYTES_S: a handshake never came
            conn.close()
            return
        if head[0] != TLS_RECORD_HANDSHAKE:
            _refuse_plain(conn)
            return
        try:
            await self._api.adopt(conn, self.tls.context())
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError, TimeoutError) as e:
            # a client that does not trust the certificate, sends none where one is required, one
            # from another CA, an old TLS version: its handshake fails; counted, said once a minute
            self.tls.handshakes_failed += 1
            now = time.monotonic()
            if now - self._said.get(-1, -SAY_EVERY_S) >= SAY_EVERY_S:
                self._said[-1] = now
                log.warning("API_TLS_HANDSHAKE_FAILED: a client's TLS handshake failed (%s); %d so far (said once "
                            "a minute)", getattr(e, "reason", None) or type(e).__name__, self.tls.handshakes_failed)
        except Exception as e:  # noqa: BLE001 - that client connects again; the API goes on
            log.warning("API_CONNECTION_DROPPED: a TLS connection could not be served (%s)", type(e).__name__)

    def _track(self, task: asyncio.Task) -> None:
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)


def _refuse_plain(conn: socket.socket) -> None:
    """Answer a plain-HTTP request to the TLS port :data:`TLS_REQUIRED` and close it: what it sent
    is read and dropped first (so that the close is no reset that could lose the answer)."""
    try:
        for _ in range(16):
            if not conn.recv(4096):
                break
    except (BlockingIOError, InterruptedError, OSError):
        pass
    try:
        conn.send(TLS_REQUIRED)  # a few bytes into an empty buffer: never blocks
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    conn.close()


def _dropped(adopted: concurrent.futures.Future) -> None:
    if not adopted.cancelled() and adopted.exception() is not None:
        log.warning("API_CONNECTION_DROPPED: a connection could not be served (%s)",
                    type(adopted.exception()).__name__)


def _finish(loop: asyncio.AbstractEventLoop, runner: Optional[web.AppRunner]) -> None:
    """(on the calling thread) The connections and tasks a loop left when it ended under the
    API: closed and cancelled, so that nothing is left pending when the loop is closed."""
    left = asyncio.all_tasks(loop)

    async def finish() -> None:
        for t in left:
            t.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()

    try:
        loop.run_until_complete(finish())
    except Exception:  # noqa: BLE001 - the stop goes on; what is left is said
        log.exception("the API's loop that ended could not be finished")


async def _heard(conn: socket.socket, enough: int = 0) -> Optional[bytes]:
    """:func:`_first_bytes`, b"" where the socket failed (reset before it said anything); ``conn``
    is closed on any error, and one other than the socket's raised again."""
    try:
        return await _first_bytes(conn, enough)
    except OSError:
        conn.close()
        return b""
    except BaseException:
        conn.close()
        raise


async def _first_bytes(conn: socket.socket, enough: int = 0) -> Optional[bytes]:
    """The first bytes ``conn``'s client sent, left in the socket for the server to read: enough
    to tell a bot's request from another, or ``enough`` of them (b"" when it closed first; None or
    a part when it sent too little within :data:`FIRST_BYTES_S`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + FIRST_BYTES_S
    head: Optional[bytes] = None
    while True:
        try:
            head = conn.recv(enough or PEEK_BYTES, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            pass
        else:
            done = (head == b"" or len(head) >= enough) if enough else not undecided(head)
            if done:
                return head
        left = end - loop.time()
        if left <= 0:
            return head
        if head:  # a part of a first line: the socket stays readable, so look again in a moment
            await asyncio.sleep(min(PARTIAL_WAIT_S, left))
        elif not await _readable(loop, conn, left):
            return head


async def _readable(loop: asyncio.AbstractEventLoop, conn: socket.socket, timeout: float) -> bool:
    """Whether ``conn`` has something to read (or was closed) within ``timeout``."""
    ready = loop.create_future()
    fd = conn.fileno()

    def woken() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, woken)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


__all__ = ["ApiFailed", "ApiThread", "BOT_REQUESTS", "is_bot_request"]
