"""The catalogue of action kinds, the built-in kinds' parameters, and the ``Action`` document.

What it owns: :data:`ACTIONS` (every action kind, in the language's order: what the schema,
the kinds page, the compiler and the planner read), :data:`ACTION_KINDS` (their names),
:data:`CLOSING_ACTIONS` (those that close positions), the parameters of the kinds built in
because the planner or the runner carries them out (:class:`ReduceTopRisk`,
:class:`ClosePositions`, :class:`CloseAll`, :class:`ArmExchangeDms`, :class:`RevokeTrading`,
:class:`NotifyAction`, :class:`RunbookAction`), and :data:`Action`, one action of a stage:
exactly one kind with its parameters. Every other kind is a module of :mod:`.kinds`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from . import kinds as own_modules
from .catalogue import bare_kind, build_catalogue, exactly_one_kind, kind_document
from .fields import template_name
from .kinds import cancel_orders, close_side, lock_trading, suggest_hedge
from .positions import PositionConditionField
from .registry import ActionKind, Strict
from .units import DurationField, Ratio, RatioField, fraction_in_range


class ReduceTopRisk(Strict):
    """Cut ``fraction`` of each of the ``count`` positions of ``side`` with the highest risk score
    (``losing``: the side attribution names); close in full one within ``close_within_liquidation``."""

    count: Annotated[int, Field(ge=1, le=10_000)]
    fraction: RatioField
    side: Literal["losing", "long", "short", "any"] = "losing"
    close_within_liquidation: Optional[RatioField] = None
    # When attribution is UNKNOWN (nothing declined): skip (cut nothing), or any (rank every
    # position, profitable ones included: the policy's explicit permission).
    on_unknown_side: Literal["skip", "any"] = "skip"

    @field_validator("fraction")
    @classmethod
    def _fraction_range(cls, v: Ratio) -> Ratio:
        return fraction_in_range(v)


# how close_positions orders the positions it may close, worst first: the risk score, a loss
# (largest first) or the liquidation distance (nearest first)
RankBy = Literal["risk_score", "loss_on_equity", "loss_on_margin", "loss_on_notional", "liquidation_distance"]


class ClosePositions(Strict):
    """Close in full the positions that pass every selector given; with ``count``, only the
    ``count`` worst of them by ``rank_by`` (default: the risk score)."""

    symbols: list[str] = []
    side: Literal["long", "short", "any"] = "any"
    min_loss: Optional[RatioField] = None
    correlation_group: Optional[str] = None
    where: Optional[PositionConditionField] = None
    count: Optional[Annotated[int, Field(ge=1, le=10_000)]] = None
    rank_by: Optional[RankBy] = None

    @model_validator(mode="after")
    def _some_selector(self) -> Self:
        if (not self.symbols and self.min_loss is None and self.correlation_group is None and self.side == "any"
                and self.where is None and self.count is None):
            raise PydanticCustomError(
                "ks_value", "close_positions selects nothing; give symbols, side, min_loss, correlation_group, "
                "where or count (use close_all to close everything)"
            )
        if self.rank_by is not None and self.count is None:
            raise PydanticCustomError("ks_value", "rank_by orders the positions count picks; give count too")
        return self


class CloseAll(Strict):
    """Close every position of the scope in full (and, on spot, sell its holdings outside the stablecoins)."""


class ArmExchangeDms(Strict):
    """Arm the venue's dead man's switch: it cancels the account's orders ``after`` this long without a renewal."""

    after: DurationField


class RevokeTrading(Strict):
    """Remove the trading permission of the bots' API keys at the venue itself, with the master
    credential of each account the scope reaches (the keys listed for it in the Accounts
    document): a bot that never asks the gate is refused by the venue. Sent once the stage is
    entered, retried until the venue confirms it; restored only by the stage's reset, with its
    approvals. The stage must be ``reset: manual``."""


class NotifyAction(Strict):
    """Send a notification through ``route`` (a NotificationRoutes route) at ``severity``."""

    route: Annotated[str, Field(min_length=1)]
    severity: Literal["info", "warning", "critical"] = "critical"


class RunbookAction(Strict):
    """Render the runbook ``template`` (a name under runbooks/) for the on-call engineer."""

    template: Annotated[str, Field(min_length=1)]

    @field_validator("template")
    @classmethod
    def _relative(cls, v: str) -> str:
        return template_name(v)


# The catalogue of action kinds, in the language's order: the built-in kinds (the planner and the
# runner carry them out), with those moved into a module of their own in their place, then the
# other kinds :mod:`.kinds` finds. Everything that names the kinds reads it.
ACTIONS: dict[str, ActionKind] = build_catalogue((
    cancel_orders.KIND,  # a module of its own, in its place
    ActionKind("reduce_top_risk", ReduceTopRisk, closes=True),
    close_side.KIND,  # a module of its own, in its place
    ActionKind("close_positions", ClosePositions, closes=True),
    ActionKind("close_all", CloseAll, closes=True, firm=True),
    lock_trading.KIND,  # a module of its own, in its place
    ActionKind("arm_exchange_dms", ArmExchangeDms, short="after"),
    ActionKind("revoke_trading", RevokeTrading),
    ActionKind("notify", NotifyAction, short="route", firm=True),
    suggest_hedge.KIND,  # a module of its own, in its place
    ActionKind("runbook", RunbookAction, short="template", firm=True),
), own_modules.ACTIONS)
ACTION_KINDS = tuple(ACTIONS)
CLOSING_ACTIONS = tuple(name for name, k in ACTIONS.items() if k.closes)


class _Action(Strict):
    # a field per kind of the catalogue, optional, made by kind_document from ACTIONS

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return bare_kind(value, ACTION_KINDS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        exactly_one_kind(self, ACTION_KINDS, "an action")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)

    @property
    def params(self) -> Strict:
        params: Strict = getattr(self, self.kind)
        return params


if TYPE_CHECKING:
    Action = _Action
else:
    Action = kind_document(_Action, "Action", "One action of a stage: exactly one kind. ``close_all`` and "
                           "``{cancel_orders: all}`` are short forms.", ACTIONS.values(), __name__)
