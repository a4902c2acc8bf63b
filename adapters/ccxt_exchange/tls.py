"""One TLS context for every ccxt client of the process.

ccxt builds a client's TLS context when the client first opens (``BaseExchange.open``:
``ssl.create_default_context(cafile=certifi)``), which reads and parses the whole CA bundle —
tens of milliseconds of the event loop each time. A runner of 200 streamed accounts opens 400
clients (REST and streaming) at start: measured with ``py-spy``, a third of the loop's first 20
seconds went there, and the loop held past the lease's term. ccxt keeps a context it is given
(``ssl_context``), so every client that would build the default one is handed the same one,
built once per CA file: the same bundle, the same verification (hostname checked, certificates
required). A client set to build another (``verify`` off, or the OS certificates added through
``include_OS_certificates``) builds its own, as ccxt would.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any, Optional


@functools.lru_cache(maxsize=4)
def _context(cafile: Optional[str]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def share_tls_context(ex: Any) -> None:
    """Hand ``ex`` the process's default TLS context, if it would build the default one itself."""
    if getattr(ex, "ssl_context", False) is not None or getattr(ex, "verify", None) is not True:
        return  # not a ccxt client of this kind, one given a context already, or verification off
    options = getattr(ex, "options", None)
    if isinstance(options, dict) and options.get("include_OS_certificates"):
        return
    ex.ssl_context = _context(getattr(ex, "cafile", None))
