"""MEXC spot (``mexc``, ``market_type: spot``): the spot API v3 (``/api/v3``), beside the contract API.

What it owns
    the MEXC spot forms the adapter needs on a spot account (:class:`MexcSpot`, a base of the
    ``mexc`` dialect: each of its reads and cancels answers for a spot account or order and
    leaves a futures one to the contract API's forms):

    * the book: the balances of ``GET /api/v3/account`` (ccxt's ``fetch_balance``: each
      asset's ``free`` and ``locked``), each held asset valued at MEXC's price ticker of
      ASSET/QUOTE (``GET /api/v3/ticker/price``: one symbol's, or every symbol's in one answer
      for two or more; 1 or 2 of the IP's weight, where ccxt's tickers read the 24 h statistics);
      a held asset no ticker prices fails the snapshot naming it
      (:func:`adapters.ccxt_exchange.dialects.spot.check_every_asset_valued`). A spot "position"
      is a held base asset, long only; its "close" a sell back to the quote, never more than
      held (the adapter's check before anything is sent, :mod:`adapters.ccxt_exchange.known`);
    * the open orders of ``GET /api/v3/openOrders``, every symbol in one answer (as ccxt sends
      it: its recorded request carries no symbol), read from the venue's rows
      (:func:`read_open_order`): the documented order types (``LIMIT``, ``MARKET``,
      ``LIMIT_MAKER``, ``IMMEDIATE_OR_CANCEL``, ``FILL_OR_KILL``: regular; the documentation
      lists no stop order on spot) — another type fails the snapshot naming the field —, the
      client id from ``clientOrderId`` alone;
    * cancels as the venue's own requests, read whole (:func:`cancel_answer`): one order by
      ``DELETE /api/v3/order`` (``symbol``, ``orderId``), a symbol's by ``DELETE
      /api/v3/openOrders`` (its answer lists each order cancelled with its ``status``); ``DELETE
      /api/v3/order/all`` (every symbol's) is never sent;
    * the spot refusals (:data:`REFUSALS`, the spot API's error code list): an answer carrying
      ``code`` and ``msg`` — HTTP 200 all the same — is a refusal, never a success;
    * the weight budget: MEXC limits each endpoint alone, 500 of its weight every 10 s, per UID
      for the signed ones and per IP for the public ones (the account read: 2 a second);
    * no dead man's switch: the spot API has no cancel-all-after (the runner's own still runs);
      its stream the spot websocket's (:mod:`.spot_stream`: the orders and account
      pushes after a listen key, the held pairs' mini tickers), not the contract one's.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`); count an
    order cancelled that the venue's answer does not name so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, SnapshotCost, WeightLimit

from ....base import PERMANENT, TRANSIENT
from ....ccxt_exchange.dialects.base import Listed, Reads, bad_field, read_each, unknown_value
from ....ccxt_exchange.dialects.cancel_hooks import CancelAnswer
from ....ccxt_exchange.dialects.refusals import Rule, mapped
from ....ccxt_exchange.dialects.spot import check_every_asset_valued
from ....ccxt_exchange.parsing import num, order_info
from .rows import text

VENUE = "mexc"
ACCOUNT = "GET /api/v3/account"
PRICES = "GET /api/v3/ticker/price"
OPEN_ORDERS = "GET /api/v3/openOrders"
CANCEL = "DELETE /api/v3/order"
CANCEL_SYMBOL = "DELETE /api/v3/openOrders"
LIMITS = "https://mexcdevelop.github.io/apidocs/spot_v3_en/#limits"
# the spot stream's listen key (POST /api/v3/userDataStream, weight 1; ccxt PUTs it every 20 minutes)
LISTEN_KEY_WEIGHT, LISTEN_KEY_EVERY_S = 1.0, 1200.0

# ccxt's implicit methods of the venue's own requests
PRICES_METHOD = "spotPublicGetTickerPrice"
CANCEL_METHOD = "spotPrivateDeleteOrder"
CANCEL_SYMBOL_METHOD = "spotPrivateDeleteOpenOrders"

# the spot API's order types (its ENUM definitions) → the kind; another fails the snapshot
ORDER_TYPES: Mapping[str, str] = {"LIMIT": "limit", "LIMIT_MAKER": "limit", "IMMEDIATE_OR_CANCEL": "limit",
                                  "FILL_OR_KILL": "limit", "MARKET": "market"}
SIDES = {"BUY": "buy", "SELL": "sell"}

# The spot API's refusals: its "Error Code" table (mexcdevelop/apidocs spot_v3_en). A code the
# contract table (.dialect.REFUSALS) maps too (401, 500, 602) maps the same there.
REFUSALS: tuple[Rule, ...] = (
    Rule("-2011", "ORDER_NOT_FOUND", PERMANENT),  # Unknown order sent
    Rule("30026", "ORDER_NOT_FOUND", PERMANENT),  # invalid order ids
    Rule("10101", "INSUFFICIENT_MARGIN", TRANSIENT),  # Insufficient balance
    Rule("30004", "INSUFFICIENT_MARGIN", TRANSIENT),  # Insufficient position
    Rule("30005", "INSUFFICIENT_MARGIN", TRANSIENT),  # Oversold
    Rule("30000", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # suspended transaction for the symbol
    Rule("30016", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # trading disabled
    Rule("30027", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # maximum position limit: buying suspended
    Rule("30028", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # platform risk control: selling suspended
    Rule("503", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # service not available
    Rule("504", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Gateway Time-out
    Rule("30002", "INVALID_ORDER", PERMANENT),  # The minimum transaction volume cannot be less than
    Rule("30003", "INVALID_ORDER", PERMANENT),  # The maximum transaction volume cannot be greater than
    Rule("30010", "INVALID_ORDER", TRANSIENT),  # no valid trade price
    Rule("30018", "INVALID_ORDER", PERMANENT),  # market order is disabled
    Rule("30019", "INVALID_ORDER", PERMANENT),  # api market order is disabled
    Rule("30041", "INVALID_ORDER", PERMANENT),  # current order type can not place order
    Rule("10007", "UNKNOWN_SYMBOL", PERMANENT),  # bad symbol
    Rule("30014", "UNKNOWN_SYMBOL", PERMANENT),  # invalid symbol
    Rule("30021", "UNKNOWN_SYMBOL", PERMANENT),  # invalid symbol
    Rule("429", "RATE_LIMITED", TRANSIENT),  # Too Many Requests
    Rule("400", "AUTH", PERMANENT),  # api key required
    Rule("403", "AUTH", PERMANENT),  # Access Denied
    Rule("26", "AUTH", PERMANENT),  # operation not allowed
    Rule("30020", "AUTH", PERMANENT),  # no permission for the symbol
    Rule("10072", "AUTH", PERMANENT),  # invalid access key
    Rule("700002", "AUTH", PERMANENT),  # Signature for this request is not valid
    Rule("700003", "AUTH", TRANSIENT),  # Timestamp for this request is outside of the recvWindow
    Rule("700006", "AUTH", PERMANENT),  # IP non white list
    Rule("700007", "AUTH", PERMANENT),  # No permission to access the endpoint
)


def spot_refusal(body: Any) -> Optional[tuple[str, str]]:
    """(code, words) of a spot answer that carries ``code`` and ``msg`` (``{"code": -2011,
    "msg": "Unknown order sent."}``; HTTP 200 or not), a code other than 0 and 200; None
    without one (a row, a list of rows)."""
    if not isinstance(body, Mapping) or "msg" not in body:
        return None
    code = text(body.get("code"))
    if code is None or code in ("0", "200"):
        return None
    return code, str(body.get("msg") or "")


def read_open_order(order: Any) -> Listed:
    """A row of ``openOrders`` (ccxt's parsed order, the venue's row in ``info``) as the adapter
    reads it: its ``type`` one of the documented ones (else BAD_RESPONSE naming ``type``), its
    ``side`` BUY or SELL, a limit's ``price``, its client id the row's ``clientOrderId`` (none
    when empty). A spot order never only reduces: ``reduceOnly`` false."""
    info = order_info(order)
    order_type = ORDER_TYPES.get(str(info.get("type")))
    if order_type is None:
        raise unknown_value(VENUE, OPEN_ORDERS, "type", info.get("type"))
    side = SIDES.get(str(info.get("side")))
    if side is None:
        raise unknown_value(VENUE, OPEN_ORDERS, "side", info.get("side"))
    price = num(info.get("price"))
    out = dict(order, type=order_type, side=side, triggerPrice=None, reduceOnly=False,
               price=price if order_type == "limit" and price and price > 0 else None,
               clientOrderId=info.get("clientOrderId") or None)
    if order_type == "limit" and out["price"] is None:
        raise bad_field(VENUE, OPEN_ORDERS, "price", f"no price for a {info.get('type')} order")
    return Listed("regular", out, OPEN_ORDERS)


def prices_of(answer: Any, symbol_of: Any, symbols: Sequence[str]) -> dict[str, float]:
    """``ticker/price``'s answer (one row, or a list of rows ``{symbol, price}``) → unified
    symbol → its last price, for the ``symbols`` asked; a row without a positive price is none."""
    rows = [answer] if isinstance(answer, Mapping) else answer
    if not isinstance(rows, list):
        raise bad_field(VENUE, PRICES, "the answer", "not a list of prices")
    wanted = set(symbols)
    out = {}
    for row in rows:
        if isinstance(row, Mapping) and isinstance(row.get("symbol"), str):
            symbol, price = symbol_of(row["symbol"]), num(row.get("price"))
            if symbol in wanted and price is not None and price > 0:
                out[symbol] = price
    return out


def cancel_answer(how: str, answer: Any, sent: Sequence[Any], rules: Sequence[Rule] = REFUSALS) -> CancelAnswer:
    """What a spot cancel's answer says, order by order: a ``code`` and ``msg`` refuse every order
    sent; a row names its order by ``orderId``, done when its ``status`` is ``CANCELED``; a row
    of another status, and an order no row names, are unconfirmed (the list after it decides).
    ``rules``: the dialect's refusal table."""
    endpoint = CANCEL if how == "one" else CANCEL_SYMBOL
    said = spot_refusal(answer)
    if said is not None:
        refused = mapped(said[0], said[1], rules)
        return CancelAnswer(frozenset(), {o.id: refused for o in sent})
    if how == "one":
        rows = [answer]
    elif isinstance(answer, list):
        rows = answer
    else:
        raise bad_field(VENUE, endpoint, "the answer", "not a list of orders")
    wanted = {o.id for o in sent}
    done: set[str] = set()
    refused_rows = {}
    for parsed in rows:
        row = parsed.get("info", parsed) if isinstance(parsed, Mapping) else None
        oid = text(row.get("orderId")) if isinstance(row, Mapping) else None
        if oid is None or not isinstance(row, Mapping):
            raise bad_field(VENUE, endpoint, "orderId", "missing")
        said = spot_refusal(row)
        if said is not None:
            refused_rows[oid] = mapped(said[0], said[1], rules)
            continue
        status = row.get("status")
        if status is None:
            raise bad_field(VENUE, endpoint, "status", "missing")
        if status == "CANCELED":
            done.add(oid)
    return CancelAnswer(frozenset(done & wanted),
                        {oid: r for oid, r in refused_rows.items() if oid in wanted and oid not in done})


def is_spot_order(order: Any) -> bool:
    """Whether an open order (a :class:`killswitch.snapshot.Order`) is a spot pair's (BTC/USDT;
    a contract's symbol names its settle coin, BTC/USDT:USDT)."""
    return ":" not in str(getattr(order, "symbol", ""))


class MexcSpot:
    """The ``mexc`` dialect's spot account: its reads, cancels and weights (the module's
    docstring); a futures account's are the contract API's (:class:`..dialect.MexcDialect`)."""

    if TYPE_CHECKING:  # the dialect's own fields and methods (:class:`~adapters.ccxt_exchange.dialects.base.Dialect`)
        id: str
        open_orders_max_age_s: float

        async def read(self, reads: Reads, endpoint: str, method: str, *args: Any) -> Any: ...

    # a spot snapshot: the balances, the held assets' prices, the open orders (one request each)
    spot_reads: tuple[Read, ...] = (Read(ACCOUNT, 1), Read(PRICES, 1), Read(OPEN_ORDERS, 1, orders=True))
    # each endpoint its own 500 weight every 10 s: the account (weight 10) at most 2 a second,
    # openOrders (3) 166, ticker/price of every symbol (2, per IP) 250
    spot_limit: WeightLimit = WeightLimit(
        None, 10.0, "requests", PER_UID, LIMITS, counts_requests=True,
        endpoint_limits={ACCOUNT: (20.0, 10.0), OPEN_ORDERS: (166.0, 10.0), PRICES: (250.0, 10.0)})

    async def spot_prices(self, reads: Reads, symbols: list[str]) -> Optional[Mapping[str, float]]:
        """``GET /api/v3/ticker/price``: one symbol's (weight 1), or every symbol's (weight 2)."""
        if reads.market_type != "spot" or not symbols:
            return None
        params = {"symbol": symbols[0].replace("/", "")} if len(symbols) == 1 else {}
        answer = await self.read(reads, PRICES, PRICES_METHOD, params)
        return prices_of(answer, reads.symbol_of, symbols)

    def check_spot_values(self, balances: Sequence[Any], quote: str) -> None:
        """Every asset held is valued: one no price ticker of ASSET/QUOTE prices fails the
        snapshot naming it."""
        check_every_asset_valued(self.id, PRICES, balances, quote)

    async def spot_open_orders(self, reads: Reads, symbol: Optional[str]) -> list[Listed]:
        """Every open order of the spot account (of ``symbol``), read from the venue's rows."""
        got = await self.read(reads, OPEN_ORDERS, "fetch_open_orders", symbol)
        if not isinstance(got, list):
            raise bad_field(VENUE, OPEN_ORDERS, "the answer", "not a list of orders")
        return await read_each(got, read_open_order)

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        if market_type == "spot":  # its stream: the listen key's POST at each connect, a PUT every 20 min
            return SnapshotCost(self.spot_reads, self.open_orders_max_age_s, streams=True,
                                stream_open=LISTEN_KEY_WEIGHT, stream_keepalive=LISTEN_KEY_WEIGHT,
                                keepalive_every_s=LISTEN_KEY_EVERY_S)
        # (a base of the dialect: the Dialect after it in the order of bases answers the rest)
        return super().snapshot_cost(market_type, settle_coins)  # type: ignore[misc]

    def weight_limit_for(self, market_type: str) -> Optional[WeightLimit]:
        return self.spot_limit if market_type == "spot" else super().weight_limit_for(market_type)  # type: ignore[misc]

    @staticmethod
    def spot_cancel_one(order: Any, market: Mapping[str, Any]) -> tuple[str, tuple]:
        """``DELETE /api/v3/order`` of one order by its ``orderId``, the venue's body read whole."""
        return CANCEL_METHOD, ({"symbol": market["id"], "orderId": order.id},)

    def cancel_all_request(self, symbol: str, market_id: str, params: Mapping[str, Any]) -> tuple[str, tuple]:
        """A spot symbol's: ``DELETE /api/v3/openOrders``, its list of rows read whole."""
        if ":" not in symbol:
            return CANCEL_SYMBOL_METHOD, ({"symbol": market_id},)
        return super().cancel_all_request(symbol, market_id, params)  # type: ignore[misc]


__all__ = ["ACCOUNT", "CANCEL", "CANCEL_SYMBOL", "MexcSpot", "OPEN_ORDERS", "ORDER_TYPES", "PRICES", "REFUSALS",
           "cancel_answer", "is_spot_order", "prices_of", "read_open_order", "spot_refusal"]
