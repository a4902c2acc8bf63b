"""Receivers: names mapped to apprise URLs, resolved from secret references at start.

A receiver's targets are written in the routes document as a plain local webhook URL (the
model rejects any URL that could carry a token), ``{env: VAR}`` (with an optional ``default:``, a
plain local URL used while VAR is unset; a set variable wins) or ``{file: PATH}``. The
environment variable or file holds one or more apprise URLs (separated by commas, spaces or
new lines; ``#`` starts a comment line), or — for a file named ``*.yaml`` / ``*.yml`` — an
apprise YAML configuration file. Everything is resolved and checked when the runner starts: a
missing variable, an unreadable file or a URL apprise does not understand is an error that
names the *reference* (``receiver "pager": {env: KS_PAGER_URL} is not set``), never its value.

Secrets stay inside the apprise objects held here. What leaves this module names receivers by
name and targets by reference (:func:`describe_target`); a plain URL is shown redacted
(scheme, host and port: ``json://127.0.0.1:9099/…``).

:meth:`ResolvedReceiver.send` is synchronous (apprise is) and must run off the event loop.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from ..policy.routes_doc import AppriseTarget, NotificationRoutes
from .causes import cause_of, cause_of_result, join_causes
from .message import Message

DEFAULT_TIMEOUT_S = 10.0
SOCKET_MARGIN_S = 1.0
CONFIG_SUFFIXES = (".yaml", ".yml")


class ReceiverError(Exception):
    """Receivers that cannot be resolved; one line per problem, secrets never included."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def redact_url(url: str) -> str:
    """Scheme, host and port only: a path or query may hold a token even in a plain webhook."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def describe_target(t: AppriseTarget, environ: Optional[Mapping[str, str]] = None) -> str:
    """A target by its reference, never its value. With ``environ``, an ``{env: VAR, default: URL}``
    whose variable is unset is described by the default it resolves to."""
    if t.env is not None:
        if t.default is None:
            return f"{{env: {t.env}}}"
        if environ is not None and t.env not in environ:
            return f"{redact_url(t.default)} (default of {{env: {t.env}}})"
        return f"{{env: {t.env}, default: {redact_url(t.default)}}}"
    if t.file is not None:
        return f"{{file: {t.file}}}"
    return redact_url(t.url or "")


@dataclass(frozen=True)
class SendResult:
    result: str  # delivered | partial | failed | timeout | nomatch
    services: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    cause: Optional[str] = None  # why it failed, from :mod:`.causes` (never quotes apprise's text)

    @property
    def ok(self) -> bool:
        return self.result in ("delivered", "partial")


_STATUS = {"SUCCESS": "delivered", "PARTIAL": "partial", "FAILURE": "failed", "TIMEOUT": "timeout",
           "NOMATCH": "nomatch"}


@dataclass(frozen=True)
class ResolvedReceiver:
    name: str
    targets: tuple[str, ...]  # descriptions, safe to show
    apprise: Any = field(repr=False, compare=False)

    def send(self, message: Message, timeout_s: float) -> SendResult:
        """Send through apprise, bounded by ``timeout_s`` (blocking: call it from a worker thread)."""
        import apprise

        started = time.monotonic()
        # the plugins' DEBUG lines are captured too: "Socket Exception: … Connection refused"
        # is where a refused connection is told apart from a name that does not resolve
        res = self.apprise.notify(body=message.body, title=message.title,
                                  notify_type=apprise.NotifyType(message.notify_type), timeout=timeout_s,
                                  log_level=logging.DEBUG)
        elapsed = time.monotonic() - started
        result = _STATUS.get(res.status.name, "failed")
        if result == "failed" and elapsed >= timeout_s:
            # the sockets give up just after apprise's deadline; on a loaded machine apprise's own
            # timer may answer after them, and the failure it then reports is the deadline's
            result = "timeout"
        try:
            cause = None
            if result not in ("delivered", "partial"):
                cause = cause_of_result(result, timeout_s) if result in ("timeout", "nomatch") or not res.results \
                    else join_causes([cause_of(r.status.name, (e.message for e in r.logs()), timeout_s)
                                      for r in res.results if r.status.name != "SUCCESS"])
            return SendResult(result, len(res.results), res.failed_count, elapsed, cause)
        finally:
            for r in res.results:
                r.close()


def _urls_text(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#")).strip()


def _bound_timeouts(ap, timeout_s: float) -> None:
    # apprise's call deadline (timeout_s) answers first, as TIMEOUT; the sockets give up just
    # after it, so that a hung receiver does not keep a thread much longer.
    limit = timeout_s + SOCKET_MARGIN_S
    for plugin in ap:
        plugin.socket_read_timeout = min(float(getattr(plugin, "socket_read_timeout", limit)), limit)
        plugin.socket_connect_timeout = min(float(getattr(plugin, "socket_connect_timeout", limit)), limit)


_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://)\S+", re.I)
_URL_PATH = re.compile(r"(?i)(\burl: )\S+")


class _SocketErrorsOnly(logging.Filter):
    """On apprise's logger, before any handler sees a record: below WARNING only the plugins'
    ``Socket Exception: …`` lines pass (what tells a refused connection from a name that does not
    resolve), and every record that passes has its URLs cut to their scheme (``json://…``), for
    a path or a query may hold a webhook's token. The payloads and headers apprise logs at DEBUG
    never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that does not format is not ours to read
            return False
        if record.levelno < logging.WARNING and not message.startswith("Socket Exception"):
            return False
        record.msg, record.args = _URL_PATH.sub(r"\1…", _URL.sub(r"\1…", message)), None
        return True


def _quiet_apprise() -> None:
    """apprise's own log lines may quote a service's address or identifiers: they go nowhere.
    What happened is in the delivery receipts. Its level is DEBUG so that each send's own
    capture (:meth:`ResolvedReceiver.send`) sees the socket error behind a failure, which
    :func:`~.causes.cause_of` reads and never quotes; :class:`_SocketErrorsOnly` keeps the rest
    of DEBUG out and the URLs out of what passes."""
    logger = logging.getLogger("apprise")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    if not any(isinstance(f, _SocketErrorsOnly) for f in logger.filters):
        logger.addFilter(_SocketErrorsOnly())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)


def _add_target(ap, t: AppriseTarget, environ: Mapping[str, str], where: str, problems: list[str]) -> None:
    import apprise

    ref = describe_target(t)
    if t.url is not None:
        if not ap.add(t.url):
            problems.append(f"{where}: {ref} is not a URL apprise understands")
        return
    if t.env is not None:
        ref = f"{{env: {t.env}}}"
        value = environ.get(t.env)
        if value is None and t.default is not None:
            if not ap.add(t.default):  # a plain local URL (the model's rule), so not a secret
                problems.append(f"{where}: the default of {ref} is not a URL apprise understands")
            return
        if value is None:
            problems.append(f"{where}: {ref} is not set")
            return
        text = _urls_text(value)
        if not text:  # set but empty: an error even where a default is written (never its value)
            problems.append(f"{where}: {ref} is set but empty")
            return
    else:
        path = Path(t.file or "")
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(f"{where}: {ref} does not exist")
            return
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{where}: {ref} cannot be read ({type(e).__name__})")
            return
        if path.suffix.lower() in CONFIG_SUFFIXES:
            cfg = apprise.AppriseConfig()
            before = len(ap)
            if not cfg.add_config(raw, format="yaml") or not ap.add(cfg) or len(ap) == before:
                problems.append(f"{where}: {ref} is not an apprise YAML configuration with at least one URL")
            return
        text = _urls_text(raw)
    if not text:
        problems.append(f"{where}: {ref} is empty")
        return
    if not ap.add(text):
        problems.append(f"{where}: {ref} holds something apprise does not understand as a URL")


def resolve_receiver(spec, environ: Optional[Mapping[str, str]] = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                     doc: str = "") -> ResolvedReceiver:
    """Resolve one receiver (a :class:`killswitch.policy.routes_doc.Receiver`). Raises ReceiverError."""
    import apprise

    _quiet_apprise()
    env = os.environ if environ is None else environ
    where = f'receiver "{spec.name}"' + (f" of routes {doc}" if doc else "")
    problems: list[str] = []
    ap = apprise.Apprise()
    for t in spec.apprise:
        _add_target(ap, t, env, where, problems)
    if problems:
        raise ReceiverError(problems)
    _bound_timeouts(ap, timeout_s)
    return ResolvedReceiver(spec.name, tuple(describe_target(t, env) for t in spec.apprise), ap)


def resolve_all(docs: Iterable[NotificationRoutes], environ: Optional[Mapping[str, str]] = None,
                timeout_s: float = DEFAULT_TIMEOUT_S
                ) -> tuple[dict[tuple[str, str], ResolvedReceiver], dict[tuple[str, str], list[str]]]:
    """Every receiver of every routes document, keyed by (document, receiver): those resolved,
    and the problems of those that are not."""
    out: dict[tuple[str, str], ResolvedReceiver] = {}
    problems: dict[tuple[str, str], list[str]] = {}
    for doc in docs:
        for r in doc.spec.receivers:
            key = (doc.metadata.name, r.name)
            try:
                out[key] = resolve_receiver(r, environ, timeout_s, doc.metadata.name)
            except ReceiverError as e:
                problems[key] = e.problems
    return out, problems


def resolve_receivers(docs: Iterable[NotificationRoutes], environ: Optional[Mapping[str, str]] = None,
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[tuple[str, str], ResolvedReceiver]:
    """Every receiver of every routes document; all problems in one ReceiverError."""
    out, problems = resolve_all(docs, environ, timeout_s)
    if problems:
        raise ReceiverError([p for ps in problems.values() for p in ps])
    return out
