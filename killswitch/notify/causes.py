"""Why a delivery failed, in words a person acts on: "connection refused", "HTTP 401", "timeout after 10s".

What it owns: :func:`cause_of`, which reads what apprise reported of an attempt — the status of
each service and the lines its plugin logged (``A Connection error occurred …``, ``Socket
Exception: … [Errno 111] Connection refused``, ``… error=401.``) — and names the cause from a
fixed vocabulary; :func:`cause_of_result`, the cause of a result the sink made itself (its own
deadline, a receiver whose secret did not resolve).

Must not: quote what apprise logged. Those lines may carry a URL with its path and query, where
a webhook keeps its token; a cause is built only from the words below, an HTTP status code and
the attempt's time limit, so it is safe in a log line, the status and ``/metrics``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

# (pattern over what a plugin logged, the cause), most specific first
_PATTERNS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p, re.I), c) for p, c in (
    (r"connection refused|errno 111\b|winerror 10061", "connection refused"),
    (r"name or service not known|nameresolutionerror|getaddrinfo failed|nodename nor servname"
     r"|temporary failure in name resolution|no address associated with hostname", "DNS lookup failed"),
    (r"certificate verify failed|sslerror|ssl: |tlsv1 alert", "TLS error"),
    (r"connection reset|errno 104\b|connection aborted|remotedisconnected", "connection reset"),
    (r"network is unreachable|errno 101\b", "network unreachable"),
    (r"no route to host|errno 113\b", "no route to host"),
    (r"read timed out|connect timeout|connecttimeout|readtimeout|timed out", "timeout"),
))
# apprise's plugins end a refused answer with "error=<status>." (e.g. "Verification Failed., error=401.")
_HTTP = re.compile(r"\berror=(\d{3})\b")
_CONNECTION = re.compile(r"connection error", re.I)


def _timeout(timeout_s: Optional[float]) -> str:
    return f"timeout after {timeout_s:g}s" if timeout_s is not None else "timeout"


def cause_of(status: str, lines: Iterable[str], timeout_s: Optional[float] = None) -> str:
    """The cause of one service's failed delivery: ``status`` as apprise named it (FAILURE,
    TIMEOUT, NOMATCH …) and the lines its plugin logged during the attempt."""
    if status == "TIMEOUT":
        return _timeout(timeout_s)
    if status == "NOMATCH":
        return "no service matched"
    text = "\n".join(lines)
    for pattern, cause in _PATTERNS:
        if pattern.search(text):
            return _timeout(timeout_s) if cause == "timeout" else cause
    m = _HTTP.search(text)
    if m:
        return f"HTTP {m.group(1)}"
    if _CONNECTION.search(text):
        return "connection error"
    return "failed (apprise gave no reason)"


def join_causes(causes: Sequence[str]) -> str:
    """Several services of one receiver: each distinct cause once, in order."""
    return "; ".join(dict.fromkeys(c for c in causes if c)) or "failed (apprise gave no reason)"


def cause_of_result(result: str, timeout_s: Optional[float] = None, problems: Sequence[str] = ()) -> str:
    """The cause of a result with no apprise report behind it: the sink's own deadline
    (``timeout``), a receiver whose secret reference did not resolve (``unresolved``, with the
    problems, which name references, never values), a receiver the routes do not define, or the
    type of an error raised around the send (``error:TypeName``)."""
    if result == "timeout":
        return _timeout(timeout_s)
    if result == "unresolved":
        # 'receiver "pager" of routes desk: {env: KS_PAGER} is not set' -> '{env: KS_PAGER} is not set'
        what = "; ".join(p.split(": ", 1)[-1] for p in problems)
        return "secret not resolved" + (f": {what}" if what else "")
    if result == "unknown":
        return "no such receiver"
    if result.startswith("error:"):
        return f"internal error ({result[6:]})"
    if result == "nomatch":
        return "no service matched"
    return result
