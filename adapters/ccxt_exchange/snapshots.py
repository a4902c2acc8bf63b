"""The account read over REST in one go: the snapshot the engine reads where the stream does not answer.

What it owns
    * :meth:`RestSnapshots._rest_snapshot`: balances, positions (futures), open orders, equity
      and the market rules of every symbol in them, read together and parsed by :mod:`.parsing`;
      a failed read is a snapshot too (``fetch.ok`` false, ``equity`` None, the reason code, the
      message scrubbed): it never raises;
    * what the read leaves the orders that follow: the positions and holdings a close is
      checked against, their margin modes, the position mode where the positions say it
      (:mod:`.modes`) and the open orders, with when each was read;
    * how often every open order is listed: at ``open_orders_max_age_s``, at
      :data:`WATCHED_ORDERS_MAX_AGE_S` while the runner watches the account's entries, and at
      once when it starts watching them (``wake_on_entries``) or after the stream read an
      order whose kind it cannot tell.

What it must not do
    answer from the private stream (:mod:`.streamed` decides which one a snapshot reads), or
    raise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from killswitch.snapshot import FetchStatus, PositionList, Snapshot, with_positions

from ..base import AdapterError, Reason
from . import parsing
from .calls import Op
from .core import AdapterCore
from .dialects import KNOWN_RAW_FIELDS
from .errors import scrub
from .streaming.stream import now_ms

# how old a snapshot's list of every open order may be while the runner watches the account's
# entries under a lock (a dialect's longer age spares the venue's weight in calm times)
WATCHED_ORDERS_MAX_AGE_S = 2.0

log = logging.getLogger(__package__)


class RestSnapshots(AdapterCore):
    """The adapter's REST snapshot (a part of :class:`~.adapter.CcxtAdapter`)."""

    async def _rest_snapshot(self) -> Snapshot:
        """The account now: balances, positions (futures), open orders, equity and the market
        rules of every symbol in them. Never raises: a failure is a snapshot with ``fetch.ok``
        false, ``equity`` None and the reason code (secrets scrubbed from the message)."""
        started = time.monotonic()
        op = self._calls.op("snapshot")
        try:
            snap = await asyncio.wait_for(self._snapshot(op, started), self.timeout)
            return snap
        except (asyncio.TimeoutError, TimeoutError):
            err = AdapterError(Reason.TIMEOUT, f"snapshot: no answer within {self.timeout:g}s", venue=self.venue)
        except AdapterError as e:
            err = e
        except Exception as e:  # noqa: BLE001 — a snapshot never raises
            err = self._calls.error(e, "snapshot")
        now = now_ms()
        return self._base_snapshot(
            ts_event=now, ts_observed=now, ts_source="runner", equity=None,
            fetch=FetchStatus(ok=False, error_code=err.reason.value, error=scrub(err.message, self._secrets),
                              latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        )

    def _base_snapshot(self, **kw: Any) -> Snapshot:
        return Snapshot(venue=self.venue, account=self.account, market_type=self.market_type,
                        quote_currency=self.quote_currency, labels=self.labels or {},
                        initial_capital=self.initial_capital, stablecoins=self.stablecoins,
                        strategies=tuple(self.strategies), **kw)

    def _orders_due(self) -> bool:
        """Whether this snapshot lists every open order (see ``open_orders_max_age_s``, and
        :meth:`~.streamed.StreamedSnapshots.wake_on_entries`).

        While the runner watches the account's entries it is listed sooner — at once after the
        watch began, then when :data:`WATCHED_ORDERS_MAX_AGE_S` old — but only out of the venue's
        request weight the pacer has to spare now: the list of every open order is a venue's
        heaviest read (Binance USD-M: 80, four seconds of ccxt's pace), and listing it sooner
        than the weight allows holds every read behind it, the tick's positions included (a
        runner ticking at 200 ms went from a 0.5 s to a 2.5 s tick period under a lock). Without
        the weight to spare it is listed at the dialect's own age, as when no lock watches, and
        the deferral is counted (``watch_lists_deferred``) and said once a watch."""
        if self._stream is not None and self._stream.orders_due:  # it read an order it cannot tell the kind of
            return True
        at = self._orders_at
        if at is None:
            return True
        age = time.monotonic() - at
        if age >= self.open_orders_max_age_s * (1 if self._watching_entries else self._shed_factor):
            return True
        if not self._watching_entries or not (self._watch_list_due or age >= WATCHED_ORDERS_MAX_AGE_S):
            return False
        if self._weight_to_spare():
            return True
        self.watch_lists_deferred += 1
        if not self._watch_deferral_said:
            self._watch_deferral_said = True
            log.warning("WATCH_LIST_DEFERRED: %s/%s: the venue's request weight has no room now for a list of "
                        "every open order sooner than every %gs while a lock watches the account's entries; "
                        "listed when the weight allows, else every %gs", self.venue, self.account,
                        WATCHED_ORDERS_MAX_AGE_S, self.open_orders_max_age_s)
        return False

    def _weight_to_spare(self) -> bool:
        """Whether the request pacer can pay a whole snapshot that lists the open orders now,
        without a wait (the dialect's declared weights; a client paced otherwise, or a dialect
        that declares none, always can)."""
        pacer = getattr(self._ex, "throttle", None)
        available = getattr(pacer, "available", None)
        cost = self.dialect.snapshot_cost(self.market_type, self.settle_coins)
        if not callable(available) or cost is None:
            return True
        return bool(available() >= cost.full)

    async def _snapshot(self, op: Op, started: float) -> Snapshot:
        await self._markets.ensure(op)
        futures = self.market_type == "futures"
        if futures and not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        listing = self._orders_due()
        apart = futures and not self.dialect.positions_in_balance  # (else read of the balance's answer)
        reads = [self._calls.call(op, "fetch_balance")]
        if apart:
            reads.append(self.dialect.fetch_positions(self._reads(op)))
        if listing:
            reads.append(self._open_orders(op))
        if futures and self._mode.due():  # (never raises: a mode not read is said, the legs build closes)
            reads.append(self._mode.read_now(self._reads(op)))
        results = await self._calls.gather(*reads)
        raw_balance = results[0]
        raw_positions = (results[1] if apart else await self.dialect.balance_positions(raw_balance, self._reads(op))
                         ) if futures else []
        observed = now_ms()

        orders = results[1 + apart] if listing else list(self._orders.values())
        if futures:
            # with their columns, read while the positions are fresh (the tick reads no field of them)
            positions = PositionList.of(await self._read_positions_yielding(raw_positions))
            balances = parsing.parse_balances(raw_balance, {})
            equity = parsing.futures_equity(raw_balance, self.quote_currency, KNOWN_RAW_FIELDS)
        else:
            positions = PositionList()
            reads_ = self._reads(op)
            prices = await self._markets.spot_prices(op, parsing.held_assets(raw_balance), self.quote_currency,
                                                     self.stablecoins,
                                                     lambda symbols: self.dialect.spot_prices(reads_, symbols))
            balances = parsing.parse_balances(raw_balance, prices)
            self.dialect.check_spot_values(balances, self.quote_currency)
            equity = sum(b.total * b.price for b in balances if b.price is not None)

        mono = time.monotonic()
        self._positions = {(p.symbol, p.side): p for p in positions}
        self._margin_modes = parsing.margin_modes(raw_positions)
        if futures:
            self._mode.from_positions(raw_positions, self._margin_modes)
        self._positions_at = {}
        self._positions_all_at = mono if futures else None
        self._orders = {o.id: o for o in orders}
        if listing:
            self._orders_at = mono
            self._watch_list_due = False
        self._holdings = {b.asset: b for b in balances}
        self._holdings_at = mono

        symbols = {p.symbol for p in positions} | {o.symbol for o in orders}
        if not futures:
            symbols |= {f"{b.asset}/{self.quote_currency}" for b in balances if b.asset != self.quote_currency}
        markets = {s: r for s in sorted(symbols) if (r := self.market_rules(s)) is not None}
        ts_event, ts_source = parsing.venue_stamp(raw_balance, observed)
        return with_positions(self._base_snapshot(  # its positions as parsed, with their columns
            ts_event=ts_event, ts_source=ts_source,
            ts_observed=observed,
            equity=equity,
            balances=balances,
            orders=orders,
            fetch=FetchStatus(ok=True, latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        ), positions, markets)  # and the market rules it made, not validated again


__all__ = ["RestSnapshots", "WATCHED_ORDERS_MAX_AGE_S"]
