"""What the audit sink tests receive with: an octet-counting syslog receiver (RFC 6587) that can
stall, cut connections or answer garbage; an OTLP/HTTP logs receiver; and the reader of what they
got, which checks the chain's continuity and drops a seq seen already, as a SIEM would."""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from killswitch.state.audit_chain import audit_hash_text
from killswitch.state.store import GENESIS_HASH

_SD = re.compile(r'\[audit@32473 ((?:[a-z_]+="(?:[^"\\\]]|\\.)*" ?)+)\]')
_PARAM = re.compile(r'([a-z_]+)="((?:[^"\\\]]|\\.)*)"')
BOM = "\ufeff"


def parse_syslog(msg: str) -> dict:
    """An RFC 5424 message of the audit sink: its header fields, SD params and payload text."""
    head = re.match(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) ", msg)
    assert head, msg[:120]
    sd = _SD.search(msg)
    assert sd, msg[:200]
    params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _PARAM.findall(sd.group(1))}
    text = msg[sd.end():].lstrip(" ")
    text = text[1:] if text.startswith(BOM) else text
    return {"pri": int(head.group(1)), "time": head.group(2), "host": head.group(3), "app": head.group(4),
            "msgid": head.group(6), "seq": int(params["seq"]), "kind": params["kind"],
            "ts_ms": int(params["ts_ms"]), "author": params["author"], "prev_hash": params["prev_hash"],
            "hash": params["hash"], "text": text}


def deduped(records: list[dict]) -> tuple[list[dict], int]:
    """The records by seq, each once (a seq seen already dropped, as the receiver is told to), and
    how many were repeats; asserts every repeat is the same row."""
    by: dict[int, dict] = {}
    repeats = 0
    for r in records:
        if r["seq"] in by:
            assert by[r["seq"]]["hash"] == r["hash"], r["seq"]
            repeats += 1
            continue
        by[r["seq"]] = r
    return [by[s] for s in sorted(by)], repeats


def check_chain(records: list[dict], first_prev: Optional[str] = GENESIS_HASH) -> None:
    """Each record's hash is its own (hashed again from what was received) and follows the one before."""
    prev = first_prev
    expected_seq = records[0]["seq"] if records else 0
    for r in records:
        assert r["seq"] == expected_seq, f"gap before {r['seq']}"
        if prev is not None:
            assert r["prev_hash"] == prev, r["seq"]
        assert audit_hash_text(r["prev_hash"], r["seq"], r["kind"], r["ts_ms"], r["text"]) == r["hash"], r["seq"]
        prev, expected_seq = r["hash"], expected_seq + 1


class SyslogReceiver:
    """RFC 6587 octet-counted frames on 127.0.0.1: ``messages`` parsed. ``mode``: ``ok``; ``stall``
    (accepts, never reads); ``garbage`` (answers bytes after each frame); ``cut_after`` N frames of
    a connection, it is closed (the frames read are kept). ``port``: 0 for any free one;
    ``messages``: a list to add to (a receiver started again keeps the one before's)."""

    def __init__(self, mode: str = "ok", cut_after: Optional[int] = None, port: int = 0,
                 messages: Optional[list[dict]] = None):
        self.mode = mode
        self.cut_after = cut_after
        self.messages: list[dict] = messages if messages is not None else []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.mode == "stall":
            time.sleep(60)  # its window fills; the sender times out
            conn.close()
            return
        buf, frames = b"", 0
        conn.settimeout(0.05)
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    if not self._stop:
                        continue
                    return  # closed: what its TCP took was read (the sender's later bytes are reset)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b" " in buf:
                    length, _, rest = buf.partition(b" ")
                    if len(rest) < int(length):
                        break
                    self.messages.append(parse_syslog(rest[:int(length)].decode("utf-8")))
                    buf = rest[int(length):]
                    frames += 1
                    if self.mode == "garbage":
                        conn.sendall(b"\x00garbage\xff\r\n")
                    if self.cut_after is not None and frames >= self.cut_after:
                        self.cut_after = None  # once
                        return

    def wait_for(self, pred: Callable[[list[dict]], bool], timeout: float = 20) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.messages):
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"not received in {timeout}s: {len(self.messages)} message(s)")

    def close(self) -> None:
        """Stop accepting, and end each connection once what its TCP took is read (a receiver
        stopped cleanly; one that crashes loses what it had not read, which no syslog sender sees)."""
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept
        except OSError:
            pass
        self.sock.close()


class OtlpLogsReceiver:
    """An OTLP/HTTP logs receiver: every record of every export to /v1/logs, as the syslog
    receiver's dicts. ``answer``: ``ok``, ``garbage`` (200 with a body that is not a response) or
    ``error`` (503)."""

    def __init__(self):
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
            ExportLogsServiceResponse,
        )

        self.messages: list[dict] = []
        self.resources: list[dict] = []
        self.answer = "ok"
        got, outer = self.messages, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.answer == "error":
                    self.send_response(503)
                    self.end_headers()
                    return
                req = ExportLogsServiceRequest()
                req.ParseFromString(body)
                if outer.answer == "ok":
                    for rl in req.resource_logs:
                        outer.resources.append({kv.key: kv.value.string_value for kv in rl.resource.attributes})
                        for sl in rl.scope_logs:
                            for rec in sl.log_records:
                                a = {kv.key: kv.value for kv in rec.attributes}
                                got.append({"seq": a["killswitch.audit.seq"].int_value,
                                            "kind": a["killswitch.audit.kind"].string_value,
                                            "ts_ms": a["killswitch.audit.ts_ms"].int_value,
                                            "author": a["killswitch.audit.author"].string_value,
                                            "prev_hash": a["killswitch.audit.prev_hash"].string_value,
                                            "hash": a["killswitch.audit.hash"].string_value,
                                            "text": rec.body.string_value, "time_unix_nano": rec.time_unix_nano})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"\x0a\xff\xff\xff garbage" if outer.answer == "garbage"
                                 else ExportLogsServiceResponse().SerializeToString())

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    wait_for = SyslogReceiver.wait_for

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
