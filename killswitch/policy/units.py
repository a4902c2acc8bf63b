"""Units of the policy language: durations, ratios (percentages), amounts, confirmations.

Each unit is a small frozen value with a canonical text form (used by the graph digest, so
``90m`` and ``1h30m`` compile to the same graph) and a parser that raises :class:`UnitError`
with a message a risk engineer can act on. The pydantic field types at the bottom wrap the
parsers so that a bad value becomes a diagnostic with its own code and position.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, TypeVar

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..records import field_order, record

T = TypeVar("T")


class UnitError(ValueError):
    """A value that does not parse as the unit it should be. ``kind`` picks the diagnostic code.

    ``short`` says what is wrong, ``hint`` what to write instead; ``message`` is both, for a
    command-line option (a diagnostic shows them on two lines)."""

    def __init__(self, kind: str, short: str, hint: str | None = None):
        message = f"{short}; {hint}" if hint else short
        super().__init__(message)
        self.kind = kind
        self.short = short
        self.hint = hint
        self.message = message


# --- durations --------------------------------------------------------------------------

_DURATION_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_FULL = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$"
DURATION_HINT = "use a number and a unit (ms, s, m, h, d, w), e.g. 30s, 15m, 1h30m"
# The longest duration anything takes: ten years (a lock's ttl, a cooldown, a window, a silence).
# Past it nothing is meant, and a duration of 400 digits overflowed a float (Duration.seconds).
MAX_DURATION_MS = 3650 * 86_400_000
MAX_DURATION_TEXT = "3650d"


@record
class Duration:
    """A non-negative span of time, held in whole milliseconds."""

    ms: int
    __lt__, __le__, __gt__, __ge__ = field_order("ms")  # order=True's, made without exec

    @property
    def seconds(self) -> float:
        return self.ms / 1000.0

    def __str__(self) -> str:
        if self.ms == 0:
            return "0s"
        rest, out = self.ms, []
        for unit in ("w", "d", "h", "m", "s", "ms"):
            size = _DURATION_UNITS_MS[unit]
            if rest >= size:
                n, rest = divmod(rest, size)
                out.append(f"{n}{unit}")
        return "".join(out)


def parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    _scalar(value, "duration", "a duration", DURATION_HINT)
    if isinstance(value, (int, float)):
        if value == 0:
            return Duration(0)
        raise UnitError("duration", f"a bare number ({value}) has no unit", f"write {value}s, {value}m or {value}h")
    text = value.strip().replace(" ", "")
    if not _DURATION_FULL.match(text):
        raise UnitError("duration", f'"{shown(value)}" is not a duration', DURATION_HINT)
    total = Decimal(0)
    for num, unit in _DURATION_PART.findall(text):
        total += Decimal(num) * _DURATION_UNITS_MS[unit]
    if total > MAX_DURATION_MS:
        raise UnitError("duration", f'"{shown(value)}" is longer than {MAX_DURATION_TEXT} (ten years)',
                        f"a duration is at most {MAX_DURATION_TEXT}")
    if total != total.to_integral_value():
        raise UnitError("duration", f'"{shown(value)}" is finer than a millisecond',
                        "durations count whole milliseconds: write 1500ms rather than 1.5005s")
    return Duration(int(total))


# --- ratios (percentages) ----------------------------------------------------------------

_PERCENT = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*%$")
PERCENT_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?\s*%$"


@record
class _Exact:
    """A value held as an exact decimal, ordered by it (a ratio, an amount)."""

    exact: Decimal
    __lt__, __le__, __gt__, __ge__ = field_order("exact")  # order=True's, made without exec


@record
class Ratio(_Exact):
    """A ratio written as a percentage (``4.5%``) and held exactly as a fraction (0.045)."""

    @property
    def fraction(self) -> float:
        return float(self.exact)

    @property
    def percent(self) -> Decimal:
        return self.exact * 100

    def __str__(self) -> str:
        return f"{_fmt_decimal(self.exact * 100)}%"


def parse_percent_text(text: str) -> Ratio | None:
    """``4.5%`` as a ratio; None when it is not a percentage. :class:`UnitError` past
    :data:`MAX_MAGNITUDE`."""
    m = _PERCENT.match(text.strip())
    if not m:
        return None
    return Ratio((_bounded(m.group(1), "percent", text) / 100).normalize())


def parse_ratio(value: Any, *, allow_fraction: bool = True) -> Ratio:
    """``4.5%`` → 0.045. A bare number is accepted only as a fraction in [0, 1] (``0.8`` = 80%)."""
    if isinstance(value, Ratio):
        return value
    _scalar(value, "percent", "a percentage", "write it like 4.5%")
    if isinstance(value, str):
        r = parse_percent_text(value)
        if r is None:
            raise UnitError("percent", f'"{shown(value)}" is not a percentage', "write it like 4.5%")
        return r
    if allow_fraction and 0 <= value <= 1:
        return Ratio(Decimal(str(value)).normalize())
    raise UnitError(
        "percent",
        f"{value} is ambiguous",
        f"write {value}% for a percentage"
        + (" (a bare number is read as a fraction only between 0 and 1)" if allow_fraction else ""),
    )


# --- amounts --------------------------------------------------------------------------------

_AMOUNT = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*([kKmMbB]?)$")
_AMOUNT_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
AMOUNT_PATTERN = r"^[+-]?[0-9][0-9_]*(\.[0-9]+)?\s*[kKmMbB]?$"
_AMOUNT_HINT = "use 50000, 50_000, 50k or 1.5M (in the account's quote currency)"


@record
class Amount(_Exact):
    """An amount in the account's quote currency (``50000``, ``50_000``, ``50k``, ``1.5M``)."""

    @property
    def value(self) -> float:
        return float(self.exact)

    def __str__(self) -> str:
        return _fmt_decimal(self.exact)


def parse_amount(value: Any) -> Amount:
    if isinstance(value, Amount):
        return value
    _scalar(value, "amount", "an amount", _AMOUNT_HINT)
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnitError("amount", "an amount must be a finite number", _AMOUNT_HINT)
        return Amount(_bounded(str(value), "amount", str(value)).normalize())
    text = value.strip().replace("_", "")
    m = _AMOUNT.match(text)
    if not m:
        hint = "use 50000 or 50k; commas are not allowed" if "," in value else _AMOUNT_HINT
        raise UnitError("amount", f'"{shown(value)}" is not an amount', hint)
    try:
        exact = Decimal(m.group(1)) * _AMOUNT_SCALE[m.group(2).lower()]
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise UnitError("amount", f'"{value}" is not an amount') from None
    return Amount(_bounded(exact, "amount", value).normalize())


# --- a limit's value as a person writes it ------------------------------------------------------

LIMIT_VALUE_HINT = "write it like 200000, 200k, 1.5M or 7%"


def parse_limit_value(value: Any) -> float:
    """A limit's value as a person writes it, the one rule of ``ksctl override request --raise-to``
    and of the API's ``raise_to`` (which the console sends as typed): a percentage is a fraction
    (``7%`` → 0.07), anything else an amount (``200000``, ``50_000``, ``200k``, ``1.5M``).
    :class:`UnitError` for anything else (``1.5X``, ``1,000``, an empty text)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_ratio(value).fraction
    return float(parse_amount(value).exact)


# --- confirmations (`for:`) -----------------------------------------------------------------

_TICKS = re.compile(r"^(\d+)\s*ticks?$")
# a million ticks: a day at the shortest interval (100ms), years at the longest
MAX_TICKS = 1_000_000
CONFIRMATION_PATTERN = r"^([0-9]+\s*ticks?|([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+)$"


@record
class Confirmation:
    """How long a condition must hold before a trigger fires: N consecutive ticks, or a duration."""

    ticks: int | None = None
    duration: Duration | None = None

    def __str__(self) -> str:
        if self.ticks is not None:
            return f"{self.ticks} tick" + ("" if self.ticks == 1 else "s")
        return str(self.duration)


def parse_confirmation(value: Any) -> Confirmation:
    if isinstance(value, Confirmation):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise UnitError("confirmation", f"a bare number ({value}) is ambiguous",
                        f"write {value} ticks or a duration like {value}m")
    if isinstance(value, str):
        m = _TICKS.match(value.strip())
        if m:
            digits = m.group(1).lstrip("0") or "0"
            if len(digits) > len(str(MAX_TICKS)) or int(digits) > MAX_TICKS:
                raise UnitError("confirmation", f'"{shown(value)}" is more than {MAX_TICKS:,} ticks',
                                f"write at most {MAX_TICKS} ticks, or a duration (2m)")
            n = int(digits)
            if n < 1:
                raise UnitError("confirmation", "a trigger needs at least 1 tick",
                                "write 1 tick to fire at the first tick the condition holds")
            return Confirmation(ticks=n)
        try:
            return Confirmation(duration=parse_duration(value))
        except UnitError as e:
            if _DURATION_FULL.match(value.strip().replace(" ", "")):  # a duration, out of bounds: say so
                raise UnitError("confirmation", e.short, e.hint) from None
    raise UnitError("confirmation", f'"{shown(value)}" is neither a tick count nor a duration',
                    "write a tick count (3 ticks) or a duration (2m)")


# --- numbers in conditions ---------------------------------------------------------------------


def parse_quantity(text: str) -> tuple[str, float, str]:
    """A number as a condition writes it (``4.5%``, ``60s``, ``3``, ``-2.50``; no spaces, not
    negative when a duration): its kind (``ratio``, ``duration`` or ``number``), its value (a
    fraction, seconds, the number) and its canonical text. :class:`UnitError` past the bounds."""
    if text.endswith("%"):
        r = parse_percent_text(text)
        if r is None:
            raise UnitError("percent", f'"{shown(text)}" is not a percentage', "write it like 4.5%")
        return "ratio", r.fraction, str(r)
    if text[-1:].isalpha():
        d = parse_duration(text)
        return "duration", d.seconds, str(d)
    number = _bounded(text, "number", text)
    return "number", float(number), text if "." not in text else text.rstrip("0").rstrip(".")


# --- the units of a computed threshold -----------------------------------------------------------
#
# A condition's arithmetic (``3 * vol_1h``, ``max(4.5%, 3 * vol_1h)``, ``dd_15m / vol_1h``) keeps
# the unit of what it computes as powers of a ratio and of a duration; a plain number has none.
# A ratio times a plain number is a ratio; a ratio over a ratio is a plain number; a ratio times
# a ratio is a ratio², which compares with nothing a signal reports. Adding, subtracting, taking
# the min or max of, and comparing values all need one unit.

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


@record
class Dimension:
    """The unit of a value a condition computes: its powers of a ratio and of a duration."""

    ratio: int = 0
    duration: int = 0

    def times(self, other: "Dimension") -> "Dimension":
        return Dimension(self.ratio + other.ratio, self.duration + other.duration)

    def over(self, other: "Dimension") -> "Dimension":
        return Dimension(self.ratio - other.ratio, self.duration - other.duration)

    @property
    def kind(self) -> str | None:
        """``number``, ``ratio`` or ``duration`` (the kinds a signal or a literal has); None for
        any other unit (a ratio², a ratio per duration)."""
        return {(0, 0): "number", (1, 0): "ratio", (0, 1): "duration"}.get((self.ratio, self.duration))

    def __str__(self) -> str:
        if self.kind is not None:
            return self.kind
        up = [_power(name, n) for name, n in (("ratio", self.ratio), ("duration", self.duration)) if n > 0]
        down = [_power(name, -n) for name, n in (("ratio", self.ratio), ("duration", self.duration)) if n < 0]
        return ("·".join(up) or "1") + ("/" + "·".join(down) if down else "")


def _power(name: str, n: int) -> str:
    return name if n == 1 else name + str(n).translate(_SUPERSCRIPT)


DIMENSIONS = {"number": Dimension(), "ratio": Dimension(ratio=1), "duration": Dimension(duration=1)}


# --- helpers ------------------------------------------------------------------------------------

# The largest magnitude of an amount or a percentage a policy may write (and of a number in a
# condition, killswitch.policy.expr): 10^15, a quadrillion, past any account and below 2^53, so
# a float still holds every whole number up to it. A number of 400 digits was a float's infinity.
MAX_MAGNITUDE = Decimal(10) ** 15


def _bounded(number: Decimal | str, kind: str, value: Any) -> Decimal:
    """``number`` as a Decimal, or :class:`UnitError` of ``kind`` past :data:`MAX_MAGNITUDE`."""
    exact = Decimal(number)
    if abs(exact) >= MAX_MAGNITUDE:
        noun = {"percent": "a percentage", "amount": "an amount"}.get(kind, "a number")
        raise UnitError(kind, f'"{shown(value)}" is too large', f"{noun} is below 10^15 in magnitude")
    return exact


def shown(value: Any, limit: int = 40) -> str:
    """``value`` as text for a message, cut in the middle past ``limit`` characters (a number
    of 400 digits is said by its ends and its length)."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:16]}...{text[-8:]} ({len(text):,} characters)"


def _fmt_decimal(d: Decimal) -> str:
    d = d.normalize()
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scalar(value: Any, kind: str, what: str, hint: str) -> None:
    """:class:`UnitError` of ``kind`` for what no unit is written as: nothing, a boolean, a mapping, a list."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnitError(kind, f"expected {what}, got {value_kind(value)}", hint)


def value_kind(value: Any) -> str:
    """What a value that is not the unit's is, in a message: ``a mapping``, ``a list``, ``int``..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# --- pydantic field types -----------------------------------------------------------------------


def unit_validator(parser: Callable[[Any], T], error_type: str, hint: str | None = None) -> Callable[[Any], T]:
    """``parser`` as a pydantic validator: a :class:`UnitError` becomes ``error_type`` with its
    short message and its hint (``hint``, where given, in place of the parser's)."""

    def validate(value: Any) -> T:
        try:
            return parser(value)
        except UnitError as e:
            said = hint or e.hint
            # the hint travels in the context (under a key no message text names)
            raise PydanticCustomError(error_type, e.short, {"ks_hint": said} if said else None) from None

    return validate


DurationField = Annotated[
    Duration,
    BeforeValidator(unit_validator(parse_duration, "ks_duration")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "15m", "1h"]}),
]
RatioField = Annotated[
    Ratio,
    BeforeValidator(unit_validator(parse_ratio, "ks_percent")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PERCENT_PATTERN},
                {"type": "number", "minimum": 0, "maximum": 1},
            ],
            "examples": ["4.5%", 0.8],
        }
    ),
]


def checked(ok: Callable[[Any], bool], error_type: str, message: str, hint: str | None = None) -> AfterValidator:
    """A field's check after its type's (in ``Annotated``): the value where ``ok`` holds, else
    ``error_type`` with ``message`` (``{got}`` in it: the value) and ``hint``."""

    def check(v: T) -> T:
        if not ok(v):
            ctx = {"got": str(v)} if "{got}" in message else {}
            raise PydanticCustomError(error_type, message, {**ctx, "ks_hint": hint} if hint else ctx or None)
        return v

    return AfterValidator(check)


# the fraction of each position an action closes (reduce_all_by, reduce_top_risk)
CloseFraction = Annotated[
    RatioField, checked(lambda r: 0 < r.exact <= 1, "ks_percent", "fraction must be above 0% and at most 100%")
]


AmountField = Annotated[
    Amount,
    BeforeValidator(unit_validator(parse_amount, "ks_amount")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": AMOUNT_PATTERN}], "examples": [50000, "50k"]}
    ),
]
ConfirmationField = Annotated[
    Confirmation,
    BeforeValidator(unit_validator(parse_confirmation, "ks_confirmation")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": CONFIRMATION_PATTERN, "examples": ["3 ticks", "2m"]}),
]
