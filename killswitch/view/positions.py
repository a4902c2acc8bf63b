"""The positions as ``GET /v1/positions`` answers them and the console's positions table shows
them: each account's last snapshot, its age, and each position with its risk and resting orders.

Values only (re-exported by :mod:`killswitch.view`, whose :class:`~killswitch.face.runner_view.RunnerView` answers
them); :mod:`killswitch.face.readout.positions` works them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class PositionRow:
    """A position of an account's last snapshot, as the console's positions table shows it."""

    symbol: str
    side: str  # long | short
    position_side: Optional[str]  # LONG | SHORT in hedge mode
    contracts: float
    notional: float
    mark_price: float
    unrealized_pnl: float
    liquidation_price: Optional[float]
    liquidation_distance: Optional[float]  # |mark - liquidation| / mark; None: no liquidation price
    risk_score: Optional[float]  # the highest of the policy instances that hold it (None: none holds it)
    risk_policy: Optional[str]  # whose score that is
    risk_scope: Optional[str]
    orders: int  # the account's open orders resting on it (its symbol; its leg in hedge mode)
    order_kinds: dict = field(default_factory=dict)  # kind (regular, conditional, tpsl, oco, trailing) → count
    reduce_only_orders: int = 0
    scopes: tuple[str, ...] = ()  # the policy instances that hold it, the account's own first: what a close names


@dataclass(frozen=True)
class AccountPositions:
    """One account's positions from this runner's last snapshot of it, and how old that is."""

    account: str  # venue/account
    ok: bool  # the last fetch succeeded (else its positions are not known: none are listed)
    error_code: Optional[str]
    observed_ms: Optional[int]  # when the snapshot was taken (the runner's clock)
    age_s: Optional[float]
    equity: Optional[float]
    quote: str
    positions_total: int
    positions: tuple[PositionRow, ...] = ()  # the largest by notional first, at most ``PositionsStatus.max_rows``


@dataclass(frozen=True)
class PositionsStatus:
    """``GET /v1/positions``: every account's positions from this runner's last snapshots."""

    now_ms: int
    leader: bool  # a standby takes no snapshot: it lists none
    max_rows: int
    accounts: tuple[AccountPositions, ...] = ()
    # policy instance (its scope) -> the positions it holds in the last snapshots, every one counted
    # (not only those listed): a scope absent here holds none, so a close of it would close nothing
    holding: dict = field(default_factory=dict)
