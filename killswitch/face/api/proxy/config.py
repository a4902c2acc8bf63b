"""The trusted proxy's document (``ksctl run --trusted-proxy FILE``): which proxy in front of the
runner may name the person at the console, and by which headers::

    apiVersion: killswitch/v1
    kind: TrustedProxy
    sources: [10.42.0.0/16]                  # the proxy's source addresses (CIDRs)
    client_cert: {subject_cn: oauth2-proxy.desk.example}   # and/or its client certificate (mTLS)
    user_header: X-Forwarded-User            # the default
    groups_header: X-Forwarded-Groups        # the default; comma separated
    external_urls: [https://killswitch.desk.example]       # where people reach the console

At least one of ``sources`` and ``client_cert`` (the tokens document's form: exactly one of
``subject_cn``, ``san_dns``, ``san_email``, ``san_uri``, matched against a certificate the
web config file's client CA verified); both given, a request must hold both. ``external_urls``:
the origins a browser's write may come from (the proxy's address as people type it), beside the
runner's own and ``--external-url``.

Must not: accept a document it cannot read completely, or a header name that is one of the
credentials the runner reads otherwise (``Authorization``, ``Cookie``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from ..documents import Where, near, read_yaml_document
from ..identity import CertMatch, TokensError, _cert_match
from ..origin import origin_of

KIND = "TrustedProxy"
KEYS = ("apiVersion", "kind", "sources", "client_cert", "user_header", "groups_header", "external_urls")
DEFAULT_USER_HEADER = "X-Forwarded-User"
DEFAULT_GROUPS_HEADER = "X-Forwarded-Groups"
HEADER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")  # an HTTP field name, kept plain
RESERVED_HEADERS = frozenset({"authorization", "cookie", "host", "origin", "content-type", "content-length",
                              "sec-fetch-site", "transfer-encoding"})
MAX_BYTES = 100_000
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class ProxyConfigError(ValueError):
    """The trusted proxy's document cannot be used; the message says where and why."""


@dataclass(frozen=True)
class ProxyConfig:
    sources: tuple[Network, ...]
    client_cert: Optional[CertMatch]
    user_header: str = DEFAULT_USER_HEADER
    groups_header: str = DEFAULT_GROUPS_HEADER
    external_urls: tuple[str, ...] = ()

    @property
    def headers(self) -> tuple[str, str]:
        """The headers only the proxy may send."""
        return (self.user_header, self.groups_header)

    def describe(self) -> str:
        """One line for the start's log: who is trusted, by what, and which headers."""
        by = []
        if self.sources:
            by.append(f"from {', '.join(map(str, self.sources))}")
        if self.client_cert is not None:
            by.append(f"with a client certificate whose {self.client_cert[0]} is {self.client_cert[1]}")
        return (f"trusted proxy {' and '.join(by)}: {self.user_header} names the person, {self.groups_header} "
                "their groups; the same headers from anywhere else are refused (PROXY_HEADER_UNTRUSTED)")


def parse_proxy_config(doc: Any, path: Path) -> ProxyConfig:
    """A parsed document → :class:`ProxyConfig`; raises :class:`ProxyConfigError` naming the
    first problem at its key's ``file:line:col``."""
    where = Where(path)
    if not isinstance(doc, dict):
        raise ProxyConfigError(f"{path}: expected a mapping with apiVersion, kind and sources or client_cert")
    for key in doc:
        if key not in KEYS:
            raise ProxyConfigError(f"{where.key(doc, key)}: unknown key {key!r}{near(str(key), KEYS)}; known: "
                                   f"{', '.join(KEYS)}")
    if doc.get("apiVersion") != "killswitch/v1" or doc.get("kind") != KIND:
        raise ProxyConfigError(f"{path}: expected apiVersion killswitch/v1 and kind {KIND}")
    sources = _sources(doc, where)
    cert = None
    if "client_cert" in doc:
        try:
            cert = _cert_match(doc["client_cert"], f"{where.key(doc, 'client_cert')}: client_cert")
        except TokensError as e:
            raise ProxyConfigError(str(e)) from None
    if not sources and cert is None:
        raise ProxyConfigError(f"{path}: needs sources (the proxy's addresses, as CIDRs) or client_cert (its client "
                               "certificate), or both: otherwise anyone could name the person")
    user = _header(doc, "user_header", DEFAULT_USER_HEADER, where)
    groups = _header(doc, "groups_header", DEFAULT_GROUPS_HEADER, where)
    if user.lower() == groups.lower():
        raise ProxyConfigError(f"{where.key(doc, 'groups_header')}: groups_header is the user_header ({user})")
    return ProxyConfig(sources, cert, user, groups, _urls(doc, where))


def _sources(doc: dict, where: Where) -> tuple[Network, ...]:
    items = doc.get("sources", [])
    at = where.key(doc, "sources")
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ProxyConfigError(f"{at}: sources must be a list of addresses or CIDRs (10.42.0.0/16, 127.0.0.1)")
    out = []
    for s in items:
        try:
            net = ipaddress.ip_network(s.strip(), strict=True)
        except ValueError as e:
            raise ProxyConfigError(f"{at}: sources: {s!r} is not an address or a CIDR ({e})") from None
        if net.prefixlen == 0:
            raise ProxyConfigError(f"{at}: sources: {s!r} is every address: anyone could name the person")
        out.append(net)
    return tuple(out)


def _header(doc: dict, key: str, default: str, where: Where) -> str:
    name = doc.get(key, default)
    at = where.key(doc, key)
    if not isinstance(name, str) or not HEADER_NAME_RE.fullmatch(name):
        raise ProxyConfigError(f"{at}: {key} must be an HTTP header's name (letters, digits and '-')")
    if name.lower() in RESERVED_HEADERS:
        raise ProxyConfigError(f"{at}: {key}: {name} is read by the runner for something else")
    return name


def _urls(doc: dict, where: Where) -> tuple[str, ...]:
    items = doc.get("external_urls", [])
    at = where.key(doc, "external_urls")
    if not isinstance(items, list) or not all(isinstance(u, str) for u in items):
        raise ProxyConfigError(f"{at}: external_urls must be a list of URLs (https://killswitch.desk.example)")
    for u in items:
        if origin_of(u) is None:
            raise ProxyConfigError(f"{at}: external_urls: {u!r} is not an http(s) URL with a host")
    return tuple(items)


def load_proxy_config(path: Union[str, Path]) -> ProxyConfig:
    """Read the trusted proxy's document at ``path``; raises :class:`ProxyConfigError`."""
    p = Path(path)
    doc = read_yaml_document(p, "the trusted proxy's document", MAX_BYTES, ProxyConfigError)
    return parse_proxy_config(doc, p)


__all__ = ["DEFAULT_GROUPS_HEADER", "DEFAULT_USER_HEADER", "ProxyConfig", "ProxyConfigError", "load_proxy_config",
           "parse_proxy_config"]
