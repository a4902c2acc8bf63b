"""The ``consecutive_losses`` signal: how many positions in a row closed at a loss.

A strategy that keeps losing trade after trade shows here before its drawdown is deep:
``{when: "n >= 3"}`` on ``n: consecutive_losses`` fires at the third losing close in a row. A
position that was open at one tick and is gone at the next closed, at the unrealized PnL it last
showed; a losing close adds one, a winning one (or one at zero) resets the count. Closes within
one tick have no order: a win among them resets the count and the tick's losses count after it
(the pessimistic reading, for a kill switch).

Unknown (``NO_DATA``) while the scope's positions are (an account's fetch failed): nothing
counts as closed then, and the count goes on from where it was at the next good tick.

The kind keeps a state between ticks (:class:`~killswitch.policy.registry.KeptState`): the
streak and the last PnL of every open position, by the engine's position key, saved with the
engine's state as ``[streak, {key: pnl}]`` under the name ``losses`` — the form the engine saved
it in when the kind was built in, so a saved state carries on across an upgrade and back.

It keeps no parameters (``build`` gives None).
"""

from typing import Any, ClassVar

from ..expr import ValueType
from ..registry import KeptState, Reading, SignalInputs, SignalKind, SignalParams, no_parameters

# [streak, {position key: its last unrealized PnL}] (a list: what JSON gives back)
LossBook = list[Any]


class ConsecutiveLosses(SignalParams):
    """Number of losing closes in a row."""

    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)


def initial(params: None) -> LossBook:
    return [0, {}]


def evaluate(params: None, inputs: SignalInputs, now: int, book: LossBook) -> tuple[Reading, LossBook]:
    """The streak after this tick's closes, and the book of the positions open now."""
    streak, was_open = book
    if not inputs.positions_known:
        return (None, "NO_DATA: positions unknown"), book
    key = inputs.position_key
    now_open = {key(s, p): p.unrealized_pnl for s, p in inputs.positions()}
    closed = [last for k, last in was_open.items() if k not in now_open]  # its last PnL is its result
    if closed:
        losers = sum(1 for x in closed if x < 0)
        streak = losers if losers < len(closed) else streak + losers
    return (float(streak), None), [streak, now_open]


KIND = SignalKind("consecutive_losses", ConsecutiveLosses, build=no_parameters,
                  state=KeptState("losses", initial, evaluate))
