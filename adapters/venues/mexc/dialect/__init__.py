"""MEXC (``mexc``): its futures through the contract API (``/api/v1/private/...``), its spot through
the spot API v3 (:mod:`.spot`).

What it owns
    the MEXC forms the adapter needs on a futures account:

    * client order ids in ``externalOid``, of at most 32 characters (error 2030 "External order
      ID is too long (Max. 32 bits)"), letters, digits, ``_`` and ``-``; an order looked up by it
      through ``GET /api/v1/private/order/external/{symbol}/{external_oid}`` (the contract id is
      ``BASE_QUOTE``: BTC/USDT:USDT is BTC_USDT);
    * a close: one-way mode ccxt's reduce-only form (``side`` 4 close long for a sell, 2 close
      short for a buy); hedge mode the leg's own close code, ``side`` 4 (the long leg) or 2 (the
      short leg), with ``positionMode`` 1 and no ``reduceOnly`` (the venue takes it in one-way
      mode only) — sent as the parameters themselves: ccxt 4.5.90 writes a hedged reduce-only
      sell as 2, a close of the *short* leg;
    * positions from ``GET /api/v1/private/position/open_positions`` (ccxt's ``fetch_positions``:
      ``holdVol`` contracts × the market's ``contractSize``, ``positionType`` 1 long, 2 short;
      anything else is BAD_RESPONSE naming the field). The row carries no mark: each live
      position is valued at its contract's ``fairPrice`` from ``GET /api/v1/contract/ticker``; a
      position whose contract the tickers do not price fails the snapshot (BAD_RESPONSE naming
      it), never valued at nothing. Its leg is the account's position mode, read with it
      (``GET /api/v1/private/position/position_mode``: 1 hedge, 2 one-way) and written into the
      row's ``info`` as ``positionMode``, the field the venue's order rows carry;
    * the account's equity: ``equity`` of the USDT row of ``GET /api/v1/private/account/assets``;
    * the open orders, read from the venue's own rows (:mod:`.rows`: ccxt's parse of the
      contract rows gets their side and type wrong): the regular ones of
      ``GET /api/v1/private/order/list/open_orders`` (every contract), the trigger orders of
      ``GET /api/v1/private/planorder/list/orders`` (``states`` 1, untriggered: conditional)
      and the position and order TP/SL of ``GET /api/v1/private/stoporder/list/orders``
      (``is_finished`` 0: tpsl, reduce-only), each paged by ``page_num`` at 100 rows to its end;
    * cancels: a regular order through ``POST /api/v1/private/order/cancel`` (a list of ids; its
      answer ``data: [{orderId, errorCode, errorMsg}]`` read row by row), every order of a
      symbol through ``POST /api/v1/private/order/cancel_all``, a trigger order through
      ``POST /api/v1/private/planorder/cancel`` and ``planorder/cancel_all`` (ccxt's ``trigger``);
      :meth:`MexcDialect.cancel_answer` reads what each answer says. A Stop-Limit order (TP/SL),
      which ccxt 4.5.90's cancels do not reach, through ``POST /api/v1/private/stoporder/cancel``
      (:meth:`MexcDialect.cancel_batch`, its ids listed);
    * its refusal table (:data:`REFUSALS`, the codes of the contract API's error list);
    * its stream (:mod:`.stream`);
    * no countdown: the contract API has no cancel-all-after (the runner's own dead man's switch
      stands in; ``ksctl validate`` says so of an account that asks for the venue's);
    * spot: the spot API's reads, cancels and refusals (:class:`.spot.MexcSpot`).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, WeightLimit

from ....base import PERMANENT, TRANSIENT, AdapterError, Reason, VenueRefusal
from ....ccxt_exchange.dialects.base import MODE_EVERY_S, Dialect, Listed, ModeRead, Reads
from ....ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule
from ....ccxt_exchange.parsing import BadField, num
from . import spot
from .rows import POSITION_MODES, cancel_rows, order_row, plan_row, stop_row, text
from .stream import MexcStream

PRIVATE = "/api/v1/private"
POSITIONS = f"GET {PRIVATE}/position/open_positions"
TICKERS = "GET /api/v1/contract/ticker"
ASSETS = f"GET {PRIVATE}/account/assets"
MODE_ENDPOINT = f"GET {PRIVATE}/position/position_mode"
OPEN_ORDERS = f"GET {PRIVATE}/order/list/open_orders"  # every contract (ccxt asks none)
PLAN_ORDERS = f"GET {PRIVATE}/planorder/list/orders"
STOP_ORDERS = f"GET {PRIVATE}/stoporder/list/orders"
EXTERNAL = f"GET {PRIVATE}/order/external/{{symbol}}/{{external_oid}}"
# MEXC's limits: 8 orders a second of ours, and 8 cancels of their own budget (order/cancel is
# limited apart from order/submit, each endpoint 20 requests per 2 seconds: never paced behind
# the creates, a lock's reverts). The contract API's private reads kept to their 20 per 2 s at
# run time: a halt's closes read their positions one symbol each, which ccxt's cost (2, at its
# 50 ms) and the pacer's burst let go 100 at once (the public ticker is counted per IP, across
# accounts: not here). MEXC limits each endpoint apart (the contract API's 20 a 2 s an endpoint,
# the spot API's by endpoint too): the orders and cancels are paced by their budgets, never
# queued in ccxt's weight behind the reads (a spot lock's sales back, each with its reads, held
# the rogue's cancels a second and more).
LIMITS = Limits(
    orders=8.0, cancels=8.0, ccxt_api=("contract", f"{PRIVATE}/"),
    endpoints={e: (20, 2.0) for e in (ASSETS, POSITIONS, MODE_ENDPOINT, OPEN_ORDERS, PLAN_ORDERS, STOP_ORDERS)},
    counted_as_orders=frozenset({
        *(("spot", m, p) for m, p in (("POST", "order"), ("DELETE", "order"), ("DELETE", "openOrders"))),
        *(("contract", "POST", p) for p in ("order/submit", "order/cancel", "order/cancel_all", "planorder/cancel",
                                            "planorder/cancel_all", "stoporder/cancel", "stoporder/cancel_all"))}))
CANCEL = f"POST {PRIVATE}/order/cancel"
CANCEL_ALL = f"POST {PRIVATE}/order/cancel_all"
PLAN_CANCEL = f"POST {PRIVATE}/planorder/cancel"
STOP_CANCEL = f"POST {PRIVATE}/stoporder/cancel"
RATE_LIMITS = "https://mexcdevelop.github.io/apidocs/contract_v1_en/"

# ccxt's implicit methods of the raw reads
TICKER_METHOD = "contractPublicGetTicker"
STOP_METHOD = "contractPrivateGetStoporderListOrders"
EXTERNAL_METHOD = "contractPrivateGetOrderExternalSymbolExternalOid"
STOP_CANCEL_METHOD = "contractPrivatePostStoporderCancel"
CANCEL_METHOD = "contractPrivatePostOrderCancel"
STOP_CANCEL_MOST = 50  # the most ids one stoporder/cancel takes

PAGE = 100  # the most rows a page of the order lists gives (page_size at most 100)

# MEXC's refusals: the answer's {"success": false, "code": 2009, "message": ...}, and a cancel's
# rows' errorCode / errorMsg. The codes and words are the contract API's error code list (its
# documentation's "Error code" table) and the cancel's documented example (2040, 2041); ccxt's
# mexc (4.5.90) quotes 2009's body in its exceptions map.
REFUSALS: tuple[Rule, ...] = (
    Rule("2009", "REDUCE_ONLY_REJECTED", PERMANENT),  # Positions do not exist or have been closed
    Rule("2008", "REDUCE_ONLY_REJECTED", PERMANENT),  # The quantity is insufficient (closable)
    Rule("2040", "ORDER_NOT_FOUND", PERMANENT),  # order not exist
    Rule("2041", "ORDER_NOT_FOUND", PERMANENT),  # order state cannot be cancelled (filled, cancelled)
    Rule("2013", "INVALID_ORDER", PERMANENT),  # Cancel orders over maximum limit (order/cancel takes 50)
    Rule("2005", "INSUFFICIENT_MARGIN", TRANSIENT),  # Balance insufficient
    Rule("2018", "INSUFFICIENT_MARGIN", TRANSIENT),  # Exceeding the maximum available margin
    Rule("2001", "INVALID_ORDER", PERMANENT),  # Wrong order direction
    Rule("2007", "INVALID_ORDER", PERMANENT),  # Order price error
    Rule("2011", "INVALID_ORDER", PERMANENT),  # Order quantity error
    Rule("2015", "INVALID_ORDER", PERMANENT),  # Price or quantity accuracy error
    Rule("2022", "INVALID_ORDER", PERMANENT),  # Wrong position type
    Rule("2028", "INVALID_ORDER", PERMANENT),  # The maximum order quantity is exceeded
    Rule("2029", "INVALID_ORDER", PERMANENT),  # Error order type
    Rule("2030", "INVALID_ORDER", PERMANENT),  # External order ID is too long (Max. 32 bits)
    Rule("2032", "INVALID_ORDER", TRANSIENT),  # Order price is less than long position force liquidate price
    Rule("2033", "INVALID_ORDER", TRANSIENT),  # Order price is more than short position force liquidate price
    Rule("600", "INVALID_ORDER", PERMANENT),  # Parameter error
    Rule("1001", "UNKNOWN_SYMBOL", PERMANENT),  # Contract does not exist
    Rule("1002", "INVALID_ORDER", PERMANENT),  # Contract not activated
    Rule("510", "RATE_LIMITED", TRANSIENT),  # Excessive frequency of requests
    Rule("500", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Internal error
    Rule("501", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # System busy
    Rule("9999", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Public abnormal
    Rule("401", "AUTH", PERMANENT),  # Unauthorized
    Rule("402", "AUTH", PERMANENT),  # Api_key expired
    Rule("406", "AUTH", PERMANENT),  # Accessed IP is not in the whitelist
    Rule("602", "AUTH", PERMANENT),  # Verify failed
    Rule("704", "AUTH", PERMANENT),  # Transaction information modify permission is required
)


# ccxt's cancelOrder() raises a refused row as "... the order with id <id> cannot be cancelled:
# <errorMsg>", its errorCode dropped; the words order/cancel's documented rows give each code
CCXT_CANCEL_WORDS = re.compile(r"cannot be cancelled: (?P<message>.+)$")
CANCEL_CODES: Mapping[str, str] = {"order not exist": "2040", "order state cannot be cancelled": "2041"}


def mexc_refusal(body: Any) -> Optional[tuple[str, str]]:
    """(code, message) of a contract answer that is not a success (``success`` false, or a
    ``code`` other than 0 / 200); else the first refused row of a cancel's ``data``; None for a
    success."""
    if not isinstance(body, Mapping):
        return None
    code = text(body.get("code"))
    if body.get("success") is False or (code is not None and code not in ("0", "200")):
        return code or "", str(body.get("message") or body.get("msg") or "")
    rows = body.get("data")
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, Mapping) and text(row.get("errorCode")) not in (None, "0"):
            return text(row.get("errorCode")) or "", str(row.get("errorMsg") or "")
    return None


def market_id(symbol: str) -> str:
    """MEXC's contract id of a unified swap symbol: BTC/USDT:USDT → BTC_USDT."""
    base, _, rest = symbol.partition("/")
    return f"{base}_{rest.split(':', 1)[0]}"


def position_mode(answer: Any) -> bool:
    """Hedge (True) or one-way from ``position_mode``'s answer (ccxt's ``fetch_position_mode``,
    its raw answer in ``info``, or the raw answer itself): ``data`` 1 hedge, 2 one-way; anything
    else raises :class:`BadField` naming ``data`` (ccxt reads every value but 1 as one-way)."""
    raw = answer.get("info", answer) if isinstance(answer, Mapping) else None
    data = raw.get("data") if isinstance(raw, Mapping) else None
    mode = text(data)
    if mode is None or mode not in POSITION_MODES:
        raise BadField("data", "missing" if data is None else f"unknown value {data!r}")
    return POSITION_MODES[mode]


@dataclass(frozen=True, kw_only=True)
class MexcDialect(spot.MexcSpot, MexcStream, Dialect):
    client_id_param: str = "externalOid"
    max_client_id_length: int = 32
    client_id_alphabet: str = r"A-Za-z0-9_\-"
    position_size_field: Optional[str] = "holdVol"
    client_id_lookup: Optional[str] = None  # order/external/{symbol}/{external_oid}
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "orderId|id", ("order", "type"): "orderType", ("order", "amount"): "vol",
        ("order", "triggerPrice"): "triggerPrice|stopLossPrice", ("order", "side"): "side",
        ("position", "side"): "positionType", ("position", "markPrice"): "fairPrice (contract/ticker)"})
    # (and the spot user data stream's listen key, a bearer of the account's pushes: in the
    # socket's url, ``/ws?listenKey=…``, which ccxt's errors quote)
    secret_headers: tuple[str, ...] = ("apikey", "signature", "listenKey")
    reduce_only_rejections: tuple[str, ...] = (
        r'"code"\s*:\s*"?(2009|2008)\b',
        r"positions? (do not|is not) exists? or (have been|is already|already) closed",
    )
    refusal_rules: tuple[Rule, ...] = REFUSALS + spot.REFUSALS
    no_countdown: Mapping[str, str] = field(default_factory=lambda: {
        "futures": "MEXC's contract API has no cancel-all-after", "spot": "MEXC's spot API has no cancel-all-after"})
    # A snapshot: the assets, the positions, the tickers (the positions' marks) and the position
    # mode with them (the leg of a position), the regular list, the trigger list and the stop
    # list (one page each up to 100 rows). Each contract endpoint: 20 requests per 2 seconds.
    # (The tickers and the mode are read with the positions when one is held, the mode once more
    # when a trigger or stop order is listed (their rows carry none); and again at start and
    # every few minutes for the closes, :mod:`adapters.ccxt_exchange.modes`.)
    snapshot_reads: tuple[Read, ...] = (
        Read(ASSETS, 1), Read(POSITIONS, 1), Read(TICKERS, 1), Read(MODE_ENDPOINT, 1),
        Read(OPEN_ORDERS, 1, orders=True), Read(PLAN_ORDERS, 1, orders=True), Read(STOP_ORDERS, 1, orders=True),
        Read(MODE_ENDPOINT, 1, every_s=MODE_EVERY_S))
    weight_limit: Optional[WeightLimit] = WeightLimit(
        None, 1.0, "requests", PER_UID, RATE_LIMITS, counts_requests=True,
        endpoint_limits={**LIMITS.endpoints, TICKERS: (20, 2.0)})

    def venue_refusal(self, text: str) -> Optional[VenueRefusal]:
        """The venue's refusal in ccxt's message; where ccxt dropped the body — its
        ``cancelOrder()`` raises ``... cannot be cancelled: <errorMsg>`` with the row's words
        alone — the code the documentation gives those words (2040, 2041), else none said."""
        found = super().venue_refusal(text)
        if found is not None:
            return found
        m = CCXT_CANCEL_WORDS.search(text)
        if m is None:
            return None
        words = m.group("message").strip()
        return self.cancel_refusal(CANCEL_CODES.get(words.lower(), ""), words)

    # --- orders --------------------------------------------------------------------------------

    def order_params(self, client_order_id: str, *, futures: bool, hedge_leg: Optional[str],
                     reduce_only: bool) -> dict:
        if not futures:  # spot: ccxt's clientOrderId (newClientOrderId)
            return {"clientOrderId": client_order_id}
        return super().order_params(client_order_id, futures=futures, hedge_leg=hedge_leg, reduce_only=reduce_only)

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        # the leg's own close code: 4 closes the long leg, 2 the short one (hedge mode refuses reduceOnly)
        return {"side": 4 if leg == "LONG" else 2, "positionMode": 1}, False

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        if ":" not in symbol:  # spot: ccxt's origClientOrderId
            return await call("fetch_order", None, symbol, {"clientOrderId": client_order_id})
        try:
            answer = await call(EXTERNAL_METHOD, {"symbol": market_id(symbol), "external_oid": client_order_id})
        except AdapterError as e:
            if e.reason is Reason.ORDER_NOT_FOUND:  # 2040 "order not exist"
                return None
            raise
        row = answer.get("data") if isinstance(answer, Mapping) else None
        if row is None:
            return None
        try:
            return order_row(row, lambda _: symbol)
        except BadField as e:
            raise self.bad_field(EXTERNAL, e.field, e.problem) from None

    # --- reads --------------------------------------------------------------------------------

    async def read_position_mode(self, reads: Reads) -> ModeRead:
        """``position_mode``'s ``data``: 1 hedge, 2 one-way; anything else is BAD_RESPONSE."""
        if reads.market_type != "futures":
            return await super().read_position_mode(reads)
        hedge = await self._mode(reads)
        return ModeRead(hedge, f"{MODE_ENDPOINT} data={1 if hedge else 2}")

    async def _mode(self, reads: Reads) -> bool:
        answer = await self.read(reads, MODE_ENDPOINT, "fetch_position_mode")
        try:
            return position_mode(answer)
        except BadField as e:
            raise self.bad_field(MODE_ENDPOINT, "data", e.problem) from None

    async def fetch_positions(self, reads: Reads) -> Any:
        """The open positions, valued and their leg read (the module docstring)."""
        if reads.market_type != "futures":
            return await super().fetch_positions(reads)
        return await self._positions(reads, None)

    async def fetch_symbol_positions(self, reads: Reads, symbol: str) -> Any:
        """One contract's positions (``open_positions?symbol=``), completed as :meth:`fetch_positions`."""
        if reads.market_type != "futures":
            return await super().fetch_symbol_positions(reads, symbol)
        return await self._positions(reads, symbol)

    async def _positions(self, reads: Reads, symbol: Optional[str]) -> Any:
        args: tuple = () if symbol is None else ([symbol], {"symbol": market_id(symbol)})
        got = await self.read(reads, POSITIONS, "fetch_positions", *args)
        if got is None:
            got = []
        if not isinstance(got, list):
            raise self.bad_field(POSITIONS, "data", "not a list")
        live = []
        for p in got:
            info = p.get("info") if isinstance(p, Mapping) else None
            if not isinstance(info, Mapping):
                raise self.bad_field(POSITIONS, "data", "a row is not an object")
            kind = text(info.get("positionType"))
            if kind not in ("1", "2"):
                raise self.unknown_value(POSITIONS, "positionType", info.get("positionType"))
            if num(info.get("holdVol")) is None:
                raise self.unknown_value(POSITIONS, "holdVol", info.get("holdVol"))
            if num(info.get("holdVol")):
                live.append(p)
        if not live:
            return got
        unpriced = any(not (num(p.get("markPrice")) or 0) > 0 for p in live)
        marks = await self._fair_prices(reads, None if symbol is None else market_id(symbol)) if unpriced else {}
        hedge = await self._mode(reads)
        out = []
        for p in live:
            row = dict(p)
            info = dict(p["info"])
            info["positionMode"] = 1 if hedge else 2
            row["info"] = info
            if not (num(row.get("markPrice")) or 0) > 0:
                mark = marks.get(str(info.get("symbol")))
                if mark is None:
                    raise self.bad_field(TICKERS, "fairPrice",
                                    f"no fair price for {info.get('symbol')}: its position cannot be valued")
                row["markPrice"] = mark
            row["hedged"] = hedge
            out.append(row)
        return out

    async def _fair_prices(self, reads: Reads, contract: Optional[str]) -> dict[str, float]:
        """Contract id → its ``fairPrice`` (the mark) from the tickers of every contract (of
        ``contract`` alone, when given)."""
        answer = await self.read(reads, TICKERS, TICKER_METHOD, {} if contract is None else {"symbol": contract})
        rows = answer.get("data") if isinstance(answer, Mapping) else None
        if isinstance(rows, Mapping):  # one contract's ticker (the documented example's shape)
            rows = [rows]
        if not isinstance(rows, list):
            raise self.bad_field(TICKERS, "data", "missing" if rows is None else "not a list")
        out = {}
        for row in rows:
            if isinstance(row, Mapping) and isinstance(row.get("symbol"), str):
                fair = num(row.get("fairPrice"))
                if fair is not None and fair > 0:
                    out[row["symbol"]] = fair
        return out

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        if reads.market_type != "futures":
            return await self.spot_open_orders(reads, symbol)
        listed: list[Listed] = []
        mode: list[int] = []  # the account's positionMode, read once where a row does not say it

        async def with_mode(info: Any) -> Any:
            if not isinstance(info, Mapping) or info.get("positionMode") is not None:
                return info
            if not mode:
                mode.append(1 if await self._mode(reads) else 2)
            return {**info, "positionMode": mode[0]}

        regular = await self.read_pages(reads, OPEN_ORDERS, "fetch_open_orders", (symbol, None, None),
                                   {"page_size": PAGE, "page_num": 1}, page_numbers())
        listed += [Listed("regular", self._row(OPEN_ORDERS, order_row, o, reads), OPEN_ORDERS) for o in regular]
        plans = await self.read_pages(reads, PLAN_ORDERS, "fetch_open_orders", (symbol, None, None),
                                 {"trigger": True, "page_size": PAGE, "page_num": 1}, page_numbers())
        for o in plans:
            info = await with_mode(o.get("info") if isinstance(o, Mapping) else None)
            listed.append(Listed("conditional", self._row(PLAN_ORDERS, plan_row, {"info": info}, reads), PLAN_ORDERS))
        for row in await self._stop_rows(reads, symbol):
            listed.append(Listed("tpsl", self._row(STOP_ORDERS, stop_row, {"info": await with_mode(row)}, reads),
                                 STOP_ORDERS))
        return listed

    def _row(self, endpoint: str, reader: Any, order: Any, reads: Reads) -> dict:
        info = order.get("info") if isinstance(order, Mapping) else None
        try:
            return reader(info, reads.symbol_of)
        except BadField as e:
            raise self.bad_field(endpoint, e.field, e.problem) from None

    async def _stop_rows(self, reads: Reads, symbol: Optional[str]) -> list:
        query: dict[str, Any] = {"is_finished": 0, "page_size": PAGE}
        if symbol is not None:
            query["symbol"] = market_id(symbol)

        def rows_of(answer: Any) -> list:  # the raw method's envelope: {"data": [...]}
            data = answer.get("data") if isinstance(answer, Mapping) else None
            if not isinstance(data, list):
                raise self.bad_field(STOP_ORDERS, "data", "missing" if data is None else "not a list")
            return data

        return await self.read_pages(reads, STOP_ORDERS, STOP_METHOD, (), {**query, "page_num": 1}, page_numbers(),
                                     rows_of)

    # --- cancels ------------------------------------------------------------------------------

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        if kind == "regular":  # (a spot order is regular: the spot API lists no other kind)
            return {}
        if kind == "tpsl":
            return {"method": "stoporder"}  # cancelled through cancel_batch, never through ccxt's
        return {"trigger": True, "method": "contractPrivatePostPlanorderCancelAll"}

    def order_cancel_params(self, order: Any) -> Mapping[str, Any]:
        if spot.is_spot_order(order):
            return {}
        kind = getattr(order, "kind", "regular")
        if kind == "conditional":  # one trigger order: planorder/cancel; a symbol's: planorder/cancel_all
            return {"trigger": True, "method": "contractPrivatePostPlanorderCancelAll"}
        return self.cancel_params(kind)

    def cancel_one_request(self, order: Any, market: Mapping[str, Any]) -> tuple[str, tuple]:
        """A contract's regular order cancelled by the venue's own request, as ccxt sends it
        (``order/cancel``, a list of one id), its body read whole by :meth:`cancel_answer`: ccxt's
        ``cancel_order`` raises a refused row with its words alone, its ``errorCode`` dropped.
        Trigger orders: ccxt's ``cancel_order``; spot: ``DELETE /api/v3/order``, read whole."""
        if spot.is_spot_order(order):
            return self.spot_cancel_one(order, market)
        if getattr(order, "kind", "regular") != "regular" or not (market.get("swap") or market.get("future")):
            return super().cancel_one_request(order, market)
        return CANCEL_METHOD, ([order.id],)

    def cancels_itself(self, kind: str) -> bool:
        return kind == "tpsl"  # ccxt's cancels do not reach Stop-Limit orders

    def cancel_batch_size(self, kind: str) -> int:
        return STOP_CANCEL_MOST if kind == "tpsl" else 0

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        """Stop-Limit orders (tpsl) through ``POST /api/v1/private/stoporder/cancel``, a list of
        ``{stopPlanOrderId}`` (at most 50: the venue refuses a longer one)."""
        return await call(STOP_CANCEL_METHOD, [{"stopPlanOrderId": o.id} for o in orders])

    def _succeeded(self, endpoint: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        if not (isinstance(answer, Mapping) and answer.get("success") is True):
            raise self.bad_field(endpoint, "success", "missing" if not isinstance(answer, Mapping)
                                 else f"not true: {answer.get('success')!r}")
        return CancelAnswer(frozenset(o.id for o in sent))

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """What MEXC's answer to a cancel says, order by order:

        * a regular order's (``one``: the venue's body, :meth:`cancel_one_request`, or ccxt's
          parsed order with the answer's ``data`` rows in its ``info``) and a list's (``batch``,
          ccxt's parsed rows): each row's ``errorCode`` 0 is done, any other refused with its code
          and words (2040 order not exist, 2041 its state cannot be cancelled: ORDER_NOT_FOUND);
          a row without ``errorCode`` is BAD_RESPONSE;
        * a trigger order's (``planorder/cancel``: ``success`` true, no list) is done; ccxt raised
          had the venue refused it;
        * a symbol's (``cancel_all`` and ``planorder/cancel_all``: ``success`` true, ``code`` 0,
          no list: ccxt's empty list) is the venue's word for "every order of the symbol"
          (``whole``), which the open orders listed after it confirm;
        * a Stop-Limit order's (``batch``: ``stoporder/cancel`` answers ``success`` true with no
          list; ccxt raised had the venue refused it) is done; one through ccxt's cancels is
          never done: they do not reach the venue's endpoint for it (:meth:`cancel_batch` does);
        * a spot order's or a spot symbol's: :func:`.spot.cancel_answer`."""
        if sent and all(spot.is_spot_order(o) for o in sent):
            return spot.cancel_answer(how, answer, sent, self.refusal_rules)
        if how == "batch" and sent and all(getattr(o, "kind", "regular") == "tpsl" for o in sent):
            return self._succeeded(STOP_CANCEL, answer, sent)  # success true, no list (a refusal raised)
        if any(getattr(o, "kind", "regular") == "tpsl" for o in sent):
            return CancelAnswer(frozenset())
        wanted = {o.id for o in sent}
        if how == "one":  # the venue's body (a regular order's), or ccxt's parse keeping it in info
            info = answer.get("info", answer) if isinstance(answer, Mapping) else None
            if getattr(sent[0], "kind", "regular") != "regular":
                return self._succeeded(PLAN_CANCEL, info, sent[:1])
            rows = info if isinstance(info, list) else (info.get("data") if isinstance(info, Mapping) else None)
            return self._rows_answer(CANCEL, rows, wanted)
        rows_of = [o.get("info") if isinstance(o, Mapping) else None for o in (answer or [])]
        if how == "symbol" and not rows_of:
            return CancelAnswer(frozenset(), whole=True)
        return self._rows_answer(CANCEL_ALL if how == "symbol" else CANCEL, rows_of, wanted)

    def _rows_answer(self, endpoint: str, rows: Any, wanted: set[str]) -> CancelAnswer:
        try:
            read_rows = cancel_rows(rows)
        except BadField as e:
            raise self.bad_field(endpoint, e.field, e.problem) from None
        done = frozenset(oid for oid, code, _ in read_rows if code == "0" and oid in wanted)
        refused = {oid: self.cancel_refusal(code, msg) for oid, code, msg in read_rows
                   if code != "0" and oid in wanted and oid not in done}
        return CancelAnswer(done, refused)

    # --- the venue's raw answers -------------------------------------------------------------

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        """An order row's or a position row's leg: ``positionMode`` 2 (one-way) BOTH; 1 (hedge)
        the leg of its ``side`` code (1, 4 long; 2, 3 short) or its ``positionType``."""
        mode = text(info.get("positionMode"))
        if mode == "2":
            return "BOTH"
        if mode != "1":
            return None
        side = text(info.get("side"))
        if side in ("1", "4"):
            return "LONG"
        if side in ("2", "3"):
            return "SHORT"
        kind = text(info.get("positionType"))
        return {"1": "LONG", "2": "SHORT"}.get(kind or "")

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        # a Stop-Limit order of a position (orderId 0: not an order's) closes it whatever its size
        return "stopLossPrice" in info and "positionType" in info and text(info.get("orderId")) == "0"

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        rows = info.get("data")
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, Mapping) and row.get("currency") == "USDT":
                return [row.get("equity")]
        return []


def page_numbers() -> Callable[[list], Optional[Mapping[str, Any]]]:
    """The next ``page_num`` after a full page, counted from 1 (the rows carry no page number)."""
    asked = [1]

    def next_params(page: list) -> Optional[Mapping[str, Any]]:
        if len(page) < PAGE:
            return None
        asked[0] += 1
        return {"page_num": asked[0]}

    return next_params


MEXC = MexcDialect(
    id="mexc", limits=LIMITS, refusal_of=mexc_refusal,
    read_endpoints={"futures": (POSITIONS, OPEN_ORDERS), "spot": (spot.ACCOUNT, spot.OPEN_ORDERS)})

DIALECTS = (MEXC,)
