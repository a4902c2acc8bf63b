"""The ``arm_exchange_dms`` action: arm the venue's own dead man's switch.

``{arm_exchange_dms: 60s}``: while the scope is in the stage, the runner keeps every capable
venue account's cancel-all-after countdown armed (the venue cancels the account's orders once
it runs out without a renewal: a runner that dies leaves nothing resting), and disarms it once
no scope is in such a stage. The kind asks the runner (``arm_countdown``); the plan shows it as
the action's directive.

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the frozen parameters the graph keeps, the planning and its catalogue entry. Its
place in the language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
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
