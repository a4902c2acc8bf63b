"""Kraken spot (``kraken``: the spot REST API, https://docs.kraken.com/api/docs/rest-api/).

What it owns
    the Kraken spot forms the adapter needs on a spot account:

    * the book: the balances of ``POST /0/private/BalanceEx`` (ccxt's ``fetch_balance``: each
      asset's ``balance``, ``hold_trade`` held by orders), each held asset valued at Kraken's
      ticker of ASSET/QUOTE (``GET /0/public/Ticker``, the last trade); an asset held that no
      ticker prices fails the snapshot naming it (:meth:`KrakenDialect.check_spot_values`),
      never equity read short. A spot "position" is a held base asset, long only; its "close"
      a sell back to the quote, never more than held (the adapter's check before anything is
      sent, :mod:`adapters.ccxt_exchange.known`);
    * the open orders of ``POST /0/private/OpenOrders`` (one answer, every pair, not paged),
      read from the venue's rows (:mod:`.rows`): the kind from ``descr.ordertype``
      (:data:`.rows.ORDER_KINDS`), the trigger and limit prices from the row, the client
      id from ``cl_ord_id``;
    * client order ids in ``cl_ord_id`` (ccxt's ``clientOrderId``): the engine's ``ks`` and 30
      hex digits as a UUID (the venue takes a UUID or a free text of at most 18 characters);
      an order looked up by it through ``ClosedOrders``, then ``OpenOrders`` (``cl_ord_id``);
    * cancels, one order a request through ``POST /0/private/CancelOrder`` (``txid``), its
      ``result.count`` read (a batch's count names no order); ``CancelAll`` is never sent: it
      is the whole account's, every pair and every kind, where a cancel here is of some symbols
      or only entries;
    * the refusals: HTTP 200 with a non-empty ``error`` list (``{"error": ["EOrder:Unknown
      order"], "result": {}}``) is a refusal, its code the error's ``<severity><category>:
      <message>``, mapped by :data:`.rows.REFUSALS`; never a success;
    * the spot account's stream (:class:`.stream.KrakenSpotStream`): websocket v2's
      ``executions`` and ``balances`` after the token of ``POST /0/private/GetWebSocketsToken``,
      the held pairs' ``ticker``;
    * ``POST /0/private/CancelAllOrdersAfter`` as the dead man's switch (account-wide);
    * the weight budget: Kraken counts each key's private calls on a counter that decays
      (:data:`COUNTER_TIERS`, :data:`FREE`, :data:`DOUBLE`). Declared for each tier
      (:data:`TIERS`, :attr:`Dialect.rate_tiers`): an account's reads paced at its tier's decay
      (``Account.rate_tier``; a Starter key's where it names none), their burst never past its
      maximum (the pacer's ceiling: past it Kraken answers ``EAPI:Rate limit exceeded`` and
      locks the key out a while); the public ticker is limited per IP (about one a second).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, SnapshotCost, WeightLimit

from ....base import AdapterError, Reason
from ....ccxt_exchange.dialects.base import Dialect, Listed, Reads, bad_field, read_each
from ....ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule
from ....ccxt_exchange.dialects.spot import check_every_asset_valued
from ....ccxt_exchange.dialects.trigger_countdown import TriggerCountdown
from ....ccxt_exchange.nonces import increasing_nonces
from ....ccxt_exchange.parsing import dig, ticker_price
from . import rows
from .stream import KrakenSpotStream

BALANCE = "POST /0/private/BalanceEx"
TICKER = "GET /0/public/Ticker"
# the most held pairs a Ticker read names in its URL; past it, every pair's in one answer
TICKER_PAIRS_IN_URL = 200
DEAD_MANS_SWITCH = "POST /0/private/CancelAllOrdersAfter"
RATE_LIMITS = "https://docs.kraken.com/api/docs/guides/spot-rest-ratelimits"

DMS_METHOD = "privatePostCancelAllOrdersAfter"
# the venue's timeout is whole seconds; ccxt refuses a day or more
DMS_RANGE = (1, 86_399)

# the endpoints that cost the key's call counter nothing (the trading endpoints are counted per
# pair apart), and those that cost it 2 (ledgers, trade history); every other private one 1
FREE = frozenset({"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch",
                  "CancelAll", "CancelAllOrdersAfter"})
DOUBLE = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades"})

# the key's call counter by verification tier (RATE_LIMITS): (its maximum, its decay a second),
# the lowest first; an account's client is paced for its own tier's (``Account.rate_tier``), for
# a Starter key's where it names none (fail closed: a Starter key's counter holds less and decays
# slower, and a key paced past it is locked out)
COUNTER_TIERS: Mapping[str, tuple[float, float]] = {
    "Starter": (15.0, 0.33), "Intermediate": (20.0, 0.5), "Pro": (20.0, 1.0)}
LOWEST_TIER = next(iter(COUNTER_TIERS))


def tier_limits(counter_max: float, counter_decay: float) -> Limits:
    """Kraken spot's limits for a key whose call counter holds ``counter_max`` calls and decays
    ``counter_decay`` a second. 2 orders a second of ours, and 8 cancels of their own budget (its
    engine counts orders and cancels per pair); the order endpoints paced by the order budget
    (their counter is per pair), not by ccxt. ccxt's pacing of the account's client, in its cost
    (its rateLimit of 1 s paces 1 a second): one call of the counter costs 1 / decay (an
    Intermediate key's 2: one call every 2 s), a read of the counter's 2 twice that (ccxt's table
    charged trade history 6 and the stream's token 3), the public ticker about one a second; what
    the account's reads may spend at once: the counter's maximum in that cost (an Intermediate
    key's 40: 20 calls; the pacer's burst of 200 let 100 reads go at once, which Kraken refuses
    past the 20th)."""
    call_cost = 1.0 / counter_decay
    return Limits(
        orders=2.0, cancels=8.0, ceiling=counter_max * call_cost,
        counted_as_orders=frozenset(("private", "POST", p) for p in ("AddOrder", "CancelOrder",
                                                                     "CancelAllOrdersAfter")),
        read_weights={
            **{("private", "POST", name): call_cost for name in ("BalanceEx", "Balance", "OpenOrders",
                                                                  "ClosedOrders", "QueryOrders", "GetWebSocketsToken")},
            **{("private", "POST", name): 2 * call_cost for name in sorted(DOUBLE)}, ("public", "GET", "Ticker"): 1.0})


def tier_weight_limit(counter_decay: float) -> WeightLimit:
    """The spot snapshot's reads' budget of a key whose counter decays ``counter_decay`` a second:
    the calls it decays a minute, half each to the balances and the open orders (an Intermediate
    key's 30: 15 each)."""
    share = counter_decay * 60.0 / 2
    return WeightLimit(None, 60.0, "calls", PER_UID, RATE_LIMITS,
                       endpoint_limits={BALANCE: (share, 60.0), rows.OPEN_ORDERS: (share, 60.0)})


# each tier's limits, the lowest first (:attr:`Dialect.rate_tiers`); the dialect as registered is
# the lowest's, as an account naming no tier is paced
TIERS: Mapping[str, Limits] = {tier: tier_limits(*counter) for tier, counter in COUNTER_TIERS.items()}
LIMITS = TIERS[LOWEST_TIER]


def _trigger_time(answer: Any) -> Any:
    refused = rows.refusal_of(answer)
    if refused is not None:  # (ccxt raises for an error list; an answer handed in as it is says it here)
        raise AdapterError(Reason(refused.reason), f"{DEAD_MANS_SWITCH}: {refused.text()}", venue=rows.VENUE,
                           refusal=refused)
    return dig(answer, "result", "triggerTime")


@dataclass(frozen=True, kw_only=True)
class KrakenDialect(KrakenSpotStream, Dialect):
    # cl_ord_id, through ccxt's clientOrderId; the engine's ids as a UUID (:meth:`order_params`)
    max_client_id_length: int = 32
    client_id_alphabet: str = r"A-Za-z0-9\-"
    client_id_lookup: Optional[str] = None  # ccxt's kraken lists open and closed orders by cl_ord_id
    secret_headers: tuple[str, ...] = ("API-Key", "API-Sign")
    refusal_rules: tuple[Rule, ...] = rows.REFUSALS
    quote_currency: str = "USD"
    one_way_source: Optional[str] = "Kraken spot (no hedge mode)"
    mode_every_s: float = float("inf")
    read_endpoints: Mapping[str, tuple[str, str]] = field(default_factory=lambda: {
        "*": ("POST /0/private/OpenPositions", rows.OPEN_ORDERS)})
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "type"): "descr.ordertype", ("order", "price"): "descr.price",
        ("order", "triggerPrice"): "descr.price", ("order", "amount"): "vol"})
    # the websocket's sends unpaced by ccxt (its pacing of a connection's subscriptions held the
    # balances' and the tickers' behind the executions' for seconds; Kraken paces a connection's
    # subscriptions by none of the key's counter)
    client_options: Mapping[str, Any] = field(default_factory=lambda: {"ws": {"cost": 0}})
    # a stream's start: GetWebSocketsToken, one call of the key's counter (again at each reconnect)
    stream_open_weight: float = 1.0
    # a spot snapshot: the balances, the held assets' tickers (public: nothing of the key's
    # counter) and the open orders, at every snapshot
    spot_reads: tuple[Read, ...] = (Read(BALANCE, 1), Read(TICKER, 0), Read(rows.OPEN_ORDERS, 1, orders=True))
    spot_limit: WeightLimit = tier_weight_limit(COUNTER_TIERS[LOWEST_TIER][1])  # (the tier's: :meth:`tier_fields`)

    # --- client order ids ------------------------------------------------------------------------

    def client_id_fits(self, client_order_id: str) -> bool:
        """The engine's id (``ks`` and 30 hex digits, sent as a UUID) or a free text of at most
        18 letters, digits and dashes (the venue's own limit)."""
        return bool(rows.OUR_ID.match(client_order_id) or rows.FREE_TEXT.match(client_order_id))

    def order_params(self, client_order_id: str, *, futures: bool, hedge_leg: Optional[str],
                     reduce_only: bool) -> dict:
        params = super().order_params(client_order_id, futures=futures, hedge_leg=hedge_leg, reduce_only=reduce_only)
        params[self.client_id_param] = rows.to_cl_ord_id(client_order_id)
        return params

    def order_answer(self, answer: Any) -> Any:
        """ccxt's parse of AddOrder's answer (``txid``, ``descr``), its client id the engine's
        where the venue echoes one."""
        if not isinstance(answer, Mapping):
            return answer
        out = dict(answer)
        out["clientOrderId"] = rows.from_cl_ord_id(answer.get("clientOrderId"))
        return out

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        """The order with this client id, each list asked for its ``cl_ord_id``: ``ClosedOrders``
        first (a sale, a revert, a close ends at once: one read, not two), then ``OpenOrders``.
        None when neither names it: an order that ended between the two reads is not found
        once, and the reconcile sends nothing on one such answer (it asks again a gap later,
        when the closed list names it; :mod:`killswitch.runner.venue.reconcile`)."""
        params = {self.client_id_param: rows.to_cl_ord_id(client_order_id)}
        for method in ("fetch_closed_orders", "fetch_open_orders"):
            got = await call(method, None, None, None, dict(params))
            for o in got or ():
                if isinstance(o, Mapping) and rows.from_cl_ord_id(
                        (o.get("info") or {}).get("cl_ord_id") or o.get("clientOrderId")) == client_order_id:
                    return dict(o, clientOrderId=client_order_id)
        return None

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        """BOTH for a row of OpenPositions (``pair``, ``type``, ``vol_closed``: a margin
        position) or of OpenOrders (``descr.ordertype``): no hedge mode at Kraken."""
        if "vol_closed" in info and "pair" in info and info.get("type") in ("buy", "sell"):
            return "BOTH"
        descr = info.get("descr")
        if isinstance(descr, Mapping) and "ordertype" in descr and "vol" in info:
            return "BOTH"
        return None

    # --- reads -----------------------------------------------------------------------------------

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        got = await self.read(reads, rows.OPEN_ORDERS, "fetch_open_orders", symbol)
        if not isinstance(got, list):
            raise self.bad_field(rows.OPEN_ORDERS, "result.open", "not a list of orders")
        return await read_each(got, rows.read_open_order)

    def prepare_client(self, client: Any) -> None:
        """The key's nonces strictly increasing across the account's clients (its REST client and
        its stream's, which signs the websocket token): :func:`adapters.ccxt_exchange.nonces.increasing_nonces`."""
        increasing_nonces(client)

    async def spot_prices(self, reads: Reads, symbols: list[str]) -> Optional[Mapping[str, float]]:
        """Past :data:`TICKER_PAIRS_IN_URL` held pairs, every pair's ``Ticker`` in one answer
        (no ``pair``): the read names each pair in its URL (about 11 bytes one), and past about
        750 the URL outgrows the 8 KB a server takes, so the snapshot was never read. Fewer:
        ccxt's tickers of the held pairs alone (None)."""
        if len(symbols) <= TICKER_PAIRS_IN_URL:
            return None
        got = await self.read(reads, TICKER, "fetch_tickers")
        tickers = got if isinstance(got, Mapping) else {}
        return {s: p for s in symbols if (p := ticker_price(tickers.get(s))) is not None}

    def check_spot_values(self, balances: Sequence[Any], quote: str) -> None:
        """Every asset held is valued: one no ticker of ASSET/QUOTE prices (an asset of Kraken
        Earn, ``BTC.F``; a pair not traded against the quote) fails the snapshot naming it."""
        check_every_asset_valued(self.id, TICKER, balances, quote)

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        if market_type != "spot":
            return None
        return SnapshotCost(self.spot_reads, self.open_orders_max_age_s, streams=self.streams_for("spot"),
                            stream_open=self.stream_open_weight)

    def weight_limit_for(self, market_type: str) -> Optional[WeightLimit]:
        return self.spot_limit if market_type == "spot" else None

    def tier_fields(self, tier: str) -> Mapping[str, Any]:
        """The spot reads' budget at the tier's counter's decay (:func:`tier_weight_limit`)."""
        return {"spot_limit": tier_weight_limit(COUNTER_TIERS[tier][1])}

    def request_weight(self, api: str, method: str, path: str, params: Any, ccxt_cost: float) -> float:
        if api != "private" or path in FREE:
            return 0.0
        return 2.0 if path in DOUBLE else 1.0

    # --- cancels ----------------------------------------------------------------------------------

    def cancels_itself(self, kind: str) -> bool:
        # every kind one order a request (:meth:`cancel_batch`), never ccxt's cancel_all_orders,
        # which is Kraken's CancelAll: the whole account's orders, whatever the symbol asked
        return True

    def cancel_batch_size(self, kind: str) -> int:
        return 1

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        """``CancelOrder`` of one order by its ``txid``, the venue's body read whole."""
        [order] = orders
        return await call("privatePostCancelOrder", {"txid": order.id})

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        if how == "symbol":
            raise bad_field(rows.VENUE, "POST /0/private/CancelAll", "the request", "never sent (account-wide)")
        return rows.cancel_answer(how, answer, sent)

    # --- dead man's switch ---------------------------------------------------------------------------

    countdown_method: Optional[str] = DMS_METHOD

    def venue_countdown(self, client: Any, market_type: str, method: str) -> TriggerCountdown:
        """``CancelAllOrdersAfter``: account-wide, its answer's ``result.triggerTime`` read back."""
        return TriggerCountdown(DMS_METHOD, *DMS_RANGE, _trigger_time, rows.VENUE, DEAD_MANS_SWITCH,
                                "result.triggerTime")


# The spot trading engine counts orders and cancels per pair, not per account: each pair's counter
# takes +1 an order and, for a cancel, up to +8 more the younger the order (under 5 s), against a
# threshold of 60 / 125 / 180 decaying 1 / 2.34 / 3.75 a second (Starter / Intermediate / Pro;
# https://docs.kraken.com/exchange/guides/general/ratelimits). The budget is an account's: 2 orders
# a second, and cancels apart at 8, as a rogue's entries spread over pairs each spend their own
# pair's counter; many on one pair meet its threshold, refused EOrder:Rate limit exceeded
# (RATE_LIMITED, retried after a wait), as they did at 2 a second within seconds.
KRAKEN = KrakenDialect(id="kraken", limits=LIMITS, rate_tiers=TIERS, refusal_of=rows.kraken_refusal)

DIALECTS = (KRAKEN,)

__all__ = ["DIALECTS", "KRAKEN", "KrakenDialect"]
