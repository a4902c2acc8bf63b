"""An audit sink's URL (``ksctl run --audit-sink URL``), read into a :class:`SinkTarget`.

The forms::

    syslog+tcp://HOST:PORT                 RFC 5424 over TCP, octet-counting framing (RFC 6587)
    syslog+tls://HOST:PORT?ca_file=PATH    the same over TLS (RFC 5425)
    otlp+http://HOST:PORT[/PATH]           OpenTelemetry logs, OTLP/HTTP protobuf (PATH: /v1/logs)
    otlp+https://HOST:PORT[/PATH]?ca_file=PATH

The query takes ``name`` (the sink's name in the cursor table, /metrics and status; default the
URL without its query), ``timeout`` (seconds a connect, write or export may take, 0.1 to 60;
default 5), for syslog ``facility`` (a name of RFC 5424's table; default ``auth``), and for TLS
``ca_file`` (the receiver's CA; default the system's), ``cert_file`` and ``key_file`` (a client
certificate, for a receiver that asks for one) and ``server_name`` (the name the receiver's
certificate is checked against; default HOST). A key not listed, a scheme not listed, a TLS key on
a plain sink, a missing port: refused with what is wrong and the closest valid word.

Must not: open a file or a connection (the transports do, :mod:`.transport`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

SCHEMES = ("syslog+tcp", "syslog+tls", "otlp+http", "otlp+https")
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
              "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
              "solaris-cron": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
              "local5": 21, "local6": 22, "local7": 23}
_COMMON = ("name", "timeout")
_TLS = ("ca_file", "cert_file", "key_file", "server_name")
_KEYS = {"syslog+tcp": _COMMON + ("facility",), "syslog+tls": _COMMON + ("facility",) + _TLS,
         "otlp+http": _COMMON, "otlp+https": _COMMON + _TLS}
DEFAULT_TIMEOUT_S = 5.0
OTLP_LOGS_PATH = "/v1/logs"


class SinkUrlError(ValueError):
    """An audit sink URL that cannot be used; the message says why (never the query's values)."""


@dataclass(frozen=True)
class SinkTarget:
    """Where one audit sink sends, read from its URL (see the module doc)."""

    name: str
    scheme: str
    host: str
    port: int
    path: str = ""  # OTLP's
    timeout_s: float = DEFAULT_TIMEOUT_S
    facility: int = FACILITIES["auth"]
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None

    @property
    def tls(self) -> bool:
        return self.scheme in ("syslog+tls", "otlp+https")

    @property
    def syslog(self) -> bool:
        return self.scheme.startswith("syslog")

    def describe(self) -> str:
        what = {"syslog+tcp": "syslog (RFC 5424) over TCP", "syslog+tls": "syslog (RFC 5424) over TLS",
                "otlp+http": "OTLP/HTTP logs", "otlp+https": "OTLP/HTTP logs over TLS"}[self.scheme]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name}: {what} to {shown}:{self.port}{self.path}"

    def shown_url(self) -> str:
        """The URL as the status shows it: scheme, host, port and path; no user, password nor
        query (whose files and names the options say)."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}{self.path}"


def _closest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (one of: {', '.join(choices)})"


def _shown(url: str) -> str:
    """The URL as said in an error: no query, no user or password."""
    text = url.strip().split("?")[0].split("#")[0]
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest.split("/")[0]:
        rest = rest.split("@", 1)[1] if "/" not in rest else rest.split("/")[0].rsplit("@", 1)[1] + "/" + \
            rest.split("/", 1)[1]
    return f"{scheme}{sep}{rest}"


def parse_target(url: str) -> SinkTarget:
    """The target ``url`` names; :class:`SinkUrlError` says what is wrong."""
    shown = _shown(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise SinkUrlError(f"audit sink {shown!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise SinkUrlError(f"audit sink {shown!r}: unknown scheme {scheme!r}{_closest(scheme, SCHEMES)}")
    problem = _where_problem(parts, port, scheme)
    if problem:
        raise SinkUrlError(f"audit sink {shown!r}: {problem}")
    query = _query(shown, scheme, parts.query)
    timeout, facility = _numbers(shown, query)
    path = (parts.path if parts.path not in ("", "/") else OTLP_LOGS_PATH) if scheme.startswith("otlp") else ""
    name = query.get("name") or f"{scheme}://{parts.netloc}{path}"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in name) or len(name) > 200:
        raise SinkUrlError(f"audit sink {shown!r}: name is printable text without spaces, at most 200 characters")
    assert parts.hostname is not None and port is not None
    return SinkTarget(name=name, scheme=scheme, host=parts.hostname, port=port, path=path, timeout_s=timeout,
                      facility=facility, ca_file=query.get("ca_file"), cert_file=query.get("cert_file"),
                      key_file=query.get("key_file"), server_name=query.get("server_name"))


def _where_problem(parts, port: Optional[int], scheme: str) -> Optional[str]:
    if not parts.hostname:
        return "no host"
    if port is None:
        return "no port (syslog has no default over TCP: 514 and 6514 are conventions, say which)"
    if parts.username or parts.password:
        return "credentials in the URL are refused (a client certificate: cert_file and key_file)"
    if parts.fragment:
        return "a fragment means nothing here"
    if scheme.startswith("syslog") and parts.path not in ("", "/"):
        return "a syslog sink has no path"
    return None


def _query(shown: str, scheme: str, text: str) -> dict[str, str]:
    allowed = _KEYS[scheme]
    query: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        if key not in allowed:
            also = " (TLS keys need syslog+tls or otlp+https)" if key in _TLS else ""
            raise SinkUrlError(f"audit sink {shown!r}: unknown key {key!r}{also or _closest(key, allowed)}")
        if key in query:
            raise SinkUrlError(f"audit sink {shown!r}: {key} given twice")
        if not value:
            raise SinkUrlError(f"audit sink {shown!r}: {key} is empty")
        query[key] = value
    if ("cert_file" in query) != ("key_file" in query):
        raise SinkUrlError(f"audit sink {shown!r}: cert_file and key_file go together")
    return query


def _numbers(shown: str, query: dict[str, str]) -> tuple[float, int]:
    timeout = DEFAULT_TIMEOUT_S
    if "timeout" in query:
        try:
            timeout = float(query["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0.1 <= timeout <= 60:
            raise SinkUrlError(f"audit sink {shown!r}: timeout is seconds from 0.1 to 60")
    facility = FACILITIES["auth"]
    if "facility" in query:
        word = query["facility"].lower()
        if word not in FACILITIES:
            raise SinkUrlError(f"audit sink {shown!r}: unknown facility {word!r}"
                               f"{_closest(word, tuple(FACILITIES))}")
        facility = FACILITIES[word]
    return timeout, facility


def parse_targets(urls: tuple[str, ...] | list[str]) -> list[SinkTarget]:
    """Every URL read; two sinks of one name are refused (they would share a cursor)."""
    out = [parse_target(u) for u in urls]
    names = [t.name for t in out]
    for n in names:
        if names.count(n) > 1:
            raise SinkUrlError(f"audit sink name {n!r} is given twice: each sink keeps a cursor of its own "
                               "(name=... tells them apart)")
    return out
