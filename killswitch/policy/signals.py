"""The catalogue of signal kinds, the built-in kinds' parameters, and the ``Signal`` document.

What it owns: :data:`SIGNALS` (every signal kind, in the language's order: what the schema,
the kinds page, the compiler, the engine and the coverage read), :data:`SIGNAL_KINDS` (each
kind's parameters' model by name), the parameters of the kinds built in because they share the
engine's windows (:class:`EquityDrawdown`, :class:`RealizedVolatility`, :class:`TailRisk`,
:class:`ApiErrorRate`, :class:`ApiLatency`), and :data:`Signal`, one signal of a policy: exactly
one kind with its parameters. Every other kind is a module of :mod:`.kinds`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Optional, Self

from pydantic import AfterValidator, model_validator

from . import kinds as own_modules
from .catalogue import bare_kind, build_catalogue, exactly_one_kind, kind_document
from .expr import ValueType
from .kinds import (concentration, consecutive_losses, data_age, equity_change, gross_exposure, heartbeat_age,
                    leverage, liquidation_distance, net_exposure, position_count, position_loss)
from .registry import SignalKind, SignalParams, Strict
from .units import Duration, DurationField, Ratio, RatioField


_SignalKind = SignalParams  # the base of a kind's parameters (value type, bounds, window field)


class EquityDrawdown(_SignalKind):
    """Drop of equity from its highest value within ``window``, as a positive fraction."""

    window: DurationField
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


class RealizedVolatility(_SignalKind):
    """Standard deviation of equity log returns sampled every ``sample`` over ``window``; with
    ``annualize: true`` scaled by √(periods per year), a year being 365 days (crypto trades every
    day) and a period one ``sample``."""

    window: DurationField
    sample: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    # None is false: left out of the canonical form, so a policy without it keeps its digest
    annualize: Annotated[Optional[bool], AfterValidator(lambda v: v or None)] = None
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


class TailRisk(_SignalKind):
    """Historical value-at-risk / expected shortfall of equity returns, as a fraction of equity."""

    window: DurationField
    confidence: RatioField = Ratio(Decimal("0.99"))
    horizon: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


class ApiErrorRate(_SignalKind):
    """Fraction of exchange calls that failed within ``window``."""

    window: DurationField
    window_field: ClassVar[Optional[str]] = "window"


class ApiLatency(_SignalKind):
    """A quantile of exchange round-trip latency within ``window``."""

    window: DurationField
    quantile: RatioField = Ratio(Decimal("0.95"))
    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


# The catalogue of signal kinds, in the language's order: the built-in kinds, whose nodes and
# evaluations the compiler and the engine hold (they share windows), with those moved into a
# module of their own in their place, then the other kinds of :mod:`.kinds`, one module each, as
# it finds them. Everything that names the kinds reads it.
SIGNALS: dict[str, SignalKind] = build_catalogue((
    SignalKind("equity_drawdown", EquityDrawdown, firm=True),
    equity_change.KIND,  # a module of its own, in its place
    position_loss.KIND,  # a module of its own, in its place
    liquidation_distance.KIND,  # a module of its own, in its place
    gross_exposure.KIND,  # a module of its own, in its place
    net_exposure.KIND,  # a module of its own, in its place
    leverage.KIND,  # a module of its own, in its place
    concentration.KIND,  # a module of its own, in its place
    SignalKind("realized_volatility", RealizedVolatility),
    SignalKind("value_at_risk", TailRisk),
    SignalKind("expected_shortfall", TailRisk),
    position_count.KIND,  # a module of its own, in its place
    consecutive_losses.KIND,  # a module of its own, in its place
    # these measure the feed itself or the bots, not the books
    data_age.KIND,  # a module of its own, in its place
    SignalKind("api_error_rate", ApiErrorRate, reads_book=False),
    SignalKind("api_latency", ApiLatency, reads_book=False),
    heartbeat_age.KIND,  # a module of its own, in its place
), own_modules.SIGNALS)
SIGNAL_KINDS: dict[str, type[_SignalKind]] = {name: k.model for name, k in SIGNALS.items()}


class _Signal(Strict):
    # a field per kind of the catalogue, optional, made by kind_document from SIGNALS

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return bare_kind(value, SIGNAL_KINDS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        exactly_one_kind(self, SIGNAL_KINDS, "a signal")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SIGNAL_KINDS if getattr(self, k) is not None)

    @property
    def params(self) -> _SignalKind:
        params: _SignalKind = getattr(self, self.kind)
        return params


if TYPE_CHECKING:
    Signal = _Signal
else:
    Signal = kind_document(_Signal, "Signal", "One signal: exactly one kind from the catalogue, with its parameters.",
                           SIGNALS.values(), __name__)
