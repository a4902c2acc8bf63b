"""An account whose venue is read in a reader process: the adapter the decider holds.

What it owns: :class:`RemoteAdapter`, the :class:`~adapters.base.ExchangeAdapter` of one account
whose real adapter lives in a reader (:mod:`.reader`). Every call that reaches the venue is sent
there and its answer awaited (a timeout around it cancels it there too); what the runner asks
without a call — capabilities, symbols, the stream's health, the position mode, the request
weight, the stream's legs of a symbol an entry order came on, whether an entry order handed over
is still held open — is answered from what the reader last sent. A snapshot arrives as a change
of the one held (:class:`~.wire.SnapshotMirror`), a whole one after a gap.

While its reader is down (it ended, stalled, or is starting again), every call fails at once
with ``READER_DOWN`` and the stream's health says so: the account's snapshots fail, which the
policies read as missing data and the coverage shows as blind — never calm.

An order's last look is taken twice: here before the call leaves (the caller's send gate), and
in the reader immediately before the request leaves, against the lease term the decider
publishes (:meth:`.link.ReaderPool.follow_term`).

Must not: read a venue's bytes, or answer from a snapshot older than the reader's last one.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Optional, Protocol

from killswitch.orders import OrderIntent
from killswitch.snapshot import Order, Snapshot

from ..base import (
    AdapterError,
    Capabilities,
    OrderResult,
    PositionMode,
    Reason,
    SendWithheld,
    StreamHealth,
    open_gate,
)
from ..stand_in import StandIn
from .reader import GONE_KEPT, trusted
from .wire import Gap, SnapshotMirror


class Link(Protocol):
    """What an account's adapter asks of its reader's link (:class:`.link.ReaderLink`)."""

    index: int

    async def call(self, key: str, method: str, args: tuple, gated: bool) -> Any: ...

    def tell(self, key: str, what: str, value: Any) -> None: ...

    def down_reason(self) -> Optional[str]: ...

    def down_since_ms(self) -> Optional[int]: ...

LEGS_FRESH_S = 2.0  # the stream's legs sent with an entry order answer for this long
# a snapshot its reader pushed answers for this long while the account's stream answers alone
# (the reader pushes at every change and at least every second: reader.PUSH_EVERY_S)
PUSHED_FRESH_S = 2.0


class FrozenWeight:
    """An account's request weight as its reader last counted it."""

    def __init__(self, used: float, venue_count: Optional[tuple[float, float]],
                 waits: Optional[dict[str, tuple[int, float]]] = None):
        self._used = used
        self._venue = venue_count
        self._waits = waits or {}
        self._at = time.monotonic()

    def used(self) -> float:
        return self._used

    def endpoint_waits(self) -> dict[str, tuple[int, float]]:
        return self._waits

    def venue_count(self) -> Optional[tuple[float, float]]:
        if self._venue is None:
            return None
        age, count = self._venue
        return age + (time.monotonic() - self._at), count


class RemoteAdapter(StandIn):
    """See the module doc."""

    def __init__(self, key: str, link: Link, info: dict):
        self.key = key
        self.venue, _, self.account = key.partition("/")
        self._link = link
        self._info: dict = {}
        self.labels: Optional[dict[str, str]] = None
        self._health: Optional[StreamHealth] = None
        self._mode: Optional[PositionMode] = None
        self._weight: Any = None
        self._mirror = SnapshotMirror()
        self._latest: Optional[Snapshot] = None  # the last snapshot the reader sent, asked or not
        self._latest_at = 0.0
        self.took_info(info)
        self._wake: Optional[Callable[[str], None]] = None
        self._entry: Optional[Callable[[str, Order], None]] = None
        # what the reader is told again when it starts again
        self.loaded = self.streaming = self.watching = False
        self.shed_level = 0
        self._held: dict[str, bool] = {}  # entry order id → held open (False: the stream says it ended)
        self._legs: dict[str, tuple[float, Optional[dict[str, float]]]] = {}  # symbol → (when, legs)

    @property
    def unreadable(self) -> Optional[AdapterError]:
        """Why the reader could not build the account's adapter at start (its credential), if so."""
        said = self._info.get("unreadable")
        return None if said is None else AdapterError(Reason(said[0]), said[1], venue=self.venue)

    # --- what the reader sends -----------------------------------------------------------------------

    def took_info(self, info: dict) -> None:
        self._info = dict(self._info, **info)
        self.labels = info.get("labels")
        if info.get("state") is not None:
            self.took_state(info["state"])

    def took_state(self, state: tuple) -> None:
        health, self._mode, weight = state
        self._health = health
        self._weight = None if weight is None else (FrozenWeight(weight[0], weight[1], weight[3]), weight[2])

    def woke(self) -> None:
        if self._wake is not None:
            self._wake(self.key)

    def entered(self, order: Order, legs: Optional[dict[str, float]]) -> None:
        self._held[str(order.id)] = True
        while len(self._held) > GONE_KEPT:
            del self._held[next(iter(self._held))]
        self._legs[order.symbol] = (time.monotonic(), legs)
        if self._entry is not None:
            self._entry(self.key, order)

    def ended(self, order_ids: list[str]) -> None:
        for oid in order_ids:
            if oid in self._held:
                self._held[oid] = False

    def pushed(self, encoded: tuple) -> None:
        """A snapshot the reader sent unasked: its stream changed it, or a second went by."""
        try:
            self._took(self._mirror.apply(encoded))
        except Gap:
            self._latest = None  # the next snapshot is asked for, whole

    def _took(self, snap: Snapshot) -> Snapshot:
        self._latest, self._latest_at = snap, time.monotonic()
        return snap

    def restarted(self) -> None:
        """A reader started again: nothing it sent before holds (a whole snapshot next)."""
        self._latest = None
        self._mirror.forget()
        self._held.clear()
        self._legs.clear()

    # --- the protocol --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self._info["capabilities"]

    def symbols(self) -> Optional[frozenset[str]]:
        return self._info["symbols"]

    def strategy_names(self) -> frozenset[str]:
        return self._info["strategy_names"]

    def client_id_prefixes(self) -> dict[str, str]:
        return dict(self._info["client_id_prefixes"])

    @property
    def trading_keys(self) -> tuple[str, ...]:
        return self._info["trading_keys"]

    async def hand_on(self, method: str, *args: Any, gated: bool = False) -> Any:
        """Every call that reaches the venue: sent to the reader, its answer awaited."""
        return await self._link.call(self.key, method, args, gated)

    async def snapshot(self) -> Snapshot:
        """The account now: while its stream answers alone, the snapshot the reader last pushed
        (no call: the tick never waits behind a reader busy with another account's REST read);
        else asked of the reader, which reads REST where the adapter would."""
        latest, health = self._latest, self._health
        if (latest is not None and trusted(health) and self._link.down_reason() is None
                and time.monotonic() - self._latest_at < PUSHED_FRESH_S):
            return latest
        try:
            return self._took(self._mirror.apply(await self.hand_on("snapshot", self._mirror.number)))
        except Gap:
            return self._took(self._mirror.apply(await self.hand_on("snapshot", None)))

    async def load_symbols(self) -> None:
        await self.hand_on("load_symbols")
        self.loaded = True

    async def submit(self, intent: OrderIntent) -> OrderResult:
        gate = open_gate()
        if gate is not None and not gate():
            raise SendWithheld("order " + intent.client_order_id, venue=self.venue)
        return await self.hand_on("submit", intent, gated=gate is not None)

    async def close(self) -> None:
        """Nothing of its own: the pool ends the reader, which closes the real adapter."""

    def weight(self) -> Any:
        return self._weight

    def position_mode(self) -> Optional[PositionMode]:
        return self._mode

    def stream_health(self) -> Optional[StreamHealth]:
        health = self._health
        down = self._link.down_reason()
        if down is not None and health is not None and health.state != "off":
            return replace(health, state="down", reason="READER_DOWN", since_ms=self._link.down_since_ms(),
                           answers=False, reconcile_failures=0, reconcile_failure_reason=None, reconcile_overdue=False)
        return health

    async def start_streams(self) -> None:
        await self.hand_on("start_streams")
        self.streaming = True

    def set_wake(self, cb: Callable[[str], None]) -> None:
        self._wake = cb

    def wake_on_entries(self, on: bool) -> None:
        self.watching = bool(on)
        self._link.tell(self.key, "wake_on_entries", self.watching)

    def set_entry_watch(self, cb: Optional[Callable[[str, Order], None]]) -> None:
        self._entry = cb

    def stream_holds_open(self, order_id: str) -> Optional[bool]:
        return self._held.get(order_id)

    def stream_legs(self, symbol: str) -> Optional[dict[str, float]]:
        kept = self._legs.get(symbol)
        if kept is None or time.monotonic() - kept[0] > LEGS_FRESH_S:
            return None
        return kept[1]

    def shed(self, level: int) -> None:
        self.shed_level = int(level)
        self._link.tell(self.key, "shed", self.shed_level)

    def __repr__(self) -> str:
        return f"RemoteAdapter({self.key!r}, reader {self._link.index})"


def reader_down(key: str, why: str) -> AdapterError:
    venue = key.partition("/")[0]
    return AdapterError(Reason.READER_DOWN, why, venue=venue)


__all__ = ["FrozenWeight", "RemoteAdapter", "reader_down"]
