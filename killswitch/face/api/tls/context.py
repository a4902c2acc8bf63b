"""The API's server-side TLS context, built from the web config file (:mod:`.webconfig`) and
built again when a file it was made from changes.

What it owns: :func:`build_context` — an :class:`ssl.SSLContext` from a :class:`WebConfig`, each
file checked first so that a missing, unreadable or wrong one is said by name and by what is
wrong with it (no such file, not a PEM certificate, the key not the certificate's), never
OpenSSL's bare "PEM lib"; and :class:`LiveTls` — the context new connections are handshaken
with, looked at again at most once a :data:`CHECK_EVERY_S` (the config file, certificate, key and
CA's stat: a Kubernetes Secret updated in place swaps its files whole), rebuilt whole when one
changed. Connections already open keep the context they were made with: nothing is dropped. A
change that cannot be served (the key written before its certificate, a file half copied)
changes nothing: the context in force stays and an ERROR line says why, once per change.

Must not: log a key's content, serve plain HTTP in place of a context it cannot build, or
block its caller longer than a build takes.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .webconfig import CIPHER_SUITES, WebConfig, WebConfigError, load_web_config

log = logging.getLogger("killswitch.face.api")

CHECK_EVERY_S = 1.0  # the files' stat looked at, at most this often, as connections come
_MAX_PEM_BYTES = 1_000_000
_PROTOCOLS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


def _read(path: Path, what: str, key: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WebConfigError(f"{key} {path}: no such file ({what})") from None
    except IsADirectoryError:
        raise WebConfigError(f"{key} {path}: a directory, not a file ({what})") from None
    except OSError as e:
        raise WebConfigError(f"{key} {path}: cannot read it ({e.strerror or type(e).__name__})") from None
    if len(data) > _MAX_PEM_BYTES:
        raise WebConfigError(f"{key} {path}: larger than {_MAX_PEM_BYTES} bytes")
    return data


def build_context(config: WebConfig) -> ssl.SSLContext:
    """The server context ``config`` says; raises :class:`WebConfigError` naming the file and
    what is wrong with it."""
    cert = _read(config.cert_file, "the server's certificate", "cert_file")
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise WebConfigError(f"cert_file {config.cert_file}: not a PEM certificate (no BEGIN CERTIFICATE)")
    key = _read(config.key_file, "the certificate's private key", "key_file")
    if b"PRIVATE KEY-----" not in key:
        raise WebConfigError(f"key_file {config.key_file}: not a PEM private key (no BEGIN ... PRIVATE KEY)")
    if b"ENCRYPTED" in key.split(b"-----END", 1)[0]:
        raise WebConfigError(f"key_file {config.key_file}: the key is encrypted; the runner reads an unencrypted "
                             "key (keep it in a Secret)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _PROTOCOLS[config.min_version]
    ctx.maximum_version = _PROTOCOLS[config.max_version]
    if config.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])  # what aiohttp serves: a client offering h2 is told so
    try:
        ctx.load_cert_chain(str(config.cert_file), str(config.key_file), password=_no_password)
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            raise WebConfigError(f"key_file {config.key_file}: not the key of the certificate in cert_file "
                                 f"{config.cert_file}") from None
        raise WebConfigError(f"cert_file {config.cert_file}, key_file {config.key_file}: cannot be loaded "
                             f"({e.reason or e.__class__.__name__})") from None
    except OSError as e:  # changed under us between the reads
        raise WebConfigError(f"cert_file {config.cert_file}: cannot read it ({e.strerror or type(e).__name__})") \
            from None
    except TypeError:  # the password callback was asked: an encrypted key
        raise WebConfigError(f"key_file {config.key_file}: the key is encrypted; the runner reads an unencrypted "
                             "key") from None
    if config.client_ca_file is not None:
        ca = _read(config.client_ca_file, "the CA client certificates are verified by", "client_ca_file")
        if b"-----BEGIN CERTIFICATE-----" not in ca:
            raise WebConfigError(f"client_ca_file {config.client_ca_file}: no PEM certificate in it")
        try:
            ctx.load_verify_locations(cafile=str(config.client_ca_file))
        except (ssl.SSLError, OSError) as e:
            raise WebConfigError(f"client_ca_file {config.client_ca_file}: cannot be loaded "
                                 f"({getattr(e, 'reason', None) or e.__class__.__name__})") from None
        ctx.verify_mode = ssl.CERT_REQUIRED if config.client_auth_type == "RequireAndVerifyClientCert" \
            else ssl.CERT_OPTIONAL
    suites = [CIPHER_SUITES[s] for s in config.cipher_suites if s in CIPHER_SUITES]
    if suites:
        try:
            ctx.set_ciphers(":".join(suites))
        except ssl.SSLError:
            raise WebConfigError(f"{config.path}: tls_server_config.cipher_suites: none of them is available in "
                                 "this OpenSSL") from None
    return ctx


def _no_password() -> str:
    raise TypeError("encrypted key")


def _stat(path: Path) -> Optional[tuple]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


class LiveTls:
    """The context of the web config file at ``path``, read again when one of its files changes
    (see the module doc). :meth:`load` reads it at start: an error there raises; later, an
    error keeps the context in force (said through ``err``). ``echo``: the log's INFO."""

    def __init__(self, path: str | Path, *, echo: Callable[[str], None] = log.info,
                 err: Callable[[str], None] = log.error, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.echo = echo
        self.err = err
        self.check_every_s = check_every_s
        self.clock = clock
        self.config: Optional[WebConfig] = None
        self._context: Optional[ssl.SSLContext] = None
        self._seen: tuple = ()
        self._checked = float("-inf")
        self._lock = threading.Lock()  # one rebuild at a time, whichever thread asks
        self.in_force = True  # the last change was served (False: the files are not what is served)
        self.reloads = 0  # contexts put in force after the first
        self.failed = 0  # changes that could not be served
        self.handshakes_failed = 0  # clients whose handshake failed (counted by the API's listener)

    def load(self) -> WebConfig:
        """(at start) Read the file and build the context; raises :class:`WebConfigError`."""
        config = load_web_config(self.path)
        seen = self._stat(config)
        self._context, self.config, self._seen = build_context(config), config, seen
        self._checked = self.clock()
        return config

    def _stat(self, config: Optional[WebConfig]) -> tuple:
        files = config.files if config is not None else (self.path,)
        return tuple((str(f), _stat(f)) for f in files)

    def context(self) -> ssl.SSLContext:
        """The context a new connection is handshaken with: rebuilt first when a file changed."""
        now = self.clock()
        if now - self._checked >= self.check_every_s:
            with self._lock:
                if now - self._checked >= self.check_every_s:
                    self._checked = now
                    if self._stat(self.config) != self._seen:
                        self.reload("a file changed")
        assert self._context is not None, "LiveTls.load() first"
        return self._context

    def reload(self, why: str) -> bool:
        """Read the file and its certificates again; put the new context in force, or keep the
        one in force and say why. Whether the new one is in force."""
        self._seen = self._stat(self.config)
        try:
            config = load_web_config(self.path)
            seen = self._stat(config)
            context = build_context(config)
        except WebConfigError as e:
            self.failed += 1
            self.in_force = False
            self.err(f"ksctl run: TLS RELOAD FAILED ({why}): {e}; the certificate in force stays for new "
                     "connections")
            return False
        self._context, self.config, self._seen = context, config, seen
        self.reloads += 1
        self.in_force = True
        self.echo(f"ksctl run: TLS reloaded ({why}): {config.describe()}; open connections keep theirs")
        return True


class TlsMetrics:
    """The API's TLS on ``/metrics``: the families are declared by every runner, with samples
    only when it serves TLS (``tls``), so that a rule over them names families that exist either
    way. Read from another thread: each value is one int read."""

    def __init__(self, tls: Optional[LiveTls]):
        self.tls = tls

    def collect_metrics(self, registry: Any) -> None:
        reloads = registry.sampled("killswitch_api_tls_reloads_total", "counter",
                                   "Changes of the web config file or its certificates, by result: served (the "
                                   "next handshakes use them) or failed (the certificate in force stays).",
                                   ("result",))
        failed = registry.sampled("killswitch_api_tls_handshakes_failed_total", "counter",
                                  "TLS handshakes of the API that failed: a client that does not trust the "
                                  "certificate, sends none where one is required or one from another CA, or speaks "
                                  "too old a TLS.")
        in_force = registry.sampled("killswitch_api_tls_in_force", "gauge",
                                    "1 while the certificate served is the files' current one; 0 after a change "
                                    "that could not be served (TLS RELOAD FAILED). No sample without TLS.")
        tls = self.tls
        if tls is None:
            return
        reloads.add(tls.reloads, result="served")
        reloads.add(tls.failed, result="failed")
        failed.add(tls.handshakes_failed)
        in_force.add(int(tls.in_force))


__all__ = ["CHECK_EVERY_S", "LiveTls", "TlsMetrics", "build_context"]
