"""OKX (``okx``).

What it owns
    the OKX forms the adapter needs: client order ids of at most 32 characters looked up as
    ``clOrdId``, the hedge-mode (long/short mode) leg as ``posSide`` (without ``reduceOnly``), the
    leg read from ``posSide``, the equity read from ``totalEq``, the account-wide
    ``trade/cancel-all-after``, its credential headers and its reduce-only refusals (51169, 51170);
    the open orders of both its lists, each read to its end (:func:`_after`):
    ``GET /api/v5/trade/orders-pending`` (regular orders, one with a TP/SL attached included) and
    the algo service's ``orders-algo-pending``, asked for each order type it keeps apart
    (:data:`ALGO_ORDER_TYPES`, each row read by :func:`_algo`); an algo order is cancelled
    through ``POST /api/v5/trade/cancel-algos``; its refusal table (:data:`REFUSALS`), the
    account's position mode (``GET /api/v5/account/config``) and its stream (:mod:`.stream`).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, WeightLimit

from ....base import MODE, PERMANENT, TRANSIENT
from ....ccxt_exchange.dialects.base import (
    MODE_EVERY_S,
    Dialect,
    Listed,
    ModeRead,
    Reads,
    bad_field,
    before_oldest,
    named_rows,
)
from ....ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ....ccxt_exchange.dialects.channels import ChannelStream
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule
from ....ccxt_exchange.dialects.trigger_countdown import TriggerCountdown
from ....ccxt_exchange.parsing import dig, num, order_info
from ..switches import OkxPermissions
from . import stream as okx_stream

ACCOUNT_CONFIG = "GET /api/v5/account/config"
# posMode: long_short_mode (hedge: legs), net_mode (one-way)
POS_MODES = {"long_short_mode": True, "net_mode": False}
# acctLv: the account mode, which decides the margin modes a position may be in
ACCOUNT_LEVELS = {"1": "spot mode", "2": "futures mode (single-currency margin)", "3": "multi-currency margin",
                  "4": "portfolio margin"}

# OKX's refusals of an order (https://www.okx.com/docs-v5/en/#error-code): an order's own refusal
# is its row's sCode / sMsg (the answer's code "1" when every order failed), else the answer's
# code / msg
REFUSALS: tuple[Rule, ...] = (
    # posSide sent in net mode, or missing in long/short mode: the mode decides the order's form
    Rule("51000", "POSITION_MODE_MISMATCH", MODE, r"posSide"),
    Rule("51000", "INVALID_ORDER", PERMANENT),  # Parameter {param0} error
    # Order failed because you don't have any positions in this direction for this contract to reduce or close.
    Rule("51169", "REDUCE_ONLY_REJECTED", PERMANENT),
    # Failed to place order. A reduce-only order can't be the same direction as your existing positions.
    Rule("51170", "REDUCE_ONLY_REJECTED", PERMANENT),
    Rule("51008", "INSUFFICIENT_MARGIN", TRANSIENT),  # Order failed. Insufficient {param0} balance in account
    Rule("51020", "INVALID_ORDER", PERMANENT),  # Your order should meet or exceed the minimum order amount.
    Rule("51121", "INVALID_ORDER", PERMANENT),  # Order quantity must be a multiple of the lot size.
    Rule("51202", "INVALID_ORDER", PERMANENT),  # Market order amount exceeds the maximum amount.
    Rule("51016", "INVALID_ORDER", PERMANENT),  # Duplicated clOrdId
    Rule("51001", "UNKNOWN_SYMBOL", PERMANENT),  # Instrument ID does not exist
    Rule("51006", "INVALID_ORDER", TRANSIENT),  # Order price is not within the price limit
    Rule("50011", "RATE_LIMITED", TRANSIENT),  # Rate limit reached
    Rule("50001", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Service temporarily unavailable
    Rule("50013", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # System is busy
    # a cancel of an order no longer open: filled, cancelled or never there (51400), already
    # cancelled (51401), already completed (51402): not open at the venue
    Rule("51400", "ORDER_NOT_FOUND"),
    Rule("51401", "ORDER_NOT_FOUND"),
    Rule("51402", "ORDER_NOT_FOUND"),
)


def okx_refusal(body: Any) -> Optional[tuple[str, str]]:
    """The first failed row's ``sCode`` / ``sMsg`` of an order answer, else the answer's own
    ``code`` / ``msg`` when it is not "0"; None for a success."""
    if not isinstance(body, Mapping):
        return None
    for row in body.get("data") or ():
        if isinstance(row, Mapping) and str(row.get("sCode", "0")) not in ("0", ""):
            return str(row.get("sCode")), str(row.get("sMsg") or "")
    code = body.get("code")
    if code is not None and str(code) not in ("0", ""):
        return str(code), str(body.get("msg") or "")
    return None

CANCEL_ALL_AFTER_RANGE = (10, 120)  # seconds; 0 disarms

PAGE = 100  # rows a page of orders-pending and orders-algo-pending give at most
REGULAR_ORDERS = "GET /api/v5/trade/orders-pending"
ALGO_ORDERS = "GET /api/v5/trade/orders-algo-pending"
# The algo order types listed, each asked on its own (OKX requires ordType and takes one at a
# time, conditional and oco together): TP/SL, one-cancels-the-other, trigger, trailing stop.
# Iceberg and TWAP orders are not: what they rest in the book are regular orders
# (orders-pending lists them).
ALGO_ORDER_TYPES = ("conditional,oco", "trigger", "move_order_stop")
POSITIONS = "GET /api/v5/account/positions"
# OKX's limits: 20 orders a second of ours. The private reads' limits, per UID and endpoint
# (each endpoint's "Rate Limit"), each kept to at run time: a halt's closes read their positions
# one symbol each, which ccxt's cost (2, at its 110 ms) and the pacer's burst let go 100 at once
# (50011 past 10). The trade endpoints count against per-UID, per-endpoint trade limits
# (trade/order 60 per 2 s, https://www.okx.com/docs-v5/en/#order-book-trading-trade), which the
# order budget keeps to, not against the request pacing of reads: a close must not wait behind a
# reconcile's lists.
LIMITS = Limits(
    orders=20.0, ccxt_api=("private", "/api/v5/"),
    endpoints={"GET /api/v5/account/balance": (10, 2.0), POSITIONS: (10, 2.0), REGULAR_ORDERS: (60, 2.0),
               ALGO_ORDERS: (20, 2.0), ACCOUNT_CONFIG: (5, 2.0)},
    counted_as_orders=frozenset({("private", "POST", f"trade/{p}") for p in (
        "order", "batch-orders", "cancel-order", "cancel-batch-orders", "close-position", "order-algo",
        "cancel-algos", "mass-cancel")}))

# The ``ordType`` values each list documents; any other fails the snapshot (BAD_RESPONSE naming
# the field), never an order read as a kind it may not be. orders-pending: market, limit,
# post-only, fill-or-kill, immediate-or-cancel, market as IOC limit, the options' market maker
# protection and simple FOK, the enhanced liquidity programme's order and a retail price
# improvement order (rpi); orders-algo-pending:
# the types asked for (an iceberg's or a TWAP's child orders rest in orders-pending).
REGULAR_ORD_TYPES = frozenset({"market", "limit", "post_only", "fok", "ioc", "optimal_limit_ioc", "mmp",
                               "mmp_and_post_only", "op_fok", "elp", "rpi"})
ALGO_ORD_TYPES = frozenset({"conditional", "oco", "trigger", "move_order_stop"})


CANCEL_ALL_AFTER = "POST /api/v5/trade/cancel-all-after"


def trigger_time(answer: Any) -> Any:
    """``data[0].triggerTime`` of cancel-all-after's answer: when it fires (ms), "0" when off."""
    return dig(answer, "data", 0, "triggerTime")


CANCEL_BATCH = "POST /api/v5/trade/cancel-batch-orders"


def refused_row(row: Mapping[str, Any]) -> Optional[tuple[Any, Any]]:
    """A batch row's ``sCode`` and ``sMsg`` where it was refused; None where it is "0"."""
    code = row.get("sCode")
    if code is None:
        raise bad_field("okx", CANCEL_BATCH, "sCode", "missing")
    return None if str(code) == "0" else (code, row.get("sMsg") or "")


@dataclass(frozen=True, kw_only=True)
class OkxDialect(ChannelStream, Dialect):
    max_client_id_length: int = 32
    fetch_order_param: str = "clOrdId"
    margin_mode_param: Optional[str] = "tdMode"
    position_size_field: Optional[str] = "pos"
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "ordId|algoId", ("order", "symbol"): "instId", ("order", "type"): "ordType",
        ("order", "amount"): "sz", ("order", "triggerPrice"): "triggerPx|slTriggerPx|tpTriggerPx",
        ("position", "symbol"): "instId", ("position", "side"): "posSide|pos"})
    position_fields: Mapping[str, str] = field(default_factory=lambda: {"maintenance_margin": "mmr"})
    secret_headers: tuple[str, ...] = ("ok-access-key", "ok-access-sign", "ok-access-passphrase")
    reduce_only_rejections: tuple[str, ...] = (
        r'"sCode"\s*:\s*"?(51169|51170)\b',
        r'"code"\s*:\s*"?(51169|51170)\b',
        r"reduce\s*-?\s*only order can.?t",
    )

    # A snapshot: the balance, the positions, the regular list and the algo list once per algo
    # order type (one page each up to 100 orders). OKX limits private endpoints per UID (each
    # sub-account its own), per endpoint, not per IP: balance and positions 10 requests per 2 s,
    # orders-pending 60, orders-algo-pending 20:
    # https://www.okx.com/docs-v5/en/#overview-rate-limits (and each endpoint's "Rate Limit")
    # The account's configuration (its position mode) is read at start and every mode_every_s:
    # 5 requests per 2 s.
    snapshot_reads: tuple[Read, ...] = (
        Read("GET /api/v5/account/balance", 1), Read(POSITIONS, 1), Read(REGULAR_ORDERS, 1),
        Read(ALGO_ORDERS, 1, calls=len(ALGO_ORDER_TYPES)), Read(ACCOUNT_CONFIG, 1, every_s=MODE_EVERY_S))
    weight_limit: Optional[WeightLimit] = WeightLimit(
        None, 2.0, "requests", PER_UID, "https://www.okx.com/docs-v5/en/#overview-rate-limits", counts_requests=True,
        endpoint_limits=LIMITS.endpoints)
    refusal_rules: tuple[Rule, ...] = REFUSALS

    # Streams (:mod:`.stream`): a websocket costs no REST request: OKX limits its
    # connections (3 a second per IP) and subscriptions; the stream costs the reconcile's snapshot.
    streams: bool = True
    stream_order_parser: str = "parse_order"  # ccxt.pro's okx reads order rows with its REST parser

    stream_module: ClassVar[ModuleType] = okx_stream  # its frames read there (ChannelStream)

    def stream_order_rows(self) -> Any:
        return ORDER_ROWS


    async def read_position_mode(self, reads: Reads) -> ModeRead:
        """``GET /api/v5/account/config``'s ``data[0].posMode``, and ``acctLv``, the account mode its
        margin modes follow."""
        if reads.market_type != "futures" or not reads.has_method("privateGetAccountConfig"):
            return await super().read_position_mode(reads)
        answer = await self.read(reads, ACCOUNT_CONFIG, "privateGetAccountConfig", {})
        rows = answer.get("data") if isinstance(answer, Mapping) else None
        row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else None
        if row is None:
            raise self.unknown_value(ACCOUNT_CONFIG, "data", rows)
        mode = row.get("posMode")
        hedge = self.documented(ACCOUNT_CONFIG, "posMode", mode, POS_MODES)
        level = row.get("acctLv")
        margin = None if level is None else f"acctLv {level} ({ACCOUNT_LEVELS.get(str(level), 'unknown level')})"
        return ModeRead(hedge, f"{ACCOUNT_CONFIG} posMode={mode}", margin)

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        """Every page of the regular list, then every page of the algo list for each algo order
        type (OKX keeps TP/SL, OCO, trigger and trailing orders only there)."""
        regular = await self.read_pages(reads, REGULAR_ORDERS, "fetch_open_orders", (symbol, None, PAGE), {},
                                   _after(REGULAR_ORDERS, "ordId"))
        listed = [Listed("regular", self._regular(o), REGULAR_ORDERS) for o in regular]
        for ord_type in ALGO_ORDER_TYPES:
            # ccxt asks the algo list when told ``trigger`` (with an ordType of ours it sends that
            # one): an ordType alone is asked of orders-pending unless ccxt knows it by that name
            # ("conditional,oco" it does not)
            endpoint = f"{ALGO_ORDERS} ordType={ord_type}"
            algo = await self.read_pages(reads, endpoint, "fetch_open_orders", (symbol, None, PAGE),
                                    {"trigger": True, "ordType": ord_type}, _after(endpoint, "algoId"))
            listed.extend(self._algo(o, endpoint) for o in algo)
        return listed

    def _regular(self, order: Any) -> Any:
        self.documented(REGULAR_ORDERS, "ordType", order_info(order).get("ordType"), REGULAR_ORD_TYPES)
        return _regular(order)

    def _algo(self, order: Any, endpoint: str) -> Listed:
        self.documented(endpoint, "ordType", order_info(order).get("ordType"), ALGO_ORD_TYPES)
        kind, out = _algo(order)
        return Listed(kind, out, endpoint)

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        # ccxt cancels an algo order through POST /api/v5/trade/cancel-algos when told trigger
        # or trailing (it has no cancel-all on OKX: one cancel an order)
        if kind == "trailing":
            return {"trailing": True}
        if kind in ("conditional", "tpsl", "oco"):
            return {"trigger": True}
        return {}

    def cancel_batch_size(self, kind: str) -> int:
        # POST /api/v5/trade/cancel-batch-orders takes 20 orders, cancel-algos 10
        return 20 if kind == "regular" else 10

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        # the venue's own requests: ccxt's parse of the answer drops the rows it refused
        if orders[0].kind == "regular":
            return await call("privatePostTradeCancelBatchOrders", [{"ordId": o.id, "instId": market_id}
                                                                    for o in orders])
        return await call("privatePostTradeCancelAlgos", [{"algoId": o.id, "instId": market_id} for o in orders])

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """A batch's ``data`` rows, each with its ``sCode`` ("0": cancelled) and ``sMsg`` (the
        venue answers code "2" when some were refused; ccxt raises only when all were)."""
        if how != "batch":
            return super().cancel_answer(how, answer, sent)
        data = answer.get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, list):
            raise self.bad_field(CANCEL_BATCH, "data", "missing")
        return named_rows(self.id, CANCEL_BATCH, data, ("ordId", "algoId"), refused_row, self.refusal_rules)

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        # long/short mode: closing is the leg's nature; OKX takes reduceOnly in net mode only
        # (ccxt omits it too)
        return {"posSide": leg.lower()}, False

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        pos = info.get("posSide")
        return okx_stream.LEGS.get(pos.lower()) if isinstance(pos, str) else None

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        # a position TP/SL of the algo service closes the whole position (closeFraction 1, no sz)
        return num(info.get("closeFraction")) == 1

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [dig(info, "data", 0, "totalEq")]

    countdown_method: Optional[str] = "privatePostTradeCancelAllAfter"

    def venue_countdown(self, client: Any, market_type: str, method: str) -> TriggerCountdown:
        """``trade/cancel-all-after``: account-wide, ``timeOut`` clamped to 10–120 s, 0 off."""
        return TriggerCountdown(method, *CANCEL_ALL_AFTER_RANGE, trigger_time, self.id, CANCEL_ALL_AFTER,
                                "data.triggerTime", param="timeOut", text=True)

    def permission_switches(self) -> Mapping[str, Any]:
        return {"permissions": OkxPermissions()}


def _after(endpoint: str, id_field: str) -> Callable[[list], Optional[Mapping[str, Any]]]:
    """The next page of a list after a full one: ``after`` the oldest id of the page (OKX lists
    newest first and ``after`` gives the rows older than that id)."""
    return before_oldest(endpoint, PAGE, id_field, "after")


def _regular(order: Any) -> Any:
    """A row of orders-pending with its own id: ccxt takes ``algoId`` before ``ordId``, and a
    regular order an algo order placed when it triggered (a stop-loss's market order) carries
    that algo order's id; cancel-order knows it by its ``ordId`` only."""
    ord_id = order_info(order).get("ordId")
    if isinstance(ord_id, str) and ord_id and ord_id != order.get("id"):
        return {**order, "id": ord_id}
    return order


def _algo(order: Any) -> tuple[str, dict]:
    """A row of orders-algo-pending: its kind from its ``ordType``, and what ccxt leaves out of
    an algo order: the client id is ``algoClOrdId`` (ccxt reads ``clOrdId``, empty until the
    order triggers), the trigger of a TP/SL or OCO row is ``slTriggerPx`` / ``tpTriggerPx``
    (ccxt reads ``triggerPx`` and ``moveTriggerPx`` only), and a position TP/SL
    (``closeFraction``: it closes the whole position, whatever its size) can only reduce."""
    info = order_info(order)
    ord_type = str(info.get("ordType") or "")
    closes = bool(info.get("closeFraction")) or str(info.get("reduceOnly")).lower() == "true"
    if ord_type == "move_order_stop":
        kind = "trailing"
    elif ord_type == "oco":
        kind = "oco"
    elif ord_type == "conditional":
        # a TP/SL of a position: it closes (reduce-only, closeFraction) or sells a long leg /
        # buys a short one in long/short mode; else a stop that opens (an entry)
        leg = str(info.get("posSide") or "").lower()
        side = str(info.get("side") or "").lower()
        on_leg = (leg == "long" and side == "sell") or (leg == "short" and side == "buy")
        kind = "tpsl" if closes or on_leg else "conditional"
    else:
        kind = "conditional"  # trigger (an ordType outside ALGO_ORD_TYPES is refused before)
    out = dict(order)
    client_id = info.get("algoClOrdId") or info.get("clOrdId")
    out["clientOrderId"] = client_id if isinstance(client_id, str) and client_id else None
    if num(out.get("triggerPrice")) is None:
        # a row with both a stop-loss and a take-profit (an OCO, a position TP/SL) wakes at either;
        # its trigger price is the stop-loss's: the one that guards against the loss
        out["triggerPrice"] = num(info.get("slTriggerPx")) or num(info.get("tpTriggerPx"))
    if closes:
        out["reduceOnly"] = True
    return kind, out


# the lists' readers of an order row, for the stream's orders and orders-algo channels
ORDER_ROWS = okx_stream.OrderRows(REGULAR_ORD_TYPES, ALGO_ORD_TYPES, _regular, _algo)

OKX = OkxDialect(
    id="okx", limits=LIMITS, read_endpoints={"*": (POSITIONS, REGULAR_ORDERS)}, refusal_of=okx_refusal)

DIALECTS = (OKX,)
