"""ccxt's exceptions and the venues' HTTP answers → :class:`adapters.base.AdapterError` reason codes.

What it owns
    * :func:`reason_for`: the :class:`adapters.base.Reason` of any exception an operation can meet
      (ccxt's hierarchy, timeouts, malformed JSON, structures the snapshot cannot use);
    * :func:`is_reduce_only_rejection`: a venue's "reduce-only order refused" answer, from the
      patterns every registered dialect declares;
    * :func:`scrub` and :func:`adapter_error`: every message the adapter raises or reports, without
      the credentials, signatures or credential headers of any venue, cut to a readable length,
      never chained to the original exception;
    * :func:`strict_json`: a body that does not parse is ccxt's ``BadResponse``, never a value.

What it must not do
    import ccxt at import time (it costs ~0.7 s: no ccxt exception can exist before ccxt is
    imported, so :func:`reason_for` looks at ``sys.modules`` first), or know of any venue but
    through the dialect registry.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any, Iterable, Mapping, Optional

from pydantic import ValidationError

from ..base import AdapterError, Reason, VenueRefusal
from . import dialects
from .parsing import BadData, num

MAX_MESSAGE = 600

_SECRET_WORDS = ("signature", "sign", "apikey", "api_key", "api-key", "secret", "secretkey", "password", "passphrase")
_SECRET_PARAM_RE = re.compile(
    r"(?i)\b(" + "|".join(_SECRET_WORDS + dialects.secret_headers()) + ")"
    r"""(["']?\s*[=:]\s*["']?)([^&\s"',}]+)"""
)

# matched whatever venue the account is on: reason_for takes an exception alone, and no venue's
# refusal text means anything else on another
_REDUCE_ONLY_PATTERNS = [re.compile(p, re.I) for p in dialects.reduce_only_rejections()]


def scrub(text: object, secrets: Iterable[str] = ()) -> str:
    """``text`` as a string without any of ``secrets`` and without ``signature=…``-style values;
    cut to a readable length."""
    s = str(text)
    for value in sorted({v for v in secrets if v and len(v) >= 4}, key=len, reverse=True):
        s = s.replace(value, "****")
    s = _SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}****", s)
    if len(s) > MAX_MESSAGE:
        s = s[:MAX_MESSAGE] + "…"
    return s


def is_reduce_only_rejection(message: str) -> bool:
    """Whether a venue's error message says it refused a reduce-only order (Binance -2022,
    Bybit 110017, OKX 51169/51170 and their texts). A permission limit such as "you can only
    place reduce-only orders" is not one."""
    return any(p.search(message) for p in _REDUCE_ONLY_PATTERNS)


def _ccxt():
    import ccxt  # lazy: about 0.7 s

    return ccxt


def reason_for(exc: BaseException) -> Reason:
    """The reason code of any exception an operation can meet.

    ccxt's hierarchy is walked most specific first (``OrderNotFound`` is an ``InvalidOrder``;
    ``RequestTimeout`` and ``RateLimitExceeded`` are ``NetworkError``\\ s)."""
    if isinstance(exc, AdapterError):
        return exc.reason
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Reason.TIMEOUT
    if isinstance(exc, (json.JSONDecodeError, BadData, ValidationError)):
        return Reason.BAD_RESPONSE  # malformed JSON, or a structure without what the snapshot needs
    if "ccxt" not in sys.modules:  # no ccxt exception can exist yet
        return Reason.EXCHANGE_UNAVAILABLE if isinstance(exc, ConnectionError) else Reason.UNKNOWN
    return _ccxt_reason(exc)


def _ccxt_reason(exc: BaseException) -> Reason:
    """The reason code of a ccxt exception, the first class of the table it is (most specific
    first; an exchange error whose message is a reduce-only refusal before an invalid order);
    any other exception (a connection refused) is the exchange's being unavailable, or unknown."""
    e = _ccxt()
    for classes, reason in (
            (e.OrderNotFound, Reason.ORDER_NOT_FOUND),
            (e.AuthenticationError, Reason.AUTH),  # PermissionDenied, AccountSuspended, AccountNotEnabled
            (e.InsufficientFunds, Reason.INSUFFICIENT_MARGIN),
            ((e.RateLimitExceeded, e.DDoSProtection), Reason.RATE_LIMITED),
            (e.RequestTimeout, Reason.TIMEOUT),
            (e.NetworkError, Reason.EXCHANGE_UNAVAILABLE),  # ExchangeNotAvailable, OnMaintenance, InvalidNonce, ...
            (e.BadResponse, Reason.BAD_RESPONSE),  # NullResponse
            (e.BadSymbol, Reason.UNKNOWN_SYMBOL),
            (e.ExchangeError if is_reduce_only_rejection(str(exc)) else (), Reason.REDUCE_ONLY_REJECTED),
            (e.InvalidOrder, Reason.INVALID_ORDER),
            (e.NotSupported, Reason.UNSUPPORTED),
            (ConnectionError, Reason.EXCHANGE_UNAVAILABLE)):
        if isinstance(exc, classes):
            return reason
    return Reason.UNKNOWN


def is_network(exc: BaseException) -> bool:
    """A ccxt network error: the only kind a read or a cancel is retried on."""
    return "ccxt" in sys.modules and isinstance(exc, _ccxt().NetworkError)


# what ccxt's classification of a venue's refusal may be put in place of by the venue's own
# table: a refusal it could not place (UNKNOWN) or placed among the refusals. A network, timeout,
# rate-limit or authentication failure keeps ccxt's reason (the executor reads an order's outcome
# as unknown on those), whatever the body says.
REFINED = frozenset({Reason.UNKNOWN, Reason.INVALID_ORDER, Reason.REDUCE_ONLY_REJECTED, Reason.INSUFFICIENT_MARGIN,
                     Reason.UNKNOWN_SYMBOL})


def refined(reason: Reason, refusal: Optional[VenueRefusal]) -> Reason:
    """``reason`` as the venue's refusal table says it, where it may (:data:`REFINED`)."""
    if refusal is None or reason not in REFINED:
        return reason
    try:
        mapped = Reason(refusal.reason)
    except ValueError:
        return reason
    if mapped is Reason.VENUE_REFUSED and reason is not Reason.UNKNOWN:
        return reason  # ccxt placed a code the table lacks: its class stands, the code is kept beside it
    return mapped


def adapter_error(exc: BaseException, what: str, *, venue: str, secrets: Iterable[str],
                  reason: Optional[Reason] = None, retry_after_s: Optional[float] = None,
                  refusal: Optional[VenueRefusal] = None) -> AdapterError:
    """``exc`` met while doing ``what``, as a scrubbed AdapterError (raise it outside the
    ``except`` block, so that nothing chains the original); ``refusal``: the venue's own code and
    message, which also refine the reason (:func:`refined`)."""
    secrets = list(secrets)
    if isinstance(exc, AdapterError):
        return AdapterError(exc.reason, scrub(exc.message, secrets), venue=venue, retry_after_s=exc.retry_after_s,
                            refusal=exc.refusal)
    r = refined(reason or reason_for(exc), refusal)
    detail = str(exc) or type(exc).__name__
    msg = scrub(f"{what}: {type(exc).__name__}: {detail}", secrets)
    return AdapterError(r, msg, venue=venue, retry_after_s=retry_after_s, refusal=refusal)


def retry_after(headers: object) -> Optional[float]:
    """The seconds of a ``Retry-After`` header, if the last answer had one."""
    if not isinstance(headers, Mapping):
        return None
    for k, v in headers.items():
        if str(k).lower() == "retry-after":
            return num(v)
    return None


def strict_json(exchange: Any) -> Any:
    """Make a ccxt instance raise ``ccxt.BadResponse`` on a body that does not parse as JSON.

    Stock ccxt swallows the parse error and hands the raw text on: ``fetch_positions`` then
    returns ``[]`` — a cut-off answer read as "flat", the worst mistake a kill switch can make."""

    def loads(text: str) -> Any:
        import ccxt

        try:
            return json.loads(text)
        except ValueError:
            raise ccxt.BadResponse(f"{getattr(exchange, 'id', 'exchange')} answered malformed JSON") from None

    exchange.on_json_response = loads
    return exchange
