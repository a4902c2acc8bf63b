"""A TCP proxy on 127.0.0.1 that a test can cut: a network partition between one client and a
server, with nothing else touched.

While cut, every byte either way is read and dropped and the connections stay open, as across
a partition where packets are lost (the client's kernel still sees its bytes acknowledged: here
by the proxy's, as a switch's buffers would): a request goes unanswered, an answer never
arrives. New connections are accepted and lead nowhere. Healed, new connections work again;
one that lost bytes while cut stays out of step (its client waits for an answer that never
comes) until its client gives up on it, as after a real partition.

With ``record``, what clients send is kept with the wall time it arrived (``time.time()``, the
clock the runner and PostgreSQL stamp with): :meth:`TcpProxy.orders` reads the client order
ids of the orders a runner placed through it, in front of the simulated exchange.

Listens on loopback only; one thread; ``close`` stops it and closes every connection.
"""

from __future__ import annotations

import re
import selectors
import socket
import threading
import time
from typing import Optional

_CLIENT_ORDER_ID = re.compile(rb"newClientOrderId=([A-Za-z0-9_.:/%-]+)")


class TcpProxy:
    """``127.0.0.1:port`` → ``127.0.0.1:upstream_port``; :meth:`cut` and :meth:`heal` it."""

    def __init__(self, upstream_port: int, *, record: bool = False):
        self.upstream = ("127.0.0.1", upstream_port)
        self.record = record
        self._sent: dict[int, list[tuple[float, bytes]]] = {}  # client connection → (arrived, bytes)
        self._connections = 0
        self._ids: dict[socket.socket, int] = {}
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._peer: dict[socket.socket, Optional[socket.socket]] = {}  # None: leads nowhere
        self._cut = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0  # bytes dropped while cut
        self._thread = threading.Thread(target=self._run, name=f"tcp-proxy-{self.port}", daemon=True)
        self._thread.start()

    def orders(self) -> list[tuple[float, str]]:
        """(wall time its last byte arrived, client order id) of every order placement clients
        sent through here, cut or not (a Binance ``newClientOrderId`` parameter), in time order."""
        out = []
        for chunks in [list(c) for c in list(self._sent.values())]:  # (the proxy's thread appends meanwhile)
            stream = b"".join(c for _, c in chunks)
            ends, at = [], 0
            for t, c in chunks:
                at += len(c)
                ends.append((at, t))
            for m in _CLIENT_ORDER_ID.finditer(stream):
                t = next(t for end, t in ends if end >= m.end())
                out.append((t, m.group(1).decode()))
        return sorted(out)

    def cut(self) -> None:
        self._cut.set()

    def heal(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in list(self._peer):
            s.close()
        self._listener.close()
        self._sel.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.05):
                if key.fileobj is self._listener:
                    self._accept()
                else:
                    self._pump(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        server: Optional[socket.socket] = None
        if not self._cut.is_set():
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                return
        self._connections += 1
        self._ids[client] = self._connections
        for a, b in ((client, server), (server, client)):
            if a is not None:
                a.setblocking(True)
                a.settimeout(5)  # a send to a peer that stopped reading must not stop the proxy
                self._peer[a] = b
                self._sel.register(a, selectors.EVENT_READ, None)

    def _pump(self, s: socket.socket) -> None:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(s)
            return
        other = self._peer.get(s)
        if self.record and s in self._ids:
            self._sent.setdefault(self._ids[s], []).append((time.time(), data))
        if other is None or self._cut.is_set():
            self.dropped += len(data)
            return
        try:
            other.sendall(data)
        except OSError:
            self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        other = self._peer.pop(s, None)
        for x in (s, other):
            if x is None:
                continue
            self._peer.pop(x, None)
            self._ids.pop(x, None)
            try:
                self._sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()
