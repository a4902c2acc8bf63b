"""The runner's log: the standard :mod:`logging` module, as text or JSON lines, secrets scrubbed.

``ksctl run`` says what it does through the logger ``killswitch.run`` (see :mod:`killswitch.daemon`):
INFO and below to stdout, WARNING and above to stderr, as the bare lines were before (operators'
scripts and the tests read both streams). Each line has a UTC timestamp and a level:

    2026-11-23T08:30:00.123Z INFO killswitch.run ksctl run: API at http://127.0.0.1:8080

``--log-format json`` (env ``KS_LOG_FORMAT``) writes one JSON object a line instead
(``ts``, ``level``, ``logger``, ``msg``), for a log shipper. The message text is the same in both:
``AUDIT_HEAD seq=… hash=…`` lines stay findable by ``ksctl audit verify --anchors-from``.

Secrets are scrubbed from every record, whichever format: the values of the environment variables
whose names say they hold one (``*KEY*``, ``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``,
``*PASSPHRASE*``), a bearer token, a password in a URL, and ``key=value`` / ``"key": "value"``
pairs whose key names a secret. A message that must quote a credential is a bug; this is the net
under it, not the reason to be careless.

Owns the handlers of the ``killswitch`` logger; never touches the root logger's.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Iterable, Mapping, Optional, TextIO

LOGGER = "killswitch.run"
FORMATS = ("text", "json")
REDACTED = "***"

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL)", re.I)
_MIN_SECRET = 6  # shorter values (a "1", a "true") would scrub ordinary words
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"(?i)\b((?:api[_-]?key|api[_-]?secret|secret|password|passwd|passphrase|token|authorization)"
                r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]+)"), r"\1" + REDACTED),
)


class Scrubber:
    """Removes secrets from a text: known values first, then the patterns above."""

    def __init__(self, secrets: Iterable[str] = ()):
        # longest first: a secret that contains another is removed whole
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> "Scrubber":
        return cls(v for k, v in env.items() if _SECRET_NAME.search(k))

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber):
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_utc(record)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return self.scrub(text)


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber):
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": _utc(record), "level": record.levelname, "logger": record.name,
               "msg": self.scrub(record.getMessage())}
        if record.exc_info:
            doc["exc"] = self.scrub(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


class _Below(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def configure(fmt: str = "text", *, env: Optional[Mapping[str, str]] = None, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, level: int = logging.INFO) -> logging.Logger:
    """Set up the ``killswitch`` logger's handlers (replacing any set before) and return the
    runner's logger. ``fmt`` is ``text`` or ``json``; the streams default to the current
    ``sys.stdout`` / ``sys.stderr`` (read at the call, so that a test's capture is honoured)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: one of {', '.join(FORMATS)}")
    scrub = Scrubber.from_environment(os.environ if env is None else env)
    formatter: logging.Formatter = JsonFormatter(scrub) if fmt == "json" else TextFormatter(scrub)
    base = logging.getLogger("killswitch")
    for h in list(base.handlers):
        base.removeHandler(h)
    out = logging.StreamHandler(stdout or sys.stdout)
    out.addFilter(_Below(logging.WARNING))
    err = logging.StreamHandler(stderr or sys.stderr)
    err.setLevel(logging.WARNING)
    for h in (out, err):
        h.setFormatter(formatter)
        base.addHandler(h)
    base.setLevel(level)
    base.propagate = False  # a host application's root handlers would print every line twice
    return logging.getLogger(LOGGER)


def unconfigure() -> None:
    """Undo :func:`configure` (the end of an in-process run: a test's streams are closed after
    it, and records go back to the host's handlers)."""
    base = logging.getLogger("killswitch")
    for h in list(base.handlers):
        base.removeHandler(h)
    base.setLevel(logging.NOTSET)
    base.propagate = True
