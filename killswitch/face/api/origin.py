"""Where a browser's write came from: the check that keeps another site's page from using a
signed-in person's session (cross-site request forgery).

A write the API authenticates by what a browser sends on its own — the console's session
cookie, or the user headers of a trusted authenticating proxy in front of it — is taken only
when the browser says it comes from the console's own origin: its ``Origin`` header is the
runner's origin (scheme and host of the request as it arrived, or one of the configured external
URLs, such as the address people reach the console at through a proxy); without ``Origin``,
``Sec-Fetch-Site: same-origin``. Neither header, or another origin: refused (403
``CSRF_ORIGIN``). A bearer token or a client certificate is never sent by a browser on its own
and needs no such check.

Must not: trust ``X-Forwarded-Host`` or ``X-Forwarded-Proto`` here (a caller writes them), or
accept ``null`` as an origin.
"""

from __future__ import annotations

from typing import Iterable, Optional
from urllib.parse import urlsplit

from aiohttp import web

from ..request import ApiError


def origin_of(url: str) -> Optional[str]:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased, the default port dropped;
    None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(request: web.Request) -> Optional[str]:
    """The origin the request arrived at: its Host header on this connection's scheme."""
    host = request.headers.get("Host", "")
    scheme = "https" if request.transport is not None and request.transport.get_extra_info("sslcontext") else "http"
    return origin_of(f"{scheme}://{host}") if host else None


def check_same_origin(request: web.Request, external: Iterable[str] = ()) -> None:
    """Raise 403 ``CSRF_ORIGIN`` unless the browser says this write comes from the console's own
    origin (the request's, or one of ``external``: configured URLs people reach it at)."""
    sent = request.headers.get("Origin")
    if sent is None:
        site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
        if site == "same-origin":
            return
        raise ApiError(403, "CSRF_ORIGIN", "a write signed in by the browser must come from the console's own page "
                                           "(no Origin, and Sec-Fetch-Site is not same-origin)")
    allowed = {o for o in (own_origin(request), *(origin_of(u) for u in external)) if o}
    if origin_of(sent) in allowed:
        return
    raise ApiError(403, "CSRF_ORIGIN", f"a write signed in by the browser must come from the console's own page; "
                                       f"this one came from {sent[:100]!r}")


__all__ = ["check_same_origin", "origin_of", "own_origin"]
