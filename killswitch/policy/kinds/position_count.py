"""The ``position_count`` signal: how many positions of the scope meet a condition.

A book where several positions lose at once is in more trouble than one where one does:
``{when: "n >= 3"}`` on ``n: {position_count: {where: "loss_on_margin >= 10%"}}`` fires when
three positions have each lost a tenth of their margin. ``side`` counts the longs or the shorts
alone; without ``where`` every position on the side counts. The condition reads one position's
facts (:mod:`killswitch.policy.positions`), which the engine computes as it does for
``close_positions {where}``: a condition means the same in a trigger's signal and in the close
it leads to.

Unknown (``NO_DATA``) while the scope's positions are (an account's fetch failed), or when the
condition cannot be decided for one of the positions (a fact it reads is unknown, such as the
margin of a losing position that reports none): counting it either way could be wrong, and the
trigger's ``on_missing_data`` decides.

The frozen parameters it keeps are the condition compiled.
"""

from typing import ClassVar, Literal, Optional

from ...records import record
from ..expr import ValueType
from ..positions import PositionCondition, PositionConditionField, compile_condition
from ..registry import Reading, SignalInputs, SignalKind, SignalParams


class PositionCount(SignalParams):
    """Number of positions on ``side`` for which the position condition ``where`` holds (every
    position on that side without one): ``{side: long, where: loss_on_margin >= 10%}``."""

    side: Literal["long", "short", "any"] = "any"
    where: Optional[PositionConditionField] = None
    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)
    condition_field: ClassVar[Optional[str]] = "where"


@record
class PositionCountParams:
    """position_count, compiled: the side and the compiled position condition."""

    side: str  # long | short | any
    where: Optional[PositionCondition]  # None: every position on the side counts


def build(p: PositionCount) -> PositionCountParams:
    return PositionCountParams(side=p.side, where=compile_condition(p.where) if p.where is not None else None)


def evaluate(params: PositionCountParams, inputs: SignalInputs, now: int) -> Reading:
    """The positions on the side for which the condition holds."""
    if not inputs.positions_known:
        return None, "NO_DATA: positions unknown"
    side, cond = params.side, params.where
    count = undecided = 0
    first = ""
    for _, p in inputs.positions():
        if side != "any" and p.side != side:
            continue
        if cond is None:
            count += 1
            continue
        verdict = inputs.holds(cond, p)
        if verdict is None:
            undecided += 1
            if not first:
                first = f"{p.symbol} {p.side}: {', '.join(inputs.unknown_facts(cond, p))} unknown"
        elif verdict:
            count += 1
    if undecided:
        return None, f"NO_DATA: {undecided} position(s) cannot be judged ({first})"
    return float(count), None


KIND = SignalKind("position_count", PositionCount, build=build, evaluate=evaluate)
