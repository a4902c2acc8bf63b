"""Building one account's ccxt client.

What it owns
    * the ccxt configuration of an account: ccxt's own rate limiting (on unless the caller turns
      it off), the per-request timeout, the credentials (resolved with
      :func:`adapters.credentials.resolve_secret` and handed to ccxt only: an API key and its secret, or
      a wallet's private key beside its public address), a logger pinned at WARNING, and the
      dialect's client options and the options it reads from the account's credentials;
    * the default factory ``ccxt.async_support.<venue>(config)``, and the streaming one
      ``ccxt.pro.<venue>(config)`` (:func:`pro_factory`), imported lazily;
    * configuring the built client: strict JSON, Keccak in C (:mod:`.keccak`), what the dialect
      prepares, our request pacer in place of ccxt's limiter (:class:`~.budget.RequestPacer`),
      the dialect's order-count endpoints off the weight limit and its reads at the venue's
      weights, the market type, the sandbox, and the ``urls`` override.

What it must not do
    import ccxt at import time, log or return a credential other than in the config ccxt gets,
    or know of any venue but through the dialect.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any, Callable, Mapping, Optional, TypeVar, Union

from ..base import AdapterError, Reason
from ..credentials import Secret, resolve_secret
from .dialects import Dialect
from .errors import adapter_error, strict_json
from .keccak import install as install_keccak, warm as warm_signing
from .tls import share_tls_context

Factory = Callable[[dict], Any]
Urls = Union[str, Mapping[str, Any], None]
T = TypeVar("T")


def client_config(account: Any, dialect: Dialect, *, timeout: float, rate_limit: bool) -> tuple[dict, list[Secret]]:
    """The config dict of ccxt's constructor, and the credentials it carries (kept masked, to
    scrub them from messages). Raises ``AdapterError(AUTH)`` for an unreadable credential."""
    secrets: list[Secret] = []
    config: dict[str, Any] = {
        "enableRateLimit": rate_limit,
        "timeout": int(timeout * 1000),
        "verbose": False,
        "logger": quiet_ccxt_logger(),
        "options": {},
    }
    creds = getattr(account, "credentials", None)
    if creds is not None:
        for ccxt_key, ref in (("apiKey", creds.api_key), ("secret", creds.secret),
                              ("password", creds.password), ("uid", creds.uid),
                              ("privateKey", getattr(creds, "private_key", None))):
            if ref is None:
                continue
            secret: Secret = resolve_secret(ref)
            secrets.append(secret)
            config[ccxt_key] = secret.reveal()
        wallet = getattr(creds, "wallet_address", None)
        if wallet is not None:
            config["walletAddress"] = wallet  # an address: public, not a secret
    config["options"].update(dialect.client_options)
    config["options"].update(dialect.account_options(creds))
    return config, secrets


def _scrubbed(call: Callable[[], T], what: str, *, venue: str, secrets: list[str],
              reason: Optional[Reason] = None) -> T:
    """``call()``; any failure an AdapterError without a credential in it, raised outside the
    ``except`` block so that nothing chains the library's exception."""
    try:
        return call()
    except AdapterError:
        raise
    except Exception as e:  # noqa: BLE001 — reported as a reason, scrubbed
        err = adapter_error(e, what, venue=venue, secrets=secrets, reason=reason)
    raise err


def create_client(factory: Factory, config: dict, *, venue: str, secrets: list[str]) -> Any:
    """``factory(config)``; any failure an AdapterError without a credential in it."""
    return _scrubbed(lambda: factory(config), "create exchange", venue=venue, secrets=secrets)


def configure_client(ex: Any, dialect: Dialect, *, market_type: str, sandbox: bool, urls: Urls,
                     secrets: list[str]) -> None:
    if hasattr(ex, "on_json_response"):
        strict_json(ex)
    share_tls_context(ex)  # (building one per client held the loop at start: tls.py)
    install_keccak()  # a wallet's signatures hashed in C, not on the loop in Python
    warm_signing(ex)  # (and what the first one loads, loaded now: not before a halt's first close)
    dialect.prepare_client(ex)
    dialect.limits.pace(ex)
    # Currencies are never needed, and with keys set Bybit and OKX fetch them from signed wallet
    # endpoints (/v5/asset/coin/query-info, /api/v5/asset/currencies) on every market load: a
    # trade-only key without wallet permission would fail load_markets. ccxt asks its ``has``
    # flag, not an option, so the flag is turned off, on this client only (a copy of its dict).
    has = getattr(ex, "has", None)
    if isinstance(has, dict) and has.get("fetchCurrencies"):
        ex.has = {**has, "fetchCurrencies": False}
    opts = getattr(ex, "options", None)
    if isinstance(opts, dict):
        opts["fetchCurrencies"] = False
        if market_type == "futures":
            if opts.get("defaultType") not in ("future", "swap", "delivery"):
                opts["defaultType"] = "swap"
        else:
            opts["defaultType"] = "spot"
    if sandbox and hasattr(ex, "set_sandbox_mode"):
        _scrubbed(lambda: ex.set_sandbox_mode(True), "sandbox mode", venue=dialect.id, secrets=secrets,
                  reason=Reason.UNSUPPORTED)
    if urls is not None:
        current = getattr(ex, "urls", None)
        if not isinstance(current, dict):
            current = {}
        if isinstance(urls, str):
            current["api"] = _rehost(current.get("api", {}), urls.rstrip("/"))
        else:
            _deep_merge(current, urls)
        ex.urls = current


def quiet_ccxt_logger() -> logging.Logger:
    """ccxt writes request headers (the API key among them) at DEBUG: give it a logger of its
    own pinned at WARNING."""
    lg = logging.getLogger(f"{__package__}.ccxt")
    lg.setLevel(logging.WARNING)
    return lg


def default_factory(venue: str) -> Factory:
    """``config → ccxt.async_support.<venue>(config)``; UNSUPPORTED for an id ccxt does not know."""
    return _factory(venue, "ccxt.async_support", "ccxt")


def pro_factory(venue: str) -> Factory:
    """``config → ccxt.pro.<venue>(config)``: the streaming client of the venue (ccxt's
    websocket API beside its REST one); UNSUPPORTED for an id ccxt.pro does not know."""
    return _factory(venue, "ccxt.pro", "ccxt.pro")


def _factory(venue: str, module: str, said: str) -> Factory:
    """``config → <module>.<venue>(config)``, the module imported at the first build (ccxt is
    slow to import); UNSUPPORTED, saying ``said`` has no such exchange, for an id it lacks."""

    def build(config: dict) -> Any:
        cls = getattr(importlib.import_module(module), venue, None)
        if cls is None or not isinstance(cls, type):
            raise AdapterError(Reason.UNSUPPORTED, f"{said} has no exchange {venue!r}", venue=venue)
        return cls(config)

    return build


_HOST_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+", re.I)
_WS_SCHEMES = {"http": "ws", "https": "wss"}


def _rehost(api: Any, base: str) -> Any:
    """Every URL of ccxt's ``urls['api']`` moved onto ``base`` (scheme and host), path kept; a
    websocket URL (``wss://``) keeps to websockets: ``ws://`` onto an ``http://`` base, ``wss://``
    onto an ``https://`` one."""
    if isinstance(api, str):
        if not _HOST_RE.match(api):
            return api
        scheme, sep, rest = base.partition("://")
        if api.lower().startswith(("ws://", "wss://")) and scheme.lower() in _WS_SCHEMES:
            base = _WS_SCHEMES[scheme.lower()] + sep + rest
        return _HOST_RE.sub(base, api, count=1)
    if isinstance(api, dict):
        return {k: _rehost(v, base) for k, v in api.items()}
    return api


def _deep_merge(into: dict, extra: Mapping) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _deep_merge(into[k], v)
        else:
            into[k] = dict(v) if isinstance(v, Mapping) else v
