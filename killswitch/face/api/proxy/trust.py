"""The trusted-proxy mode as the access middleware uses it (:mod:`..access`).

:meth:`TrustedProxy.screen` runs first on every request: the proxy's user or groups header from
a connection that is not the proxy's (:func:`.headers.from_proxy`: its source address, its
verified client certificate) is refused 401 ``PROXY_HEADER_UNTRUSTED``, whatever the route,
counted, and audited within a bound (:mod:`.ledger`); nothing of it is trusted.
:meth:`TrustedProxy.person` then names the caller of a route that needs one: from the proxy,
the user header is the person and the groups header their groups, with the roles the tokens
document's ``groups`` maps them to now (:meth:`~..identity.Tokens.person`); a proxy's request
without the user header goes the normal ways in (a bot's bearer token). A header sent twice,
empty, too long or with a control character is refused 401 ``PROXY_HEADER_INVALID``; a name
that is not a valid identity 401 ``PROXY_USER_INVALID``; groups that map to no role 401
``PROXY_GROUPS_UNMAPPED``. The user header wins over an ``Authorization`` header on the same
request (a proxy may pass its own token on). A change such a person sends (any method but GET,
HEAD) must come from the console's own origin (:func:`~..origin.check_same_origin`, 403
``CSRF_ORIGIN``): the proxy adds the headers to whatever the browser sends, another site's form
included.

Must not: let a header from elsewhere through, even to a public route; log or audit a value
unescaped; write more audit rows than :mod:`.ledger` allows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Iterable, Optional

from aiohttp import web

from ...request import ApiError
from ..identity import IDENTITY_RE, SHARED_IDENTITY, Identity, Tokens, normalise_identity
from ..origin import check_same_origin
from .config import ProxyConfig
from .headers import HeaderRefused, from_proxy, peer_address, shown, user_and_groups
from .ledger import UNTRUSTED, Refusals, audit_later

log = logging.getLogger("killswitch.face.api")

READS = ("GET", "HEAD")


class TrustedProxy:
    """``config`` (:mod:`.config`); ``external_urls``: more origins a browser's change may come
    from (``--external-url``); ``audit``: writes one audit row (the payload) where the runner's
    store is (:meth:`~killswitch.face.desk.desk.Desk.audit_api_refusal` through the view's
    call); ``refusals``: the counts and the rows' bound."""

    def __init__(self, config: ProxyConfig, audit: Optional[Callable[[dict], Awaitable[Any]]] = None,
                 external_urls: Iterable[str] = (), refusals: Optional[Refusals] = None):
        self.config = config
        self.audit = audit
        self.origins = tuple(dict.fromkeys((*config.external_urls, *external_urls)))
        self.refusals = refusals or Refusals()
        self.people = 0  # requests a person named by the proxy was let in by
        self._writing: set[asyncio.Task] = set()

    def screen(self, request: web.Request) -> None:
        """Refuse the proxy's headers from anywhere but the proxy (see the module doc)."""
        sent = [h for h in self.config.headers if h in request.headers]
        if not sent or from_proxy(request, self.config):
            return
        addr = peer_address(request)
        source = str(addr) if addr is not None else "unknown"
        claimed = request.headers.get(self.config.user_header)
        detail = {"headers": sent, "claimed_user": shown(claimed) if claimed is not None else None,
                  "method": request.method, "path": shown(request.path, 128)}
        row = self.refusals.note(UNTRUSTED, source, detail)
        if row is not None:
            log.warning("PROXY_HEADER_UNTRUSTED: %s from %s (not the trusted proxy) refused and audited; %d more "
                        "from it since its last audit row", "/".join(sent), source, row["folded_since_last_row"])
            self._write(row)
        raise ApiError(401, UNTRUSTED, f"{' and '.join(sent)} is taken only from the trusted proxy; this "
                                       "connection is not it")

    def person(self, request: web.Request, tokens: Tokens) -> Optional[Identity]:
        """The person the trusted proxy names, with their roles now; None when it names no one.
        Raises :class:`ApiError` for what cannot be taken (the module doc's codes). Call after
        :meth:`screen`."""
        try:
            named = user_and_groups(request, self.config)
        except HeaderRefused as e:
            self._refused(e.code)
            raise ApiError(401, e.code, e.reason) from None
        if named is None:
            return None
        user, groups = named
        name = normalise_identity(user)
        if not IDENTITY_RE.fullmatch(name) or name == SHARED_IDENTITY:
            self._refused("PROXY_USER_INVALID")
            raise ApiError(401, "PROXY_USER_INVALID", f"{self.config.user_header} is not a valid identity: 1 to 64 "
                                                      "of a-z 0-9 . _ @ + - (ASCII), not shared-token")
        identity = tokens.person(user, groups)
        if identity is None:
            self._refused("PROXY_GROUPS_UNMAPPED")
            raise ApiError(401, "PROXY_GROUPS_UNMAPPED", f"none of {name}'s {len(groups)} group(s) in "
                                                         f"{self.config.groups_header} is mapped to a role by the "
                                                         "tokens document's groups")
        if request.method not in READS:
            check_same_origin(request, self.origins)
        self.people += 1
        return identity

    def _refused(self, code: str) -> None:
        self.refusals.note(code, "", {})

    def _write(self, row: dict) -> None:
        if self.audit is not None:
            audit_later(self.audit, row, self._writing, lambda e: log.error(
                "PROXY_HEADER_UNTRUSTED: the audit row for %s could not be written: %s", row.get("source"),
                type(e).__name__))

    def collect_metrics(self, registry: Any) -> None:
        """Its counters into the scrape's registry (read from another thread: each value one int)."""
        declare(registry, self)


def declare(registry: Any, proxy: Optional[TrustedProxy]) -> None:
    """The trusted proxy's families on ``/metrics``: declared by every runner, with samples only
    when the mode is on, so that a rule over them names families that exist either way."""
    refused = registry.sampled("killswitch_api_proxy_refused_total", "counter",
                               "Requests refused for the trusted proxy's headers, by reason: PROXY_HEADER_UNTRUSTED "
                               "(sent by another than the proxy), PROXY_HEADER_INVALID, PROXY_USER_INVALID, "
                               "PROXY_GROUPS_UNMAPPED.", ("reason",))
    folded = registry.sampled("killswitch_api_proxy_refusals_folded_total", "counter",
                              "PROXY_HEADER_UNTRUSTED refusals given no audit row of their own (at most one row per "
                              "source address a minute, ten a minute in all): counted into the next row.")
    people = registry.sampled("killswitch_api_proxy_people_total", "counter",
                              "Requests let in as the person the trusted proxy named.")
    if proxy is None:
        return
    for reason, n in sorted(dict(proxy.refusals.refused).items()):
        refused.add(n, reason=reason)
    folded.add(proxy.refusals.folded)
    people.add(proxy.people)


class ProxyMetrics:
    """:func:`declare` as a collector of the runner's ``/metrics`` (``proxy``: None without the mode)."""

    def __init__(self, proxy: Optional[TrustedProxy]):
        self.proxy = proxy

    def collect_metrics(self, registry: Any) -> None:
        declare(registry, self.proxy)


__all__ = ["ProxyMetrics", "TrustedProxy", "declare"]
