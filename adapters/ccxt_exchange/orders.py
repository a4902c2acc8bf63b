"""One order of the engine to the venue: checked here, built for the account's position mode, sent once.

What it owns
    * :meth:`OrderPlacement.submit`: the local safety net before an order leaves the process —
      :func:`adapters.base.check_close` against the position :mod:`.known` holds (refreshed when
      unknown or stale), a hedge-mode leg that would grow refused, a spot sell within the
      holding, the amount rounded *down* to the market's step (ccxt ``amount_to_precision``,
      i.e. TRUNCATE) and checked against the minimums, a limit price on the tick —, then one
      ``create_order`` with the dialect's parameters; a close the venue refuses for the
      position mode is rebuilt for the mode read again (:mod:`.modes`), once;
    * an order's parameters (:meth:`OrderPlacement.order_params`) and the position mode they
      are built for (the Accounts document's ``hedge_mode`` is an expectation,
      :meth:`OrderPlacement.position_mode`);
    * the lookup of an order by client order id, and the order book a close is priced from.

What it must not do
    retry an order: a ``create_order`` that times out or loses its connection may or may not
    have reached the venue; it surfaces as ``TIMEOUT`` (or ``EXCHANGE_UNAVAILABLE``) and the
    caller reconciles with :meth:`OrderPlacement.fetch_order` by the intent's deterministic
    client order id before sending anything again.
"""

from __future__ import annotations

import logging
from typing import Mapping, Optional

from killswitch.orders import OrderIntent
from killswitch.snapshot import MarketRules, OrderBook

from ..base import MODE, AdapterError, OrderResult, PositionMode, Reason, check_close
from . import parsing
from .calls import Op
from .known import KnownPositions
from .parsing import num

log = logging.getLogger(__package__)


class OrderPlacement(KnownPositions):
    """Orders sent and looked up (a part of :class:`~.adapter.CcxtAdapter`)."""

    # --- orders -------------------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderResult:
        """Send one order of the engine.

        Before anything is sent: :func:`check_close` against the position this adapter knows
        for the intent's symbol and leg (re-fetched when unknown or older than
        ``position_max_age_s``, or when a live private stream holds less of it since), a
        hedge-mode leg that would grow rather than close refused (NOT_REDUCE_ONLY), a spot sell
        no larger than the holding, the amount rounded down to the market's step and checked
        against the minimum amount (and, for non-reduce-only orders, the minimum notional). Any
        refusal is an AdapterError and nothing reaches the venue.

        Then one ``create_order``: a market order, or a limit IOC at ``intent.limit_price`` (on
        the tick, never looser than the cap), with the dialect's parameters (:meth:`order_params`).

        Never retried. A TIMEOUT (or EXCHANGE_UNAVAILABLE) means the outcome is unknown: ask
        :meth:`fetch_order` with the same client order id before sending again.
        """

        async def body(op: Op) -> OrderResult:
            return await self._send(op, intent)

        self._orders_at = None  # whatever the answer, the next snapshot lists the open orders again
        try:
            try:
                return await self._calls.run("submit", body)
            except AdapterError as e:
                if not await self._built_otherwise(intent, e):
                    raise
                return await self._calls.run("submit", body)
        except AdapterError as e:
            self._after_refusal(intent, e)
            raise

    async def _send(self, op: Op, intent: OrderIntent) -> OrderResult:
        """The checks before anything is sent (see :meth:`submit`), then the one ``create_order``."""
        await self._markets.ensure(op)
        market = self._markets.require(intent.symbol)
        self._refuse_malformed(intent)
        leg = self._leg_of(intent)
        if self.market_type == "futures":
            pos = await self._known_position(op, intent.symbol, leg)
            check_close(intent, self.market_type, pos.contracts if pos else None, self.venue)
        else:
            check_close(intent, self.market_type, None, self.venue)
            if intent.side == "sell":
                await self._check_spot_holding(op, intent, market)
        amount = self.round_amount(intent.symbol, intent.amount)
        rules = self.market_rules(intent.symbol) or MarketRules()
        if amount <= 0 or amount < rules.min_amount:
            raise AdapterError(Reason.INVALID_ORDER,
                               f"{intent.symbol}: amount {intent.amount:g} is below the market minimum "
                               f"(step {rules.amount_step:g}, min {rules.min_amount:g})", venue=self.venue)
        price = self._limit_price(intent)
        if not intent.reduce_only and rules.min_notional:
            unit = price or (intent.notional / intent.amount if intent.amount else 0.0)
            if unit and amount * unit < rules.min_notional:
                raise AdapterError(Reason.INVALID_ORDER,
                                   f"{intent.symbol}: notional {amount * unit:g} is below the minimum "
                                   f"{rules.min_notional:g}", venue=self.venue)
        params = self.order_params(intent)
        order_type = "market" if price is None else "limit"
        if price is not None:
            params["timeInForce"] = "IOC"
        raw = await self._calls.call(op, "create_order", intent.symbol, order_type, intent.side, amount, price,
                                     params, retry=False, order=True)
        result = parsing.order_result(self.dialect.order_answer(raw), intent.client_order_id, amount)
        self._after_send(intent.symbol, leg, result)
        return result

    def _refuse_malformed(self, intent: OrderIntent) -> None:
        """Refuses a side that is neither buy nor sell, and a client order id the venue would refuse
        (or cut, and lose the lookup by client id after a crash)."""
        if intent.side not in ("buy", "sell"):
            raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: side {intent.side!r}", venue=self.venue)
        if not self.dialect.client_id_fits(intent.client_order_id):
            d = self.dialect
            raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: client order id "
                               f"{intent.client_order_id!r} is not {d.max_client_id_length} or fewer of "
                               f"[{d.client_id_alphabet}]", venue=self.venue)

    def _limit_price(self, intent: OrderIntent) -> Optional[float]:
        """The limit on the tick, never looser than the cap; None for a market order."""
        if intent.limit_price is None:
            return None
        if intent.limit_price <= 0:
            raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: limit price {intent.limit_price:g}",
                               venue=self.venue)
        return self._markets.protected_price(intent.symbol, intent.limit_price, intent.side)

    async def _built_otherwise(self, intent: OrderIntent, e: AdapterError) -> bool:
        """Whether an order refused for the position mode (reduceOnly in hedge mode, a leg in
        one-way) is built otherwise once the mode is read again: then it is sent once more.
        Nothing of it reached the book."""
        if e.refusal is None or e.refusal.kind != MODE or self.market_type != "futures":
            return False
        sent = self.order_params(intent)
        await self._reread_mode()
        if self.order_params(intent) == sent:
            return False
        log.warning("%s/%s: %s refused for the position mode (%s); the mode read again is %s: "
                    "sent once more, built for it", self.venue, self.account, intent.client_order_id,
                    e.refusal.text(), self._mode.value().describe())
        return True

    def _after_refusal(self, intent: OrderIntent, e: AdapterError) -> None:
        if e.reason in (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE, Reason.UNKNOWN, Reason.BAD_RESPONSE,
                        Reason.REDUCE_ONLY_REJECTED):
            # unknown outcome, or the venue knows a smaller position: re-fetch before the next close
            self._forget_positions(intent.symbol)
        if e.reason == Reason.CLOSE_EXCEEDS_POSITION and self._stream is not None and \
                self.market_type == "futures":
            # the close was sized from a snapshot that holds more than the position read over
            # REST: the next snapshots are REST's until a reconcile agrees with the stream
            self._stream.distrust(f"{intent.symbol}: {e.message}")

    def _leg_of(self, intent: OrderIntent) -> str:
        """The position ('long' / 'short') an intent closes; a hedge leg it would grow is refused."""
        closes = "long" if intent.side == "sell" else "short"
        ps = (intent.position_side or "").upper()
        if ps in ("LONG", "SHORT"):
            if ps.lower() != closes and self.market_type == "futures":
                raise AdapterError(Reason.NOT_REDUCE_ONLY,
                                   f"{intent.symbol}: a {intent.side} on the {ps} leg would grow it, not close it",
                                   venue=self.venue)
            return ps.lower()
        return closes

    def order_params(self, intent: OrderIntent) -> dict:
        """The venue parameters of an intent (the dialect's): client order id, reduce-only,
        hedge-mode leg, and the margin mode of the position a close reduces where the venue
        needs it (OKX ``tdMode``: an isolated position closed as cross is refused or opens a
        cross position)."""
        leg = None
        if self.market_type == "futures" and self._mode.hedge_for(intent.position_side):  # the venue's mode
            leg = "LONG" if intent.side == "sell" else "SHORT"
            given = (intent.position_side or "").upper()
            if given in ("LONG", "SHORT"):
                leg = given
        futures = self.market_type == "futures"
        params = self.dialect.order_params(intent.client_order_id, futures=futures, hedge_leg=leg,
                                           reduce_only=bool(intent.reduce_only))
        param = self.dialect.margin_mode_param
        if futures and param and intent.reduce_only:
            closes = "long" if intent.side == "sell" else "short"
            mode = self._margin_modes.get((intent.symbol, (leg or closes.upper()).lower()))
            if mode is not None:
                params[param] = mode
        return params

    def position_mode(self) -> Optional[PositionMode]:
        """The account's position mode as the venue read it last, beside the declared one (and
        why it was not read, where it was not); see :mod:`.modes`. None for a spot account: it
        holds assets, not legs, and has no mode to read (nor one to warn of as unread)."""
        return None if self.market_type == "spot" else self._mode.value()

    async def _reread_mode(self) -> None:
        """Read the position mode again now (after a refusal for it), within its own deadline."""
        self._mode.distrust()

        async def body(op: Op) -> None:
            await self._mode.read_now(self._reads(op))
            if self._mode.hedge is None and self._has("fetchPositions"):  # a venue whose positions say it
                raw = await self.dialect.fetch_positions(self._reads(op))
                self._mode.from_positions(raw, parsing.margin_modes(raw))

        try:
            await self._calls.run("position_mode", body)
        except AdapterError as e:
            log.warning("%s/%s: POSITION_MODE_UNREAD: %s: %s", self.venue, self.account, e.reason.value, e.message)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        """The order with this client order id, looked up the dialect's way (a single-order
        fetch by the venue's client order id key, or a search of the order lists).
        ORDER_NOT_FOUND when the venue has no such order."""

        async def body(op: Op) -> OrderResult:
            await self._markets.ensure(op)
            self._markets.require(symbol)
            raw = await self.dialect.find_by_client_id(self._calls.bind(op), symbol, client_order_id)
            if raw is None:
                raise AdapterError(Reason.ORDER_NOT_FOUND, f"{symbol}: no order {client_order_id}", venue=self.venue)
            amount = num(raw.get("amount")) if isinstance(raw, Mapping) else None
            return parsing.order_result(raw, client_order_id, amount or 0.0)

        return await self._calls.run("fetch_order", body)

    async def fetch_order_book(self, symbol: str, depth: int) -> OrderBook:
        """The top ``depth`` levels a side of ``symbol``'s book: ccxt's ``fetch_order_book`` at
        the smallest depth the venue takes that covers it, through the request pacer."""

        async def body(op: Op) -> OrderBook:
            await self._markets.ensure(op)
            self._markets.require(symbol)
            raw = await self._calls.call(op, "fetch_order_book", symbol, self.dialect.book_limit(depth))
            return self._parse_or_bad_response("order book", lambda: parsing.order_book(raw, depth))

        return await self._calls.run("fetch_order_book", body)


__all__ = ["OrderPlacement"]
