"""An audit row as a SIEM receives it: an RFC 5424 syslog message in RFC 6587's octet-counting
framing, or an OpenTelemetry log record in an OTLP/HTTP export request.

Each carries what a receiver needs to check the chain's continuity and to drop a row it has
already (a row is sent again only after a crash between its send and its cursor's save): the
row's ``seq``, ``kind``, time, author, the previous row's hash and its own, and the payload's
text exactly as it was hashed (``hash = sha256`` over prev_hash, seq, kind, ts_ms and that
text: ``killswitch/state/audit_chain.py``), so the receiver can hash it again.

The syslog message::

    <37>1 2026-11-28T02:34:38.123Z host killswitch 4242 operator_lock
      [audit@32473 seq="12" kind="operator_lock" ts_ms="1795833278123" author="alice"
       prev_hash="…" hash="…"] BOM{"by":"alice",…}

(one line; ``audit@32473``: an SD-ID under the enterprise number RFC 5612 sets aside for
examples, as no number is registered for killswitch). The OTLP record: ``body`` the payload's
text, attributes ``killswitch.audit.seq`` / ``.kind`` / ``.author`` / ``.prev_hash`` /
``.hash``, ``time_unix_nano`` the row's time, the resource's ``service.name`` as
``OTEL_SERVICE_NAME`` gives it (default ``killswitch``).

Must not: add anything to a payload (the rows are written secret-free by the runner; nothing
here reads a secret), or change the payload's text.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
from typing import Iterable, Sequence

from ...figures import iso_ms
from ...state.store import ChainRow

SD_ID = "audit@32473"
APP_NAME = "killswitch"
SEVERITY_NOTICE = 5
AUTHOR_KEYS = ("by", "actor", "approver", "identity")
RUNNER = "killswitch"  # the author of a row no person caused (the kill switch's own actions)
_BOM = b"\xef\xbb\xbf"


def author(row: ChainRow) -> str:
    """Who caused the row: the identity its payload names (``by``, ``actor``, ``approver``), or
    ``killswitch`` for the kill switch's own rows."""
    try:
        payload = json.loads(row.text)
    except ValueError:
        return RUNNER
    if isinstance(payload, dict):
        for key in AUTHOR_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
    return RUNNER


def _ascii_token(text: str, limit: int) -> str:
    """A header field of RFC 5424 (PRINTUSASCII, no space), or its NILVALUE."""
    out = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return out or "-"


def _param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class SyslogFormat:
    """RFC 5424 messages of one process (its host name and pid), framed by octet counting."""

    def __init__(self, facility: int, hostname: str | None = None, procid: int | None = None):
        self.pri = facility * 8 + SEVERITY_NOTICE
        self.hostname = _ascii_token(hostname if hostname is not None else socket.gethostname(), 255)
        self.procid = _ascii_token(str(procid if procid is not None else os.getpid()), 128)

    def message(self, row: ChainRow) -> bytes:
        sd = (f'[{SD_ID} seq="{row.seq}" kind="{_param(row.kind)}" ts_ms="{row.ts_ms}" '
              f'author="{_param(author(row))}" prev_hash="{_param(row.prev_hash)}" hash="{_param(row.hash)}"]')
        head = (f"<{self.pri}>1 {iso_ms(row.ts_ms)} {self.hostname} {APP_NAME} {self.procid} "
                f"{_ascii_token(row.kind, 32)} {sd} ")
        return head.encode("utf-8") + _BOM + row.text.encode("utf-8")

    def frames(self, rows: Iterable[ChainRow]) -> bytes:
        """The rows' messages, each as ``LEN SP MSG`` (RFC 6587 octet counting)."""
        out = bytearray()
        for row in rows:
            msg = self.message(row)
            out += str(len(msg)).encode("ascii") + b" " + msg
        return bytes(out)


def otlp_request(rows: Sequence[ChainRow], service_name: str | None = None) -> bytes:
    """An ``ExportLogsServiceRequest`` (protobuf) holding ``rows``, one log record each."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import SEVERITY_NUMBER_INFO

    def kv(key: str, value: object) -> KeyValue:
        v = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=str(value))
        return KeyValue(key=key, value=v)

    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    service = service_name or os.environ.get("OTEL_SERVICE_NAME", "").strip() or APP_NAME
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    sl.scope.name = "killswitch.audit"
    observed = _dt.datetime.now(_dt.timezone.utc).timestamp()
    for row in rows:
        rec = sl.log_records.add()
        rec.time_unix_nano = row.ts_ms * 1_000_000
        rec.observed_time_unix_nano = int(observed * 1e9)
        rec.severity_number = SEVERITY_NUMBER_INFO
        rec.severity_text = "INFO"
        if "event_name" in rec.DESCRIPTOR.fields_by_name:  # (OTLP 1.5 on)
            rec.event_name = f"killswitch.audit.{row.kind}"
        rec.body.string_value = row.text
        rec.attributes.extend([kv("killswitch.audit.seq", row.seq), kv("killswitch.audit.kind", row.kind),
                               kv("killswitch.audit.ts_ms", row.ts_ms), kv("killswitch.audit.author", author(row)),
                               kv("killswitch.audit.prev_hash", row.prev_hash), kv("killswitch.audit.hash", row.hash)])
    return req.SerializeToString()
