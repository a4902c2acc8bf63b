"""The one way out to a venue: a port per account, and the accounts' ports.

What it owns: :class:`VenuePort`, everything the runner asks of one account's venue (the
account read, orders, cancels, the venue's countdown, the bots' keys, the private stream's
hooks) over its adapter, whose protocol (:class:`adapters.base.ExchangeAdapter`) answers "not
supported" for what a venue lacks; and :class:`Venues`, the ports by account key, built where
the adapters are (:mod:`killswitch.process.bootstrap`). The parts are handed ports, never an adapter.

A snapshot and a cancel never raise for the venue. No answer within the port's timeout, an
:class:`~adapters.base.AdapterError` (or, for a snapshot, a bug) is a failed snapshot with its
reason code, or a :class:`~adapters.base.CancelResult` whose ``reason`` says why (nothing known
cancelled; ``NO_ADAPTER`` for an account without a port). :meth:`VenuePort.cancel` is the one
place a cancel is sent, and confirmed (:mod:`.confirm`: only what the venue confirmed counts
cancelled; what still rests is named): each failure, of the request or of an order in it, is logged
(``CANCEL_FAILED``, with what the cancel was for) and counted by account and reason
(``killswitch_cancel_failures_total``); the callers record the outcome in their own words.

Must not: decide what to cancel or send, or retry beyond a cancel's bounded confirmation (the
callers do, at their next tick).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Awaitable, Callable, Iterator, Mapping, Optional, TypeVar

from adapters.base import (
    AdapterError,
    CancelResult,
    CancelSelector,
    Capabilities,
    DmsStatus,
    ExchangeAdapter,
    OrderResult,
    PermissionResult,
    PositionMode,
    Reason,
    StreamHealth,
    WeightCount,
    order_rates,
)

from ...engine.removed import Declared
from ...fills import Fill
from ...orders import OrderIntent
from ...snapshot import FetchStatus, Order, OrderBook, Snapshot
from ...weights import WeightLimit
from .confirm import confirmed

log = logging.getLogger("killswitch.runner.venue")

NO_ADAPTER = "NO_ADAPTER"
T = TypeVar("T")


class VenuePort:
    """One account's way out to its venue (see the module doc)."""

    def __init__(self, key: str, adapter: ExchangeAdapter, timeout_s: float, failures: Counter):
        self.key = key  # "venue/account"
        self.venue = key.partition("/")[0]
        self._adapter = adapter
        self._timeout_s = timeout_s  # the longest a snapshot or a cancel waits for its answer
        self._failures = failures  # (account, reason) → cancels failed, the accounts' counter

    @property
    def capabilities(self) -> Capabilities:
        return self._adapter.capabilities

    async def snapshot(self, now: int) -> Snapshot:
        """The account now; a failure is a failed snapshot (see the module doc)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._adapter.snapshot()
        except Exception as e:  # noqa: BLE001 - a timeout, an AdapterError or a bug: all become a signal
            code, why = self._failure(e)
            venue, _, account = self.key.partition("/")
            return Snapshot(venue=venue, account=account, market_type="futures", ts_event=now, ts_observed=now,
                            fetch=FetchStatus(ok=False, error_code=code.value, error=why))

    def symbols(self) -> Optional[frozenset[str]]:
        return self._adapter.symbols()

    def strategy_names(self) -> frozenset[str]:
        return self._adapter.strategy_names()

    def client_id_prefixes(self) -> Mapping[str, str]:
        return self._adapter.client_id_prefixes()

    def labels(self) -> Optional[dict[str, str]]:
        """The account's labels as the Accounts document declares them (what its snapshots
        carry); None when its adapter does not say (then no selector is taken to exclude it)."""
        labels = self._adapter.labels
        return dict(labels) if isinstance(labels, Mapping) else None

    async def load_symbols(self) -> None:
        await self._adapter.load_symbols()

    async def order_book(self, symbol: str, depth: int) -> OrderBook:
        return await self._adapter.fetch_order_book(symbol, depth)

    def position_mode(self) -> Optional[PositionMode]:
        return self._adapter.position_mode()

    def weight(self) -> Optional[tuple[WeightCount, Optional[WeightLimit]]]:
        return self._adapter.weight()

    async def submit(self, intent: OrderIntent) -> OrderResult:
        return await self._adapter.submit(intent)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        return await self._adapter.fetch_order(symbol, client_order_id)

    async def cancel(self, selector: CancelSelector, purpose: str = "") -> CancelResult:
        """The one place a cancel is sent (see the module doc); ``purpose``: what it is for, in
        the log (``LOCK_VIOLATION``, ``DMS_FIRED``, …)."""
        res = await self._cancel_once(selector)
        if res.reason is None:
            res = await confirmed(selector, res, self._cancel_once, self.open_orders)
        return said(self.key, res, selector, purpose, self._failures)

    async def _cancel_once(self, selector: CancelSelector) -> CancelResult:
        """One cancel request and its answer, as the adapter read it (not yet confirmed)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._adapter.cancel_orders(selector)
        except (AdapterError, TimeoutError) as e:
            reason, message = self._failure(e)
            return CancelResult((), reason=reason.value, message=message)

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        """The open orders listed afresh, within the port's timeout (what a cancel is confirmed by)."""
        return await self._bounded(self._adapter.open_orders(symbols))

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """The account's trades of ``symbol`` since ``since_ms``, within the port's timeout."""
        return await self._bounded(self._adapter.fills(symbol, since_ms))

    async def _bounded(self, call: Awaitable[T]) -> T:
        """``call`` within the port's timeout: no answer by then is ``AdapterError(TIMEOUT)``."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except TimeoutError:
            raise AdapterError(*self._failure(TimeoutError())) from None

    def _failure(self, e: Exception) -> tuple[Reason, str]:
        """A call's failure as (reason code, message): the adapter's message is scrubbed by it,
        another error said by its type only."""
        if isinstance(e, AdapterError):
            return e.reason, e.message
        if isinstance(e, TimeoutError):
            return Reason.TIMEOUT, f"no answer within {self._timeout_s:g}s"
        return Reason.UNKNOWN, type(e).__name__

    async def arm_countdown(self, seconds: float) -> DmsStatus:
        return await self._bounded(self._adapter.arm_cancel_all_after(seconds))

    async def disarm_countdown(self) -> DmsStatus:
        return await self._bounded(self._adapter.disarm_cancel_all_after())

    @property
    def trading_keys(self) -> tuple[str, ...]:
        """The bots' keys :meth:`set_trading` switches, as the adapter lists them."""
        return tuple(self._adapter.trading_keys or ())

    async def set_trading(self, allowed: bool) -> PermissionResult:
        return await self._bounded(self._adapter.set_trading(allowed))

    async def read_trading(self) -> PermissionResult:
        return await self._bounded(self._adapter.read_trading())

    def stream_health(self) -> Optional[StreamHealth]:
        return self._adapter.stream_health()

    async def start_streams(self) -> None:
        await self._adapter.start_streams()

    def set_wake(self, cb: Callable[[str], None]) -> None:
        self._adapter.set_wake(cb)

    def wake_on_entries(self, on: bool) -> None:
        self._adapter.wake_on_entries(on)

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        self._adapter.set_entry_watch(cb)

    def stream_holds_open(self, order_id: str) -> Optional[bool]:
        return self._adapter.stream_holds_open(order_id)

    def shed(self, level: int) -> None:
        """What the adapter reads less often under load (runner/tick/shed.py)."""
        self._adapter.shed(level)

    def stream_legs(self, symbol: str) -> Optional[dict[str, float]]:
        return self._adapter.stream_legs(symbol)


def said(key: str, res: CancelResult, selector: CancelSelector, purpose: str, failures: Counter) -> CancelResult:
    """``res`` logged and counted as the error policy says (see the module doc)."""
    what = f"{key} ({purpose})" if purpose else key
    if res.reason is not None:
        failures[(key, res.reason)] += 1
        orders = ", ".join(selector.order_ids) or f"{selector.which} of {', '.join(selector.symbols) or 'all symbols'}"
        log.warning("CANCEL_FAILED: %s: %s (orders %s; nothing known cancelled)", what, res.said(), orders)
    for oid, why in res.failed.items():
        failures[(key, why)] += 1
        log.log(logging.INFO if why == Reason.ORDER_NOT_FOUND.value else logging.WARNING,
                "CANCEL_FAILED: %s order %s: %s", what, oid, res.said_of(oid))
    return res


class Venues(Mapping[str, VenuePort]):
    """The accounts' ports by account key ``venue/account``, built from their adapters."""

    def __init__(self, adapters: Mapping[str, ExchangeAdapter], *, timeout_s: float = 10.0):
        self.failures: Counter[tuple[str, str]] = Counter()  # (account, reason) → cancels failed
        self._adapters = dict(adapters)
        self._ports = {k: VenuePort(k, a, timeout_s, self.failures) for k, a in adapters.items()}

    def __getitem__(self, key: str) -> VenuePort:
        return self._ports[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ports)

    def __len__(self) -> int:
        return len(self._ports)

    async def cancel(self, key: str, selector: CancelSelector, purpose: str = "") -> CancelResult:
        """:meth:`VenuePort.cancel` of ``key``'s port; ``NO_ADAPTER`` for an account without one."""
        port = self._ports.get(key)
        if port is None:
            return said(key, CancelResult((), reason=NO_ADAPTER), selector, purpose, self.failures)
        return await port.cancel(selector, purpose)

    def shed(self, level: int) -> None:
        """Every adapter told the load level (runner/tick/shed.py)."""
        for port in self._ports.values():
            port.shed(level)

    def declared(self) -> tuple[Declared, ...]:
        """Every account as a policy's scope selects it (engine/removed.py)."""
        return tuple(Declared(p.venue, k.partition("/")[2], p.labels(), p.strategy_names())
                     for k, p in self._ports.items())

    def rates(self) -> dict[str, float]:
        """Orders per second by venue (:func:`adapters.base.order_rates`)."""
        return order_rates(self._adapters.values())

    def collect_metrics(self, registry: Any) -> None:
        fam = registry.sampled("killswitch_cancel_failures_total", "counter",
                               "Cancels (a request, or an order in it) that failed, by account and reason code",
                               ("account", "reason"))
        for (key, reason), n in sorted(self.failures.items()):
            fam.add(n, account=key, reason=reason)
