"""The catalogue of action kinds and the ``Action`` document.

What it owns: :data:`ACTIONS` (every action kind, in the language's order: what the schema,
the kinds page, the compiler and the planner read), :data:`ACTION_KINDS` (their names),
:data:`CLOSING_ACTIONS` (those that close positions), :data:`Action`, one action of a stage:
exactly one kind with its parameters. Every kind is a module of :mod:`.kinds`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import TYPE_CHECKING

from . import kinds as own_modules
from .catalogue import OneKind, build_catalogue, kind_document
from .registry import ActionKind

# The catalogue of action kinds, in the language's order: every kind is a module of :mod:`.kinds`,
# named here in its place (the order the language always had), then those it finds that are not.
# Everything that names the kinds reads it.
ACTIONS: dict[str, ActionKind] = build_catalogue((
    "cancel_orders",
    "reduce_top_risk",
    "close_side",
    "close_positions",
    "close_all",
    "lock_trading",
    "arm_exchange_dms",
    "revoke_trading",
    "notify",
    "suggest_hedge",
    "runbook",
), own_modules.ACTIONS)
ACTION_KINDS = tuple(ACTIONS)
CLOSING_ACTIONS = tuple(name for name, k in ACTIONS.items() if k.closes)


class _Action(OneKind):
    # a field per kind of the catalogue, optional, made by kind_document from ACTIONS
    kinds = ACTION_KINDS
    what = "an action"


if TYPE_CHECKING:
    Action = _Action
else:
    Action = kind_document(_Action, "Action", "One action of a stage: exactly one kind. ``close_all`` and "
                           "``{cancel_orders: all}`` are short forms.", ACTIONS.values(), __name__)
