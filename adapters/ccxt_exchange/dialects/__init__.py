"""The registry of venue dialects: ccxt exchange id → :class:`~.base.Dialect`.

What it owns
    which ccxt ids have a dialect of their own (:data:`DIALECTS`, the dialect modules of the
    venue packages, ``adapters/venues/<venue>/``, in their registry order: Binance, Bybit, OKX,
    Hyperliquid, Bitget, Kraken Futures, MEXC, Kraken — each package's ``ORDER``), the generic
    dialect every other id gets (:func:`dialect_for`), and :data:`KNOWN_RAW_FIELDS`, the reader of
    the venues' raw answers.

    Raw answers are read with every registered venue's fields, in registry order, whatever the
    account's venue: that is how the adapter has always read them, ccxt's ``info`` is one venue's
    own body (it never carries another venue's field), and an id without a dialect of its own
    often answers in one of those shapes. Reading a venue by its own fields only would be a change
    of behaviour of its own (parsing takes any :class:`~..parsing.RawFields`, a dialect included).

    The registry is built when first read (:data:`DIALECTS`, :data:`KNOWN_RAW_FIELDS` or any
    function here), not when this package is imported: a venue's dialect module imports
    :mod:`.base` from here, and may be the first module a process imports.

What it must not do
    hold venue knowledge itself (that is each venue's package), name a venue, or import ccxt.

Adding a venue
    1. Make its folder ``adapters/venues/<venue>/`` (:mod:`adapters.venues`): an ``__init__``
       of plain data (its ``ORDER``, ``CCXT_IDS``, ``DIALECT`` = the module's name, ...) and
       ``dialect.py``: a :class:`~.base.Dialect` subclass overriding what the venue
       does differently (client order id key and length, hedge-mode leg, raw leg and equity
       fields and close-only order fields — read through :data:`KNOWN_RAW_FIELDS` —, lookup by
       client order id, its
       countdown endpoint, credential headers, reduce-only refusal texts, the ccxt options an
       account's credentials give and what its ccxt client must not send of its own accord),
       one instance per ccxt id it serves, and ``DIALECTS``. A venue whose client order ids
       have a form of their own maps the engine's ids to it both ways in the dialect
       (Hyperliquid's cloids), so that an order is still found by the engine's id.
    2. Write its contract rows (``contract.py``, one per ccxt id); the contract fails for a
       registered id without a row and for a row without a dialect. The same module gives the
       venue's documented refusals (``REFUSALS``) and the builders of its cancel answers
       (``CANCEL_ANSWERS``, ``CANCEL_NOT_SENT``), which the tests find through the registry.
    The dialect's ``limits`` (:class:`~.limits.Limits`, declared once in its module and read by
    its contract rows) are the venue's order budget: the adapter's, and the planner's spacing of
    the venue's closes (the runner hands the planner its adapters' rates), and its request pacing.
    Nothing else changes: the adapter and the parsing code never name a venue.

    A ccxt id without a module of its own gets the generic dialect, at the rate of
    :data:`GENERIC_ORDER_RATES` when it is listed there, else :data:`~.base.DEFAULT_ORDER_RATE`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Mapping, Optional

from ...registry import parts
from .base import DEFAULT_ORDER_RATE, CancelAnswer, Countdown, Dialect
from .limits import Limits

if TYPE_CHECKING:  # built when first read (module __getattr__ below)
    DIALECTS: dict[str, Dialect]
    KNOWN_RAW_FIELDS: KnownRawFields


@functools.cache
def _dialects() -> dict[str, Dialect]:
    """ccxt id → its dialect, every venue package's ``DIALECTS`` in registry order; a package's
    ``CCXT_IDS`` must be what its module registers."""
    out: dict[str, Dialect] = {}
    for part in parts("DIALECT"):
        ids = tuple(d.id for d in part.module.DIALECTS)
        declared = tuple(part.package.CCXT_IDS)
        if ids != declared:
            raise ImportError(f"adapters/venues/{part.venue}: CCXT_IDS {declared} but its dialects are {ids}")
        out.update((d.id, d) for d in part.module.DIALECTS)
    return out

# Orders per second of ccxt ids served by the generic dialect whose limits we know, below them.
GENERIC_ORDER_RATES: dict[str, float] = {}


def order_rate(exchange_id: str) -> float:
    """The order rate of a ccxt id's dialect, by name alone: for what evaluates a venue without an
    adapter for it (a replay of a recording that does not say its rates)."""
    return dialect_for(exchange_id).limits.orders


def quote_currency(account: Any) -> str:
    """An account's quote currency: the one its Accounts document declares, else its venue's
    (:attr:`.base.Dialect.quote_currency`)."""
    return getattr(account, "quote_currency", None) or dialect_for(account.venue).quote_currency


def dialect_for(exchange_id: str) -> Dialect:
    """The dialect of a ccxt exchange id: its own, else the generic one (ccxt's unified forms)."""
    known = _dialects().get(exchange_id)
    if known is not None:
        return known
    return Dialect(id=exchange_id, limits=Limits(GENERIC_ORDER_RATES.get(exchange_id, DEFAULT_ORDER_RATE)))


class KnownRawFields:
    """Reads a raw answer with the fields of ``shapes`` (one dialect per venue), first found wins."""

    def __init__(self, shapes: tuple[Dialect, ...]):
        self.shapes = shapes

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        for d in self.shapes:
            side = d.position_side(info)
            if side is not None:
                return side
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [c for d in self.shapes for c in d.equity_candidates(info)]

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        return any(d.closes_position(info) for d in self.shapes)

    def position_number(self, info: Mapping[str, Any], name: str) -> Any:
        for d in self.shapes:
            value = d.position_number(info, name)
            if value is not None:
                return value
        return None


@functools.cache
def _known_raw_fields() -> KnownRawFields:
    # one dialect per venue module (the ids of one venue share its fields), in registry order
    return KnownRawFields(tuple({type(d): d for d in _dialects().values()}.values()))


def __getattr__(name: str) -> Any:
    if name == "DIALECTS":
        return _dialects()
    if name == "KNOWN_RAW_FIELDS":
        return _known_raw_fields()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def secret_headers() -> tuple[str, ...]:
    """Every registered venue's credential headers, each once, in registry order."""
    return tuple(dict.fromkeys(h for d in _dialects().values() for h in d.secret_headers))


def reduce_only_rejections() -> tuple[str, ...]:
    """Every registered venue's reduce-only refusal patterns, each once, in registry order."""
    return tuple(dict.fromkeys(p for d in _dialects().values() for p in d.reduce_only_rejections))


__all__ = ["DEFAULT_ORDER_RATE", "DIALECTS", "GENERIC_ORDER_RATES", "KNOWN_RAW_FIELDS", "CancelAnswer", "Countdown",
           "Dialect", "KnownRawFields", "Limits", "dialect_for", "order_rate", "quote_currency",
           "reduce_only_rejections", "secret_headers"]
