"""An adapter standing in for an account's own: one not built yet (:mod:`adapters.deferred`), one
in a reader process (:mod:`adapters.remote`). Every call that reaches the venue is handed on
through one method, so the two never keep lists of the calls of their own that drift apart."""

from __future__ import annotations

from typing import Any

from killswitch.fills import Fill
from killswitch.orders import OrderIntent
from killswitch.snapshot import Order, OrderBook

from .base import CancelResult, CancelSelector, DmsStatus, ExchangeAdapter, OrderResult, PermissionResult


class StandIn(ExchangeAdapter):
    """An adapter standing in for an account's own (one not built yet, adapters/deferred.py; one in
    a reader process, adapters/remote/): each call that reaches the venue goes to :meth:`hand_on`
    with its arguments in the protocol's order, defaults filled in."""

    async def hand_on(self, method: str, *args: Any) -> Any:
        raise NotImplementedError

    async def load_symbols(self) -> None:
        await self.hand_on("load_symbols")

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        return await self.hand_on("cancel_orders", selector)

    async def submit(self, intent: OrderIntent) -> OrderResult:
        return await self.hand_on("submit", intent)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        return await self.hand_on("fetch_order", symbol, client_order_id)

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        return await self.hand_on("arm_cancel_all_after", seconds, symbols)

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        return await self.hand_on("disarm_cancel_all_after", symbols)

    async def set_trading(self, allowed: bool) -> PermissionResult:
        return await self.hand_on("set_trading", allowed)

    async def read_trading(self) -> PermissionResult:
        return await self.hand_on("read_trading")

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        return await self.hand_on("open_orders", symbols)

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        return await self.hand_on("fetch_order_book", symbol, depth)

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        return await self.hand_on("fills", symbol, since_ms)
