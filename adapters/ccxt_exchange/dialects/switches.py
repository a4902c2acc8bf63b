"""The venues' own switches of their API keys' trading permission, worked with a master credential.

What it owns
    the shape of a venue's switch of its API keys' trading permission, worked with a master
    credential (:class:`PermissionSwitch`), what it works on (:class:`Target`), and the readers
    every venue's switch shares (a flag, a number, a malformed answer). Each venue's switches,
    their requests and answers as the venue documents them, are in its folder
    (``adapters/venues/<venue>/switches.py``), named by its dialect's ``permission_switches``.

What it must not do
    import ccxt, keep state, or decide anything but the request and how to read its answer:
    the calls, retries, pacing, refusals and the result are :mod:`..permissions`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol

from ...base import AdapterError, Reason
from .base import Call


@dataclass(frozen=True)
class Target:
    """What a switch works on: the sub-account (Binance: email; Bybit: uid; OKX: name) and the
    account's market type (which trading flag a Binance restore sets)."""

    sub_account: str
    market_type: str = "futures"


class PermissionSwitch(Protocol):
    method: str  # permissions | freeze
    readable: bool  # the venue offers a read of the state
    per_key: bool  # one request a key (permissions) or one for the sub-account (freeze)
    rate: float  # changes a second our pacing allows (below the venue's limit)

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        """The venue's (code, message) of an error body, None when it is not one."""

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        """Change one key (or, per_key False, the sub-account: ``key`` None); the state the
        venue's answer says (``unknown`` where it says none)."""

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        """Each key's state as the venue reads it (a key it does not list: ``unknown``)."""


def bad(venue: str, endpoint: str, what: str) -> AdapterError:
    return AdapterError(Reason.BAD_RESPONSE, f"{endpoint}: {what}", venue=venue)


def flag(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def number(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["PermissionSwitch", "Target", "bad", "flag", "number"]
