"""The simulated exchange's conditional orders: stops, take-profits and trailing stops.

Binance USDⓈ-M keeps STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET and
TRAILING_STOP_MARKET orders in its algo service, apart from the order book: they are placed,
listed, read and cancelled through their own endpoints (``/fapi/v1/algoOrder``,
``openAlgoOrders``, ``algoOpenOrders``), carry an ``algoId`` and a ``clientAlgoId`` of their
own, and ``POST /fapi/v1/order`` refuses their types (-4120). :class:`ConditionalBook` is that
service for one :class:`~.engine.SimExchange`:

* placing validates as the venue does: the symbol, side and type; a trigger price above zero
  on the tick (none for a trailing stop, which takes a ``callbackRate`` of 0.1-10 % and an
  optional ``activatePrice``); a limit price for STOP and TAKE_PROFIT only; a quantity on the
  step, or ``closePosition`` (STOP_MARKET and TAKE_PROFIT_MARKET only, without a quantity or
  ``reduceOnly``); ``reduceOnly`` refused in hedge mode and ``positionSide`` matching the
  account's mode, as for regular orders; a new ``clientAlgoId`` unique like a client order id;
  at most 10 a symbol (the ``MAX_NUM_ALGO_ORDERS`` filter the face publishes); and an order
  that would trigger at once is refused (-2021). Whether a reduce-only or close-position order
  has a position to reduce is asked when it triggers, not when it is placed (a stop-loss is
  commonly placed before its entry fills);
* it triggers when the mark crosses the trigger price (a stop buys at or above it and sells at
  or below it, a take-profit the other way round; ``workingType`` is accepted, and both
  prices are the mark here, the simulated venue's one price). A trailing stop follows the best
  mark since it was placed (or since the mark reached its ``activatePrice``) and triggers once
  the mark is ``callbackRate`` % back from it. The order it becomes is a regular order of the
  book: a market order of its quantity (STOP_MARKET, TAKE_PROFIT_MARKET, trailing) or a limit
  at its price and time in force (STOP, TAKE_PROFIT); a close-position order becomes a
  reduce-only market order of the whole leg, so it never opens exposure; a reduce-only order
  larger than the leg is refused as a regular one is (-2022), and one with no leg left to
  reduce expires; an order that opens needs the margin a regular one would. The conditional
  order leaves the open list as TRIGGERED (its ``actualOrderId`` names the new order),
  EXPIRED or REJECTED, and the engine's journal records it;
* every change of a conditional order is told to the engine's listeners (an
  :class:`~.changes.AlgoChanged`: placed, TRIGGERING before the order it becomes is submitted,
  TRIGGERED after, naming it, CANCELED, EXPIRED, REJECTED), which the websocket faces push as
  their venue's events;
* a cancel, a cancel of every conditional order of a symbol, and the countdown cancel-all of
  a symbol (:meth:`ConditionalBook.cancel_symbol`) end them as CANCELED; a fault
  (:meth:`ConditionalBook.refuse_cancel`) has the venue refuse a cancel of one by its id.

What it must not do: read the wall clock (time is the engine's), or know HTTP or killswitch
types. It keeps its orders in the engine's accounts, so ``dump_state`` and ``digest`` hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from .accounts import still_open
from .rules import (
    ALGO_ONLY_TYPES,
    CLOSING_SIDES,
    EPS,
    INVALID_ORDER_TYPE,
    INVALID_PARAM,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM,
    MARGIN_INSUFFICIENT,
    NO_SUCH_ORDER,
    PARAM_NOT_REQUIRED,
    REDUCE_ONLY_REJECTED,
    UNKNOWN_ORDER,
    MarketSpec,
    SimError,
    SimOrder,
    floor_step,
    order_leg,
)

# the engine (SimExchange) and its accounts are handed in, never imported: the engine builds
# this book (an import either way would be a circle)
Engine = Any
AccountState = Any

LIMIT_TYPES = ("STOP", "TAKE_PROFIT")  # become a limit order at their price
MAX_ALGO_ORDERS_PER_SYMBOL = 10

# Binance error codes of the algo service (beside the engine's)
IMMEDIATE_TRIGGER = -2021
STOP_PRICE_NOT_POSITIVE = -4006
MAX_ALGO_ORDERS = -4045
CLOSE_POSITION_INVALID = -4136
# a cancel the venue refuses for its own reasons (a fault: :meth:`ConditionalBook.refuse_cancel`):
# Binance's catch-all; each face words it as its venue does (Bitget: a failureList row)
CANCEL_REFUSED = -1000


@dataclass
class SimAlgoOrder:
    algo_id: int
    client_algo_id: str
    account: str
    symbol: str
    side: str  # BUY | SELL
    order_type: str  # one of ALGO_ONLY_TYPES
    position_side: str  # BOTH | LONG | SHORT
    time_in_force: str  # GTC | IOC | FOK: of the limit order it becomes
    quantity: float  # 0 with close_position
    trigger_price: float  # 0 for a trailing stop
    price: float  # 0 for the market types
    reduce_only: bool  # as sent
    close_position: bool
    working_type: str  # CONTRACT_PRICE | MARK_PRICE
    price_protect: bool
    create_time: int
    update_time: int
    callback_rate: float = 0.0  # trailing: percent
    activate_price: float = 0.0  # trailing: 0 = active from placement
    best_mark: float = 0.0  # trailing: the best mark since active (0: not yet active)
    status: str = "NEW"  # NEW | TRIGGERED | CANCELED | EXPIRED | REJECTED
    trigger_time: int = 0
    actual_order_id: int = 0  # the order it became
    label: str = ""  # a face's own name for the order's type (OKX: trigger or conditional), for its listings

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"

    @property
    def closes(self) -> bool:
        """Can only reduce: reduce-only, close-position, or the closing side of a hedge-mode leg."""
        return self.reduce_only or self.close_position or (self.position_side, self.side) in CLOSING_SIDES

    def copy(self) -> "SimAlgoOrder":
        return replace(self)


def crossed(o: SimAlgoOrder, mark: float, eps: float = 1e-9) -> bool:
    """A stop or take-profit whose trigger the mark has reached."""
    rising = (o.side == "BUY") == o.order_type.startswith("STOP")  # a buy stop, a sell take-profit
    return mark >= o.trigger_price - eps if rising else mark <= o.trigger_price + eps


def trail(o: SimAlgoOrder, mark: float, eps: float = 1e-9) -> bool:
    """Follow ``mark`` (a trailing stop's best mark since it became active); True when it has
    come back ``callback_rate`` % from it."""
    sell = o.side == "SELL"
    if o.best_mark <= 0:
        if o.activate_price > 0 and (mark < o.activate_price - eps if sell else mark > o.activate_price + eps):
            return False
        o.best_mark = mark
    o.best_mark = max(o.best_mark, mark) if sell else min(o.best_mark, mark)
    rate = o.callback_rate / 100.0
    return mark <= o.best_mark * (1 - rate) + eps if sell else mark >= o.best_mark * (1 + rate) - eps


class ConditionalBook:
    """The algo service of ``engine``. Its public methods are the engine's (``place_algo_order``
    and the rest delegate here): they evaluate the engine's timers first, charge the account's
    request weight and, for a new order, its order count."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # --- place -----------------------------------------------------------------------------------------

    def place(self, account: str, symbol: str, side: str, type: str, *, quantity: Optional[float] = None,
              trigger_price: Optional[float] = None, price: Optional[float] = None,
              time_in_force: Optional[str] = None, reduce_only: Optional[bool] = None,
              close_position: bool = False, position_side: Optional[str] = None,
              client_algo_id: Optional[str] = None, working_type: Optional[str] = None,
              price_protect: bool = False, callback_rate: Optional[float] = None,
              activate_price: Optional[float] = None, algo_type: str = "CONDITIONAL", label: str = "") -> SimAlgoOrder:

        eng = self.engine
        now, a = eng._request(account, 1)
        eng._count_order(a, now)
        if (algo_type or "").upper() != "CONDITIONAL":
            raise SimError(INVALID_PARAM, "Data sent for parameter 'algoType' is not valid.")
        m = eng._market(symbol)
        side = (side or "").upper()
        if side not in ("BUY", "SELL"):
            raise SimError(INVALID_SIDE, "Invalid side.")
        otype = (type or "").upper()
        if otype not in ALGO_ONLY_TYPES:
            raise SimError(INVALID_ORDER_TYPE, "Invalid orderType.")
        trailing = otype == "TRAILING_STOP_MARKET"
        qty = self._order_quantity(m, otype, quantity, close_position, reduce_only)
        trig, px = self._trigger_and_limit(m, otype, trigger_price, price)
        tif = (time_in_force or "GTC").upper()
        if tif not in ("GTC", "IOC", "FOK"):
            raise SimError(INVALID_TIF, "Invalid timeInForce.")
        wt = (working_type or "CONTRACT_PRICE").upper()
        if wt not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise SimError(INVALID_PARAM, "Data sent for parameter 'workingType' is not valid.")
        rate, activate = self._trailing(m, callback_rate, activate_price) if trailing else (0.0, 0.0)
        ps = order_leg(a.hedge_mode, position_side, reduce_only)
        if sum(1 for x in self.live(a) if x.symbol == m.symbol) >= MAX_ALGO_ORDERS_PER_SYMBOL:
            raise SimError(MAX_ALGO_ORDERS, "Reach max stop order limit.")
        cid = self._client_id(a, client_algo_id)
        o = SimAlgoOrder(0, cid, account, m.symbol, side, otype, ps, tif, qty, trig, px, bool(reduce_only),
                         bool(close_position), wt, bool(price_protect), now, now, callback_rate=rate,
                         activate_price=activate, label=label)
        mark = eng.mark(m.symbol, now)
        if trail(o, mark) if trailing else crossed(o, mark):
            raise SimError(IMMEDIATE_TRIGGER, "Order would immediately trigger.")
        o.algo_id = eng._new_id()  # one id space with the regular orders: an id names one order
        a.algos[o.algo_id] = o
        a.algo_by_client[cid] = o.algo_id
        a.algo_live[o.algo_id] = o
        eng._algo_changed(o, now)
        return o.copy()

    def _order_quantity(self, m: "MarketSpec", otype: str, quantity: Optional[float], close_position: bool,
                        reduce_only: Optional[bool]) -> float:
        """The quantity on the market's grid; 0 for a close-position order, which takes none."""
        if not close_position:
            if quantity is None:
                raise SimError(MANDATORY_PARAM,
                               "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
            return m.order_quantity(float(quantity))
        if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise SimError(CLOSE_POSITION_INVALID,
                           f"Target strategy invalid for orderType {otype},closePosition true")
        if quantity is not None:
            raise SimError(PARAM_NOT_REQUIRED, "Parameter 'quantity' sent when not required.")
        if reduce_only is not None:
            raise SimError(PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required.")
        return 0.0

    def _trigger_and_limit(self, m: "MarketSpec", otype: str, trigger_price: Optional[float],
                           price: Optional[float]) -> tuple[float, float]:
        """The trigger price (none for a trailing stop) and the limit price (a limit type's only)."""
        trig = 0.0
        if otype != "TRAILING_STOP_MARKET":
            if trigger_price is None:
                raise SimError(MANDATORY_PARAM,
                               "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.")
            trig = m.order_price(float(trigger_price), STOP_PRICE_NOT_POSITIVE, "Stop price less than zero.")
        px = 0.0
        if otype in LIMIT_TYPES:
            if price is None:
                raise SimError(MANDATORY_PARAM,
                               "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
            px = m.order_price(float(price))
        elif price is not None and float(price) != 0:
            raise SimError(PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
        return trig, px

    def _trailing(self, m: "MarketSpec", callback_rate: Optional[float],
                  activate_price: Optional[float]) -> tuple[float, float]:
        """A trailing stop's callback rate (0.1 to 10 %) and activation price (0: at once)."""
        if callback_rate is None:
            raise SimError(MANDATORY_PARAM,
                           "Mandatory parameter 'callbackRate' was not sent, was empty/null, or malformed.")
        rate = float(callback_rate)
        if not 0.1 - EPS <= rate <= 10 + EPS:
            raise SimError(INVALID_PARAM, "Data sent for parameter 'callbackRate' is not valid.")
        if activate_price is not None and float(activate_price) != 0:
            return rate, m.order_price(float(activate_price))
        return rate, 0.0

    def _client_id(self, a: AccountState, cid: Optional[str]) -> str:
        return self.engine.client_id(cid, "clientAlgoId", "algo", a.algo_by_client, a.algos)

    # --- read --------------------------------------------------------------------------------------------

    @staticmethod
    def live(a: AccountState) -> list[SimAlgoOrder]:
        return still_open(a.algo_live)

    def open_orders(self, account: str, symbol: Optional[str] = None, *,
                    weight: Optional[int] = None) -> list[SimAlgoOrder]:
        eng = self.engine
        now, a = eng._request(account, weight if weight is not None else 1 if symbol else 40)
        sym = eng._market(symbol).symbol if symbol else None
        return [o.copy() for o in self.live(a) if sym is None or o.symbol == sym]

    def _find(self, a: AccountState, algo_id: Optional[int], client_algo_id: Optional[str]) -> Optional[SimAlgoOrder]:
        if algo_id is None and not client_algo_id:
            raise SimError(MANDATORY_PARAM, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!")
        if algo_id is not None:
            return a.algos.get(int(algo_id))
        aid = a.algo_by_client.get(client_algo_id or "")
        return a.algos.get(aid) if aid is not None else None

    def get(self, account: str, algo_id: Optional[int] = None, client_algo_id: Optional[str] = None) -> SimAlgoOrder:
        eng = self.engine
        now, a = eng._request(account, 1)
        o = self._find(a, algo_id, client_algo_id)
        if o is None:
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()

    # --- cancel ------------------------------------------------------------------------------------------

    def cancel(self, account: str, algo_id: Optional[int] = None, client_algo_id: Optional[str] = None) -> SimAlgoOrder:
        eng = self.engine
        now, a = eng._request(account, 1)
        o = self._find(a, algo_id, client_algo_id)
        if o is None or not o.is_open:
            raise SimError(UNKNOWN_ORDER, "Unknown order sent.")
        if o.algo_id in a.cancel_refused:
            raise SimError(CANCEL_REFUSED, "An unknown error occurred while processing the request.")
        o.status, o.update_time = "CANCELED", now
        eng.events.append({"event": "algo_cancel", "account": account, "algo": o.algo_id, "ts": now})
        eng._algo_changed(o, now)
        return o.copy()

    def refuse_cancel(self, account: str, algo_id: int, refused: bool = True) -> None:
        """A fault: the venue refuses every cancel of this conditional order by its id
        (:data:`CANCEL_REFUSED`), and it stays open; ``refused=False`` lifts it."""
        held = self.engine._acct(account).cancel_refused
        if refused:
            held.add(int(algo_id))
        else:
            held.discard(int(algo_id))

    def cancel_all(self, account: str, symbol: str) -> list[SimAlgoOrder]:
        eng = self.engine
        now, a = eng._request(account, 1)
        m = eng._market(symbol)
        ids = self.cancel_symbol(a, m.symbol, now)
        if ids:
            eng.events.append({"event": "algo_cancel_all", "account": account, "symbol": m.symbol, "algos": ids,
                               "ts": now})
        return [a.algos[i].copy() for i in ids]

    def cancel_symbol(self, a: AccountState, symbol: str, ts: int) -> list[int]:
        """End every open conditional order of ``symbol`` as CANCELED at ``ts``; their ids."""
        ids = []
        for o in self.live(a):
            if o.symbol == symbol:
                o.status, o.update_time = "CANCELED", ts
                ids.append(o.algo_id)
                self.engine._algo_changed(o, ts)
        return ids

    # --- trigger -----------------------------------------------------------------------------------------

    def tick(self, a: AccountState, now: int) -> None:
        eng = self.engine
        for o in self.live(a):
            mark = eng.mark(o.symbol, now)
            if trail(o, mark) if o.order_type == "TRAILING_STOP_MARKET" else crossed(o, mark):
                self._trigger(a, o, now)

    def _trigger(self, a: AccountState, o: SimAlgoOrder, now: int) -> None:
        eng = self.engine
        m = eng.markets[o.symbol]
        o.trigger_time = o.update_time = now
        limit = o.order_type in LIMIT_TYPES
        child = SimOrder(0, eng._client_id(a, None), a.spec.name, o.symbol, o.side, "LIMIT" if limit else "MARKET",
                         o.time_in_force if limit else "GTC", o.quantity, o.price if limit else 0.0,
                         o.reduce_only or o.close_position, o.position_side, now, now,
                         contract_size=m.contract_size)
        event = {"account": a.spec.name, "algo": o.algo_id, "symbol": o.symbol, "ts": now}
        ended: Optional[tuple[str, dict[str, Any]]] = None  # (status, journal entry) when it does not trigger
        if child.closes:
            closable = floor_step(eng._closable(a, child), m.amount_step)
            if o.close_position:
                child.quantity = closable
            if closable <= EPS:  # nothing left to reduce
                ended = "EXPIRED", {"event": "algo_expire"}
            elif child.quantity > closable + EPS:
                ended = "REJECTED", {"event": "algo_reject", "code": REDUCE_ONLY_REJECTED}
        elif not eng._margin_ok(a, m, child, now):
            ended = "REJECTED", {"event": "algo_reject", "code": MARGIN_INSUFFICIENT}
        if ended is not None:
            o.status = ended[0]
            eng.events.append({**ended[1], **event})
            eng._algo_changed(o, now)
            return
        eng._algo_changed(o, now, "TRIGGERING")  # forwarded: the order it becomes is told of next
        o.status = "TRIGGERED"
        eng._submit(a, m, child, now)
        o.actual_order_id = child.order_id
        eng.events.append({"event": "algo_trigger", "order": child.order_id, **event})
        eng._algo_changed(o, now, actual=child)
