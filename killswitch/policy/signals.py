"""The catalogue of signal kinds and the ``Signal`` document.

What it owns: :data:`SIGNALS` (every signal kind, in the language's order: what the schema,
the kinds page, the compiler, the engine and the coverage read), :data:`SIGNAL_KINDS` (each
kind's parameters' model by name), and :data:`Signal`, one signal of a policy: exactly one kind
with its parameters. Every kind is a module of :mod:`.kinds`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import TYPE_CHECKING

from . import kinds as own_modules
from .catalogue import OneKind, build_catalogue, kind_document
from .registry import SignalKind, SignalParams

_SignalKind = SignalParams  # the base of a kind's parameters (value type, bounds, window field)


# The catalogue of signal kinds, in the language's order: every kind is a module of :mod:`.kinds`,
# named here in its place (the order the language always had), then those it finds that are not.
# Everything that names the kinds reads it.
SIGNALS: dict[str, SignalKind] = build_catalogue((
    "equity_drawdown",
    "equity_change",
    "position_loss",
    "liquidation_distance",
    "gross_exposure",
    "net_exposure",
    "leverage",
    "concentration",
    "realized_volatility",
    "value_at_risk",
    "expected_shortfall",
    "position_count",
    "consecutive_losses",
    # these measure the feed itself or the bots, not the books
    "data_age",
    "api_error_rate",
    "api_latency",
    "heartbeat_age",
), own_modules.SIGNALS)
SIGNAL_KINDS: dict[str, type[_SignalKind]] = {name: k.model for name, k in SIGNALS.items()}


class _Signal(OneKind):
    # a field per kind of the catalogue, optional, made by kind_document from SIGNALS
    kinds = SIGNAL_KINDS
    what = "a signal"

    @property
    def params(self) -> _SignalKind:
        params: _SignalKind = getattr(self, self.kind)
        return params


if TYPE_CHECKING:
    Signal = _Signal
else:
    Signal = kind_document(_Signal, "Signal", "One signal: exactly one kind from the catalogue, with its parameters.",
                           SIGNALS.values(), __name__)
