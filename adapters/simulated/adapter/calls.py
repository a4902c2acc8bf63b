"""The in-process adapter's calls to the engine, each behind the fault plan and a timeout.

What it owns
    :class:`EngineCalls`, one account's engine operations as the in-process adapter
    (:mod:`adapters.simulated.adapter`) makes them: an order first through the send gate
    (:func:`adapters.base.last_look`), then the faults a call meets, matched on its operation
    name — injected latency sleeps (scaled by ``time_scale``), a TIMEOUT never answers and is
    cut by an asyncio timeout of ``timeout_s``, status faults become RATE_LIMITED /
    EXCHANGE_UNAVAILABLE, a REJECT_REDUCE_ONLY refuses an order, malformed JSON becomes
    BAD_RESPONSE, a disconnect after send loses the answer of an executed order, a
    HIDE_FROM_NEXT_QUERY hides the order placed, and a STALE read repeats one old answer (a
    frozen feed) stamped with its own old time or, stamped "now", the current time —, and what
    the calls of a snapshot cost (calls, failures, simulated latency); :func:`reason_for`, the
    reason code of an engine error (a Binance code and its HTTP status).

What it must not do
    read the wall clock for anything but real sleeping, or let a library exception escape (only
    :class:`AdapterError`).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Optional, TypeVar

from adapters.base import AdapterError, Reason, last_look

from ..engine import SimError, SimExchange, SimOrder
from ..faults import HTTP_STATUS, FaultKind, FaultPlan, first, stale, total_latency_ms

T = TypeVar("T")

_AUTH = {-1022, -2014, -2015, -1021}
_RATE = {-1003, -1015}
_INVALID = {-1013, -1100, -1102, -1106, -1111, -1115, -1116, -1117, -1130, -2021, -2025, -4003, -4005, -4006, -4013,
            -4014, -4028, -4045, -4061, -4116, -4120, -4136, -4164, -5021, -5022}


def reason_for(code: int, http_status: int = 400) -> Reason:
    """The reason code of a Binance error code (and its HTTP status)."""
    if http_status in (418, 429) or code in _RATE:
        return Reason.RATE_LIMITED
    if code in _AUTH or http_status == 401:
        return Reason.AUTH
    if code == -2022:
        return Reason.REDUCE_ONLY_REJECTED
    if code in (-2019, -2010):
        return Reason.INSUFFICIENT_MARGIN
    if code == -1121:
        return Reason.UNKNOWN_SYMBOL
    if code in (-2011, -2013):
        return Reason.ORDER_NOT_FOUND
    if code in _INVALID:
        return Reason.INVALID_ORDER
    if http_status >= 500 or code in (-1000, -1001, -1007, -1008):
        return Reason.EXCHANGE_UNAVAILABLE
    return Reason.UNKNOWN


async def _hang() -> None:
    """Never answer: the caller's timeout ends the wait."""
    await asyncio.Event().wait()


class EngineCalls:
    """The engine operations of the engine's ``account``, for an adapter on ``venue`` (the
    name its errors carry)."""

    def __init__(self, engine: SimExchange, account: str, venue: str):
        self.engine = engine
        self.account = account
        self.venue = venue
        self.count = self.failed = 0  # the calls made since :meth:`reset`, and those that failed
        self.latency_ms = 0.0  # the simulated latency they met
        self._frozen: dict[tuple[int, str], tuple[int, object]] = {}  # (stale rule, read) → (as of, answer)

    def reset(self) -> None:
        """Count from nothing again (a snapshot's calls)."""
        self.count = self.failed = 0
        self.latency_ms = 0.0

    async def call(self, op: str, fn: Callable[[Optional[int]], T], faults: FaultPlan, timeout_s: float,
                   time_scale: float, *, order: bool = False, stamps: Optional[list] = None) -> T:
        """One engine operation behind the fault plan and the adapter's timeout. ``fn`` gets
        the time to read state at (None: now; a time in the past for a stale fault). The time
        the venue would stamp the answer with is appended to ``stamps``."""
        if order:  # the moment an order leaves: the caller's send gate has the last word
            last_look(op, self.venue)
        now = self.engine.now()
        matched = faults.match(op, now, account=self.account)
        self.count += 1
        try:
            return await asyncio.wait_for(self._run(op, matched, fn, now, order, stamps, timeout_s, time_scale),
                                          timeout_s)
        except asyncio.TimeoutError:
            self.failed += 1
            raise AdapterError(Reason.TIMEOUT, f"{op}: no answer within {timeout_s:g}s; the outcome is unknown",
                               venue=self.venue) from None
        except AdapterError:
            self.failed += 1
            raise

    async def _run(self, op: str, faults: list, fn: Callable[[Optional[int]], T], now: int, order: bool,
                   stamps: Optional[list], timeout_s: float, time_scale: float) -> T:
        lat = total_latency_ms(faults)
        self.latency_ms += lat
        if lat:
            if lat >= timeout_s * 1000:
                await _hang()
            # real sleeping is scaled and kept clear of the timeout, so the outcome is decided
            # by the simulated latency alone
            await asyncio.sleep(min(lat / 1000 * time_scale, 0.8 * timeout_s))
        status = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
        if status is not None:
            code = HTTP_STATUS[status.kind]
            if code in (418, 429):
                raise AdapterError(Reason.RATE_LIMITED, f"{op}: HTTP {code} (injected)", venue=self.venue,
                                   retry_after_s=status.retry_after_s if status.retry_after_s is not None else 1.0)
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, f"{op}: HTTP {code} (injected)", venue=self.venue)
        if order and first(faults, FaultKind.REJECT_REDUCE_ONLY):
            raise AdapterError(Reason.REDUCE_ONLY_REJECTED, f"{op}: -2022 ReduceOnly Order is rejected. (injected)",
                               venue=self.venue)
        timeout = first(faults, FaultKind.TIMEOUT)
        if timeout is not None and not timeout.applied:
            await _hang()
        st = None if order else stale(faults)
        try:
            if st is None:
                result, as_of = fn(None), now
            else:
                # a frozen feed: the first stale read of this rule is the answer from stale_ms
                # ago; every later one repeats it
                frozen = self._frozen.get((st.rule, op))
                if frozen is None:
                    frozen = self._frozen[(st.rule, op)] = (now - st.stale_ms, fn(now - st.stale_ms))
                as_of, result = frozen  # type: ignore[assignment]
            if stamps is not None:
                stamps.append(now if st is not None and st.stamp == "now" else as_of)
        except SimError as e:
            raise AdapterError(reason_for(e.code, e.http_status), f"{op}: {e.code} {e.msg}", venue=self.venue,
                               retry_after_s=e.retry_after_s) from None
        if timeout is not None:
            await _hang()
        if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, f"{op}: connection reset after the request was sent; "
                               "the outcome is unknown", venue=self.venue)
        if first(faults, FaultKind.MALFORMED_JSON):
            raise AdapterError(Reason.BAD_RESPONSE, f"{op}: malformed JSON in the answer", venue=self.venue)
        if first(faults, FaultKind.HIDE_FROM_NEXT_QUERY) and isinstance(result, SimOrder):
            self.engine.hide_from_next_query(self.account, result.order_id)
        return result


__all__ = ["EngineCalls", "reason_for"]
