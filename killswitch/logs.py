"""The process's log: the standard :mod:`logging` module, as text or JSON lines, secrets scrubbed.

``ksctl run`` says what it does through the logger ``killswitch.run`` (see :mod:`killswitch.process.daemon`):
INFO and below to stdout, WARNING and above to stderr, as the bare lines were before (operators'
scripts and the tests read both streams). Each line has a UTC timestamp and a level:

    2026-11-23T08:30:00.123Z INFO killswitch.run ksctl run: API at http://127.0.0.1:8080

``--log-format json`` (env ``KS_LOG_FORMAT``) writes one JSON object a line instead
(``ts``, ``level``, ``logger``, ``msg``, ``exc``), for a log shipper. The message text is the same in
both: ``AUDIT_HEAD seq=… hash=…`` lines stay findable by ``ksctl audit verify --anchors-from``.

**Every record of the process goes through the scrubber**, whoever logs it: the handlers sit on
the root logger, so the runner's loggers, aiohttp's (``aiohttp.server``, ``aiohttp.web``, …),
asyncio's (``Exception in callback``, ``Task exception was never retrieved``), warnings
(:func:`logging.captureWarnings`), an exception that ends a thread (:data:`threading.excepthook`)
and an unraisable one (:data:`sys.unraisablehook`) all reach them. Each record is scrubbed in
place before it is formatted — its message with its arguments, its exception's traceback and its
stack become scrubbed text, and the exception object is dropped — so a handler that formats it
after ours sees the same; the formatters then scrub the final line again.

Scrubbing does not depend on knowing the secret. It removes the values of the environment
variables whose names say they hold one (``*KEY*``, ``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``,
``*PASSPHRASE*``), the values the process registers with :func:`scrub_also` (the API's shared
token, the digests of the tokens document), and whatever follows an ``Authorization`` or
``Cookie`` header name (to the end of the value), ``Bearer``, a password in a URL, and
``key=value`` / ``"key": "value"`` pairs whose key names a secret (``api_key``, ``x-auth-token``,
``password``, ``token=`` …). A message that must quote a credential is a bug; this is the net
under it, not the reason to be careless (the API does not quote a request it could not parse:
see :mod:`killswitch.face.api.http`).

Owns the handlers it puts on the root logger, the ``killswitch`` logger's level and the hooks
above while configured; :func:`unconfigure` gives back what it found. Never removes a handler it
did not add.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterable, Mapping, Optional, TextIO

LOGGER = "killswitch.run"
FORMATS = ("text", "json")
REDACTED = "***"

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL)", re.I)
_MIN_SECRET = 6  # shorter values (a "1", a "true") would scrub ordinary words
# a key that names a secret: api_key, apiKey, x-auth-token, client_secret, password, passphrase...
_SECRET_KEY = r"[\w-]*(?:api[_-]?key|secret|password|passwd|passphrase|token|credential)[\w-]*"
_PATTERNS: tuple[tuple[re.Pattern, Any], ...] = (
    # a header whose whole value is a credential, whatever its scheme (Bearer, Basic, a cookie):
    # to the end of the value, never past the line (spaces and tabs only around the colon)
    (re.compile(r"(?i)(?<![\w-])((?:proxy-)?authorization|(?:set-)?cookie)([\"']?[ \t]*[:=][ \t]*[\"']?)[^\r\n\"']+"),
     r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b(bearer)([ \t]+|[ \t]*[:=][ \t]*)[^\s\"']+"), r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),
)
_PAIR = re.compile(r"(?i)(?<![\w-])(" + _SECRET_KEY + r")([\"']?[ \t]*[:=][ \t]*)"
                   r"(\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s\"',;}&)\]>]+)")


def _pair(m: re.Match) -> str:
    value = m.group(3)
    if value[:1] in ("'", '"'):
        return m.group(1) + m.group(2) + value[0] + REDACTED + value[0]
    return m.group(1) + m.group(2) + REDACTED


class Scrubber:
    """Removes secrets from a text: known values first, then the patterns above. Safe to extend
    from one thread while others scrub (the list of values is replaced, never changed)."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: tuple[str, ...] = ()
        self.add(secrets)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> "Scrubber":
        return cls(v for k, v in env.items() if _SECRET_NAME.search(k))

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub these values too (shorter than 6 characters: ignored)."""
        # longest first: a secret that contains another is removed whole
        merged = set(self.secrets) | {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET}
        self.secrets = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return _PAIR.sub(_pair, text)


# --- records ------------------------------------------------------------------------------------------

_SCRUBBED = "_ks_scrubbed"
# exceptions whose text quotes what a client sent (aiohttp's parser quotes the header line it
# refused): only their class is shown, wherever they are logged from
_QUOTING = frozenset({"aiohttp.http_exceptions"})


def _quoting(exc: Optional[BaseException]) -> Optional[str]:
    """The name of the first exception in ``exc``'s chain whose text quotes a request, if any."""
    seen = 0
    while exc is not None and seen < 32:
        kind = type(exc)
        if kind.__module__ in _QUOTING:
            return f"{kind.__module__}.{kind.__name__}"
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def scrub_record(record: logging.LogRecord, scrub: Callable[[str], str]) -> logging.LogRecord:
    """Rewrite ``record`` in place so that nothing in it is unscrubbed text: the message with its
    arguments merged in, the exception's formatted traceback (the exception object is dropped,
    and its frames with it) and the stack. Idempotent."""
    if getattr(record, _SCRUBBED, False):
        return record
    try:
        message = record.getMessage()
    except Exception as e:  # noqa: BLE001 - arguments that do not fit the message: say so, quote neither
        message = f"(a log message of {record.name} could not be formatted: {type(e).__name__})"
    record.msg, record.args = scrub(message), None
    if record.exc_info:
        quoting = _quoting(record.exc_info[1])
        if quoting is not None:
            record.exc_text = f"{quoting} (not shown: it quotes the request, which may hold a credential)"
        elif not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    setattr(record, _SCRUBBED, True)
    return record


class ScrubFilter(logging.Filter):
    """A handler's filter that scrubs every record it sees in place (:func:`scrub_record`)."""

    def __init__(self, scrub: Callable[[str], str]):
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record, self.scrub)
        return True


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _tail(record: logging.LogRecord) -> str:
    """The exception's traceback and the stack of a record, as text (scrubbed or not)."""
    parts = []
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class TextFormatter(logging.Formatter):
    def __init__(self, scrub: Callable[[str], str]):
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_utc(record)} {record.levelname} {record.name} {record.getMessage()}"
        tail = _tail(record)
        return self.scrub(text + "\n" + tail if tail else text)


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Callable[[str], str]):
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": _utc(record), "level": record.levelname, "logger": record.name,
               "msg": self.scrub(record.getMessage())}
        tail = _tail(record)
        if tail:
            doc["exc"] = self.scrub(tail)
        return json.dumps(doc, ensure_ascii=False)


class _Below(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


class _Handler(logging.StreamHandler):
    """A stream handler whose own failure says one scrubbed line, never the record's arguments
    (:meth:`logging.Handler.handleError` prints the message and its arguments as they came)."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        kind = type(sys.exc_info()[1]).__name__
        stream = sys.__stderr__
        try:
            if stream is not None:
                stream.write(f"--- a log line of {record.name} could not be written ({kind}) ---\n")
        except Exception:  # noqa: BLE001 - nowhere left to say it
            pass


# --- the process's configuration ----------------------------------------------------------------------

# loggers that must reach the root handlers: a library that stopped their propagation would
# print around the scrubber
_LIBRARY_LOGGERS = ("aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server",
                    "aiohttp.web", "aiohttp.websocket", "asyncio", "py.warnings")


class _Installed:
    def __init__(self) -> None:
        self.handlers: list[logging.Handler] = []  # ours, on the root logger
        self.filtered: list[tuple[logging.Handler, logging.Filter]] = []  # the scrub filter put on others'
        self.scrubber: Optional[Scrubber] = None
        self.saved: Optional[dict] = None


_installed = _Installed()
_lock = threading.Lock()


def scrub_also(values: Iterable[str]) -> None:
    """Scrub these values from every line from now on (a token the process was given, the
    digests of a tokens document). Nothing happens while the log is not configured."""
    scrubber = _installed.scrubber
    if scrubber is not None:
        scrubber.add(values)


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("killswitch.thread").error("thread %s ended with %s", name, args.exc_type.__name__,
                                                 exc_info=args.exc_value)


def _log_unraisable(args: Any) -> None:
    exc = args.exc_value
    logging.getLogger("killswitch.unraisable").error(
        "%s: %s", args.err_msg or "Exception ignored in", type(exc).__name__ if exc is not None else "?",
        exc_info=exc)


def configure(fmt: str = "text", *, env: Optional[Mapping[str, str]] = None, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, level: int = logging.INFO) -> logging.Logger:
    """Put the scrubbing handlers on the root logger (replacing any this module set before) and
    return the runner's logger. ``fmt`` is ``text`` or ``json``; the streams default to the
    current ``sys.stdout`` / ``sys.stderr`` (read at the call, so that a test's capture is
    honoured); ``level`` is the ``killswitch`` loggers' (the libraries' stay at WARNING)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: one of {', '.join(FORMATS)}")
    scrub = Scrubber.from_environment(os.environ if env is None else env)
    formatter: logging.Formatter = JsonFormatter(scrub) if fmt == "json" else TextFormatter(scrub)
    with _lock:
        if _installed.saved is not None:
            _restore()
        root, base = logging.getLogger(), logging.getLogger("killswitch")
        _installed.saved = {
            "root_level": root.level, "base_level": base.level, "base_propagate": base.propagate,
            "propagate": {n: logging.getLogger(n).propagate for n in _LIBRARY_LOGGERS},
            "captured": getattr(logging, "_warnings_showwarning", None) is not None,
            "threading": threading.excepthook, "unraisable": sys.unraisablehook,
        }
        # a handler someone else set (a host's, a test's capture) writes records too: it sees
        # them scrubbed, whichever handler comes first
        for lg in [root, base] + [logging.getLogger(n) for n in _LIBRARY_LOGGERS]:
            for h in lg.handlers:
                f = ScrubFilter(scrub)
                h.addFilter(f)
                _installed.filtered.append((h, f))
        out = _Handler(stdout or sys.stdout)
        out.addFilter(_Below(logging.WARNING))
        err = _Handler(stderr or sys.stderr)
        err.setLevel(logging.WARNING)
        for h in (out, err):
            h.addFilter(ScrubFilter(scrub))  # after _Below: a record is scrubbed by the handler that writes it
            h.setFormatter(formatter)
            root.addHandler(h)
        _installed.handlers, _installed.scrubber = [out, err], scrub
        root.setLevel(logging.WARNING)  # what the libraries say below a warning is not the runner's log
        for name in _LIBRARY_LOGGERS:
            logging.getLogger(name).propagate = True
        base.setLevel(level)
        base.propagate = True
        logging.captureWarnings(True)
        threading.excepthook = _log_thread_exception
        sys.unraisablehook = _log_unraisable
    return logging.getLogger(LOGGER)


def _restore() -> None:
    saved = _installed.saved
    root, base = logging.getLogger(), logging.getLogger("killswitch")
    for h in _installed.handlers:
        root.removeHandler(h)
    for h, f in _installed.filtered:
        h.removeFilter(f)
    _installed.handlers, _installed.filtered, _installed.scrubber, _installed.saved = [], [], None, None
    if saved is None:
        return
    root.setLevel(saved["root_level"])
    base.setLevel(saved["base_level"])
    base.propagate = saved["base_propagate"]
    for name, propagate in saved["propagate"].items():
        logging.getLogger(name).propagate = propagate
    logging.captureWarnings(saved["captured"])
    if threading.excepthook is _log_thread_exception:
        threading.excepthook = saved["threading"]
    if sys.unraisablehook is _log_unraisable:
        sys.unraisablehook = saved["unraisable"]


def unconfigure() -> None:
    """Undo :func:`configure` (the end of an in-process run: a test's streams are closed after
    it, and records go back to the host's handlers)."""
    with _lock:
        _restore()
