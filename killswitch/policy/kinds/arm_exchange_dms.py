"""The ``arm_exchange_dms`` action: the runner keeps the venues' own dead man's switch armed (pure)."""

from ..registry import ActionKind, ActionPlanning, Strict
from ..units import DurationField


class ArmExchangeDms(Strict):
    """Arm the venue's dead man's switch on the accounts the stage acts on: the venue cancels their orders ``after`` this long without a renewal."""  # noqa: E501

    after: DurationField


def build(p: ArmExchangeDms) -> int:
    return p.after.ms  # the countdown, in ms


def plan(after_ms: int, planning: ActionPlanning) -> None:
    planning.arm_countdown(after_ms)


KIND = ActionKind("arm_exchange_dms", ArmExchangeDms, short="after", build=build, plan=plan)
