"""The signed-in person's session: a signed cookie, the sessions ended, the names the provider gave.

The session cookie (``__Host-ks_session``: ``HttpOnly``, ``Secure``, ``SameSite=Strict``,
``Path=/``, ``Max-Age`` its lifetime) holds ``v1.<payload>.<mac>``: the payload (base64url JSON)
is the session's id, the provider's subject (``sub``), the person's name, their groups (those the
tokens document mapped when they signed in), when it was made and when it ends; the mac is
HMAC-SHA256 of the payload under the cookie key (``cookie_key_file``). The sign-in's own
short-lived cookie (``__Host-ks_signin``, ``SameSite=Lax``: it must come back on the provider's
redirect) carries the flow's state, nonce and PKCE verifier the same way.

A cookie is taken only when its mac is the key's (compared with :func:`hmac.compare_digest`),
its payload parses as this version's, its end has not passed and its session id has not been
ended (:class:`EndedSessions`: sign-out). The ended ids are kept in memory until their cookies
would have expired and, under ``ksctl run``, in the state store too (:mod:`.flow`:
:meth:`~.flow.Signin.attach`), whence every replica reads them again every few seconds.

:class:`Subjects` keeps each name the provider gave bound to one subject (and each subject to one
name), so that two names are two subjects: two approvals need two distinct people as the
provider knows them, not only two names (in memory; under ``ksctl run`` the state store's binding
decides, for good).

Must not: put the cookie key or a cookie's value in a log or an answer, or accept a cookie whose
mac it did not check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Optional

SESSION_COOKIE = "__Host-ks_session"
FLOW_COOKIE = "__Host-ks_signin"
VERSION = "v1"
MAX_COOKIE_BYTES = 3800  # under the 4096 browsers keep for a cookie, its name and attributes
MAX_GROUPS = 100


class CookieRefused(ValueError):
    """A cookie that is not taken; ``code`` says why (``SESSION_INVALID``, ``SESSION_EXPIRED``,
    ``SESSION_ENDED``)."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks the cookies' payloads under one key, each kind (``purpose``) apart: a
    sign-in cookie is never taken as a session."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("the cookie key must be at least 32 bytes")
        self._key = hashlib.sha256(b"killswitch-cookie-key\0" + key).digest()

    def __repr__(self) -> str:
        return "Signer(****)"

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}.{VERSION}.{body}".encode("ascii"), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{VERSION}.{body}.{self._mac(purpose, body)}"

    def open(self, purpose: str, value: str, now_s: float) -> dict:
        """The payload of a cookie this key signed for ``purpose``, not expired; raises
        :class:`CookieRefused`."""
        if not isinstance(value, str) or len(value) > MAX_COOKIE_BYTES:
            raise CookieRefused("SESSION_INVALID", "the cookie is not one this runner made")
        version, _, rest = value.partition(".")
        body, _, mac = rest.partition(".")
        if version != VERSION or not body or not mac:
            raise CookieRefused("SESSION_INVALID", "the cookie is not one this runner made")
        try:
            good = hmac.compare_digest(mac.encode("ascii"), self._mac(purpose, body).encode("ascii"))
        except (UnicodeEncodeError, ValueError):
            good = False
        if not good:
            raise CookieRefused("SESSION_INVALID", "the cookie's signature is not this runner's key's")
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            raise CookieRefused("SESSION_INVALID", "the cookie's payload does not parse") from None
        exp = payload.get("exp") if isinstance(payload, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise CookieRefused("SESSION_INVALID", "the cookie says no end")
        if exp <= now_s:
            raise CookieRefused("SESSION_EXPIRED", "the session has ended (its lifetime passed): sign in again")
        return payload


@dataclass(frozen=True)
class Session:
    sid: str
    sub: str
    name: str
    groups: tuple[str, ...]
    iat: int
    exp: int

    def payload(self) -> dict:
        return {"sid": self.sid, "sub": self.sub, "name": self.name, "groups": list(self.groups), "iat": self.iat,
                "exp": self.exp}

    @classmethod
    def of(cls, payload: dict) -> "Session":
        sid, sub, name, groups = (payload.get(k) for k in ("sid", "sub", "name", "groups"))
        iat, exp = payload.get("iat"), payload.get("exp")
        if not (isinstance(sid, str) and isinstance(sub, str) and isinstance(name, str) and sid and sub and name
                and isinstance(groups, list) and all(isinstance(g, str) for g in groups)
                and isinstance(iat, int) and isinstance(exp, int)):
            raise CookieRefused("SESSION_INVALID", "the cookie's payload is not a session")
        return cls(sid, sub, name, tuple(groups), iat, exp)


def new_session(sub: str, name: str, groups: tuple[str, ...], now_s: float, lifetime_s: int) -> Session:
    now = int(now_s)
    return Session(secrets.token_urlsafe(18), sub, name, groups[:MAX_GROUPS], now, now + lifetime_s)


class EndedSessions:
    """The ids of sessions signed out, each until its cookie would have expired (in memory; see
    the module doc). Thread-safe: the API's two loops share it."""

    def __init__(self) -> None:
        self._ended: dict[str, int] = {}
        self._lock = threading.Lock()

    def end(self, sid: str, exp: int, now_s: float) -> None:
        with self._lock:
            self._ended[sid] = exp
            for gone in [s for s, e in self._ended.items() if e <= now_s]:
                del self._ended[gone]

    def merge(self, ended: dict[str, int], now_s: float) -> None:
        """Add ``ended`` (id → end, as the state store keeps them), the expired left out."""
        with self._lock:
            self._ended.update({s: e for s, e in ended.items() if e > now_s})

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return sid in self._ended

    def __len__(self) -> int:
        with self._lock:
            return len(self._ended)


class Subjects:
    """Each name bound to the one subject that first signed in with it, each subject to one name,
    for the life of the process (see the module doc). Thread-safe."""

    def __init__(self) -> None:
        self._by_name: dict[str, str] = {}
        self._by_sub: dict[str, str] = {}
        self._lock = threading.Lock()

    def bind(self, sub: str, name: str) -> Optional[str]:
        """Bind ``sub`` and ``name``; a refusal's reason when either is bound to another."""
        with self._lock:
            other_sub, other_name = self._by_name.get(name), self._by_sub.get(sub)
            if other_sub is not None and other_sub != sub:
                return f"the name {name} is another subject's at this runner"
            if other_name is not None and other_name != name:
                return f"this subject signed in as {other_name} before; a person has one name here"
            self._by_name[name] = sub
            self._by_sub[sub] = name
            return None


def cookie_header(name: str, value: str, max_age: int, same_site: str) -> str:
    """A ``Set-Cookie`` value: ``HttpOnly``, ``Secure``, ``Path=/``, no ``Domain`` (``__Host-``)."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite={same_site}"


def cookie_value(headers: Any, name: str) -> Optional[str]:
    """The value of cookie ``name`` in a request's ``Cookie`` headers; ``None`` without it. Sent
    twice (a cookie planted beside ours): refused, as :class:`CookieRefused`."""
    found: list[str] = []
    for line in headers.getall("Cookie", []):
        for part in line.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                found.append(value.strip())
    if len(found) > 1:
        raise CookieRefused("SESSION_INVALID", f"the {name} cookie is sent more than once")
    return found[0] if found else None


__all__ = ["CookieRefused", "EndedSessions", "FLOW_COOKIE", "SESSION_COOKIE", "Session", "Signer", "Subjects",
           "cookie_header", "cookie_value", "new_session"]
