"""A venue's account-wide cancel-all-after armed with a timeout in whole seconds (0 turns it off),
whose answer names the time it fires ("0" when off): Kraken spot's ``CancelAllOrdersAfter``,
Kraken Futures' ``cancelallordersafter`` and OKX's ``trade/cancel-all-after``.

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
    """``method`` with ``{param: seconds}`` (within ``low``..``high``, 0 off; sent as text where
    ``text``); ``trigger_of`` reads the trigger time of its answer (None: it has none, which is
    BAD_RESPONSE); ``venue``, ``endpoint`` and ``field`` name what a message says of an answer
    not read."""

    method: str
    low: int
    high: int
    trigger_of: Callable[[Any], Any]
    venue: str
    endpoint: str
    field: str
    param: str = "timeout"
    text: bool = False
    per_symbol = False
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        n = clamp_seconds(seconds, self.low, self.high)
        trigger = await self._trigger(call, n)
        if trigger in ("0", ""):
            raise bad_field(self.venue, self.endpoint, self.field, f"{trigger!r} after arming {n}s")
        return float(n)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        trigger = await self._trigger(call, 0)
        if trigger != "0":
            raise bad_field(self.venue, self.endpoint, self.field, f"{trigger!r} after a timeout of 0")

    async def _trigger(self, call: Call, n: int) -> str:
        trigger = self.trigger_of(await call(self.method, {self.param: str(n) if self.text else n}))
        if trigger is None:
            raise bad_field(self.venue, self.endpoint, self.field, "missing")
        return str(trigger)


__all__ = ["TriggerCountdown"]
