"""The ``equity_change`` signal: how far the scope's equity moved from a reference, signed.

A desk that stops for the day after losing a share of what it opened with writes
``{when: "chg <= -3%"}`` on ``chg: {equity_change: {against: day_open}}``: the change of the
scope's equity against the sum of its accounts' equity at the open of the UTC day.
``against: initial_capital`` measures it against each account's declared initial capital (or,
where none is declared, the first equity the engine saw of it), ``against: baseline`` against a
fixed amount the policy writes (``baseline: 50k``). A gain reads positive, a loss negative.

Unknown (``NO_DATA``) while the scope's equity is, while an account of it has no reference yet
(no day open or first equity seen), or when the reference is not positive (a change against
nothing means nothing). The holder of the firm lease reads it from the facts each shard
publishes (``firm``): equity, and the engine's per-account first and day-open equity.
"""

from typing import ClassVar, Literal, Optional, Self

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ...records import record
from ..registry import Reading, SignalInputs, SignalKind, SignalParams
from ..units import AmountField


class EquityChange(SignalParams):
    """Change of equity against initial capital, the UTC day open or a fixed baseline (signed)."""

    against: Literal["initial_capital", "day_open", "baseline"]
    baseline: Optional[AmountField] = None
    bounds: ClassVar = (-1.0, None)

    @model_validator(mode="after")
    def _baseline_given(self) -> Self:
        if self.against == "baseline" and self.baseline is None:
            raise PydanticCustomError("ks_missing", 'against: baseline needs a "baseline" amount')
        if self.against != "baseline" and self.baseline is not None:
            raise PydanticCustomError("ks_value", f'"baseline" only applies to against: baseline, not {self.against}')
        return self


@record
class EquityChangeParams:
    """equity_change, compiled: the reference equity is compared with."""

    against: str  # initial_capital | day_open | baseline
    baseline: Optional[float]  # set for against: baseline only


def build(p: EquityChange) -> EquityChangeParams:
    return EquityChangeParams(against=p.against, baseline=p.baseline.value if p.baseline is not None else None)


def evaluate(params: EquityChangeParams, inputs: SignalInputs, now: int) -> Reading:
    """The scope's equity against the sum of its accounts' references, as a signed fraction."""
    equity = inputs.equity
    if equity is None:
        return None, "NO_DATA: equity unknown"
    against = params.against
    if against == "baseline" and params.baseline is not None:  # build sets it for baseline
        base = params.baseline
    else:
        base = 0.0
        for s in inputs.snapshots:
            if against == "initial_capital":
                b = s.initial_capital if s.initial_capital is not None else inputs.first_equity(s)
            else:
                b = inputs.day_open_equity(s)
            if b is None:
                return None, f"NO_DATA: no {against} for {s.venue}/{s.account}"
            base += b
    if base <= 0:
        return None, f"NO_DATA: {against} is not positive"
    return (equity - base) / base, None


KIND = SignalKind("equity_change", EquityChange, firm=True, build=build, evaluate=evaluate)
