"""The sign-in's configuration: the file of ``ksctl run --oidc-config``, read and checked.

::

    apiVersion: killswitch/v1
    kind: OidcSignin
    issuer: https://login.desk.example/realms/desk     # discovered: ISSUER/.well-known/openid-configuration
    client_id: killswitch
    client_secret: {file: /etc/killswitch/oidc/client-secret}   # or {env: VAR}; none: a public client
    external_url: https://killswitch.desk.example      # the redirect URI is EXTERNAL_URL/v1/auth/callback
    cookie_key_file: /etc/killswitch/oidc/cookie-key  # at least 32 bytes: signs the session cookie
    # optional
    scopes: [openid, email, profile, groups]          # openid is always asked for
    name_claim: email                                 # default: email, then preferred_username
    groups_claim: groups
    session_lifetime: 8h                              # 5m to 7d
    ca_file: /etc/killswitch/oidc/ca.crt              # the provider's CA, when not the system's

The issuer and the external URL are https; plain http only on a loopback address (a provider or
a console on this machine). What it owns: :func:`load_oidc_config` and :class:`OidcConfig`.
Must not: print a secret or the cookie key, or accept a document it cannot read completely (an
unknown key is refused, with the key it resembles).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from ..documents import near

log = logging.getLogger("killswitch.face.api.signin")
KIND = "OidcSignin"
KEYS = ("apiVersion", "kind", "issuer", "client_id", "client_secret", "external_url", "cookie_key_file", "scopes",
        "name_claim", "groups_claim", "session_lifetime", "ca_file")
DEFAULT_NAME_CLAIMS = ("email", "preferred_username")
DEFAULT_LIFETIME_S = 8 * 3600
MIN_LIFETIME_S, MAX_LIFETIME_S = 300, 7 * 86400
MIN_KEY_BYTES = 32
CALLBACK_PATH = "/v1/auth/callback"
MAX_CONFIG_BYTES = 100_000


class SigninConfigError(ValueError):
    """The sign-in's configuration cannot be used; the message names the file and the key."""


class Hidden:
    """A value that never prints (the client secret, the cookie key)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes):
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Hidden('****')"

    __str__ = __repr__


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    external_url: str  # scheme://host[:port][/prefix], without a trailing slash
    cookie_key: Hidden = field(repr=False)
    client_secret: Optional[Hidden] = field(default=None, repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    name_claims: tuple[str, ...] = DEFAULT_NAME_CLAIMS
    groups_claim: str = "groups"
    session_lifetime_s: int = DEFAULT_LIFETIME_S
    ca_file: Optional[str] = None

    @property
    def redirect_uri(self) -> str:
        return self.external_url + CALLBACK_PATH

    def describe(self) -> str:
        return (f"sign-in by OpenID Connect: issuer {self.issuer}, client {self.client_id}, redirect "
                f"{self.redirect_uri}, name from {' then '.join(self.name_claims)}, groups from "
                f"{self.groups_claim}, sessions of {self.session_lifetime_s}s")


def _loopback(host: Optional[str]) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: Any, key: str, where: str, *, path_ok: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SigninConfigError(f"{where}: {key}: expected an https URL")
    text = value.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise SigninConfigError(f"{where}: {key}: {text!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SigninConfigError(f"{where}: {key}: {text!r} is not an https URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise SigninConfigError(f"{where}: {key}: {text!r} is plain http; only https (http only on a loopback "
                                "address, such as a provider on this machine)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SigninConfigError(f"{where}: {key}: {text!r} must not carry a query, a fragment or credentials")
    if parts.path and not path_ok:
        raise SigninConfigError(f"{where}: {key}: {text!r} must be scheme://host[:port] only")
    return text


def _secret(value: Any, key: str, where: str) -> Hidden:
    """``{file: PATH}`` or ``{env: VAR}`` → its value (a file's surrounding whitespace dropped)."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("file", "env"):
        raise SigninConfigError(f"{where}: {key}: give it as a reference, {{file: PATH}} or {{env: VAR}}; a "
                                "literal value in a file leaks it")
    (kind, ref), = value.items()
    if not isinstance(ref, str) or not ref.strip():
        raise SigninConfigError(f"{where}: {key}.{kind}: expected a {'path' if kind == 'file' else 'variable name'}")
    if kind == "env":
        got = os.environ.get(ref)
        if got is None:
            raise SigninConfigError(f"{where}: {key}: the environment variable {ref} is not set")
        data = got.strip().encode("utf-8")
    else:
        data = _read(ref, f"{where}: {key}").strip()
    if not data:
        raise SigninConfigError(f"{where}: {key}: empty")
    return Hidden(data)


def _read(path: str, at: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SigninConfigError(f"{at}: {path} cannot be read ({e.strerror or type(e).__name__})") from None


def _say_if_others_read(path: str, key: str, why: str) -> None:
    """A WARNING when ``path`` is readable by every user of the machine (it still starts: a
    container's secret mount may be so, and the pod is its only user)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o004:
        log.warning("SECRET_FILE_READABLE: %s %s is readable by every user (mode %04o): %s; make it readable by "
                    "the runner alone (chmod 0400, or write it under umask 077)", key, path, mode & 0o7777, why)


def _name(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise SigninConfigError(f"{where}: {key}: expected a non-empty string")
    return value


def parse_oidc_config(doc: Any, where: str = "oidc") -> OidcConfig:
    """A parsed document → :class:`OidcConfig`; raises :class:`SigninConfigError` naming the key."""
    from ....policy.units import UnitError, parse_duration

    if not isinstance(doc, dict):
        raise SigninConfigError(f"{where}: expected a mapping with apiVersion, kind, issuer, client_id, external_url "
                                "and cookie_key_file")
    for key in map(str, doc):
        if key not in KEYS:
            raise SigninConfigError(f"{where}: unknown key {key!r}{near(key, KEYS)}; known: {', '.join(KEYS)}")
    if doc.get("apiVersion") != "killswitch/v1" or doc.get("kind") != KIND:
        raise SigninConfigError(f"{where}: expected apiVersion killswitch/v1 and kind {KIND}")
    for key in ("issuer", "client_id", "external_url", "cookie_key_file"):
        if key not in doc:
            raise SigninConfigError(f"{where}: {key}: missing")
    issuer = _url(doc["issuer"], "issuer", where, path_ok=True)
    external = _url(doc["external_url"], "external_url", where, path_ok=True)
    key_file = _name(doc["cookie_key_file"], "cookie_key_file", where)
    cookie_key = _read(key_file, f"{where}: cookie_key_file").strip()
    _say_if_others_read(key_file, "cookie_key_file", "anyone who reads it can make a session cookie")
    if len(cookie_key) < MIN_KEY_BYTES:
        raise SigninConfigError(f"{where}: cookie_key_file: {key_file} holds {len(cookie_key)} bytes; at least "
                                f"{MIN_KEY_BYTES} (e.g. head -c 48 /dev/urandom | base64 > FILE)")
    scopes = doc.get("scopes", ["openid", "email", "profile"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s and " " not in s for s in scopes):
        raise SigninConfigError(f"{where}: scopes: expected a list of scope names")
    names = doc.get("name_claim")
    name_claims = DEFAULT_NAME_CLAIMS if names is None else (_name(names, "name_claim", where),)
    lifetime_s = DEFAULT_LIFETIME_S
    if "session_lifetime" in doc:
        try:
            lifetime_s = parse_duration(doc["session_lifetime"]).ms // 1000
        except UnitError as e:
            raise SigninConfigError(f"{where}: session_lifetime: {e.message}") from None
        if not MIN_LIFETIME_S <= lifetime_s <= MAX_LIFETIME_S:
            raise SigninConfigError(f"{where}: session_lifetime: {lifetime_s}s is outside 5m to 7d")
    ca_file = doc.get("ca_file")
    if ca_file is not None:
        _read(_name(ca_file, "ca_file", where), f"{where}: ca_file")
    return OidcConfig(
        issuer=issuer, client_id=_name(doc["client_id"], "client_id", where), external_url=external,
        cookie_key=Hidden(cookie_key),
        client_secret=_secret(doc["client_secret"], "client_secret", where) if "client_secret" in doc else None,
        scopes=tuple(dict.fromkeys(["openid", *scopes])), name_claims=name_claims,
        groups_claim=_name(doc.get("groups_claim", "groups"), "groups_claim", where),
        session_lifetime_s=lifetime_s, ca_file=ca_file)


def load_oidc_config(path: str | Path) -> OidcConfig:
    """Read the file of ``--oidc-config`` (YAML or JSON); raises :class:`SigninConfigError`."""
    p = Path(path)
    data = _read(str(p), str(p))
    if len(data) > MAX_CONFIG_BYTES:
        raise SigninConfigError(f"{p}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        from ruamel.yaml import YAML

        doc = YAML(typ="safe", pure=True).load(data.decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - a parse error of any kind is a bad document
        raise SigninConfigError(f"{p}: not valid YAML ({type(e).__name__})") from None
    return parse_oidc_config(doc, str(p))


__all__ = ["CALLBACK_PATH", "Hidden", "OidcConfig", "SigninConfigError", "load_oidc_config", "parse_oidc_config"]
