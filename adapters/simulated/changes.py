"""What the simulated exchange's engine tells its listeners when something changed.

:meth:`adapters.simulated.engine.SimExchange.on_change` registers a listener; the engine calls
it synchronously, inside the call that made the change, with one of the values below, stamped
with the engine clock at that moment. A face that pushes (the websocket face,
:mod:`.stream`) renders them as the venue's events; the values carry everything it needs, so it
never queries the engine back (a query would charge weight and run timers).

* :class:`OrderChanged` — an order was accepted (``NEW``), traded (``TRADE``), cancelled
  (``CANCELED``) or expired (``EXPIRED``): Binance's execution types.
* :class:`AccountChanged` — the wallet or a position leg changed: a fill (reason ``ORDER``) or a
  seeded position (``ADJUSTMENT``), with the legs that changed, priced at the mark of that time.
* :class:`AlgoChanged` — a conditional order of the engine's algo service (:mod:`.conditional`)
  was placed (``NEW``), met its trigger (``TRIGGERING``, before the order it becomes is
  submitted), became that order (``TRIGGERED``, naming it), was cancelled (``CANCELED``), or ended
  unplaced at its trigger (``EXPIRED``, ``REJECTED``). A face whose venue streams no such event
  ignores it.
* :class:`SpotOrderChanged` — an order of the spot desk (:mod:`.spot`) was accepted (``NEW``),
  traded (``TRADE``), cancelled (``CANCELED``) or expired (``EXPIRED``); and
  :class:`SpotBalancesChanged` — a fill moved the spot balances of its assets. Kept apart from
  the futures ones, so that a face whose venue has no spot account never tells them (an order's
  change on either desk says what :class:`DeskOrderChanged` holds, the futures one more).
* :class:`MarkSet` — a symbol's mark was set (:meth:`~.engine.SimExchange.set_mark`): the moment a mark
  crosses a level in a scripted test, stamped when it happens.

What it owns: the shapes. What it must not do: hold references into the engine's state (orders
are copies) or know about JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

from .conditional import SimAlgoOrder
from .rules import SimOrder


@dataclass(frozen=True)
class DeskOrderChanged:
    """What the change of an order says on either desk (each desk's value is its own subclass, so
    that a face tells only its venue's: :class:`OrderChanged`, :class:`SpotOrderChanged`)."""

    account: str
    ts: int  # engine ms
    order: SimOrder  # a copy, as it was right after the change
    execution: str  # NEW | TRADE | CANCELED | EXPIRED
    last_qty: float = 0.0
    last_price: float = 0.0
    fee: float = 0.0  # of this trade


@dataclass(frozen=True)
class OrderChanged(DeskOrderChanged):
    realized: float = 0.0  # of this trade
    trade_id: int = 0
    maker: bool = False


@dataclass(frozen=True)
class LegState:
    symbol: str
    position_side: str  # BOTH | LONG | SHORT
    amount: float  # signed
    entry: float
    realized: float  # accumulated, before fees
    unrealized: float  # at the mark of the change's time
    mark: float


@dataclass(frozen=True)
class AccountChanged:
    account: str
    ts: int
    reason: str  # Binance's ACCOUNT_UPDATE reason: ORDER, ADJUSTMENT, ...
    wallet: float
    balance_change: float  # except PnL and commission (``bc``)
    legs: tuple[LegState, ...]


@dataclass(frozen=True)
class AlgoChanged:
    account: str
    ts: int  # engine ms
    order: SimAlgoOrder  # a copy, as it was right after the change
    status: str  # the order's own status, or TRIGGERING (its status is still NEW then)
    actual: Optional[SimOrder] = None  # TRIGGERED: a copy of the order it became, after its fills


@dataclass(frozen=True)
class SpotOrderChanged(DeskOrderChanged):
    """An order of the spot desk changed: what :class:`DeskOrderChanged` says, no more."""


@dataclass(frozen=True)
class SpotBalancesChanged:
    account: str
    ts: int
    balances: tuple[tuple[str, float], ...]  # (asset, its spot balance after the change) of each one it moved


@dataclass(frozen=True)
class MarkSet:
    symbol: str
    price: float
    ts: int


Change = Union[OrderChanged, AccountChanged, AlgoChanged, MarkSet, SpotOrderChanged, SpotBalancesChanged]
Listener = Callable[[Change], None]

__all__ = ["DeskOrderChanged", "OrderChanged", "LegState", "AccountChanged", "AlgoChanged", "MarkSet",
           "SpotBalancesChanged", "SpotOrderChanged", "Change", "Listener"]
