"""The ccxt adapter: one account on one real venue, behind :class:`adapters.base.ExchangeAdapter`.

What it owns
    the public names of the package: :class:`CcxtAdapter` (its options are its constructor's),
    :func:`default_factory` (the ccxt client it builds by default), :class:`OrderBudget`, the
    error mapping (:func:`reason_for`, :func:`is_reduce_only_rejection`, :func:`scrub`,
    :func:`strict_json`) and the dialect registry (:func:`dialect_for`, :class:`Dialect`).

What it must not do
    import ccxt (about 0.7 s): nothing in this package imports it until a client is built or an
    exception is classified after ccxt is loaded.

The package, bottom up
    ``dialects/``  what differs between venues (one module per venue; a generic default)
    ``parsing``    ccxt's unified structures → snapshot and order types
    ``errors``     exceptions and HTTP answers → reason codes; scrubbing of secrets
    ``budget``     the order budget and ccxt's request pacing
    ``client``     building and configuring one account's ccxt client
    ``calls``      one ccxt call: budget, retries, deadline
    ``markets``    markets loaded once; rules, rounding, spot prices
    ``countdowns`` the venue's dead man's switch, through the dialect's countdown
    ``adapter``    :class:`CcxtAdapter`: snapshot, orders, cancels, countdowns — venue-neutral
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - the names as the type checker sees them
    from .adapter import CcxtAdapter
    from .budget import OrderBudget
    from .client import default_factory
    from .dialects import Dialect, dialect_for
    from .errors import is_reduce_only_rejection, reason_for, scrub, strict_json

# Each public name from the module that owns it, imported when first asked for: a reader of the
# dialects' tables alone (``ksctl validate``'s weight budget) does not pay for the adapter.
_FROM = {"CcxtAdapter": "adapter", "OrderBudget": "budget", "default_factory": "client", "Dialect": "dialects",
         "dialect_for": "dialects", "is_reduce_only_rejection": "errors", "reason_for": "errors", "scrub": "errors",
         "strict_json": "errors"}

__all__ = ["CcxtAdapter", "Dialect", "OrderBudget", "default_factory", "dialect_for", "is_reduce_only_rejection",
           "reason_for", "scrub", "strict_json"]


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
