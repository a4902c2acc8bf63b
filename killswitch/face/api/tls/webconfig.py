"""The web config file of ``ksctl run --web-config-file``: exporter-toolkit's format (Prometheus's
and Alertmanager's ``--web.config.file``), so that an operator's existing file works::

    tls_server_config:
      cert_file: tls.crt            # relative paths: from the file's directory
      key_file: tls.key
      client_ca_file: ca.crt        # mutual TLS: the CA client certificates are verified by
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12            # TLS12 (the default) or TLS13
      max_version: TLS13
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 only, as in Go

What it owns: reading the file into a :class:`WebConfig`, every key checked (an unknown one is
refused with its path, ``file:line:col``, and the key it most resembles; a key exporter-toolkit
has and the runner does not serve, ``basic_auth_users``, ``http_server_config`` ..., is refused
saying so, never ignored), and the values' rules (a certificate and a key; a client CA only with
a client auth type that verifies; TLS 1.0 and 1.1 refused).

Must not: read the certificate or key files (:mod:`.context` does), or hand back a
configuration that would serve plain HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..documents import Where, near, read_yaml_document

MAX_WEB_CONFIG_BYTES = 100_000

# client_auth_type → what the server asks of a client (ssl's verify mode); the two types that
# take a certificate without verifying it cannot be served by Python's TLS and are refused
CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
                     "RequireAndVerifyClientCert")
VERIFYING = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
UNVERIFIED = {
    "RequireAnyClientCert": "a certificate taken without verifying it would identify no one, and the runner's TLS "
                            "cannot take one unverified; use RequireAndVerifyClientCert with client_ca_file",
    "RequireClientCert": "(exporter-toolkit's old name of RequireAnyClientCert) a certificate taken without "
                         "verifying it would identify no one; use RequireAndVerifyClientCert with client_ca_file",
}
VERSIONS = ("TLS12", "TLS13")
OLD_VERSIONS = ("TLS10", "TLS11")

# Go's names of the TLS 1.2 suites (crypto/tls.CipherSuites) → OpenSSL's; the TLS 1.3 suites are
# always on, as in Go, where cipher_suites does not reach them
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
}
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")

TOP_KEYS = ("tls_server_config",)
TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version",
            "cipher_suites", "prefer_server_cipher_suites")
# exporter-toolkit's keys the runner does not serve: refused, saying what to do instead
NOT_SERVED = {
    "basic_auth_users": "the runner's callers authenticate by bearer token or client certificate (the tokens "
                        "document of --api-tokens), not by basic auth",
    "http_server_config": "the runner serves HTTP/1.1 with its own security headers; http2 and headers are not "
                          "configurable",
    "rate_limit": "the runner's own rates apply (--api-write-rate, --api-heartbeat-rate)",
}
TLS_NOT_SERVED = {
    "cert": "write the certificate to a file and name it in cert_file",
    "key": "write the key to a file and name it in key_file",
    "client_ca": "write the CA certificates to a file and name it in client_ca_file",
    "curve_preferences": "the key exchange groups are OpenSSL's defaults",
    "client_allowed_sans": "map a client certificate to an identity in the tokens document (client_cert: "
                           "{san_dns: ...}); a certificate that maps to none is refused",
}


class WebConfigError(ValueError):
    """The web config file cannot be served; the message names the file, where and why."""


@dataclass(frozen=True)
class WebConfig:
    """``tls_server_config`` as the server context is built from it (paths resolved)."""

    path: Path
    cert_file: Path
    key_file: Path
    client_ca_file: Optional[Path] = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()  # Go's names, as written
    prefer_server_cipher_suites: bool = True

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the context is built from (read again when one changes), the config first."""
        return (self.path, self.cert_file, self.key_file, *((self.client_ca_file,) if self.client_ca_file else ()))

    def describe(self) -> str:
        """A line for the log: what is served (never a key)."""
        clients = {"VerifyClientCertIfGiven": f"client certificates verified by {self.client_ca_file} when given",
                   "RequireAndVerifyClientCert": f"a client certificate required, verified by {self.client_ca_file}"
                   }.get(self.client_auth_type, "no client certificate asked")
        low, high = (v[3] + "." + v[4] for v in (self.min_version, self.max_version))
        return f"TLS {low if low == high else f'{low}-{high}'}, certificate {self.cert_file}; {clients}"


def parse_web_config(doc: Any, path: Path) -> WebConfig:
    """A parsed web config document → :class:`WebConfig`; raises :class:`WebConfigError` naming
    the first problem with its key's path."""
    where = Where(path)
    tls = _tls_section({} if doc is None else doc, path, where)
    read = _Reader(tls, path, where)
    cert, key_file = read.file("cert_file"), read.file("key_file")
    for name, value in (("cert_file", cert), ("key_file", key_file)):
        if value is None:
            raise WebConfigError(f"{where.key(doc, 'tls_server_config')}: tls_server_config.{name}: missing: the "
                                 "server needs a certificate and its key")
    assert cert is not None and key_file is not None
    auth, ca = _client_auth(read)
    low, high = _versions(read)
    suites = _suites(read, high)
    prefer = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise WebConfigError(f"{read.at('prefer_server_cipher_suites')}: expected true or false")
    return WebConfig(path, cert, key_file, ca, auth, low, high, suites, prefer)


def _tls_section(doc: Any, path: Path, where: Where) -> dict:
    """``tls_server_config``, every key of the file known (or refused as not served)."""
    if not isinstance(doc, dict):
        raise WebConfigError(f"{path}: expected a mapping with tls_server_config")
    _known_keys(doc, where, "", TOP_KEYS, NOT_SERVED)
    tls = doc.get("tls_server_config")
    if not tls:
        raise WebConfigError(f"{path}: no tls_server_config: the runner would serve plain HTTP (leave "
                             "--web-config-file out to mean that)")
    if not isinstance(tls, dict):
        raise WebConfigError(f"{where.key(doc, 'tls_server_config')}: tls_server_config: expected a mapping")
    _known_keys(tls, where, "tls_server_config.", TLS_KEYS, TLS_NOT_SERVED)
    return tls


def _known_keys(doc: dict, where: Where, prefix: str, known: tuple[str, ...], not_served: dict[str, str]) -> None:
    """Every key of ``doc`` known, or refused at its place: one the runner does not serve with why."""
    for key in doc:
        at = f"{where.key(doc, key)}: {prefix}{key}"
        if key in not_served:
            raise WebConfigError(f"{at}: not served by the runner: {not_served[key]}")
        if key not in known:
            raise WebConfigError(f"{at}: unknown key{near(str(key), (*known, *not_served))}; known: {', '.join(known)}")


class _Reader:
    """The values of ``tls_server_config``, each error placed at its key."""

    def __init__(self, tls: dict, path: Path, where: Where):
        self.tls, self.path, self.where = tls, path, where

    def at(self, key: str) -> str:
        return f"{self.where.key(self.tls, key)}: tls_server_config.{key}"

    def text(self, key: str, default: Optional[str] = None) -> Optional[str]:
        value = self.tls.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise WebConfigError(f"{self.at(key)}: expected a non-empty string")
        return value

    def file(self, key: str) -> Optional[Path]:
        """A path, relative ones from the file's directory (as exporter-toolkit reads them)."""
        value = self.text(key)
        return None if value is None else (self.path.parent / value)


def _client_auth(read: _Reader) -> tuple[str, Optional[Path]]:
    auth = read.text("client_auth_type", "NoClientCert") or "NoClientCert"
    if auth in UNVERIFIED:
        raise WebConfigError(f"{read.at('client_auth_type')}: {auth} is not served: {UNVERIFIED[auth]}")
    if auth not in CLIENT_AUTH_TYPES:
        raise WebConfigError(f"{read.at('client_auth_type')}: {auth!r} is not a client auth type"
                             f"{near(auth, CLIENT_AUTH_TYPES)}; one of {', '.join(CLIENT_AUTH_TYPES)}")
    if auth == "RequestClientCert":  # asked for and never verified: identifies no one; served as NoClientCert
        auth = "NoClientCert"
    ca = read.file("client_ca_file")
    if ca is not None and auth == "NoClientCert":
        raise WebConfigError(f"{read.at('client_ca_file')}: a client CA without a client_auth_type that verifies "
                             "(VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
    if ca is None and auth in VERIFYING:
        raise WebConfigError(f"{read.at('client_auth_type')}: {auth} needs client_ca_file, the CA that client "
                             "certificates are verified by")
    return auth, ca


def _versions(read: _Reader) -> tuple[str, str]:
    versions = []
    for name, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        value = read.text(name, default) or default
        if value in OLD_VERSIONS:
            raise WebConfigError(f"{read.at(name)}: {value} is not served: the runner speaks TLS 1.2 and 1.3 "
                                 f"({', '.join(VERSIONS)})")
        if value not in VERSIONS:
            raise WebConfigError(f"{read.at(name)}: {value!r} is not a TLS version{near(value, VERSIONS)}; one of "
                                 f"{', '.join(VERSIONS)}")
        versions.append(value)
    low, high = versions
    if VERSIONS.index(low) > VERSIONS.index(high):
        raise WebConfigError(f"{read.at('max_version')}: {high} is below min_version {low}")
    return low, high


def _suites(read: _Reader, high: str) -> tuple[str, ...]:
    suites = read.tls.get("cipher_suites") or []
    if not isinstance(suites, list) or not all(isinstance(s, str) for s in suites):
        raise WebConfigError(f"{read.at('cipher_suites')}: expected a list of Go's suite names")
    for i, suite in enumerate(suites):
        if suite not in CIPHER_SUITES and suite not in TLS13_SUITES:
            raise WebConfigError(f"{read.at('cipher_suites')}[{i}]: {suite!r} is not a suite the runner serves"
                                 f"{near(suite, (*CIPHER_SUITES, *TLS13_SUITES))}; one of {', '.join(CIPHER_SUITES)}")
    if suites and high == "TLS12" and all(s in TLS13_SUITES for s in suites):
        raise WebConfigError(f"{read.at('cipher_suites')}: only TLS 1.3 suites, and max_version TLS12: no suite "
                             "would be left")
    return tuple(suites)


def load_web_config(path: str | Path) -> WebConfig:
    """Read the web config file at ``path``; raises :class:`WebConfigError`."""
    p = Path(path)
    doc = read_yaml_document(p, "the web config file", MAX_WEB_CONFIG_BYTES, WebConfigError)
    return parse_web_config(doc, p)


__all__ = ["CIPHER_SUITES", "CLIENT_AUTH_TYPES", "WebConfig", "WebConfigError", "load_web_config",
           "parse_web_config"]
