"""Bitget (``bitget``: the classic account's v2 API, USDT-M futures and spot).

What it owns
    the Bitget forms the adapter needs:

    * client order ids in ``clientOid``, of at most 36 letters, digits and dashes (the v2
      documentation states no bound; 36 is the longest ccxt's recordings show the venue taking,
      a UUID), looked up through ``GET /api/v2/mix/order/detail`` by ``clientOid``;
    * a close: one-way mode ``reduceOnly`` YES; hedge mode (``posMode`` hedge_mode) the leg's
      ``tradeSide`` close, with ``side`` the leg's direction (buy closes the long leg: ccxt sends
      that when told ``hedged`` and ``reduceOnly``); the margin mode of the position it reduces
      in ``marginMode`` (an isolated position is closed isolated);
    * the leg of a position from ``holdSide`` with its ``posMode``, of an order from ``posSide``;
    * the lists, each read to its end: positions (``GET /api/v2/mix/position/all-position``, one
      answer, not paged), the regular open orders and the plan orders once per ``planType``
      (:data:`PLAN_TYPES`), paged (:func:`older_page`); every order row read as what it is
      (:func:`read_row`, :func:`read_plan`). A plan order is cancelled through ``POST
      /api/v2/mix/order/cancel-plan-order`` with its own ``planType`` (the venue's
      ``orderIdList`` must agree with it): the order's ``type`` carries it;
    * spot: the balances (``GET /api/v2/spot/account/assets``) and the unfilled orders, paged
      the same way;
    * no countdown: Bitget's countdown-cancel-all (``POST /api/v3/trade/countdown-cancel-all``)
      serves unified-trading (UTA) accounts only, by application, "not classic accounts"; the
      classic mix API has none, so :meth:`BitgetDialect.countdown` is None and the dead man's
      switch is the runner's own;
    * the account's position mode (:meth:`BitgetDialect.read_position_mode`), its refusal table
      (:data:`REFUSALS`) and its stream (:mod:`.stream`).

    Unified-trading (UTA) accounts answer on Bitget's v3 API; this dialect reads the classic
    account (ccxt's ``uta`` option is held false, so ccxt never probes ``/api/v3/account/settings``
    of its own accord): a UTA account's v2 reads fail the snapshot, never read as empty.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, WeightLimit

from ....base import MODE, PERMANENT, TRANSIENT, VenueRefusal
from ....ccxt_exchange.dialects.base import (
    Dialect,
    Listed,
    ModeRead,
    Reads,
    before_oldest,
    documented,
    named_rows,
    unknown_value,
    unnamed,
)
from ....ccxt_exchange.dialects.cancel_hooks import CancelAnswer
from ....ccxt_exchange.dialects.channels import ChannelStream
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule
from ....ccxt_exchange.parsing import dig, num, order_info
from . import stream as bitget_stream

POSITIONS = "GET /api/v2/mix/position/all-position"
REGULAR_ORDERS = "GET /api/v2/mix/order/orders-pending"
PLAN_ORDERS = "GET /api/v2/mix/order/orders-plan-pending"
ACCOUNTS = "GET /api/v2/mix/account/accounts"
ACCOUNT = "GET /api/v2/mix/account/account"
SPOT_ORDERS = "GET /api/v2/spot/trade/unfilled-orders"
RATE_LIMITS = "https://www.bitget.com/api-doc/contract/position/get-all-position"
# Bitget's limits: 8 orders a second of ours, and 8 cancels of their own budget (cancel-order is
# limited apart from place-order, each 10 a second per UID,
# https://www.bitget.com/api-doc/contract/trade/Cancel-Order: never paced behind the creates, a
# lock's reverts). The mix reads' limits, per UID and endpoint (each endpoint's page), each kept
# to at run time: a halt's closes read the positions one each, which ccxt's cost (4, at its
# 50 ms) and the pacer's burst let go 50 at once (5 a second the limit). The mix trade endpoints
# are limited per UID by count (place-order 10 a second), which the order budget keeps to, not
# by the request pacing of reads: a close must not wait behind a reconcile's lists.
LIMITS = Limits(
    orders=8.0, cancels=8.0, ccxt_api=("private", "/api/"),
    endpoints={ACCOUNTS: (10, 1.0), POSITIONS: (5, 1.0), REGULAR_ORDERS: (10, 1.0), PLAN_ORDERS: (10, 1.0)},
    counted_as_orders=frozenset({("private", "POST", f"v2/mix/order/{p}") for p in (
        "place-order", "batch-place-order", "cancel-order", "batch-cancel-orders", "cancel-all-orders",
        "close-positions", "cancel-plan-order")}))

# Bitget's refusals of an order: the answer's {"code": "40774", "msg": ..., "requestTime": ...,
# "data": null} (HTTP 400), a batch's failureList rows' errorCode / errorMsg. The codes and texts
# are Bitget's, as ccxt's bitget (4.5.90) records them in its exceptions map (its comments quote
# the venue's bodies) and Bitget's error code pages list them; 22002 from Bitget's error codes.
REFUSALS: tuple[Rule, ...] = (
    # "The order type for unilateral position must also be the unilateral position type.": an
    # order built for the other position mode (tradeSide / reduceOnly against the account's posMode)
    Rule("40774", "POSITION_MODE_MISMATCH", MODE),
    # "Parameter verification failed" naming the position's direction: the mode decides that field
    Rule("40017", "POSITION_MODE_MISMATCH", MODE, r"posSide|tradeSide|holdSide|position direction"),
    Rule("40017", "INVALID_ORDER", PERMANENT),  # Parameter verification failed
    Rule("40757", "REDUCE_ONLY_REJECTED", PERMANENT),  # Not enough position is available.
    Rule("45006", "REDUCE_ONLY_REJECTED", PERMANENT),  # Insufficient position
    Rule("22002", "REDUCE_ONLY_REJECTED", PERMANENT),  # No position to close
    Rule("40891", "REDUCE_ONLY_REJECTED", PERMANENT),  # insufficient position: no TP/SL can be set
    Rule("40762", "INSUFFICIENT_MARGIN", TRANSIENT),  # The order amount exceeds the balance
    Rule("43012", "INSUFFICIENT_MARGIN", TRANSIENT),  # Insufficient balance
    Rule("40754", "INSUFFICIENT_MARGIN", TRANSIENT),  # insufficient balance
    Rule("45110", "INVALID_ORDER", PERMANENT),  # less than the minimum amount 5 USDT
    Rule("43006", "INVALID_ORDER", PERMANENT),  # the order quantity is less than the minimum
    Rule("40808", "INVALID_ORDER", PERMANENT),  # Parameter verification exception size checkBDScale error
    Rule("41103", "INVALID_ORDER", PERMANENT),  # param price scale error
    Rule("40786", "INVALID_ORDER", PERMANENT),  # Duplicate clientOid
    Rule("40917", "INVALID_ORDER", TRANSIENT),  # Stop price for long positions please < mark price
    Rule("45122", "INVALID_ORDER", TRANSIENT),  # Short position stop loss price please > mark price
    Rule("40034", "UNKNOWN_SYMBOL", PERMANENT, r"symbol"),  # Parameter symbol does not exist
    Rule("40309", "UNKNOWN_SYMBOL", PERMANENT),  # The contract has been removed
    Rule("429", "RATE_LIMITED", TRANSIENT),  # Too Many Requests
    Rule("40015", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # System is abnormal, please try again later
    Rule("40200", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Server upgrade, please try again later
    Rule("41114", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # The current trading pair is under maintenance
)
SUCCESS = "00000"


def bitget_refusal(body: Any) -> Optional[tuple[str, str]]:
    """The answer's ``code`` / ``msg`` when its code is not "00000"; else the first row of its
    ``data.failureList`` (a batch's refused rows: ``errorCode`` / ``errorMsg``); None for a success."""
    if not isinstance(body, Mapping):
        return None
    code = body.get("code")
    if code is not None and str(code) not in (SUCCESS, ""):
        return str(code), str(body.get("msg") or "")
    failed = dig(body, "data", "failureList")
    for row in failed if isinstance(failed, list) else ():
        if isinstance(row, Mapping) and row.get("errorCode") not in (None, ""):
            return str(row.get("errorCode")), str(row.get("errorMsg") or "")
    return None


def failed_row(row: Mapping[str, Any]) -> Optional[tuple[Any, Any]]:
    """A batch answer's refused row (``failureList``: its ``errorCode`` and ``errorMsg``), None for a done one."""
    code = row.get("errorCode")
    return None if code in (None, "") else (code, row.get("errorMsg") or "")


BATCH_CANCEL = "POST /api/v2/mix/order/batch-cancel-orders"
# One futures order's cancel, sent as the venue's own request (ccxt's implicit methods): ccxt's
# cancel_order keeps cancel-plan-order's successList[0] alone, and drops its failureList.
CANCEL = "POST /api/v2/mix/order/cancel-order"
PLAN_CANCEL = "POST /api/v2/mix/order/cancel-plan-order"
CANCEL_METHOD = "privateMixPostV2MixOrderCancelOrder"
PLAN_CANCEL_METHOD = "privateMixPostV2MixOrderCancelPlanOrder"
PAGE = 100  # the most rows a page of orders-pending / orders-plan-pending / unfilled-orders gives

# The planType values orders-plan-pending is asked for, one at a time (the venue takes one):
# trigger orders, trailing orders, and every TP/SL (profit_loss lists profit_plan, loss_plan,
# moving_plan, pos_profit and pos_loss).
PLAN_TYPES = ("normal_plan", "track_plan", "profit_loss")

# A plan row's own planType → its kind. A TP/SL of a position (pos_*) or of part of it
# (profit_plan, loss_plan) only closes; moving_plan is a trailing TP/SL, which closes too.
PLAN_KINDS: Mapping[str, str] = {
    "normal_plan": "conditional", "track_plan": "trailing",
    "profit_plan": "tpsl", "loss_plan": "tpsl", "pos_profit": "tpsl", "pos_loss": "tpsl",
    "moving_plan": "trailing",
}
CLOSING_PLANS = frozenset({"profit_plan", "loss_plan", "pos_profit", "pos_loss", "moving_plan"})
POSITION_PLANS = frozenset({"pos_profit", "pos_loss"})  # they close the whole position, whatever its size

POS_MODES = ("hedge_mode", "one_way_mode")
# ccxt's implicit method of GET /api/v2/mix/account/account, and what it is asked: one symbol's
# account of the USDT-M futures (the venue's posMode is the account's, whatever the symbol)
MODE_METHOD = "privateMixGetV2MixAccountAccount"
MODE_PARAMS: Mapping[str, str] = {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginCoin": "USDT"}
# tradeSide values that only close: hedge mode's close, and the venue's own reductions
# (liquidation, delivery, offset) it writes as reduce_/burst_/delivery_/offset_ + the leg
CLOSING_PREFIXES = ("reduce_", "burst_", "delivery_", "offset_")


def _yes(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "true")


def closes(info: Mapping[str, Any]) -> bool:
    """Whether a row only closes: ``tradeSide`` close (or the venue's own reduction), ``reduceOnly``
    YES, or a TP/SL plan."""
    trade_side = str(info.get("tradeSide") or "").lower()
    return (trade_side == "close" or trade_side.startswith(CLOSING_PREFIXES) or _yes(info.get("reduceOnly"))
            or info.get("planType") in CLOSING_PLANS)


def read_row(venue: str, endpoint: str, order: Any) -> dict:
    """ccxt's order of a futures row as the adapter reads it: its true side and whether it only
    closes. In hedge mode Bitget writes an order's ``side`` as its leg's direction (buy on the
    long leg, to open or to close it; ccxt turns it round only when the row says ``reduceOnly``
    YES, which a TP/SL plan does not): the side is the leg's, turned round when the row closes.
    An unknown ``posMode``, or a hedge row without its leg, is BAD_RESPONSE."""
    info = order_info(order)
    mode = documented(venue, endpoint, "posMode", info.get("posMode"), POS_MODES)
    out = dict(order)
    shut = closes(info)
    if mode == "hedge_mode":
        leg = str(info.get("posSide") or "").lower()
        if leg not in ("long", "short"):
            raise unknown_value(venue, endpoint, "posSide", info.get("posSide"))
        opens_with = "buy" if leg == "long" else "sell"
        out["side"] = ({"buy": "sell", "sell": "buy"}[opens_with]) if shut else opens_with
    out["reduceOnly"] = shut
    return out


def read_plan(venue: str, endpoint: str, order: Any) -> Listed:
    """A row of orders-plan-pending: its kind from its own ``planType`` (an unknown one is
    BAD_RESPONSE), its side and closing as :func:`read_row`, its type the ``planType`` (the
    cancel names it)."""
    info = order_info(order)
    plan = info.get("planType")
    kind = documented(venue, endpoint, "planType", plan, PLAN_KINDS)
    out = read_row(venue, endpoint, order)
    out["type"] = plan
    if num(out.get("triggerPrice")) is None:
        out["triggerPrice"] = num(info.get("triggerPrice"))
    return Listed(kind, out, endpoint)


def older_page(endpoint: str) -> Callable[[list], Optional[Mapping[str, Any]]]:
    """The next page after a full one: ``idLessThan`` the page's oldest (smallest) ``orderId``,
    which is the ``endId`` Bitget hands with the page (ccxt keeps the rows, not the envelope)."""
    return before_oldest(endpoint, PAGE, "orderId", "idLessThan")


def product_type(market: Mapping[str, Any]) -> str:
    """Bitget's ``productType`` of a futures market, by its settle coin, as ccxt's bitget names
    it: USDT-FUTURES, USDC-FUTURES, their demo twins (SUSDT-, SUSDC-FUTURES), SCOIN-FUTURES for a
    demo coin-margined one, else COIN-FUTURES."""
    settle = str(market.get("settle") or "")
    if settle in ("USDT", "USDC", "SUSDT", "SUSDC"):
        return f"{settle}-FUTURES"
    return "SCOIN-FUTURES" if settle in ("SBTC", "SETH", "SEOS") else "COIN-FUTURES"


@dataclass(frozen=True, kw_only=True)
class BitgetDialect(ChannelStream, Dialect):
    client_id_param: str = "clientOid"
    max_client_id_length: int = 36
    client_id_alphabet: str = r"A-Za-z0-9\-"
    margin_mode_param: Optional[str] = "marginMode"
    # ccxt's bitget asks GET /api/v3/account/settings before its first private call to learn
    # whether the account is a unified one, unless told: this dialect reads the classic account
    client_options: Mapping[str, Any] = field(default_factory=lambda: {"uta": False})
    position_size_field: Optional[str] = "total"
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "orderId", ("order", "type"): "orderType|planType", ("order", "amount"): "size",
        ("order", "triggerPrice"): "triggerPrice", ("position", "side"): "holdSide"})
    secret_headers: tuple[str, ...] = ("access-key", "access-sign", "access-passphrase")
    # 40757 "Not enough position is available", 45006 "Insufficient position", 22002 "No position
    # to close" (Bitget's error codes of a reduce-only or close order without the position)
    reduce_only_rejections: tuple[str, ...] = (
        r'"code"\s*:\s*"?(40757|45006|22002)\b',
        r"not enough position is available",
        r"no position to close",
    )

    # A snapshot: the USDT-M accounts, the positions, the regular list and the plan list once per
    # planType (one page each up to 100 orders). Bitget limits private endpoints per UID, each
    # its own: all-position 5 requests a second, accounts, orders-pending and orders-plan-pending
    # 10 (each endpoint's page of https://www.bitget.com/api-doc/contract/).
    snapshot_reads: tuple[Read, ...] = (
        Read(ACCOUNTS, 1), Read(POSITIONS, 1), Read(REGULAR_ORDERS, 1), Read(PLAN_ORDERS, 1, calls=len(PLAN_TYPES)))
    weight_limit: Optional[WeightLimit] = WeightLimit(
        None, 1.0, "requests", PER_UID, RATE_LIMITS, counts_requests=True,
        endpoint_limits=LIMITS.endpoints)

    refusal_rules: tuple[Rule, ...] = REFUSALS
    no_countdown: Mapping[str, str] = field(default_factory=lambda: {
        "futures": "Bitget's countdown-cancel-all serves unified (UTA) accounts only, not the classic account"})


    # Streams (:mod:`.stream`): a websocket costs no REST request (no listen key: the
    # login is signed on the socket); the stream costs the reconcile's snapshot.
    streams: bool = True

    stream_module: ClassVar[ModuleType] = bitget_stream  # its frames read there (ChannelStream)

    def stream_order_rows(self) -> Any:
        return ORDER_ROWS

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        if reads.market_type != "futures":
            rows = await self.read_pages(reads, SPOT_ORDERS, "fetch_open_orders", (symbol, None, PAGE), {},
                                    older_page(SPOT_ORDERS))
            return [Listed(None, o, SPOT_ORDERS) for o in rows]
        regular = await self.read_pages(reads, REGULAR_ORDERS, "fetch_open_orders", (symbol, None, PAGE), {},
                                   older_page(REGULAR_ORDERS))
        listed = [Listed("regular", read_row(self.id, REGULAR_ORDERS, o), REGULAR_ORDERS) for o in regular]
        for plan in PLAN_TYPES:
            endpoint = f"{PLAN_ORDERS} planType={plan}"
            rows = await self.read_pages(reads, endpoint, "fetch_open_orders", (symbol, None, PAGE),
                                    {"planType": plan}, older_page(endpoint))
            listed.extend(read_plan(self.id, endpoint, o) for o in rows)
        return listed

    def cancel_one_request(self, order: Any, market: Mapping[str, Any]) -> tuple[str, tuple]:
        """A futures order's cancel as the venue's own request, as ccxt builds it: ``cancel-order``
        ``{symbol, productType, orderId}``; a plan order's ``cancel-plan-order`` ``{symbol,
        productType, orderIdList: [{orderId}], planType}``, whose answer :meth:`cancel_answer`
        reads whole (ccxt's parse keeps ``successList[0]`` alone: a refusal, in ``failureList``,
        would read as an empty order). Spot: ccxt's ``cancel_order``."""
        if not (market.get("swap") or market.get("future")):
            return super().cancel_one_request(order, market)
        request: dict[str, Any] = {"symbol": market["id"], "productType": product_type(market)}
        params = self.order_cancel_params(order)
        if not params:
            return CANCEL_METHOD, ({**request, "orderId": order.id},)
        return PLAN_CANCEL_METHOD, ({**request, "orderIdList": [{"orderId": order.id}],
                                     "planType": params["planType"]},)

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """``batch-cancel-orders`` and ``cancel-plan-order`` answer ``code`` "00000" with
        ``successList`` (done) and ``failureList`` (each row refused with its ``errorCode`` and
        ``errorMsg``), one order's cancel-plan-order too (HTTP 200: a refusal there never
        raises); ``cancel-order`` names the order it cancelled (``data.orderId``); spot's
        ``cancel-symbol-order`` names only the symbol (every order of it)."""
        if how == "one":
            return self._one_answer(answer, sent)
        if how != "symbol":
            return super().cancel_answer(how, answer, sent)
        info = unnamed(answer)
        if info is not None and "code" in info:  # the whole answer, not a row
            data = info.get("data")
            if isinstance(data, Mapping) and data.get("symbol"):  # spot: the symbol's every order
                return CancelAnswer(frozenset(), whole=True)
        return named_rows(self.id, BATCH_CANCEL, answer, "orderId", failed_row, self.refusal_rules)

    def _one_answer(self, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """One order's cancel, from the venue's body (:meth:`cancel_one_request`) or, spot's
        through ccxt, from its parsed order's ``info`` (the answer's ``data``)."""
        order = sent[0]
        plan = getattr(order, "kind", "regular") != "regular"
        endpoint = PLAN_CANCEL if plan else CANCEL
        if isinstance(answer, Mapping) and "code" in answer:  # the venue's body
            data = answer.get("data")
        else:  # ccxt's parsed order: the answer's data in its info
            data = answer.get("info") if isinstance(answer, Mapping) else None
        if not isinstance(data, Mapping):
            raise self.bad_field(endpoint, "data", "missing" if data is None else "not an object")
        if plan or "successList" in data or "failureList" in data:
            return self.listed_answer(endpoint, data, sent)
        named = data.get("orderId")
        if named in (None, ""):
            raise self.bad_field(endpoint, "data.orderId", "missing")
        return CancelAnswer(frozenset({order.id}) if str(named) == order.id else frozenset())

    def listed_answer(self, endpoint: str, data: Mapping[str, Any], sent: Sequence[Any]) -> CancelAnswer:
        """An answer's ``successList`` (done) and ``failureList`` (refused, each with its
        ``errorCode`` and ``errorMsg``), their rows by ``orderId`` (or the ``clientOid`` of an
        order sent); a refused order is never done. A list missing, or a row naming no order,
        is BAD_RESPONSE naming the field."""
        lists: dict[str, list] = {}
        for name in ("successList", "failureList"):
            rows = data.get(name)
            if not isinstance(rows, list):
                raise self.bad_field(endpoint, f"data.{name}", "missing" if rows is None else "not a list")
            lists[name] = rows
        by_client = {str(o.client_id): o.id for o in sent if getattr(o, "client_id", None)}

        def named(name: str, at: int, row: Any) -> Optional[str]:
            oid = row.get("orderId") if isinstance(row, Mapping) else None
            if oid not in (None, ""):
                return str(oid)
            cid = row.get("clientOid") if isinstance(row, Mapping) else None
            if cid in (None, ""):
                raise self.bad_field(endpoint, f"data.{name}[{at}].orderId", "missing")
            return by_client.get(str(cid))

        wanted = {o.id for o in sent}
        refused: dict[str, VenueRefusal] = {}
        for at, row in enumerate(lists["failureList"]):
            oid = named("failureList", at, row)
            if oid is not None and oid in wanted:
                refused[oid] = self.cancel_refusal(row.get("errorCode") or "", row.get("errorMsg") or "in failureList")
        done = {named("successList", at, row) for at, row in enumerate(lists["successList"])}
        return CancelAnswer(frozenset(o for o in wanted if o in done and o not in refused), refused)

    def order_cancel_params(self, order: Any) -> Mapping[str, Any]:
        """A plan order is cancelled through cancel-plan-order, told its own planType (its type)."""
        if getattr(order, "kind", "regular") == "regular":
            return {}
        plan = getattr(order, "type", None)
        if plan not in PLAN_KINDS:
            raise self.bad_field(PLAN_ORDERS, "planType", f"unknown value {plan!r} on a {order.kind} order")
        return {"trigger": True, "planType": plan}

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        return {} if kind == "regular" else {"trigger": True}

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        mode = info.get("posMode")
        hold = str(info.get("holdSide") or "").lower()
        if mode == "one_way_mode" and hold in ("long", "short"):
            return "BOTH"
        if mode == "hedge_mode" and hold in ("long", "short"):
            return hold.upper()
        return None

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        # a position TP/SL closes the whole position, whatever its size
        return info.get("planType") in POSITION_PLANS

    async def read_position_mode(self, reads: Reads) -> ModeRead:
        """``GET /api/v2/mix/account/account``'s ``data.posMode``. Its ``marginMode`` is the one
        symbol's it was asked for, not the account's: the positions' own say theirs."""
        if reads.market_type != "futures" or not reads.has_method(MODE_METHOD):
            return await super().read_position_mode(reads)
        answer = await self.read(reads, ACCOUNT, MODE_METHOD, dict(MODE_PARAMS))
        data = answer.get("data", answer) if isinstance(answer, Mapping) else None
        mode = self.documented(ACCOUNT, "posMode", data.get("posMode") if isinstance(data, Mapping) else None,
                               POS_MODES)
        return ModeRead(mode == "hedge_mode", f"{ACCOUNT} posMode={mode}")


# the lists' readers of an order row, for the stream's orders and orders-algo channels
ORDER_ROWS = bitget_stream.OrderRows(read_row, read_plan)

BITGET = BitgetDialect(
    id="bitget", limits=LIMITS, refusal_of=bitget_refusal,
    read_endpoints={"futures": (POSITIONS, REGULAR_ORDERS), "spot": (POSITIONS, SPOT_ORDERS)})

DIALECTS = (BITGET,)
