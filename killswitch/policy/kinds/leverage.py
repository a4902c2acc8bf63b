"""The ``leverage`` signal: the scope's gross notional over its equity, as a plain number.

``{when: "lev >= 5"}`` on ``lev: leverage`` fires when the positions' notionals add up to five
times the scope's equity (``gross_exposure`` is the same figure as a percentage).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

The kind in one module: the parameters' model (its docstring is the schema's description; a
plain number, where ``gross_exposure``'s is a ratio); what it reads of the scope's position
aggregates and its evaluation are ``gross_exposure``'s, the same figure; it keeps no parameters
(``build`` gives None). Its place in the language's order is where it always was (the catalogue
names it there).
"""

from typing import ClassVar

from ..expr import ValueType
from ..registry import SignalKind, SignalParams, no_parameters
from .gross_exposure import KIND as GROSS_EXPOSURE  # the same figure, read as a plain number


class Leverage(SignalParams):
    """Gross notional divided by equity (a plain number: 3 means 3x)."""

    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)


KIND = SignalKind("leverage", Leverage, position_aggregate=True, build=no_parameters,
                  evaluate=GROSS_EXPOSURE.evaluate, aggregates=GROSS_EXPOSURE.aggregates)
