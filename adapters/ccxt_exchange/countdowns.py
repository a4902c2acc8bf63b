"""The venue's own dead man's switch for one account: arming and disarming its countdown.

What it owns
    * which symbols a per-symbol countdown covers (those asked for, else every symbol with an
      open order or a position now, or armed before) and which ones this adapter has armed;
    * the answers: armed or not, and the seconds the venue was given (after the dialect's clamp);
    * refusing, before anything is sent, a venue without a countdown, a countdown that cannot be
      turned off over the API, and a non-positive number of seconds.

What it must not do
    know a venue's endpoint or limits (the dialect's :class:`~.dialects.base.Countdown` does), or
    import ccxt.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional

from ..base import AdapterError, DmsStatus, Reason
from .calls import Calls, Op
from .dialects import Countdown
from .markets import Markets


class Countdowns:
    """``countdown()`` is the dialect's countdown for this account (None: the venue has none),
    asked anew at each use; ``exposed(op)`` lists the symbols with an open order or a position.
    The venue and market type are the markets' (``markets.venue``, ``markets.market_type``)."""

    def __init__(self, calls: Calls, markets: Markets, countdown: Callable[[], Optional[Countdown]], *,
                 exposed: Callable[[Op], Awaitable[set[str]]]):
        self._calls = calls
        self._markets = markets
        self._countdown = countdown
        self._exposed = exposed
        self.venue = markets.venue
        self.armed: dict[str, float] = {}  # per-symbol countdowns: symbol → seconds

    def supported(self) -> bool:
        return self._countdown() is not None

    def _require(self) -> Countdown:
        countdown = self._countdown()
        if countdown is None:
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} ({self._markets.market_type}) has no native "
                               "cancel-all-after", venue=self.venue)
        return countdown

    async def arm(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Every open order is cancelled by the venue unless re-armed within ``seconds``.

        * a per-symbol countdown (Binance): ``symbols``, else every symbol with an open order or
          position known or listed now (none at all: nothing is armed and ``armed`` is False);
        * an account-wide one (OKX, Bybit DCP): once, ``seconds`` clamped to what the venue takes;
        * no countdown: AdapterError(UNSUPPORTED).

        ``DmsStatus.seconds`` is the value the venue was given (after clamping)."""
        countdown = self._require()
        if not seconds or seconds <= 0:
            raise AdapterError(Reason.INVALID_ORDER, "cancel-all-after needs a positive number of seconds; "
                               "use disarm_cancel_all_after to turn it off", venue=self.venue)

        async def body(op: Op) -> DmsStatus:
            await self._markets.ensure(op)
            call = self._calls.bind(op)
            if countdown.per_symbol:
                targets = list(symbols) or sorted(await self._exposed(op) | set(self.armed))
                for s in targets:
                    await countdown.arm(call, seconds, self._markets.require(s)["id"])
                    self.armed[s] = float(seconds)
                if not targets:  # no open order or position anywhere: no countdown runs
                    return DmsStatus(armed=False, seconds=None)
                return DmsStatus(armed=True, seconds=float(seconds), symbols=tuple(targets))
            given = await countdown.arm(call, seconds, None)
            return DmsStatus(armed=True, seconds=given)

        return await self._calls.run("arm_cancel_all_after", body)

    async def disarm(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Turn it off: a per-symbol countdown for ``symbols``, else for every symbol armed here;
        an account-wide one at once. UNSUPPORTED where the venue cannot turn it off over the API."""
        countdown = self._require()
        if countdown.disarm_refusal:
            raise AdapterError(Reason.UNSUPPORTED, countdown.disarm_refusal, venue=self.venue)

        async def body(op: Op) -> DmsStatus:
            await self._markets.ensure(op)
            call = self._calls.bind(op)
            if countdown.per_symbol:
                targets = list(symbols) or sorted(self.armed)
                for s in targets:
                    await countdown.disarm(call, self._markets.require(s)["id"])
                    self.armed.pop(s, None)
                return DmsStatus(armed=bool(self.armed), seconds=None)
            await countdown.disarm(call, None)
            return DmsStatus(armed=False, seconds=None)

        return await self._calls.run("disarm_cancel_all_after", body)
