"""The port every action plans through (the planner never asks which kind an action is).

What it owns: :class:`_KindPlanning`, the :class:`~killswitch.policy.registry.ActionPlanning`
the planner hands an action: it reads the scope's positions, and asks for closes (its own, or
those the planner ranks), cancels, a lock, skips, hedge suggestions and directives, which go into
the stage's plan by the rules every close goes by (:mod:`.stage_planner`, :mod:`.legs`).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from itertools import repeat
from typing import Collection, Iterator, Optional

from ..compile.nodes import ActionNode
from ..policy.positions import PositionCondition
from ..snapshot import Snapshot, base_asset
from .columns import Held
from .plans import Directive, HedgeSuggestion, Lock
from .scope import position_key
from .stage_planner import _CancelAsk, _Planner


class _KindPlanning:
    """What :func:`.planner._run` hands every action
    (:class:`~killswitch.policy.registry.ActionPlanning`): the scope's positions as a close reads
    them (no model made for positions made on reading), and its closes go through
    :meth:`~.stage_planner._Planner.want` as every close does (reduce-only, rounded down, never
    above the position), under the action's name; what it skipped and the hedges it suggests go
    in the plan, its cancels with the closes' (:meth:`~.stage_planner._Planner.cancels`), its lock
    as a directive (its parameters as written) and a :class:`Lock`. A request the port does not
    know (a ``which`` or ``mode`` of no meaning) is the kind's mistake: ValueError, which its own
    tests meet. ``wave``: a first wave's (:func:`.planner._first_wave`), under a close_all of
    every position whole: only its cancels and lock are kept, and every position reads as closed in full."""

    __slots__ = ("_planner", "_action", "_written", "_wave", "_directed")

    def __init__(self, planner: _Planner, action: ActionNode, wave: bool = False):
        self._planner = planner
        self._action = action.kind
        self._written = action.written
        self._wave = wave
        self._directed = False

    @property
    def equity(self) -> Optional[float]:
        return self._planner.view.equity

    @property
    def positions_known(self) -> bool:
        return self._planner.view.positions_known

    @property
    def attribution(self) -> str:
        return self._planner.attribution_side()

    def positions(self) -> Iterator[tuple[Snapshot, Held]]:
        return self._planner.view.rows()

    def closing(self, snapshot: Snapshot, position: Held) -> float:
        if self._wave:
            return position.contracts
        c = self._planner.closes.get(position_key(snapshot, position))
        return c.amount if c else 0.0

    @staticmethod
    def base_asset(symbol: str) -> str:
        return base_asset(symbol)

    def close(self, snapshot: Snapshot, position: Held, fraction: float, reason: str) -> None:
        if not fraction > 0 or self._wave:  # nothing to close (NaN included): no order
            return
        self._planner.want(snapshot, position, min(fraction, 1.0), self._action, reason)

    def skip(self, reason: str) -> None:
        if not self._wave:
            self._planner.skipped.append(reason)

    def suggest_hedge(self, base: str, side: str, notional: float, reason: str) -> None:
        if not self._wave:
            self._planner.hedges.append(HedgeSuggestion(base, side, notional, reason))

    def cancel(self, which: str, symbols: Collection[str] = ()) -> None:
        if which not in ("entries", "all"):
            raise ValueError(f"{self._action}: cancel which={which!r}; entries or all")
        self._planner.cancel_asks.append(_CancelAsk(self._action, which, tuple(symbols)))

    def lock(self, mode: str, ttl_ms: Optional[int], cancel: bool, revert_growth: bool) -> None:
        if mode not in ("reducing", "halted"):
            raise ValueError(f"{self._action}: lock mode={mode!r}; reducing or halted")
        if ttl_ms is not None and not ttl_ms > 0:
            raise ValueError(f"{self._action}: lock ttl_ms={ttl_ms!r}; a positive whole number of ms, or None")
        planner = self._planner
        planner.directives.append(Directive(self._action, dict(self._written), planner.view.key))
        planner.locks.append(Lock(self._action, planner.view.key, mode, ttl_ms, bool(cancel), bool(revert_growth)))

    def close_all(self) -> None:
        if self._wave:  # (the first wave's leg is the close_all's: planned apart)
            return
        planner = self._planner
        planner.sells_holdings = True
        # no model made for positions made on reading; the keys read from the columns
        planner.want_whole(planner.view.keys(), planner.view.rows(), self._action, repeat("CLOSE_ALL"))

    def close_top_risk(self, count: int, fraction: float, side: str, close_within_liquidation: Optional[float],
                       on_unknown_side: str) -> None:
        if not self._wave:
            self._planner.reduce_top_risk(self._action, count, fraction, side, close_within_liquidation,
                                          on_unknown_side)

    def close_selected(self, symbols: tuple[str, ...], side: str, min_loss: Optional[float],
                       correlation_group: Optional[str], where: Optional[PositionCondition], count: Optional[int],
                       rank_by: Optional[str]) -> None:
        if not self._wave:
            self._planner.close_positions(self._action, symbols, side, min_loss, correlation_group, where, count,
                                          rank_by)

    def _direct(self, *_: object) -> None:
        """What the runner and the sinks carry out: the action's directive (its parameters as
        written), once, in the stage's order, in a first wave too."""
        if not self._directed:
            self._directed = True
            self._planner.directives.append(Directive(self._action, dict(self._written), self._planner.view.key))

    arm_countdown = revoke = notify = runbook = _direct
