"""How rows reach a receiver: a syslog TCP or TLS connection, or OTLP/HTTP exports.

Each transport has three calls, all blocking (the shipper's thread calls them, never the tick's
loop), each bounded by the target's timeout: ``send`` (the rows written: the TCP write
completed, or the export answered 2xx with a response that parses and rejects nothing),
``confirm`` (before a cursor is saved: for syslog, every byte acknowledged by the receiver's
TCP and the connection still open) and ``probe`` (whether the receiver can take rows now: a
connection made or kept, an empty export answered). Any failure raises :class:`SinkDown` with a fixed cause word and
leaves the transport closed, to connect again on the next call.

A syslog receiver answers nothing: bytes it sends anyway (garbage) are read and dropped before each
write; a connection it closed is noticed there too, and made again before the rows are written.

Must not: retry (the shipper does, from its cursor), or put a certificate's or the receiver's
own words in a cause.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import struct
import time
from typing import Optional, Sequence

from ...state.store import ChainRow
from .records import SyslogFormat, otlp_request
from .targets import SinkTarget

# the causes a SinkDown gives (status, /metrics' failing state, the log)
CONNECT_FAILED = "CONNECT_FAILED"
TLS_FAILED = "TLS_FAILED"
WRITE_FAILED = "WRITE_FAILED"
TIMEOUT = "TIMEOUT"
HTTP_STATUS = "HTTP_STATUS"
GARBAGE_ANSWER = "GARBAGE_ANSWER"
REJECTED = "REJECTED"
REPLAY_ROWS = 5_000  # rows sent again after a syslog connection the receiver closed
CAUSES = (CONNECT_FAILED, TLS_FAILED, WRITE_FAILED, TIMEOUT, HTTP_STATUS, GARBAGE_ANSWER, REJECTED)


class SinkDown(Exception):
    """The receiver did not take the rows (or cannot now): ``cause`` is one of :data:`CAUSES`."""

    def __init__(self, cause: str, detail: str = ""):
        super().__init__(f"{cause}{': ' + detail if detail else ''}")
        self.cause = cause


def client_context(target: SinkTarget) -> ssl.SSLContext:
    """The TLS client context: the receiver's certificate verified (``ca_file`` or the system's
    CAs) and its name checked; a client certificate when given. Raises OSError / ssl.SSLError for
    a file that cannot be read (said at start)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=target.ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if target.cert_file and target.key_file:
        ctx.load_cert_chain(target.cert_file, target.key_file)
    return ctx


class SyslogTransport:
    """RFC 5424 messages, octet-counted, on one kept connection (TLS for ``syslog+tls``)."""

    def __init__(self, target: SinkTarget, fmt: Optional[SyslogFormat] = None):
        self.target = target
        self.fmt = fmt or SyslogFormat(target.facility)
        self.ctx = client_context(target) if target.tls else None
        self.sock: Optional[socket.socket] = None
        self.garbage_bytes = 0  # what the receiver sent that no syslog receiver should
        self._written: Optional[tuple[int, int]] = None  # the first and last seq written on this connection
        self.replay: Optional[int] = None  # the seq to send again from (see take_replay)

    def _connect(self) -> socket.socket:
        t = self.target
        try:
            raw = socket.create_connection((t.host, t.port), timeout=t.timeout_s)
        except socket.timeout:
            raise SinkDown(TIMEOUT, "connect") from None
        except OSError:
            raise SinkDown(CONNECT_FAILED) from None
        if self.ctx is None:
            return raw
        try:
            return self.ctx.wrap_socket(raw, server_hostname=t.server_name or t.host)
        except socket.timeout:
            raw.close()
            raise SinkDown(TIMEOUT, "TLS handshake") from None
        except (ssl.SSLError, OSError) as e:
            raw.close()
            reason = getattr(e, "reason", None) or type(e).__name__
            raise SinkDown(TLS_FAILED, str(reason)) from None

    def _usable(self) -> socket.socket:
        """The kept connection after reading what the receiver sent (dropped), or a new one when
        it closed."""
        sock = self.sock
        while sock is not None:
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if not readable and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    break
                data = sock.recv(65536)
            except ssl.SSLWantReadError:
                break
            except OSError:
                data = b""
            if not data:  # closed by the receiver: connect again before writing
                self._unsure()
                self.close()
                sock = None
                break
            self.garbage_bytes += len(data)
        if sock is None:
            sock = self.sock = self._connect()
        return sock

    def send(self, rows: Sequence[ChainRow]) -> None:
        data = self.fmt.frames(rows)
        sock = self._usable()
        try:
            sock.sendall(data)
        except socket.timeout:
            self.close()
            raise SinkDown(TIMEOUT, "write") from None
        except OSError:
            self._unsure()
            self.close()
            raise SinkDown(WRITE_FAILED) from None
        if rows:
            first = rows[0].seq if self._written is None else self._written[0]
            self._written = (first, rows[-1].seq)

    def _unsure(self) -> None:
        """The receiver closed a connection rows were written on: what its kernel held and it did
        not read is lost with no word of it (syslog over TCP has no acknowledgement). The last
        :data:`REPLAY_ROWS` rows written on it are sent again (at least once: the receiver deduplicates by seq)."""
        if self._written is not None:
            first, last = self._written
            self.replay = max(first, last - REPLAY_ROWS + 1)

    def take_replay(self) -> Optional[int]:
        """The seq to send again from, once, after a connection the receiver closed; else None."""
        seq, self.replay = self.replay, None
        return seq

    def probe(self) -> None:
        self._usable()

    def confirm(self) -> None:
        """Before a cursor is saved: every byte written is acknowledged by the receiver's TCP (the
        socket's send queue drained, within the timeout) and the connection was not closed by it
        meanwhile. A receiver that closed before reading what it was sent answers that with a reset,
        never an acknowledgement: its rows are not taken as sent (SinkDown; sent again)."""
        sock = self.sock
        if sock is None:
            return
        end = time.monotonic() + self.target.timeout_s
        while _unacknowledged(sock) > 0:
            if time.monotonic() > end:
                self._unsure()
                self.close()
                raise SinkDown(TIMEOUT, "the receiver acknowledges nothing")
            time.sleep(0.001)
        self._usable()
        if self.sock is not sock:  # closed by the receiver: what it was sent is sent again
            raise SinkDown(WRITE_FAILED, "closed by the receiver")

    def close(self) -> None:
        self._written = None
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


class OtlpTransport:
    """OTLP/HTTP protobuf exports of log records to ``target``'s path (HTTPS for ``otlp+https``)."""

    def __init__(self, target: SinkTarget):
        self.target = target
        self.ctx = client_context(target) if target.tls else None
        self.conn: Optional[http.client.HTTPConnection] = None

    def _post(self, body: bytes) -> None:
        t = self.target
        if self.conn is None:
            if self.ctx is not None:
                self.conn = http.client.HTTPSConnection(t.host, t.port, timeout=t.timeout_s, context=self.ctx)
            else:
                self.conn = http.client.HTTPConnection(t.host, t.port, timeout=t.timeout_s)
        try:
            self.conn.request("POST", t.path, body=body, headers={"Content-Type": "application/x-protobuf"})
            resp = self.conn.getresponse()
            answer = resp.read(1 << 20)
        except socket.timeout:
            self.close()
            raise SinkDown(TIMEOUT, "export") from None
        except ssl.SSLError as e:
            self.close()
            raise SinkDown(TLS_FAILED, str(getattr(e, "reason", None) or type(e).__name__)) from None
        except (OSError, http.client.HTTPException):
            self.close()
            raise SinkDown(CONNECT_FAILED) from None
        if not 200 <= resp.status < 300:
            self.close()
            raise SinkDown(HTTP_STATUS, str(resp.status))
        if resp.getheader("Content-Type", "").split(";")[0].strip() not in ("application/x-protobuf", ""):
            self.close()
            raise SinkDown(GARBAGE_ANSWER, "not protobuf")
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

        parsed = ExportLogsServiceResponse()
        try:
            parsed.ParseFromString(answer)
        except DecodeError:
            self.close()
            raise SinkDown(GARBAGE_ANSWER, "unparsable response") from None
        if parsed.partial_success.rejected_log_records:
            raise SinkDown(REJECTED, f"{parsed.partial_success.rejected_log_records} record(s)")

    def send(self, rows: Sequence[ChainRow]) -> None:
        self._post(otlp_request(rows))

    def take_replay(self) -> Optional[int]:
        return None  # an export is answered: nothing is unsure

    def confirm(self) -> None:
        return None  # the export's answer was the acknowledgement

    def probe(self) -> None:
        self._post(otlp_request(()))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes written on ``sock`` its peer's TCP has not acknowledged (Linux's SIOCOUTQ); 0 where the
    system does not say."""
    try:
        import fcntl
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("I", 0))
        return int(struct.unpack("I", raw)[0])
    except (ImportError, OSError, AttributeError):
        return 0


def transport_for(target: SinkTarget) -> SyslogTransport | OtlpTransport:
    return SyslogTransport(target) if target.syslog else OtlpTransport(target)
