"""The rules a trusted proxy's request is read by: who sent it (the connection's source address
and verified client certificate, never a header), and the user and groups headers' hygiene.

A header the person is named by must come once, non-empty, at most :data:`MAX_USER_CHARS`
characters, with no control character (C0, DEL, C1) and no byte that is not UTF-8; the groups
header likewise (at most :data:`MAX_GROUPS_CHARS`, :data:`MAX_GROUPS` groups, comma separated,
blanks around each dropped). Anything else is refused (:class:`HeaderRefused`), never cleaned up
into a name: a proxy that sends two user headers, or a name with a newline, is misconfigured or
forwarding what a client wrote.

Must not: read ``X-Forwarded-For``, ``Forwarded`` or any other header to decide where a request
came from (a client writes them), or take a certificate the TLS handshake did not verify.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Optional, Union

from aiohttp import web

from ..identity import cert_names
from .config import ProxyConfig

MAX_USER_CHARS = 256
MAX_GROUPS_CHARS = 8192
MAX_GROUPS = 256
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class HeaderRefused(Exception):
    """A proxy header that cannot be taken: its reason code and what is wrong (no value quoted)."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def verified_cert(request: web.Request) -> Any:
    """The client certificate the connection's TLS handshake verified against the client CA (a
    dict of :meth:`ssl.SSLSocket.getpeercert`); None on plain HTTP or without one. Python's TLS
    gives it only when verified: an unverified certificate never reaches here."""
    transport = request.transport
    if transport is None or transport.get_extra_info("sslcontext") is None:
        return None
    return transport.get_extra_info("peercert") or None


def peer_address(request: web.Request) -> Optional[Address]:
    """The connection's source address (an IPv4-mapped IPv6 address as IPv4); None without one."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not isinstance(peer, (tuple, list)) or not peer or not isinstance(peer[0], str):
        return None
    try:
        addr = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def from_proxy(request: web.Request, config: ProxyConfig) -> bool:
    """Whether the connection is the trusted proxy's: its source address in ``sources`` and its
    verified client certificate matching ``client_cert``, each when configured."""
    if config.sources:
        addr = peer_address(request)
        if addr is None or not any(addr.version == net.version and addr in net for net in config.sources):
            return False
    if config.client_cert is not None and config.client_cert not in cert_names(verified_cert(request)):
        return False
    return True


def _clean(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise HeaderRefused("PROXY_HEADER_INVALID", f"{name} is longer than {limit} characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise HeaderRefused("PROXY_HEADER_INVALID", f"{name} holds a control character or a byte that is not UTF-8")
    value = value.strip(" ")
    if not value:
        raise HeaderRefused("PROXY_HEADER_INVALID", f"{name} is empty")
    return value


def single(request: web.Request, name: str, limit: int) -> Optional[str]:
    """The one value of header ``name`` (None: not sent), by the rules above."""
    values = request.headers.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise HeaderRefused("PROXY_HEADER_INVALID", f"{name} sent {len(values)} times; the proxy sends it once")
    return _clean(name, values[0], limit)


def user_and_groups(request: web.Request, config: ProxyConfig) -> Optional[tuple[str, tuple[str, ...]]]:
    """The person the proxy names and their groups; None when it names no one (no user header,
    no groups header: the request goes the normal ways in). A groups header without a user
    header is refused."""
    user = single(request, config.user_header, MAX_USER_CHARS)
    raw = single(request, config.groups_header, MAX_GROUPS_CHARS)
    if user is None:
        if raw is not None:
            raise HeaderRefused("PROXY_HEADER_INVALID", f"{config.groups_header} without {config.user_header}")
        return None
    groups = tuple(g for g in (part.strip(" ") for part in (raw or "").split(",")) if g)
    if len(groups) > MAX_GROUPS:
        raise HeaderRefused("PROXY_HEADER_INVALID", f"{config.groups_header} names more than {MAX_GROUPS} groups")
    return user, groups


def shown(value: str, limit: int = 64) -> str:
    """A value a client sent, for an audit row or a log line: at most ``limit`` characters,
    anything but printable ASCII escaped."""
    out = "".join(c if 0x20 <= ord(c) < 0x7F and c != "\\" else c.encode("unicode_escape").decode("ascii")
                  for c in value[:limit])
    return out + ("…" if len(value) > limit else "")


__all__ = ["HeaderRefused", "MAX_GROUPS", "MAX_GROUPS_CHARS", "MAX_USER_CHARS", "from_proxy", "peer_address",
           "shown", "single", "user_and_groups", "verified_cert"]
