"""The simulated Kraken Futures face's orders: their rows, placing, looking up and cancelling them.

What it owns
    :class:`KrakenOrders`: an order's row as ``openorders`` lists it (a regular order's
    ``orderType`` lmt / post / ioc with its ``limitPrice``; a trigger order of the engine's
    conditional book as ``stp``, ``take_profit`` or ``trailing_stop`` with its ``stopPrice``),
    ``sendorder`` (mkt, ioc, lmt, post; stp and take_profit into the conditional book; a refusal
    as HTTP 200 with its ``sendStatus.status``), ``orders/status`` by ``orderIds`` or
    ``cliOrdIds``, ``cancelorder`` (``cancelStatus.status`` cancelled, or ``notFound`` for an
    order not open: HTTP 200), ``batchorder`` of ``cancel`` instructions (a ``batchStatus`` row
    each, in the order sent, with its own status; the key's weight 9 + the batch's size),
    ``cancelallorders`` (a symbol's or every order, regular and
    trigger, its ``cancelStatus`` naming in ``cancelledOrders`` exactly those it cancelled), and
    ``cancelallordersafter`` (the engine's countdown of every market at once: Kraken's switch is
    the account's).

What it must not do
    keep state beyond the request: the orders are the engine's.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from ....simulated.conditional import SimAlgoOrder
from ....simulated.engine import MarketSpec, SimError, SimOrder
from .reads import KrakenReads
from .wire import SEND_STATUS, engine_id, iso, market_id, order_uuid, trigger_uuid

# sendorder's orderType → (the engine's type, its time in force)
REGULAR = {"mkt": ("MARKET", None), "ioc": ("LIMIT", "IOC"), "lmt": ("LIMIT", "GTC"), "post": ("LIMIT", "GTX")}
# the engine's conditional types → openorders' orderType
TRIGGER_TYPES = {"STOP_MARKET": "stp", "STOP": "stp", "TAKE_PROFIT_MARKET": "take_profit", "TAKE_PROFIT": "take_profit",
                 "TRAILING_STOP_MARKET": "trailing_stop"}
MAX_CLIENT_ID = 100
BATCH_BASE = 9  # batchorder's weight: this, and one an instruction (Kraken's rate limits)


def _true(v: Any) -> bool:
    return str(v).lower() == "true"


class KrakenOrders(KrakenReads):
    """The orders of one request's view (see the module docstring)."""

    # --- rows --------------------------------------------------------------------------------------

    def order_row(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        kind = {"IOC": "ioc", "GTX": "post"}.get(o.time_in_force, "lmt") if o.type == "LIMIT" else "mkt"
        row = {"order_id": order_uuid(o.order_id), "symbol": market_id(m), "side": o.side.lower(), "orderType": kind,
               "limitPrice": o.price, "unfilledSize": o.remaining, "receivedTime": iso(o.time),
               "status": "partiallyFilled" if o.executed_qty else "untouched", "filledSize": o.executed_qty,
               "reduceOnly": bool(o.reduce_only), "lastUpdateTime": iso(o.update_time)}
        if o.client_order_id:
            row["cliOrdId"] = o.client_order_id
        return row

    def trigger_row(self, t: SimAlgoOrder) -> dict:
        m = self.engine.markets[t.symbol]
        row: dict = {"order_id": trigger_uuid(t.algo_id), "symbol": market_id(m), "side": t.side.lower(),
                     "orderType": TRIGGER_TYPES.get(t.order_type, t.order_type.lower()),
                     "unfilledSize": t.quantity, "receivedTime": iso(t.create_time), "status": "untouched",
                     "filledSize": 0, "reduceOnly": bool(t.reduce_only or t.close_position),
                     "triggerSignal": "mark" if t.working_type == "MARK_PRICE" else "last",
                     "lastUpdateTime": iso(t.update_time)}
        if t.trigger_price:
            row["stopPrice"] = t.trigger_price
        if t.price:
            row["limitPrice"] = t.price
        if t.client_algo_id:
            row["cliOrdId"] = t.client_algo_id
        return row

    def open_orders(self, account: str) -> dict:
        eng = self.engine
        rows = [self.order_row(o) for o in eng.open_orders(account, weight=1)]
        rows += [self.trigger_row(t) for t in eng.open_algo_orders(account, weight=0)]
        return self.ok("openOrders", rows)

    def event_order(self, o: SimOrder, filled: float) -> dict:
        """The ``order`` of an order event (sendorder, cancelorder, orders/status)."""
        m = self.engine.markets[o.symbol]
        kind = {"IOC": "ioc", "GTX": "post"}.get(o.time_in_force, "lmt") if o.type == "LIMIT" else "mkt"
        return {"orderId": order_uuid(o.order_id), "cliOrdId": o.client_order_id or None, "type": kind,
                "symbol": market_id(m), "side": o.side.lower(), "quantity": o.quantity, "filled": filled,
                "limitPrice": o.price or None, "reduceOnly": bool(o.reduce_only), "timestamp": iso(o.time),
                "lastUpdateTimestamp": iso(o.update_time)}

    # --- sendorder ---------------------------------------------------------------------------------

    def refused(self, status: str) -> dict:
        return self.ok("sendStatus", {"status": status, "receivedTime": iso(self.engine.now()), "orderEvents": []})

    def send(self, account: str, p: dict) -> dict:
        eng = self.engine
        m = self.market(p)
        assert m is not None
        side = str(p.get("side") or "").lower()
        if side not in ("buy", "sell"):
            return self.refused("invalidSide")
        cid = str(p.get("cliOrdId") or "")
        if len(cid) > MAX_CLIENT_ID:
            return self.refused("clientOrderIdTooLong")
        size = self.number(p, "size", required=True)
        kind = str(p.get("orderType") or "")
        reduce_only = True if _true(p.get("reduceOnly")) else None
        try:
            if kind in ("stp", "take_profit"):
                return self.send_trigger(account, m, side, kind, size, p, cid, reduce_only)
            if kind not in REGULAR:
                return self.refused("invalidOrderType")
            otype, tif = REGULAR[kind]
            price = self.number(p, "limitPrice", required=otype == "LIMIT")
            o = eng.place_order(account, m.symbol, side.upper(), otype, size, price, time_in_force=tif,
                                reduce_only=reduce_only, client_order_id=cid or None)
        except SimError as e:
            status = SEND_STATUS.get(e.code)
            if status is None:
                raise
            return self.refused(status)
        if kind == "ioc" and not o.executed_qty and not o.is_open:  # it expired (the engine's fault
            return self.refused("iocWouldNotExecute")  # plans may keep an IOC's remainder resting)
        return self.ok("sendStatus", self.send_status(o))

    def send_status(self, o: SimOrder) -> dict:
        """A placed order's ``sendStatus``: its executions (each with the order as it was before),
        else its placement."""
        if o.executed_qty:
            events = [{"type": "EXECUTION", "executionId": str(uuid.UUID(int=o.order_id)),
                       "price": o.cum_quote / o.executed_qty, "amount": o.executed_qty,
                       "orderPriorEdit": None, "orderPriorExecution": self.event_order(o, 0.0),
                       "takerReducedQuantity": None}]
        else:
            events = [{"type": "PLACE", "order": self.event_order(o, 0.0), "reducedQuantity": None}]
        return {"order_id": order_uuid(o.order_id), "status": "placed", "receivedTime": iso(o.time),
                "orderEvents": events}

    def send_trigger(self, account: str, m: MarketSpec, side: str, kind: str, size: Optional[float], p: dict,
                     cid: str, reduce_only: Optional[bool]) -> dict:
        stop = self.number(p, "stopPrice", required=True)
        limit = self.number(p, "limitPrice")
        base = "STOP" if kind == "stp" else "TAKE_PROFIT"
        t = self.engine.place_algo_order(
            account, m.symbol, side.upper(), base if limit else f"{base}_MARKET", quantity=size, trigger_price=stop,
            price=limit, reduce_only=reduce_only, client_algo_id=cid or None,
            working_type="MARK_PRICE" if p.get("triggerSignal") == "mark" else "CONTRACT_PRICE")
        trigger = {"uid": trigger_uuid(t.algo_id), "clientId": t.client_algo_id or None,
                   "type": "lmt" if limit else "mkt", "symbol": market_id(m), "side": side, "quantity": size,
                   "limitPrice": limit, "triggerPrice": stop,
                   "triggerSide": "trigger_above" if side == "buy" else "trigger_below",
                   "triggerSignal": "mark_price" if t.working_type == "MARK_PRICE" else "last_price",
                   "reduceOnly": bool(reduce_only), "timestamp": iso(t.create_time),
                   "lastUpdateTimestamp": iso(t.update_time)}
        return self.ok("sendStatus", {"order_id": trigger_uuid(t.algo_id), "status": "placed",
                                      "receivedTime": iso(t.create_time),
                                      "orderEvents": [{"type": "PLACE", "orderTrigger": trigger}]})

    # --- orders/status -----------------------------------------------------------------------------

    def status(self, account: str, p: dict) -> dict:
        ids = [v for k, v in p.items() if k in ("orderIds", "orderIds[]")]
        cids = [v for k, v in p.items() if k in ("cliOrdIds", "cliOrdIds[]")]
        rows = []
        for ref, by_cid in [(i, False) for i in ids] + [(c, True) for c in cids]:
            o = self.find(account, ref, by_cid)
            if o is None:
                continue
            state = {"FILLED": "FULLY_EXECUTED", "CANCELED": "CANCELLED", "EXPIRED": "CANCELLED"}.get(
                o.status, "ENTERED_BOOK" if not o.executed_qty else "PARTIALLY_FILLED")
            rows.append({"order": {"type": "ORDER", **self.event_order(o, o.executed_qty)}, "status": state,
                         "updateReason": None, "error": None})
        return self.ok("orders", rows)

    def find(self, account: str, ref: str, by_cid: bool) -> Optional[SimOrder]:
        """The engine's order of an ``order_id`` (or a ``cliOrdId``), whatever its market."""
        kind, oid = (None, None) if by_cid else engine_id(ref)
        if not by_cid and kind != "order":
            return None
        for symbol in sorted(self.engine.markets):
            try:
                return self.engine.get_order(account, symbol, oid, ref if by_cid else None)
            except SimError:
                continue
        return None

    # --- cancels -----------------------------------------------------------------------------------

    def cancel(self, account: str, p: dict) -> dict:
        eng = self.engine
        ref, cid = p.get("order_id"), p.get("cliOrdId")
        if not ref and not cid:
            raise self.fail("requiredArgumentMissing")
        kind, oid = engine_id(ref) if ref else (None, None)
        done: Any = None
        try:
            if kind == "trigger":
                done = eng.cancel_algo_order(account, oid, None)
            elif kind == "order" or cid:
                o = self.find(account, str(cid or ref), by_cid=not kind)
                if o is not None:
                    done = eng.cancel_order(account, o.symbol, o.order_id, None)
                elif not kind:  # a trigger order's client id
                    done = eng.cancel_algo_order(account, None, str(cid))
        except SimError:
            done = None
        now = eng.now()
        if done is None:
            return self.ok("cancelStatus", {"status": "notFound", "receivedTime": iso(now), "orderEvents": []})
        named, event = self.cancel_event(done)
        return self.ok("cancelStatus", {"status": "cancelled", "order_id": named, "receivedTime": iso(now),
                                        "orderEvents": [event]})

    def cancel_event(self, done: Any) -> tuple[str, dict]:
        """(its uid, the ``CANCEL`` order event) of an order or a trigger order cancelled."""
        if isinstance(done, SimAlgoOrder):
            uid = trigger_uuid(done.algo_id)
            return uid, {"type": "CANCEL", "uid": uid, "orderTrigger": self.trigger_row(done)}
        uid = order_uuid(done.order_id)
        return uid, {"type": "CANCEL", "uid": uid, "order": self.event_order(done, done.executed_qty)}

    def cancel_batch(self, account: str, p: dict) -> dict:
        """``batchorder`` (``json={"batchOrder": [...]}``) of ``cancel`` instructions, each by
        ``order_id`` or ``cliOrdId``: a ``batchStatus`` row each, in the order sent, with its own
        status (``cancelled`` with its order events; ``notFound`` naming what was sent, as
        cancelorder; ``requiredArgumentMissing`` for one naming no order). This face places and
        edits no order in a batch: a ``send`` or ``edit`` instruction refuses the whole request
        (invalidArgument, nothing done). Weight 9 + the batch's size."""
        rows = p.get("batchOrder")
        if not isinstance(rows, list) or not rows:
            raise self.fail("requiredArgumentMissing")
        if not all(isinstance(r, dict) and r.get("order") == "cancel" for r in rows):
            raise self.fail("invalidArgument")
        self.engine.charge(account, BATCH_BASE)
        return self.ok("batchStatus", [self.batch_cancel_row(account, r) for r in rows])

    def batch_cancel_row(self, account: str, r: dict) -> dict:
        """One cancel instruction of a batch, its row; weight 1 (the engine's cancel, or charged here)."""
        eng = self.engine
        ref, cid = r.get("order_id"), r.get("cliOrdId")
        if not ref and not cid:
            eng.charge(account, 1)
            return {"status": "requiredArgumentMissing", "orderEvents": []}
        a = eng.accounts[account]
        kind, oid = engine_id(ref) if ref else (None, None)
        done: Any = None
        try:
            if kind == "trigger":
                done = eng.cancel_algo_order(account, oid, None)
            else:  # (looked up uncharged: the instruction's weight is its cancel's 1)
                o = a.orders.get(oid) if kind == "order" else None if ref else a.orders.get(
                    a.by_client.get(str(cid), -1))
                if o is not None and o.is_open:
                    done = eng.cancel_order(account, o.symbol, o.order_id, None)
                elif not ref and str(cid) in a.algo_by_client:  # a trigger order's client id
                    done = eng.cancel_algo_order(account, None, str(cid))
                else:  # an id this face never gave, or an order no longer open
                    eng.charge(account, 1)
        except SimError:
            done = None
        named = {"order_id": str(ref)} if ref else {"cliOrdId": str(cid)}
        if done is None:
            return {"status": "notFound", **named, "orderEvents": []}
        uid, event = self.cancel_event(done)
        return {"status": "cancelled", "order_id": uid, "orderEvents": [event]}

    def cancel_all(self, account: str, p: dict) -> dict:
        """Every open order of ``symbol`` (every market without one), regular and trigger; the
        answer names each it cancelled."""
        eng = self.engine
        m = self.market(p, required=False)
        symbols = [m.symbol] if m is not None else sorted(eng.markets)
        named: list[dict] = []
        events: list[dict] = []
        for s in symbols:
            for o in eng.cancel_all(account, s):
                named.append({"order_id": order_uuid(o.order_id), "cliOrdId": o.client_order_id or None})
                events.append({"uid": order_uuid(o.order_id), "order": self.event_order(o, o.executed_qty),
                               "type": "CANCEL"})
            for t in eng.cancel_all_algo(account, s):
                named.append({"order_id": trigger_uuid(t.algo_id), "cliOrdId": t.client_algo_id or None})
                events.append({"uid": trigger_uuid(t.algo_id), "orderTrigger": self.trigger_row(t), "type": "CANCEL"})
        status = {"receivedTime": iso(eng.now()), "status": "cancelled" if named else "noOrdersToCancel",
                  "cancelledOrders": named, "orderEvents": events}
        if m is not None:
            status["cancelOnly"] = market_id(m)
        return self.ok("cancelStatus", status)

    def cancel_all_after(self, account: str, p: dict) -> dict:
        """``timeout`` whole seconds (0: off) for the whole account: the engine's countdown of
        every market, armed or disarmed at once."""
        t = p.get("timeout")
        if t in (None, ""):
            raise self.fail("requiredArgumentMissing")
        if not str(t).isdigit():
            raise self.fail("invalidArgument")
        n = int(t)
        eng = self.engine
        for symbol in sorted(eng.markets):
            eng.countdown_cancel_all(account, symbol, n * 1000)
        now = eng.now()
        return self.ok(None, None, status={"currentTime": iso(now), "triggerTime": iso(now + n * 1000) if n else "0"})
