"""Kraken Futures (``krakenfutures``: the derivatives API v3, https://docs.kraken.com/api/docs/futures-api).

What it owns
    the Kraken Futures forms the adapter needs:

    * client order ids in ``cliOrdId``, of at most 100 characters (the venue's
      ``clientOrderIdTooLong`` past that), letters, digits and dashes here; looked up through
      ``GET /derivatives/api/v3/orders/status`` by ``cliOrdIds``;
    * a close: ``reduceOnly`` true (the venue keeps one net position a contract: no hedge mode,
      :meth:`KrakenFuturesDialect.read_position_mode` says so without a request); a limit close is
      an ``ioc`` order (ccxt reads ``timeInForce`` in lower case only: the account's client is
      handed it so, :meth:`KrakenFuturesDialect.prepare_client`);
    * the positions (``GET /derivatives/api/v3/openpositions``: side, size and entry price, no
      mark) valued with the marks of ``GET /derivatives/api/v3/tickers`` (``markPrice``, by
      ``symbol``): a held contract without a ticker, or a ticker without a positive mark, fails
      the snapshot (BAD_RESPONSE naming the symbol), never a position valued at nothing; an
      inverse contract's notional is its size in the quote currency and its PnL the quote's;
    * the equity of the multi-collateral ``flex`` account of ``GET /derivatives/api/v3/accounts``
      (``portfolioValue``: the collateral's value with the unrealized PnL; ccxt's ``fetch_balance``
      reads the flex account by default): an answer without it as a number is BAD_RESPONSE;
    * the open orders (``GET /derivatives/api/v3/openorders``, one answer, regular and trigger
      orders together): each row's limit price from its ``limitPrice`` and trigger price from its
      ``stopPrice`` (ccxt leaves both out of its unified order), its kind from ``orderType``
      (:data:`ORDER_KINDS`), whether it only reduces from ``reduceOnly`` (required);
    * an order's answer read from the venue's own ``sendStatus`` (:mod:`.answers`): Kraken
      answers HTTP 200 ``result: success`` with a refused status (``wouldNotReducePosition``,
      ``iocWouldNotExecute``, ``insufficientAvailableFunds``, ``marketSuspended``, ...), which is
      raised with the status as the refusal's code, never read as an order sent (ccxt raises for
      some of them with a text alone, and takes ``marketSuspended`` for a network failure: its
      check of a new order's status is left to this dialect);
    * the cancels' answers read order by order (:func:`.answers.cancel_answer`); a whole
      symbol is cancelled through ``cancelallorders`` read raw (ccxt keeps only its order events,
      the first one repeated); several orders, of any contracts, through one ``batchorder`` of
      ``cancel`` instructions by ``order_id`` (:data:`CANCEL_BATCH` at most), read raw, each
      ``batchStatus`` row by its own status (ccxt's cancel_orders drops a refused row's);
    * ``POST /derivatives/api/v3/cancelallordersafter`` as the dead man's switch (account-wide,
      ``timeout`` in seconds, 0 turns it off; the answer's ``status.triggerTime`` read back);
    * its stream (:mod:`.stream`): ``open_positions``, ``open_orders`` and ``balances``
      after the signed challenge, the held contracts' ``ticker`` marks, through ccxt.pro's
      krakenfutures (:attr:`KrakenFuturesDialect.streams`);
    * the weight budget: Kraken Futures counts a cost per API key (:data:`COSTS`; the public
      tickers nothing), :data:`BUDGET` every 10 s across the /derivatives endpoints. The order
      rate (4 a second: 400 of the 500) leaves the snapshots' reads 10 cost a second, which the
      account's client is paced at.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

from killswitch.weights import PER_UID, Read, WeightLimit

from ....base import AdapterError, Reason, VenueRefusal
from ....ccxt_exchange.dialects.base import (
    Dialect,
    Listed,
    Reads,
    bad_field,
    documented,
    unknown_value,
)
from ....ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule, refusal
from ....ccxt_exchange.dialects.stream_hooks import ModuleStream
from ....ccxt_exchange.dialects.trigger_countdown import TriggerCountdown
from ....ccxt_exchange.parsing import BadData, dig, num, order_info
from . import answers, stream as kf_stream
from .answers import ACCOUNTS, DEAD_MANS_SWITCH, OPEN_ORDERS, POSITIONS, TICKERS

RATE_LIMITS = "https://docs.kraken.com/api/docs/guides/futures-rate-limits/"

# what one request costs the per-key budget (the rate limits page), by ccxt's path of it
COSTS: Mapping[str, float] = {
    "sendorder": 10, "editorder": 10, "cancelorder": 10, "cancelallorders": 25, "cancelallordersafter": 25,
    "accounts": 2, "openpositions": 2, "openorders": 2, "orders/status": 1, "fills": 2,
}
BUDGET = 500.0  # every 10 s, per API key
BATCH_BASE = 9.0  # batchorder costs this, and 1 for each of its instructions
# the cancels of one batchorder: 9 + 30 = 39, within one second of the order rate's 40 of the cost
CANCEL_BATCH = 30
# ccxt's request pacing of the account's client, in that cost: 10 a second (100 every 10 s)
READ_PACE_MS = 100
# Kraken Futures' limits: 4 orders a second of ours. The orders' endpoints are paced by the order
# budget, not by ccxt's request pacing; its reads weighed as the key's budget counts them.
LIMITS = Limits(
    orders=4.0,
    counted_as_orders=frozenset(("private", "POST", p) for p in (
        "sendorder", "cancelorder", "editorder", "batchorder", "cancelallorders", "cancelallordersafter")),
    read_weights={("private", "GET", "accounts"): 2.0, ("private", "GET", "openpositions"): 2.0,
                  ("private", "GET", "openorders"): 2.0, ("private", "GET", "orders/status"): 1.0,
                  ("public", "GET", "tickers"): 1.0})

# openorders' orderType → the order's kind (sendorder's types and the list's own names of them)
ORDER_KINDS: Mapping[str, str] = {
    "lmt": "regular", "post": "regular", "ioc": "regular", "mkt": "regular",
    "stp": "conditional", "stop": "conditional", "take_profit": "conditional",
    "trailing_stop": "trailing",
}

# the account types of /accounts (a body of another venue never carries them)
ACCOUNT_TYPES = frozenset({"cashAccount", "marginAccount", "multiCollateralMarginAccount"})

DMS_METHOD = "privatePostCancelallordersafter"
# the venue's timeout is a uint32 of seconds; a day is far past any countdown a runner keeps
DMS_RANGE = (1, 86_400)

# ccxt's text when it raises for a status of an order's or a cancel's answer
# ("krakenfutures: cancelOrder failed due to notFound")
CCXT_STATUS = re.compile(r"failed due to (?P<code>[A-Za-z_]+)")


def _trigger_time(answer: Any) -> Any:
    return dig(answer, "status", "triggerTime")


def marks_of(answer: Any, symbol_of: Callable[[str], str] = lambda market_id: market_id) -> dict[str, float]:
    """Each contract's positive ``markPrice`` from ``GET /tickers``, by its market id in upper
    case and by its unified symbol (``symbol_of``: the account's markets); an answer without its
    ``tickers`` list is BAD_RESPONSE. A row without a positive mark (an index) gives none."""
    rows = answer.get("tickers") if isinstance(answer, Mapping) else None
    if not isinstance(rows, list):
        raise bad_field(answers.VENUE, TICKERS, "tickers", "missing")
    out: dict[str, float] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("symbol"), str):
            continue
        mark = num(row.get("markPrice"))
        if mark is None or mark <= 0:
            continue
        market_id = row["symbol"].upper()
        out[market_id] = mark
        out[symbol_of(market_id)] = mark
    return out


def inverse(symbol: Any) -> bool:
    """Whether a unified symbol settles in its base (``BTC/USD:BTC``: an inverse contract)."""
    if not isinstance(symbol, str) or ":" not in symbol or "/" not in symbol:
        return False
    pair, settle = symbol.split(":", 1)
    return settle != pair.split("/", 1)[1]


def valued(position: Any, marks: Mapping[str, float]) -> Any:
    """ccxt's position with the venue's mark of its contract (and, for an inverse contract, its
    notional and PnL in the quote currency). A held position whose contract has no mark raises
    BAD_RESPONSE naming it; a flat row is left as it is."""
    if not isinstance(position, Mapping):
        raise BadData("a position is not an object")
    info = order_info(position)
    size = num(info.get("size"))
    if not size:
        return position
    market_id = str(info.get("symbol") or "")
    symbol = position.get("symbol")
    mark = marks.get(symbol) if isinstance(symbol, str) else None
    if mark is None:
        mark = marks.get(market_id.upper())
    if mark is None:
        named = " ".join(x for x in (market_id, f"({symbol})" if symbol else "") if x) or "(no symbol)"
        raise AdapterError(Reason.BAD_RESPONSE,
                           f"{answers.VENUE} {TICKERS}: no ticker with a markPrice for {named}, where a position "
                           f"of {size:g} is held: the position cannot be valued (blind there)", venue=answers.VENUE)
    out = dict(position)
    out["markPrice"] = mark
    if inverse(position.get("symbol")):
        contracts = abs(num(position.get("contracts")) or size)
        notional = contracts * (num(position.get("contractSize")) or 1.0)
        out["notional"] = notional
        entry = num(position.get("entryPrice"))
        if entry:
            sign = 1.0 if position.get("side") == "long" else -1.0
            out["unrealizedPnl"] = sign * notional * (mark / entry - 1.0)
    return out


def read_open_order(order: Any) -> Listed:
    """A row of openorders as the adapter reads it (the module docstring's open orders)."""
    info = order_info(order)
    kind = documented(answers.VENUE, OPEN_ORDERS, "orderType", info.get("orderType"), ORDER_KINDS)
    reduce_only = info.get("reduceOnly")
    if not isinstance(reduce_only, bool):
        raise unknown_value(answers.VENUE, OPEN_ORDERS, "reduceOnly", reduce_only)
    out = dict(order)
    out["price"] = num(info.get("limitPrice"))
    out["triggerPrice"] = num(info.get("stopPrice"))
    if kind != "regular":  # ccxt keeps stp / take_profit / trailing_stop as the type: what it becomes
        out["type"] = "limit" if out["price"] is not None else "market"
    out["reduceOnly"] = reduce_only
    if not out.get("clientOrderId") and isinstance(info.get("cliOrdId"), str):
        out["clientOrderId"] = info["cliOrdId"]
    return Listed(kind, out, OPEN_ORDERS)


def flex_equity(info: Mapping[str, Any]) -> list[Any]:
    """The flex account's ``portfolioValue`` of an /accounts answer (ccxt's balance ``info``);
    [] for a body that is not one; BAD_RESPONSE for one whose flex account lacks it."""
    accounts = info.get("accounts")
    if not isinstance(accounts, Mapping) or not any(
            isinstance(a, Mapping) and a.get("type") in ACCOUNT_TYPES for a in accounts.values()):
        return []
    flex = accounts.get("flex")
    if not isinstance(flex, Mapping):
        raise bad_field(answers.VENUE, ACCOUNTS, "accounts.flex", "missing (no multi-collateral account)")
    value = flex.get("portfolioValue")
    if num(value) is None:
        raise bad_field(answers.VENUE, ACCOUNTS, "accounts.flex.portfolioValue",
                        "missing" if value is None else f"not a number: {value!r}")
    return [value]


@dataclass(frozen=True, kw_only=True)
class KrakenFuturesDialect(ModuleStream, Dialect):
    client_id_param: str = "cliOrdId"
    max_client_id_length: int = 100
    client_id_alphabet: str = r"A-Za-z0-9\-"
    fetch_order_param: str = "cliOrdIds"
    client_id_lookup: Optional[str] = "fetchOrders"
    position_size_field: Optional[str] = "size"
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "order_id", ("order", "type"): "orderType", ("order", "amount"): "unfilledSize",
        ("order", "price"): "limitPrice", ("order", "triggerPrice"): "stopPrice",
        ("position", "markPrice"): "tickers markPrice"})
    secret_headers: tuple[str, ...] = ("apikey", "authent")
    reduce_only_rejections: tuple[str, ...] = (r"\bwouldNotReducePosition\b",)
    refusal_rules: tuple[Rule, ...] = answers.REFUSALS
    mode_every_s: float = float("inf")  # no request: the venue has no hedge mode
    # the websocket's sends unpaced by ccxt (its pacing of a reconnected client's subscriptions
    # stalls them; Kraken paces a connection's subscriptions by none of the key's budget)
    client_options: Mapping[str, Any] = field(default_factory=lambda: {"ws": {"cost": 0}})
    # the multi-collateral (flex) account's portfolio value, notionals and PnL are in USD: an
    # account that declares no quote currency is USD's, never USDT's
    quote_currency: str = "USD"

    # A snapshot: the accounts, the positions and the tickers at once, the open orders (one
    # answer each, not paged). The tickers are public: no cost to the key's budget.
    snapshot_reads: tuple[Read, ...] = (
        Read(ACCOUNTS, 2), Read(POSITIONS, 2), Read(TICKERS, 0), Read(OPEN_ORDERS, 2, orders=True))
    weight_limit: Optional[WeightLimit] = WeightLimit(
        None, 10.0, "cost", PER_UID, RATE_LIMITS,
        # each endpoint alone within the key's 500 every 10 s (they share it: the snapshot's 6
        # and the orders' 400 of the order rate fit together)
        endpoint_limits={ACCOUNTS: (BUDGET / 2, 10.0), POSITIONS: (BUDGET / 2, 10.0),
                         OPEN_ORDERS: (BUDGET / 2, 10.0)})

    # Streams (:mod:`.stream`; the held contracts' tickers on a connection of their own
    # shared by the venue's accounts): a websocket costs no REST request; the stream costs the
    # reconcile's snapshot.
    streams: bool = True
    stream_quote: Optional[str] = kf_stream.QUOTE  # the flex account's values are in USD

    stream_module: ClassVar[ModuleType] = kf_stream  # its frames read there (ModuleStream)

    # --- the venue's answers ---------------------------------------------------------------------


    def venue_refusal(self, text: str) -> Optional[VenueRefusal]:
        """The body's refusal, else the status ccxt raised for (``failed due to notFound``) with
        the documentation's words of it."""
        found = refusal(text, self.refusal_of, self.refusal_rules)
        if found is not None:
            return found
        m = CCXT_STATUS.search(text)
        return answers.mapped(m.group("code"), answers.words(m.group("code"))) if m else None

    def order_answer(self, answer: Any) -> Any:
        """The order's ``sendStatus`` (ccxt's ``info``) read before anything else: a refused
        status raises AdapterError carrying it (:func:`.answers.refused_order`)."""
        info = answer.get("info") if isinstance(answer, Mapping) else None
        err = answers.refused_order(info)
        if err is not None:
            raise err
        return answer

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        return answers.cancel_answer(how, answer, sent)

    def cancel_all_request(self, symbol: str, market_id: str, params: Mapping[str, Any]) -> tuple[str, tuple]:
        # the raw answer: ccxt's cancel_all_orders keeps the first order event, repeated, and
        # drops cancelStatus.cancelledOrders, the list of what was cancelled
        return "privatePostCancelallorders", ({**params, "symbol": market_id},)

    def cancel_batch_size(self, kind: str) -> int:
        return CANCEL_BATCH

    def cancel_batch_spans_symbols(self, kind: str) -> bool:
        return True  # each cancel instruction names its order, whatever its contract

    def cancel_batch_cost(self, size: int) -> float:
        # in the orders of the order rate (one order's request: cancelorder's 10 of the key's budget)
        return (BATCH_BASE + size) / COSTS["cancelorder"]

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        """``batchorder`` of one ``cancel`` instruction an order by its ``order_id`` (regular and
        trigger orders alike), the venue's raw answer: ccxt's cancel_orders parses the
        ``batchStatus`` rows as orders and loses a refused row's status."""
        return await call("privatePostBatchorder",
                          {"batchOrder": [{"order": "cancel", "order_id": o.id} for o in orders]})

    # --- the account's client -----------------------------------------------------------------

    def prepare_client(self, client: Any) -> None:
        """Three things ccxt's krakenfutures is told on this client: its request pacing at the
        reads' share of the key's budget (:data:`READ_PACE_MS`, in the venue's cost); a
        ``timeInForce`` handed to its order request in lower case (it compares with ``ioc``
        only: an upper-case IOC limit would rest on the book as a plain limit); a new order's
        ``sendStatus`` left to :meth:`order_answer` (ccxt raises for some statuses with a text
        alone and for ``marketSuspended`` as if the network failed)."""
        if hasattr(client, "rateLimit"):
            client.rateLimit = READ_PACE_MS
        build = getattr(client, "create_order_request", None)
        if callable(build):
            def create_order_request(symbol: Any, type: Any, side: Any, amount: Any, price: Any = None,
                                     params: Optional[dict] = None) -> Any:
                p = dict(params or {})
                if isinstance(p.get("timeInForce"), str):
                    p["timeInForce"] = p["timeInForce"].lower()
                return build(symbol, type, side, amount, price, p)

            client.create_order_request = create_order_request
        verify = getattr(client, "verify_order_action_success", None)
        if callable(verify):
            def verify_order_action_success(status: Any, method: str, omit: Optional[list] = None) -> Any:
                if method == "createOrder":
                    return None  # read whole by order_answer
                return verify(status, method, omit or [])

            client.verify_order_action_success = verify_order_action_success

    def request_weight(self, api: str, method: str, path: str, params: Any, ccxt_cost: float) -> float:
        if api == "public":
            return 0.0  # public endpoints have no cost
        if path == "batchorder":
            batch = params.get("batchOrder") if isinstance(params, Mapping) else None
            return BATCH_BASE + (len(batch) if isinstance(batch, list) else 1)
        return float(COSTS.get(path, ccxt_cost))

    # --- reads ------------------------------------------------------------------------------------

    async def fetch_positions(self, reads: Reads) -> Any:
        """The open positions (ccxt's parse of openpositions) and the tickers, read at once; each
        held position valued with its contract's ``markPrice`` (:func:`valued`)."""
        return await self._valued(reads, None)

    async def fetch_symbol_positions(self, reads: Reads, symbol: str) -> Any:
        """openpositions answers every contract at once: the rows of ``symbol``, valued (a
        close's check; another contract without a ticker does not stop it)."""
        return await self._valued(reads, symbol)

    async def _valued(self, reads: Reads, symbol: Optional[str]) -> list:
        got_positions, got_tickers = await asyncio.gather(
            self.read(reads, POSITIONS, "fetch_positions"), self.read(reads, TICKERS, "publicGetTickers"))
        if not isinstance(got_positions, list):
            raise self.bad_field(POSITIONS, "openPositions", "not a list")
        marks = marks_of(got_tickers, reads.symbol_of)
        return [valued(p, marks) for p in got_positions
                if symbol is None or (isinstance(p, Mapping) and p.get("symbol") == symbol)]

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        got = await self.read(reads, OPEN_ORDERS, "fetch_open_orders", symbol)
        if not isinstance(got, list):
            raise self.bad_field(OPEN_ORDERS, "openOrders", "not a list")
        return [read_open_order(o) for o in got]

    one_way_source: Optional[str] = "Kraken Futures (one net position a contract)"

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        """``orders/status`` asked for the client order id: the order it names, None when it
        names none."""
        got = await call("fetch_orders", None, None, None, {self.fetch_order_param: client_order_id})
        for o in got or ():
            if isinstance(o, Mapping) and o.get("clientOrderId") == client_order_id:
                return o
        return None

    # --- the venue's raw answers ------------------------------------------------------------------

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        """BOTH for a row of openpositions (``fillTime``, ``size``, ``side``) or of openorders
        (``order_id``, ``orderType``): the venue keeps one net position a contract."""
        if "fillTime" in info and "size" in info and info.get("side") in ("long", "short"):
            return "BOTH"
        if "order_id" in info and "orderType" in info and "receivedTime" in info:
            return "BOTH"
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return flex_equity(info)

    # --- dead man's switch ------------------------------------------------------------------------

    countdown_method: Optional[str] = DMS_METHOD
    countdown_futures_only: bool = True

    def venue_countdown(self, client: Any, market_type: str, method: str) -> TriggerCountdown:
        """``cancelallordersafter``: account-wide, its answer's ``status.triggerTime`` read back."""
        return TriggerCountdown(DMS_METHOD, *DMS_RANGE, _trigger_time, answers.VENUE, DEAD_MANS_SWITCH,
                                "status.triggerTime")


KRAKEN_FUTURES = KrakenFuturesDialect(
    id="krakenfutures", limits=LIMITS,
    read_endpoints={"*": (POSITIONS, OPEN_ORDERS)}, refusal_of=answers.kraken_refusal)

DIALECTS = (KRAKEN_FUTURES,)
