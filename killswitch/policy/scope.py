"""A policy's scope: which accounts, strategies and symbols it watches, and at what level.

What it owns: :class:`Scope`, the level it keeps one stage machine at (:class:`ScopeLevel`) and
the account selector (:class:`AccountSelector`), which an Accounts document's shards use too.
Whether a scope selects a declared account is the compiler's (``compile/scope_check.py``).

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from enum import Enum
from typing import Annotated, Any, Optional, Sequence

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from .fields import Labels
from .registry import Strict


class ScopeLevel(str, Enum):
    """Where a policy keeps one stage machine: one for everything it selects, or one per venue, …"""

    GLOBAL = "global"
    VENUE = "venue"
    ACCOUNT = "account"
    STRATEGY = "strategy"
    SYMBOL = "symbol"

    @property
    def rank(self) -> int:
        return list(ScopeLevel).index(self)


class AccountSelector(Strict):
    names: list[str] = []
    match_labels: Labels = {}


def names_select(names: Sequence[str], venue: str, account: str) -> bool:
    """Whether an account selector's ``names`` select the account ``account`` on ``venue``: by its
    name, or by ``venue/name``, the form the CLI names an account by (which says its venue too).
    An empty list selects every account."""
    return not names or account in names or f"{venue}/{account}" in names


def _selector(value: Any) -> Any:
    """``accounts:`` is a mapping (``{names: [...], match_labels: {...}}``); a list, the form a
    reader may guess, is refused with the form it meant."""
    if isinstance(value, list):
        names = ", ".join(str(v) for v in value[:3]) + (", ..." if len(value) > 3 else "")
        raise PydanticCustomError(
            "ks_value", "expected a mapping, got a list",
            {"ks_hint": f"write accounts: {{names: [{names}]}} (names, or venue/name), or "
                        "accounts: {match_labels: {key: value}}"})
    return value


def _boolean(value: Any) -> Any:
    """Only a YAML boolean: ``"yes"``, ``1`` or ``"true"`` are refused, not read as one (an opt-out
    of a safety check is said plainly or not at all)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        shown = f'"{value}"' if len(value) <= 40 and "\n" not in value else "this text"
    elif isinstance(value, (int, float)):
        shown = f"the number {value}"
    else:
        shown = "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "this value"
    raise PydanticCustomError(
        "ks_value", "{shown} is not a boolean",
        {"shown": shown, "ks_hint": "write true or false, unquoted: allow_empty: true keeps a policy whose scope "
                                    "selects no declared account (one prepared ahead of its account)"})


class Scope(Strict):
    """Which accounts, strategies and symbols a policy watches; empty lists select everything."""

    level: ScopeLevel = ScopeLevel.ACCOUNT
    venues: list[str] = []
    accounts: Annotated[AccountSelector, BeforeValidator(_selector)] = AccountSelector()
    strategies: list[str] = []
    symbols: list[str] = []
    # None (left out) is false, and stays out of the canonical form: a policy without it keeps its digest
    allow_empty: Annotated[Optional[bool], BeforeValidator(_boolean), WithJsonSchema({
        "type": "boolean",
        "description": "true: the scope may select no account the Accounts documents declare (a policy prepared "
                       "ahead of its account); otherwise that is an error, KS218"})] = None
