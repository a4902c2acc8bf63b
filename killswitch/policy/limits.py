"""Pre-trade limits of a policy (``spec.limits``), as pydantic models: what the pre-trade gate
(``POST /v1/check-order``) and the venue watch refuse, in the terms of ESMA RTS 6 (Art. 15) and
SEC 15c3-5.

Per symbol (a default for every symbol, and ``symbols:`` entries that override it):
``max_order_notional`` and ``max_order_quantity`` (one order's value in the quote currency, and
its amount in contracts), ``price_collar`` (a limit price further than this fraction from the
mark is refused), ``max_position_notional`` (the position an order acts on, with its resting
entry orders and the order) and ``max_open_orders_per_symbol``. Per scope instance:
``max_open_orders``, ``max_gross_notional`` (the instance's positions and resting entry orders,
with the order). Per strategy: ``message_rate`` (a token bucket:
``per_second`` and ``burst``). ``mark_max_age`` bounds how old a mark may be and still value an
order or place a collar (``NO_MARK`` past it).

Units are checked here, each with its own code: a value whose unit does not fit (a notional
written as a percentage, a collar written as a price, a quantity with a percent sign) is KS265;
a value out of range (zero or negative, a collar of 100 % or more, a burst under one message)
is KS266. A ``symbols:`` entry on a symbol the venue does not list is KS267, said where the
venues' symbol lists are known (``ksctl plan`` over live accounts).

Pure: no I/O. (No ``from __future__ import annotations``: pydantic reads the annotations as the
classes are made, as in :mod:`.model`.)
"""

from decimal import Decimal
from typing import Annotated, Any, Optional, Self

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from .registry import Strict
from .time_intervals.model import Windowed
from .units import (
    AMOUNT_PATTERN,
    PERCENT_PATTERN,
    Amount,
    Duration,
    DurationField,
    Ratio,
    checked,
    parse_amount,
    parse_ratio,
    shown,
    unit_validator,
)

UNIT = "ks_limit_unit"  # KS265
RANGE = "ks_limit"  # KS266
DEFAULT_MARK_MAX_AGE = Duration(30_000)
MAX_RATE = 10_000.0  # messages a second: past any venue's order rate
MAX_COUNT = 1_000_000


def _unit(message: str, hint: str) -> PydanticCustomError:
    return PydanticCustomError(UNIT, message, {"ks_hint": hint})


def _range(message: str, hint: str) -> PydanticCustomError:
    return PydanticCustomError(RANGE, message, {"ks_hint": hint})


def _is_percent(value: Any) -> bool:
    return isinstance(value, str) and value.strip().endswith("%")


_amount = unit_validator(parse_amount, "ks_amount")
_contracts = unit_validator(parse_amount, "ks_amount", "write a number such as 5 or 0.25")
_ratio = unit_validator(parse_ratio, "ks_percent")


def _above_zero(a: Amount) -> Amount:
    if a.exact <= 0:
        raise _range(f"{a} is not above 0", "a limit of 0 or less refuses every order; leave the key out "
                                            "for no limit")
    return a


def _notional(value: Any) -> Amount:
    """An amount in the quote currency, above 0; a percentage is a unit that does not fit."""
    if _is_percent(value):
        raise _unit(f'"{shown(value)}" is a percentage; a notional is an amount in the quote currency',
                    "write an amount such as 50000, 50k or 1.5M")
    return _above_zero(_amount(value))


def _quantity(value: Any) -> Decimal:
    """An amount in contracts (the unit of an order's ``amount``), above 0."""
    if _is_percent(value):
        raise _unit(f'"{shown(value)}" is a percentage; a quantity is a number of contracts',
                    "write a number such as 5 or 0.25 (the order's amount, in contracts)")
    if isinstance(value, str) and value.strip()[-1:].isalpha():
        raise _unit(f'"{shown(value)}" has a unit; a quantity is a number of contracts',
                    "write a bare number such as 5 or 0.25")
    return _above_zero(_contracts(value)).exact


def _collar(value: Any) -> Ratio:
    """A fraction of the mark: above 0 % and below 100 %."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1:
        raise _unit(f"{value} reads as a price; a collar is a fraction of the mark",
                    "write it as a percentage of the mark, such as 5%")
    r = _ratio(value)
    if r.exact <= 0:
        raise _range(f"a price collar of {r} refuses every priced order", "write a collar above 0%, such as 5%")
    if r.exact >= 1:
        raise _range(f"a price collar of {r} lets a limit price reach 0 or double the mark",
                     "a collar is below 100%; RTS 6 collars are a few percent, such as 5%")
    return r


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if _is_percent(value):
            raise _unit(f'"{shown(value)}" is a percentage; this limit counts orders',
                        "write a whole number such as 50")
        raise _unit(f"{shown(value)} is not a whole number of orders", "write a whole number such as 50")
    if not 1 <= value <= MAX_COUNT:
        raise _range(f"{value} is out of range", f"write a whole number from 1 to {MAX_COUNT:,}")
    return value


_AMOUNT_SCHEMA = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": AMOUNT_PATTERN}],
                  "examples": [50000, "50k"]}
NotionalField = Annotated[Amount, BeforeValidator(_notional), PlainSerializer(str, return_type=str),
                          WithJsonSchema(_AMOUNT_SCHEMA)]
QuantityField = Annotated[Decimal, BeforeValidator(_quantity), PlainSerializer(lambda d: float(d), return_type=float),
                          WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "examples": [5, 0.25]})]
CollarField = Annotated[Ratio, BeforeValidator(_collar), PlainSerializer(str, return_type=str),
                        WithJsonSchema({"anyOf": [{"type": "string", "pattern": PERCENT_PATTERN},
                                                  {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}],
                                        "examples": ["5%", 0.05]})]
CountField = Annotated[int, BeforeValidator(_count),
                       WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "examples": [50]})]


class SymbolLimits(Strict):
    """The limits of one symbol, over the policy's defaults (a key left out keeps the default)."""

    max_order_notional: Optional[NotionalField] = None
    max_order_quantity: Optional[QuantityField] = None
    max_position_notional: Optional[NotionalField] = None
    price_collar: Optional[CollarField] = None
    max_open_orders: Optional[CountField] = None


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = "write messages a second as a number, such as 10 (or 0.5 for one every 2 s)"
        if isinstance(value, str):
            raise _unit(f'"{shown(value)}" is not a number of messages a second', hint)
        raise _unit("per_second is a number of messages a second", hint)
    if not 0 < value <= MAX_RATE:
        raise _range(f"{value} messages a second is out of range", f"write a rate above 0 and at most {MAX_RATE:g}")
    return float(value)


class MessageRate(Strict):
    """Order messages a strategy may send: a token bucket refilled at ``per_second`` up to
    ``burst`` (default: one second's worth, at least 1). Each order the gate allows takes one."""

    per_second: Annotated[float, BeforeValidator(_rate),
                          WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE})]
    burst: Optional[CountField] = None

    @property
    def bucket(self) -> int:
        return self.burst if self.burst is not None else max(1, int(self.per_second + 0.999999))


DEFAULT_OVERRIDE_DURATION = Duration(3_600_000)
MAX_OVERRIDE_APPROVALS = 5


class OverridePolicy(Strict):
    """How an override of these limits is bounded (``ksctl override``): ``max_duration``, the
    longest expiry one may ask (default 1h, at most 24h), and ``approvals``, how many people it
    needs, the requester counted (default 2: the requester and an approver, never the same)."""

    max_duration: Annotated[DurationField, checked(
        lambda d: 60_000 <= d.ms <= 86_400_000, RANGE, "override max_duration {got} is out of range",
        "write a duration from 1m to 24h, such as 1h")] = Field(
        default=DEFAULT_OVERRIDE_DURATION, description="the longest expiry an override may ask (default 1h)")
    approvals: Annotated[int, Field(default=2, ge=2, le=MAX_OVERRIDE_APPROVALS,
                                    description="people an override needs, its requester counted (default 2)")]


# the keys of spec.limits that are no limit themselves: settings of the others, and how they are overridden
LIMIT_SETTINGS = ("mark_max_age", "symbols", "during", "outside", "override")


class Limits(Windowed):
    """Pre-trade limits of every scope instance the policy selects, answered by the pre-trade gate.

    Per symbol (a default, and ``symbols:`` entries over it): ``max_order_notional`` (quote
    currency), ``max_order_quantity`` (contracts), ``price_collar`` (a limit price beyond mark ×
    (1 ± collar) is refused), ``max_position_notional`` (the position with its resting entry
    orders and the order), ``max_open_orders_per_symbol``. Per scope instance:
    ``max_open_orders``, ``max_gross_notional`` (positions and resting entry orders, with the
    order). Per strategy: ``message_rate``. A mark older than
    ``mark_max_age`` (default 30s) is no mark: an order that needs one is refused (NO_MARK).
    ``during:`` / ``outside:`` named time intervals: the limits are in force only then."""

    max_order_notional: Optional[NotionalField] = None
    max_order_quantity: Optional[QuantityField] = None
    max_position_notional: Optional[NotionalField] = None
    price_collar: Optional[CollarField] = None
    max_open_orders_per_symbol: Optional[CountField] = None
    max_open_orders: Optional[CountField] = None
    max_gross_notional: Optional[NotionalField] = None
    message_rate: Optional[MessageRate] = None
    mark_max_age: Annotated[DurationField, checked(
        lambda d: 1_000 <= d.ms <= 3_600_000, RANGE, "mark_max_age {got} is out of range",
        "write a duration from 1s to 1h, such as 30s")] = Field(
        default=DEFAULT_MARK_MAX_AGE, description="how old a mark may be and still value an order (default 30s)")
    symbols: dict[Annotated[str, Field(min_length=1, max_length=64)], SymbolLimits] = {}
    override: Optional[OverridePolicy] = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        fields = set(self.model_fields_set).difference(LIMIT_SETTINGS)
        if not fields and not any(s.model_fields_set for s in self.symbols.values()):
            raise PydanticCustomError("ks_missing", "limits names no limit", {
                "ks_hint": "give max_order_notional, max_order_quantity, price_collar, max_position_notional, "
                           "max_gross_notional, max_open_orders, max_open_orders_per_symbol or message_rate"})
        return self


__all__ = ["DEFAULT_MARK_MAX_AGE", "DEFAULT_OVERRIDE_DURATION", "LIMIT_SETTINGS", "Limits", "MessageRate",
           "OverridePolicy", "RANGE", "SymbolLimits", "UNIT"]
