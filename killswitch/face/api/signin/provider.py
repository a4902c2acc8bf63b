"""The OpenID provider as the runner talks to it: discovery, its keys, the code exchange, and the
ID token checked.

Discovery reads ``ISSUER/.well-known/openid-configuration`` (its ``issuer`` must be the one
configured, exactly) and the provider's keys (``jwks_uri``) when the runner starts: a provider
that cannot be discovered stops the start. The keys are read again when an ID token names a key
they lack (the provider rotated them), at most once a minute.

An ID token is taken only when (:func:`validate_id_token`): it is a JWS signed by one of the
provider's keys with an asymmetric algorithm the provider announces (never ``none`` nor an HMAC
one), its ``iss`` is the issuer, its ``aud`` holds the client id (and ``azp`` is the client id when
it names more than one audience), ``exp`` has not passed and ``iat`` is not in the future (a minute
of clock skew either way), its ``nonce`` is the one this sign-in sent, and it has a ``sub``.

Must not: send the client secret or the code anywhere but the provider's token endpoint, log a
token, or take an ID token it did not check.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .config import OidcConfig

HTTP_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 1_000_000
LEEWAY_S = 60
KEYS_REFRESH_S = 60.0
# asymmetric signatures only: an HMAC one would be keyed by the client secret, "none" by nothing
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class ProviderError(RuntimeError):
    """The provider cannot be used, or answered what cannot be taken; the message says which."""


class IdTokenRefused(ValueError):
    """An ID token that is not taken; the message says which check refused it (never the token)."""


def _context(ca_file: Optional[str]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def fetch_json(url: str, ca_file: Optional[str] = None, *, form: Optional[dict[str, str]] = None,
               headers: Optional[dict[str, str]] = None) -> Any:
    """GET (or, with ``form``, POST) ``url`` and parse its JSON answer; raises :class:`ProviderError`
    (blocking: call it off the event loop)."""
    data = urllib.parse.urlencode(form).encode("ascii") if form is not None else None
    req = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})
    where = urllib.parse.urlsplit(url)
    shown = f"{where.scheme}://{where.netloc}{where.path}"
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S,  # noqa: S310 - http(s) only, checked in config
                                    context=_context(ca_file) if where.scheme == "https" else None) as r:
            body = r.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise ProviderError(f"{shown} answered HTTP {e.code}{_oauth_error(e)}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", None) or e
        raise ProviderError(f"{shown} cannot be reached ({why})") from None
    if len(body) > MAX_ANSWER_BYTES:
        raise ProviderError(f"{shown} answered more than {MAX_ANSWER_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise ProviderError(f"{shown} answered something that is not JSON") from None


def _oauth_error(e: urllib.error.HTTPError) -> str:
    """The OAuth ``error`` code of an error answer (never its description, which may quote input)."""
    try:
        doc = json.loads(e.read(10_000))
    except (ValueError, OSError):
        return ""
    code = doc.get("error") if isinstance(doc, dict) else None
    return f" ({code})" if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) < 64 else ""


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    end_session_endpoint: Optional[str] = None


def _endpoint(doc: dict, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ProviderError(f"the discovery document has no {key}")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProviderError(f"the discovery document's {key} is not a URL")
    return value


def discover(config: OidcConfig) -> Metadata:
    """The provider's metadata from its discovery document (blocking); raises :class:`ProviderError`."""
    doc = fetch_json(config.issuer + "/.well-known/openid-configuration", config.ca_file)
    if not isinstance(doc, dict):
        raise ProviderError("the discovery document is not a JSON object")
    if doc.get("issuer") != config.issuer:
        raise ProviderError(f"the discovery document names the issuer {str(doc.get('issuer'))[:200]!r}, not "
                            f"{config.issuer!r} (write the issuer exactly as the provider names itself)")
    announced = doc.get("id_token_signing_alg_values_supported", ["RS256"])
    algorithms = tuple(a for a in announced if a in ALGORITHMS) if isinstance(announced, list) else ()
    if not algorithms:
        raise ProviderError(f"the provider announces no ID token signature this runner takes ({', '.join(ALGORITHMS)})")
    end = doc.get("end_session_endpoint")
    return Metadata(config.issuer, _endpoint(doc, "authorization_endpoint"), _endpoint(doc, "token_endpoint"),
                    _endpoint(doc, "jwks_uri"), algorithms, end if isinstance(end, str) else None)


class ProviderKeys:
    """The provider's signing keys, read at start and again when a token names a key they lack
    (at most once every :data:`KEYS_REFRESH_S`). Thread-safe."""

    def __init__(self, fetch: Callable[[], Any], clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: Any = None
        self._read_at: Optional[float] = None

    def load(self) -> Any:
        from joserfc.jwk import KeySet

        doc = self._fetch()
        try:
            keys = KeySet.import_key_set(doc)
        except Exception as e:  # noqa: BLE001 - any malformed key set is the provider's fault
            raise ProviderError(f"the provider's keys (jwks_uri) cannot be read ({type(e).__name__})") from None
        with self._lock:
            self._keys, self._read_at = keys, self._clock()
        return keys

    @property
    def keys(self) -> Any:
        with self._lock:
            return self._keys

    def refresh_due(self) -> bool:
        with self._lock:
            return self._read_at is None or self._clock() - self._read_at >= KEYS_REFRESH_S


def _kid(id_token: str) -> Optional[str]:
    try:
        head = json.loads(base64.urlsafe_b64decode(id_token.split(".", 1)[0] + "==="))
    except (ValueError, IndexError):
        return None
    kid = head.get("kid") if isinstance(head, dict) else None
    return kid if isinstance(kid, str) else None


def validate_id_token(id_token: Any, keys: Any, *, issuer: str, client_id: str, nonce: str, now_s: float,
                      algorithms: tuple[str, ...] = ALGORITHMS) -> dict:
    """The claims of ``id_token`` when every check of the module doc passes; raises
    :class:`IdTokenRefused` naming the check."""
    from joserfc import jwt
    from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
    from joserfc.jwt import JWTClaimsRegistry

    if not isinstance(id_token, str) or id_token.count(".") != 2:
        raise IdTokenRefused("ID_TOKEN_MALFORMED: the ID token is not a signed JWT")
    allowed = [a for a in algorithms if a in ALGORITHMS]
    try:
        token = jwt.decode(id_token, keys, algorithms=allowed)
    except BadSignatureError:
        raise IdTokenRefused("ID_TOKEN_SIGNATURE: the signature is not the provider's key's") from None
    except JoseError as e:
        raise IdTokenRefused(f"ID_TOKEN_SIGNATURE: the token cannot be checked against the provider's keys "
                             f"({e.error})") from None
    except ValueError:
        raise IdTokenRefused("ID_TOKEN_MALFORMED: the ID token does not parse") from None
    if token.header.get("alg") not in allowed:
        raise IdTokenRefused("ID_TOKEN_SIGNATURE: an algorithm this runner does not take")
    claims = token.claims
    registry = JWTClaimsRegistry(now=int(now_s), leeway=LEEWAY_S,
                                 iss={"essential": True, "value": issuer},
                                 aud={"essential": True, "value": client_id},
                                 sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                                 nonce={"essential": True, "value": nonce})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise IdTokenRefused("ID_TOKEN_EXPIRED: the ID token's exp has passed") from None
    except (MissingClaimError, InvalidClaimError) as e:
        claim = e.claim
        raise IdTokenRefused(f"ID_TOKEN_{str(claim).upper()}: the ID token's {claim} claim is missing or not "
                             "this sign-in's") from None
    except JoseError as e:
        raise IdTokenRefused(f"ID_TOKEN_INVALID: {e.error}") from None
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or iat > now_s + LEEWAY_S:
        raise IdTokenRefused("ID_TOKEN_IAT: the ID token was issued in the future")
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise IdTokenRefused("ID_TOKEN_AZP: the ID token names other audiences and its azp is not this client")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise IdTokenRefused("ID_TOKEN_SUB: the ID token names no subject")
    return dict(claims)


class Provider:
    """One provider, discovered (see the module doc): the URLs the flow needs, its keys, the
    code exchanged for an ID token and the token checked."""

    def __init__(self, config: OidcConfig, metadata: Metadata, keys: ProviderKeys):
        self.config = config
        self.metadata = metadata
        self.keys = keys

    @classmethod
    def start(cls, config: OidcConfig) -> "Provider":
        """Discover the provider and read its keys now (blocking); raises :class:`ProviderError`."""
        metadata = discover(config)
        keys = ProviderKeys(lambda: fetch_json(metadata.jwks_uri, config.ca_file))
        keys.load()
        return cls(config, metadata, keys)

    async def exchange(self, code: str, verifier: str) -> str:
        """The ID token the token endpoint gives for ``code`` (off the loop); raises :class:`ProviderError`."""
        cfg = self.config
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": cfg.redirect_uri,
                "code_verifier": verifier}
        headers = {}
        if cfg.client_secret is not None:  # client_secret_basic (RFC 6749 2.3.1: each part form-encoded)
            pair = (urllib.parse.quote(cfg.client_id, safe="") + ":"
                    + urllib.parse.quote(cfg.client_secret.reveal().decode("utf-8"), safe=""))
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        else:
            form["client_id"] = cfg.client_id
        doc = await asyncio.to_thread(fetch_json, self.metadata.token_endpoint, cfg.ca_file, form=form,
                                      headers=headers)
        token = doc.get("id_token") if isinstance(doc, dict) else None
        if not isinstance(token, str):
            raise ProviderError("the token endpoint answered no id_token (is the openid scope allowed?)")
        return token

    async def check(self, id_token: str, nonce: str) -> dict:
        """The ID token's claims, checked; its keys read again once when it names one they lack."""
        now = time.time()
        keys = self.keys.keys
        kid = _kid(id_token)
        if kid is not None and self.keys.refresh_due() and not _has_kid(keys, kid):
            keys = await asyncio.to_thread(self.keys.load)
        return validate_id_token(id_token, keys, issuer=self.config.issuer, client_id=self.config.client_id,
                                 nonce=nonce, now_s=now, algorithms=self.metadata.algorithms)


def _has_kid(keys: Any, kid: str) -> bool:
    return any(getattr(k, "kid", None) == kid for k in getattr(keys, "keys", ()))


__all__ = ["ALGORITHMS", "IdTokenRefused", "Metadata", "Provider", "ProviderError", "ProviderKeys", "discover",
           "fetch_json", "validate_id_token"]
