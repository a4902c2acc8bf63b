"""The ``arm_exchange_dms`` action: arm the venues' own dead man's switch while in the stage.

The kind asks the runner (``arm_countdown``). Pure: no I/O, no clock.
"""

from ..registry import ActionKind, ActionPlanning, Strict
from ..units import DurationField


class ArmExchangeDms(Strict):
    """Arm the venue's dead man's switch: it cancels the account's orders ``after`` this long without a renewal."""

    after: DurationField


def build(p: ArmExchangeDms) -> int:
    return p.after.ms  # the countdown, in ms


def plan(after_ms: int, planning: ActionPlanning) -> None:
    planning.arm_countdown(after_ms)


KIND = ActionKind("arm_exchange_dms", ArmExchangeDms, short="after", build=build, plan=plan)
