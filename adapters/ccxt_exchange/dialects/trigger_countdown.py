"""A venue's account-wide cancel-all-after armed with a timeout in whole seconds (0 turns it off),
whose answer names the time it fires ("0" when off): Kraken spot's ``CancelAllOrdersAfter`` and
Kraken Futures' ``cancelallordersafter``.

What it owns: :class:`TriggerCountdown`, a :class:`~.base.Countdown` read back from the answer
(a time when armed, "0" when off; an answer without one, or the other, is BAD_RESPONSE: the
switch is not known to be armed or off).

What it must not do: import ccxt, or read a venue's answer itself (its ``trigger_of`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .base import bad_field, clamp_seconds
from .cancel_hooks import Call


@dataclass(frozen=True)
class TriggerCountdown:
    """``method`` with ``{"timeout": seconds}`` (within ``low``..``high``, 0 off); ``trigger_of``
    reads the trigger time of its answer as text (raising BAD_RESPONSE for one without it);
    ``venue``, ``endpoint`` and ``field`` name what a message says of an answer not read."""

    method: str
    low: int
    high: int
    trigger_of: Callable[[Any], str]
    venue: str
    endpoint: str
    field: str
    per_symbol = False
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        n = clamp_seconds(seconds, self.low, self.high)
        trigger = self.trigger_of(await call(self.method, {"timeout": n}))
        if trigger in ("0", ""):
            raise bad_field(self.venue, self.endpoint, self.field, f"{trigger!r} after arming {n}s")
        return float(n)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        trigger = self.trigger_of(await call(self.method, {"timeout": 0}))
        if trigger != "0":
            raise bad_field(self.venue, self.endpoint, self.field, f"{trigger!r} after a timeout of 0")


__all__ = ["TriggerCountdown"]
