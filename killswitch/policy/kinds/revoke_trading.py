"""The ``revoke_trading`` action: the runner makes the bots' keys read-only at the venue (pure)."""

from typing import Any

from ..registry import ActionKind, ActionPlanning, Strict, no_parameters


class RevokeTrading(Strict):
    """Remove the trading permission of the bots' API keys at the venue itself, with the master
    credential of each account the scope reaches (the keys listed for it in the Accounts
    document): a bot that never asks the gate is refused by the venue. Sent once the stage is
    entered, retried until the venue confirms it; restored only by the stage's reset, with its
    approvals. The stage must be ``reset: manual``."""


def plan(params: Any, planning: ActionPlanning) -> None:
    planning.revoke()


KIND = ActionKind("revoke_trading", RevokeTrading, build=no_parameters, plan=plan)
