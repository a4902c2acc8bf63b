"""The ``realized_volatility`` signal: the deviation of equity's sampled returns (:mod:`._returns`)."""

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, ClassVar, Optional

from pydantic import AfterValidator

from ..registry import Reading, SignalInputs, SignalKind
from ..units import Duration, DurationField, Ratio, RatioField
from ._returns import ReturnsParams, ReturnsWindow, history_need, kept, returns_params, sampled

if TYPE_CHECKING:
    from ..windows import Returns


class RealizedVolatility(ReturnsWindow):
    """Standard deviation of equity log returns sampled every ``sample`` over ``window``; with
    ``annualize: true`` scaled by √(periods per year), a year being 365 days (crypto trades every
    day) and a period one ``sample``."""

    window: DurationField
    sample: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    # None is false: left out of the canonical form, so a policy without it keeps its digest
    annualize: Annotated[Optional[bool], AfterValidator(lambda v: v or None)] = None
    bounds: ClassVar = (0.0, None)
    sample_field: ClassVar[Optional[str]] = "sample"


# A year of returns for {annualize: true}: crypto trades every day of 365.
YEAR_MS = 365 * 86_400_000


def build(p: RealizedVolatility) -> ReturnsParams:
    written = p.model_dump(mode="json", exclude_none=True)
    # annualizing reads the same returns: it is not part of the state's key
    keyed = {k: v for k, v in written.items() if k != "annualize"}
    return returns_params(p.window, p.sample, p.min_coverage, 2, written, "sample", keyed,
                          periods_per_year=YEAR_MS / p.sample.ms if p.annualize else None)


def evaluate(params: ReturnsParams, inputs: SignalInputs, now: int, st: "Returns") -> tuple[Reading, "Returns"]:
    unread = sampled(params, st, inputs, now)
    if unread is not None:
        return unread, st
    sd = st.w.stdev()  # type: ignore[union-attr]
    if sd is None:
        return (None, "INSUFFICIENT_HISTORY: <2 returns", now + 2 * st.sample_ms), st
    if params.periods_per_year is not None:
        sd *= math.sqrt(params.periods_per_year)
    return (sd, None), st


KIND = SignalKind("realized_volatility", RealizedVolatility, build=build, state=kept(evaluate, False),
                  history_need=history_need)
