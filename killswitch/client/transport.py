"""How the client reaches a runner: one HTTP request over the stdlib's urllib, the bearer token
in the Authorization header of the calls that carry it, TLS by the context given, and the answer
read back as JSON or raised as the error it is (:mod:`.errors`).

Must not: import aiohttp, click or anything the runner needs to run (stdlib urllib only); retry
(sending a change twice is an operator's decision); put the token anywhere but the Authorization
header — not in a message, an exception, a repr or a log.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any, Optional

from .errors import RunnerUnreachable, error_of, tolerant_body

DEFAULT_TIMEOUT_S = 10.0


class Transport:
    """Requests to the runner at ``base_url`` (see :class:`~killswitch.client.RunnerClient`)."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S,
                 tls: Optional[ssl.SSLContext] = None):
        self.base_url = base_url
        self._token = token
        self.timeout = timeout
        self.tls = tls

    def __repr__(self) -> str:  # never the token
        return (f"{type(self).__name__}({self.base_url!r}, token={'<set>' if self._token else None}, "
                f"timeout={self.timeout!r})")

    def _send(self, method: str, path: str, body: Any = None, *, auth: bool = False) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url.rstrip("/") + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth and self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.tls) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            raise error_of(e.code, tolerant_body(e.read()), self.base_url) from None
        except (urllib.error.URLError, OSError) as e:
            raise RunnerUnreachable(self.base_url, getattr(e, "reason", e)) from None

    def _json(self, method: str, path: str, body: Any = None, *, auth: bool = False,
              expect: tuple[int, ...] | int = 200) -> Any:
        """The JSON answer of ``path`` when its status is ``expect`` (or one of them); else a
        RunnerError. A body that is not JSON in a success raises ValueError: that is no runner
        answering."""
        status, raw = self._send(method, path, body, auth=auth)
        doc = json.loads(raw) if raw else None
        if status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise error_of(status, doc, self.base_url)
        return doc
