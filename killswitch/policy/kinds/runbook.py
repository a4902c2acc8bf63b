"""The ``runbook`` action: the template the stage's runbook is rendered from.

``{runbook: exchange-outage.md}`` renders ``runbooks/exchange-outage.md`` for the on-call
engineer when the stage is entered, in place of the policy's ``spec.runbook``; the checks
render a sample incident of the stage with it. The kind asks the runbook sink (``runbook``);
the plan shows it as the action's directive.

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the frozen parameters the graph keeps, the planning and its catalogue entry. Its
place in the language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from typing import Annotated

from pydantic import Field, field_validator

from ..fields import template_name
from ..registry import ActionKind, ActionPlanning, Strict


class RunbookAction(Strict):
    """Render the runbook ``template`` (a name under runbooks/) for the on-call engineer."""

    template: Annotated[str, Field(min_length=1)]

    @field_validator("template")
    @classmethod
    def _relative(cls, v: str) -> str:
        return template_name(v)


def build(p: RunbookAction) -> str:
    return p.template


def plan(template: str, planning: ActionPlanning) -> None:
    planning.runbook(template)


KIND = ActionKind("runbook", RunbookAction, short="template", firm=True, build=build, plan=plan)
