"""Property: nothing a venue refused, or left unnamed, is ever counted cancelled.

Every venue dialect found by the registry (``adapters.registry.parts("DIALECT")``) has here a
builder of each answer to a cancel it reads (:data:`SHAPES`, by ``how``: ``one``, ``symbol``,
``batch``), in the shapes its tests and fixtures document (cited at each builder), or a line
saying why it never reads one (:data:`NOT_SENT`, each claim checked). Hypothesis splits the
orders sent at random into done, refused in a success answer (a code of the dialect's
``refusal_rules`` or one not in it) and not named at all, and adds orders never sent that the
answer names cancelled. For each answer the dialect's reading (``cancel_answer``) must:

* count done only ids the answer names cancelled, every one of them it was sent (the reading is
  not vacuous), and none it refused or left unnamed;
* keep each refused order's venue code (``refused[oid].code``), mapped by its table;
* say ``whole`` only for the shapes docs/exchanges.md calls acknowledged;
* raise BAD_RESPONSE where the answer lacks what the venue documents (the port lists again);

and the port's tally of it (``cancels.Tally``) count cancelled only what was sent and named done.

Then, at the port (``tests.ports.confirmed_cancel``: the runner's one way out) on MEXC through
the real ccxt client: an order still listed open after an acknowledged "whole" cancel is never
``canceled`` (ORDER_STILL_OPEN).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import ccxt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, CancelResult, CancelSelector, Reason
from adapters.ccxt_exchange.cancels import Tally
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.dialects.refusals import codes, mapped
from adapters.registry import parts
from killswitch.snapshot import Order
from tests.ports import confirmed_cancel
from tests.unit.adapters.ccxt.test_adapter import run
from tests.unit.adapters.venues.test_mexc_dialect import (
    ORDER as MEXC_ORDER,
    TRIGGER as MEXC_TRIGGER,
    MexcVenue,
    adapter as mexc_adapter,
    ok,
)
from tests.venue_fixtures import fixture

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOWS = ("one", "symbol", "batch")
KINDS = ("regular", "conditional", "tpsl", "oco", "trailing")
MAX_SENT = 12  # the most orders one drawn answer is for (below the venues' caps: 20 to 500)


# --- what one answer is built from ---------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    code: str  # the venue's code, as text
    words: str


@dataclass
class Fates:
    """The orders sent, and what the answer is to say of each."""

    sent: list[Order]
    done: list[str]  # sent ids the answer names cancelled
    refused: dict[str, Refusal]  # sent ids the answer refuses, with the venue's code and words
    unnamed: list[str]  # sent ids the answer names neither way
    strangers: list[str]  # ids never sent, for the answer to name cancelled
    by_client: set[str] = field(default_factory=set)  # sent ids a row names by client id alone

    def client(self, oid: str) -> str:
        return f"ks{oid}"


@dataclass(frozen=True)
class Built:
    answer: Any
    named_done: frozenset[str]  # every id the answer names cancelled (sent or not)
    bad: bool = False  # the answer lacks what the venue documents: BAD_RESPONSE


@dataclass(frozen=True)
class Shape:
    """One answer a dialect reads: ``how`` it is read, the venue's endpoint, the kind of the
    orders it is for, how many one answer is for, the fates it can give an order sent,
    whether it is the venue's acknowledged "all of them" (docs/exchanges.md) and its builder."""

    how: str
    endpoint: str
    build: Callable[[Fates, Any], Built]
    kinds: tuple[str, ...] = ("regular",)
    most: int = 1
    fates: tuple[str, ...] = ("done",)
    whole: bool = False
    strangers: bool = False  # the answer can name orders never sent
    novel: Optional[st.SearchStrategy[str]] = None  # the venue's codes not in its table
    symbol: str = "BTC/USDT:USDT"  # the orders' (a spot answer's are a spot pair's)


NUMERIC = st.integers(100, 99999).map(str)


# --- builders, venue by venue ----------------------------------------------------------------------

_CCXT: dict[str, Any] = {}


def client(cid: str) -> Any:
    """One ccxt client of ``cid`` for its parsers (built once: a client is slow to make)."""
    if cid not in _CCXT:
        _CCXT[cid] = getattr(ccxt, cid)()
    return _CCXT[cid]


def parsed_one(oid: Optional[str], info: Any) -> dict:
    """ccxt's parsed order of a one-order cancel: the venue's row in its info."""
    return {"id": oid, "status": "canceled", "info": info}


def shuffled(draw: Any, rows: list) -> list:
    """A list answer's rows in any order, some named twice (an id named twice counts once)."""
    if not rows:
        return rows
    twice = draw(st.lists(st.sampled_from(rows), max_size=2))
    return list(draw(st.permutations(rows + copy.deepcopy(twice))))


# Binance (generic reading): DELETE /fapi/v1/order answers the order cancelled (a refusal
# raises: -2011 Unknown order sent.); DELETE /fapi/v1/allOpenOrders names none (the documented
# answer, tests/unit/adapters/ccxt/test_cancel_answers.py's BINANCE_ALL).
BINANCE_ALL = {"code": 200, "msg": "The operation of cancel all open order is done."}


def binance_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    row = {"orderId": int(o.id), "symbol": "BTCUSDT", "status": "CANCELED", "clientOrderId": f.client(o.id)}
    return Built(parsed_one(o.id, row), frozenset({o.id}))


def binance_all(f: Fates, draw: Any) -> Built:
    return Built([client("binanceusdm").safe_order({"info": BINANCE_ALL})], frozenset())


# Bybit: /v5/order/cancel's result {orderId, orderLinkId} (ccxt's parse, the result in info);
# /v5/order/cancel-all's result.list (linear) or result.success "1" (spot): the documented
# bodies of test_cancel_answers.py, through ccxt's bybit as its cancel_all_orders hands them on.
BYBIT_LINEAR = {"retCode": 0, "retMsg": "OK", "result": {"list": []}, "retExtInfo": {}, "time": 1672219780463}
BYBIT_SPOT = {"retCode": 0, "retMsg": "OK", "result": {"success": "1"}, "retExtInfo": {}, "time": 1676962409398}


def bybit_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    named = o.id if f.done else f.strangers[0]  # an answer naming another order leaves ours unnamed
    return Built(client("bybit").parse_order({"orderId": named, "orderLinkId": f.client(named)}),
                 frozenset({named}))


def bybit_all(f: Fates, draw: Any) -> Built:
    named = f.done + f.strangers
    rows = shuffled(draw, [{"orderId": i, "orderLinkId": f.client(i)} for i in named])
    body = {**BYBIT_LINEAR, "result": {"list": rows}}
    return Built(client("bybit").parse_orders(body["result"]["list"]), frozenset(named))


def bybit_spot_all(f: Fates, draw: Any) -> Built:
    return Built([client("bybit").safe_order({"info": BYBIT_SPOT})], frozenset())


# OKX: cancel-order's row (ccxt raises on a refusal); cancel-batch-orders and cancel-algos: a
# row per order, sCode "0" done, any other refused with its sMsg, the envelope's code "2" when
# some were refused (the documented shape of test_cancel_answers.py and test_okx_algo_orders.py).
def okx_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    return Built(parsed_one(o.id, {"clOrdId": "", "ordId": o.id, "sCode": "0", "sMsg": ""}), frozenset({o.id}))


def okx_batch(id_field: str) -> Callable[[Fates, Any], Built]:
    def build(f: Fates, draw: Any) -> Built:
        def row(oid: str, code: str, words: str) -> dict:
            return {"clOrdId": "", "ordId": "", "algoId": "", id_field: oid, "sCode": code, "sMsg": words}

        rows = [row(i, "0", "") for i in f.done + f.strangers]
        rows += [row(i, r.code, r.words) for i, r in f.refused.items()]
        code = "2" if f.refused and f.done else ("1" if f.refused else "0")
        return Built({"code": code, "msg": "", "data": shuffled(draw, rows)}, frozenset(f.done + f.strangers))
    return build


# Hyperliquid: a cancel action's statuses, one per oid in the order sent, "success" or
# {"error": text} (its first sentence the code), the documented shape of test_cancel_answers.py;
# as the raw body (ccxt raised: cancel_batch hands the body on) or ccxt's list of parsed orders.
def hyperliquid_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    return Built({"id": None, "info": "success"}, frozenset({o.id}))


def hyperliquid_batch(f: Fates, draw: Any) -> Built:
    statuses: list = []
    for o in f.sent:
        if o.id in f.refused:
            r = f.refused[o.id]
            statuses.append({"error": f"{r.code}.{r.words}"})
        elif o.id in f.done:
            statuses.append("success")
        # an unnamed order: no status for it, the statuses fewer than the oids sent
    body = {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
    answer = body if draw(st.booleans()) else [{"id": None, "info": s} for s in statuses]
    return Built(answer, frozenset(f.done), bad=bool(f.unnamed))


# Bitget: the recorded cancel-order answer (cancelOrder.linearByClientOid: data.orderId and
# clientOid) and cancel-plan-order's (cancelOrder.trailingByClientOid: successList, failureList;
# a failureList row is the documented orderId, clientOid, errorMsg, errorCode), read raw; spot's
# one cancel through ccxt (its parsed order, the data in info); batch-cancel-orders and a
# symbol's cancel-plan-order through ccxt's cancel_all_orders (its parse of successList then
# failureList); spot's cancel-symbol-order naming only the symbol.
def bitget_envelope(data: Any) -> dict:
    return {"code": "00000", "msg": "success", "requestTime": "1754866672623", "data": data}


def bitget_one(spot: bool) -> Callable[[Fates, Any], Built]:
    def build(f: Fates, draw: Any) -> Built:
        [o] = f.sent
        named = o.id if f.done else f.strangers[0]
        data = {"orderId": named, "clientOid": f.client(named)}
        return Built(parsed_one(named, data) if spot else bitget_envelope(data), frozenset({named}))
    return build


def bitget_rows(f: Fates, draw: Any) -> tuple[list, list]:
    def row(oid: str) -> dict:
        by_client = oid in f.by_client
        return {"orderId": "" if by_client else oid, "clientOid": f.client(oid)}

    success = shuffled(draw, [row(i) for i in f.done + f.strangers])
    failure = shuffled(draw, [{**row(i), "errorMsg": r.words, "errorCode": r.code} for i, r in f.refused.items()])
    return success, failure


def bitget_plan_one(f: Fates, draw: Any) -> Built:
    success, failure = bitget_rows(f, draw)
    return Built(bitget_envelope({"successList": success, "failureList": failure}), frozenset(f.done + f.strangers))


def bitget_all(f: Fates, draw: Any) -> Built:
    success, failure = bitget_rows(f, draw)
    # a row naming its order by clientOid alone: ccxt's parse keeps no list of it, BAD_RESPONSE
    bad = bool(f.by_client & {*f.done, *f.refused})
    return Built(client("bitget").parse_orders(success + failure), frozenset(f.done + f.strangers), bad=bad)


def bitget_spot_all(f: Fates, draw: Any) -> Built:
    body = bitget_envelope({"symbol": "BTCUSDT"})
    return Built([client("bitget").safe_order({"info": body, "symbol": "BTC/USDT"})], frozenset())


# Kraken Futures: the documented bodies (adapters/venues/krakenfutures/fixtures/documented.json):
# cancelorder's cancelStatus (a refusal: its status, no events), cancelallorders' cancelledOrders
# (read raw), batchorder's batchStatus (read where one is handed in; never sent: its batch size is 0).
KRAKEN_DOCS = json.loads(fixture("documented.json").read_text())["cases"]


def kraken_doc(name: str) -> dict:
    return copy.deepcopy(KRAKEN_DOCS[name]["body"])


def kraken_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    body = kraken_doc("cancelorder")
    if o.id in f.refused:
        body["cancelStatus"] = {"status": f.refused[o.id].code, "receivedTime": "2020-07-22T13:26:20.806Z",
                                "orderEvents": []}
        named: frozenset[str] = frozenset()
    else:
        named = frozenset({o.id if f.done else f.strangers[0]})
        body["cancelStatus"]["order_id"] = next(iter(named))
    # raw, or as ccxt's cancel_order hands it on: its info the cancelStatus alone
    return Built(body if draw(st.booleans()) else {"id": None, "info": body["cancelStatus"]}, named)


def kraken_all(f: Fates, draw: Any) -> Built:
    body = kraken_doc("cancelallorders")
    named = f.done + f.strangers
    body["cancelStatus"]["cancelledOrders"] = shuffled(draw, [
        {"order_id": "other-" + i, "cliOrdId": f.client(i)} if i in f.by_client else {"order_id": i}
        for i in named])
    if not named and draw(st.booleans()):
        body["cancelStatus"]["status"] = "noOrdersToCancel"
    return Built(body, frozenset(named))


def kraken_batch(f: Fates, draw: Any) -> Built:
    body = kraken_doc("batchorder cancelled")
    [done] = body["batchStatus"]
    rows = [dict(done, order_id=i) for i in f.done + f.strangers]
    rows += [{"status": r.code, "order_id": i, "orderEvents": []} for i, r in f.refused.items()]
    body["batchStatus"] = shuffled(draw, rows)
    return Built(body, frozenset(f.done + f.strangers))


# Kraken spot: CancelOrder of one order (spot-documented.json's CancelOrder: result.count; a refusal
# in the error list of an HTTP 200 answer, EOrder:Unknown order among them); a count of 0 names none.
KRAKEN_SPOT_DOCS = json.loads(fixture("spot-documented.json").read_text())["cases"]


def kraken_spot_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    if o.id in f.refused:
        return Built({"error": [f.refused[o.id].code], "result": {}}, frozenset())
    body = copy.deepcopy(KRAKEN_SPOT_DOCS["CancelOrder"]["body"])
    body["result"]["count"] = 1 if f.done else 0
    return Built(body, frozenset(f.done))


# MEXC: the documented order/cancel answer (fixtures/contract-docs.json, order_cancel: a row per
# id, errorCode 0 done, any other refused with its errorMsg), read raw or through ccxt's parse
# (the rows its info); planorder/cancel, stoporder/cancel, order/cancel_all and
# planorder/cancel_all: success true naming none (ccxt's [] for a symbol's).
def mexc_rows(f: Fates, draw: Any) -> list:
    rows = [{"orderId": int(i), "errorCode": 0, "errorMsg": "success"} for i in f.done + f.strangers]
    rows += [{"orderId": int(i), "errorCode": int(r.code), "errorMsg": r.words} for i, r in f.refused.items()]
    return shuffled(draw, rows)


def mexc_one(f: Fates, draw: Any) -> Built:
    body = {"success": True, "code": 0, "data": mexc_rows(f, draw)}
    answer = body if draw(st.booleans()) else {"id": None, "info": body["data"]}
    return Built(answer, frozenset(f.done + f.strangers))


def mexc_plan_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    return Built(parsed_one(o.id, {"success": True, "code": 0}), frozenset({o.id}))


def mexc_all(f: Fates, draw: Any) -> Built:
    return Built([], frozenset())


def mexc_stops(f: Fates, draw: Any) -> Built:
    return Built({"success": True, "code": 0}, frozenset(o.id for o in f.sent))


def mexc_stop_by_ccxt(how: str) -> Callable[[Fates, Any], Built]:
    """A Stop-Limit order's answer through ccxt's cancels, which never reach its endpoint: done never."""
    def build(f: Fates, draw: Any) -> Built:
        return Built([] if how == "symbol" else parsed_one(f.sent[0].id, {"success": True, "code": 0}), frozenset())
    return build


# MEXC spot (fixtures/spot-docs.json): DELETE /api/v3/order answers the order's row, done when its
# status is CANCELED (another status, or another order's row, names it neither way), a refusal
# {"code", "msg"} (-2011 among them; HTTP 200 or not); DELETE /api/v3/openOrders a row per order
# cancelled (status CANCELED), those not cancelled absent or of another status.
MEXC_SPOT_DOCS = json.loads(fixture("spot-docs.json").read_text())["cases"]


def mexc_spot_row(oid: str, status: str) -> dict:
    return dict(copy.deepcopy(MEXC_SPOT_DOCS["order cancel"]["body"]), orderId=int(oid), status=status)


def mexc_spot_one(f: Fates, draw: Any) -> Built:
    [o] = f.sent
    if o.id in f.refused:
        return Built({"code": int(f.refused[o.id].code), "msg": f.refused[o.id].words}, frozenset())
    if f.done:
        return Built(mexc_spot_row(o.id, "CANCELED"), frozenset({o.id}))
    if draw(st.booleans()):  # the order's row, not cancelled (filled meanwhile)
        return Built(mexc_spot_row(o.id, draw(st.sampled_from(["FILLED", "PARTIALLY_FILLED", "NEW"]))), frozenset())
    return Built(mexc_spot_row(f.strangers[0], "CANCELED"), frozenset(f.strangers[:1]))


def mexc_spot_all(f: Fates, draw: Any) -> Built:
    rows = [mexc_spot_row(i, "CANCELED") for i in f.done + f.strangers]
    rows += [mexc_spot_row(i, "FILLED") for i in f.unnamed if draw(st.booleans())]
    return Built(shuffled(draw, rows), frozenset(f.done + f.strangers))


DONE_OR_OTHER = ("done", "unnamed")  # a one-order answer that names the order sent, or another
ALL_FATES = ("done", "refused", "unnamed")
WHOLE = ("unnamed",)  # an answer naming no order: every order sent is left to the list after it
ALGO_KINDS = ("conditional", "tpsl", "oco", "trailing")

# venue folder → the answers its dialect reads
SHAPES: dict[str, tuple[Shape, ...]] = {
    "binance": (
        Shape("one", "DELETE /fapi/v1/order", binance_one, kinds=KINDS),
        Shape("symbol", "DELETE /fapi/v1/allOpenOrders", binance_all, kinds=KINDS, most=20, fates=WHOLE,
              whole=True),
    ),
    "bybit": (
        Shape("one", "POST /v5/order/cancel", bybit_one, kinds=KINDS, fates=DONE_OR_OTHER, strangers=True),
        Shape("symbol", "POST /v5/order/cancel-all result.list", bybit_all, kinds=KINDS, most=20,
              fates=DONE_OR_OTHER, strangers=True),
        Shape("symbol", "POST /v5/order/cancel-all result.success (spot)", bybit_spot_all, most=20, fates=WHOLE,
              whole=True),
    ),
    "okx": (
        Shape("one", "POST /api/v5/trade/cancel-order", okx_one, kinds=KINDS),
        Shape("batch", "POST /api/v5/trade/cancel-batch-orders", okx_batch("ordId"), most=20, fates=ALL_FATES,
              strangers=True, novel=NUMERIC),
        Shape("batch", "POST /api/v5/trade/cancel-algos", okx_batch("algoId"), kinds=ALGO_KINDS, most=10,
              fates=ALL_FATES, strangers=True, novel=NUMERIC),
    ),
    "hyperliquid": (
        Shape("one", "POST /exchange cancel (one oid)", hyperliquid_one, kinds=KINDS),
        Shape("batch", "POST /exchange cancel", hyperliquid_batch, kinds=KINDS, most=40, fates=ALL_FATES,
              novel=st.from_regex(r"[A-Z][a-z]{2,9}( [a-z$0-9]{1,8}){0,4}", fullmatch=True)),
    ),
    "bitget": (
        Shape("one", "POST /api/v2/mix/order/cancel-order", bitget_one(spot=False), fates=DONE_OR_OTHER,
              strangers=True),
        Shape("one", "spot cancel_order (ccxt)", bitget_one(spot=True), fates=DONE_OR_OTHER, strangers=True),
        Shape("one", "POST /api/v2/mix/order/cancel-plan-order", bitget_plan_one, kinds=ALGO_KINDS,
              fates=ALL_FATES, strangers=True, novel=NUMERIC),
        Shape("symbol", "POST /api/v2/mix/order/batch-cancel-orders, cancel-plan-order (ccxt)", bitget_all,
              kinds=KINDS, most=20, fates=ALL_FATES, strangers=True, novel=NUMERIC),
        Shape("symbol", "POST /api/v2/spot/trade/cancel-symbol-order", bitget_spot_all, most=20, fates=WHOLE,
              whole=True),
    ),
    "krakenfutures": (
        Shape("one", "POST /derivatives/api/v3/cancelorder", kraken_one, kinds=KINDS, fates=ALL_FATES,
              strangers=True, novel=st.from_regex(r"[a-z][a-zA-Z]{3,15}", fullmatch=True)),
        Shape("symbol", "POST /derivatives/api/v3/cancelallorders", kraken_all, kinds=KINDS, most=20,
              fates=DONE_OR_OTHER, strangers=True),
        Shape("batch", "POST /derivatives/api/v3/batchorder", kraken_batch, kinds=KINDS, most=20, fates=ALL_FATES,
              strangers=True, novel=st.from_regex(r"[a-z][a-zA-Z]{3,15}", fullmatch=True)),
    ),
    "kraken": (
        Shape("batch", "POST /0/private/CancelOrder (one order a request)", kraken_spot_one, kinds=KINDS,
              fates=ALL_FATES, novel=st.from_regex(r"E(Order|General|Service):[A-Z][a-z]{3,12}( [a-z]{2,9}){0,2}",
                                                   fullmatch=True)),
    ),
    "mexc": (
        Shape("one", "POST /api/v1/private/order/cancel", mexc_one, fates=ALL_FATES, strangers=True, novel=NUMERIC),
        Shape("one", "POST /api/v1/private/planorder/cancel", mexc_plan_one, kinds=("conditional",)),
        Shape("symbol", "POST /api/v1/private/order/cancel_all, planorder/cancel_all", mexc_all,
              kinds=("regular", "conditional"), most=20, fates=WHOLE, whole=True),
        Shape("batch", "POST /api/v1/private/stoporder/cancel", mexc_stops, kinds=("tpsl",), most=50),
        Shape("one", "a Stop-Limit order by ccxt's cancel_order", mexc_stop_by_ccxt("one"), kinds=("tpsl",),
              fates=("unnamed",)),
        Shape("symbol", "a Stop-Limit order by ccxt's cancel_all_orders", mexc_stop_by_ccxt("symbol"),
              kinds=("tpsl",), most=20, fates=("unnamed",)),
        Shape("one", "DELETE /api/v3/order (spot)", mexc_spot_one, fates=ALL_FATES, symbol="BTC/USDT",
              novel=NUMERIC.filter(lambda c: c != "200")),  # (200: MEXC's word for success)
        Shape("symbol", "DELETE /api/v3/openOrders (spot)", mexc_spot_all, most=20, fates=DONE_OR_OTHER,
              strangers=True, symbol="BTC/USDT"),
    ),
}

# venue folder → how → why its dialect is never handed that answer (each checked below)
NOT_SENT: dict[str, dict[str, str]] = {
    "binance": {"batch": "no batch"},
    "bybit": {"batch": "no batch"},
    "okx": {"symbol": "no cancel-all"},
    "hyperliquid": {"symbol": "no cancel-all"},
    "bitget": {"batch": "no batch"},
    "mexc": {},
    "krakenfutures": {},
    "kraken": {"one": "every kind one order a batch (cancels_itself)",
               "symbol": "CancelAll is the account's: never sent (cancels_itself)"},
}


def venue_dialects() -> list[tuple[str, str]]:
    """(venue folder, ccxt id) of every dialect the registry finds."""
    return [(p.venue, d.id) for p in parts("DIALECT") for d in p.module.DIALECTS]


def cases() -> list:
    out = []
    for venue, cid in venue_dialects():
        for at, shape in enumerate(SHAPES.get(venue, (None,))):
            name = f"{cid}-{shape.how}-{at}" if shape is not None else f"{cid}-no-builder"
            out.append(pytest.param(venue, cid, shape, id=name))
    return out


# --- every dialect, every answer it reads ----------------------------------------------------------


def test_every_dialect_of_the_registry_has_its_answers_built_or_said_not_sent():
    venues = {v for v, _ in venue_dialects()}
    missing = sorted(venues - set(SHAPES))
    assert not missing, f"no builder of the cancel answers of adapters/venues/{missing} in SHAPES"
    assert not set(SHAPES) - venues, f"builders of venues the registry does not find: {set(SHAPES) - venues}"
    for venue, cid in venue_dialects():
        read = {s.how for s in SHAPES[venue]}
        said = set(NOT_SENT.get(venue, {}))
        assert read | said == set(HOWS) and not read & said, f"{venue}: each how built or said not sent"
        d = dialect_for(cid)
        for how in said:  # the claim is the adapter's: it never sends that request
            if how == "batch":
                assert all(d.cancel_batch_size(k) == 0 for k in KINDS), f"{cid}: batches {how}"
            elif all(d.cancels_itself(k) and d.cancel_batch_size(k) >= 1 for k in KINDS):
                pass  # every order goes through the dialect's batches: never ccxt's one or a symbol's
            else:
                assert not client(cid).has.get("cancelAllOrders"), f"{cid}: has cancelAllOrders"


def codes_of(rules: Any, shape: Shape) -> st.SearchStrategy[str]:
    """A venue code for a refused row: one of its refusal table, or (``shape.novel``) one not in
    it; never the venue's word for done (0, cancelled)."""
    assert shape.novel is not None, f"{shape.endpoint}: refuses, yet no form of the venue's codes"
    known = codes(rules) | {"0", "cancelled"}
    novel = shape.novel.filter(lambda c: c not in known)
    table = sorted(codes(rules) - {"0", "cancelled"})
    return st.sampled_from(table) | novel if table else novel


@st.composite
def fates_of(draw: Any, shape: Shape, rules: Any) -> Fates:
    n = draw(st.integers(1, min(shape.most, MAX_SENT)))
    ids = draw(st.lists(st.integers(10**17, 10**19).map(str), min_size=n + 3, max_size=n + 3, unique=True))
    kind = draw(st.sampled_from(shape.kinds))
    sent = [Order(id=i, client_id=f"ks{i}", symbol=shape.symbol, side="buy", type="limit", kind=kind, amount=1.0)
            for i in ids[:n]]
    fates = Fates(sent, [], {}, [], [])
    words = st.sampled_from(["order not exist", "Order cancellation failed as the order has been filled",
                             "service return an error", "the order was not found", "busy"])
    for o in sent:
        fate = draw(st.sampled_from(shape.fates))
        if fate == "done":
            fates.done.append(o.id)
        elif fate == "refused":
            fates.refused[o.id] = Refusal(draw(codes_of(rules, shape)), draw(words))
        else:
            fates.unnamed.append(o.id)
        if draw(st.booleans()):
            fates.by_client.add(o.id)
    if shape.most == 1 and fates.unnamed:
        fates.strangers = ids[n:n + 1]  # a one-order answer naming another order
    elif shape.strangers:
        fates.strangers = ids[n:n + draw(st.integers(0, 3))]
    return fates


@pytest.mark.parametrize("venue, cid, shape", cases())
@SETTINGS
@given(data=st.data())
def test_only_what_an_answer_names_cancelled_is_done(venue, cid, shape, data):
    assert shape is not None, f"adapters/venues/{venue}: no builder of its cancel answers in SHAPES"
    dialect = dialect_for(cid)
    fates = data.draw(fates_of(shape, dialect.refusal_rules))
    built = shape.build(fates, data.draw)
    sent = fates.sent
    sent_ids = {o.id for o in sent}
    left = set(fates.refused) | set(fates.unnamed)
    if built.bad:
        with pytest.raises(AdapterError) as e:
            dialect.cancel_answer(shape.how, built.answer, sent)
        assert e.value.reason is Reason.BAD_RESPONSE
        return
    a = dialect.cancel_answer(shape.how, built.answer, sent)
    # only what it names cancelled, never what it refused or left unnamed
    assert a.done <= built.named_done, f"{shape.endpoint}: done {sorted(a.done - built.named_done)} never named"
    assert not a.done & left, f"{shape.endpoint}: refused or unnamed counted done: {sorted(a.done & left)}"
    assert a.done & sent_ids == built.named_done & sent_ids  # every order sent and named done is read so
    # each refusal keeps the venue's code, mapped by its table
    assert set(a.refused) == set(fates.refused), shape.endpoint
    for oid, said in fates.refused.items():
        r = a.refused[oid]
        assert r.code == said.code, (shape.endpoint, r, said)
        assert r.reason == mapped(r.code, r.message, dialect.refusal_rules).reason
    assert a.whole is shape.whole, shape.endpoint
    # the port's tally: cancelled only what was sent and named done; the rest refused or left to the list
    tally = Tally()
    tally.read(a, sent)
    assert set(tally.canceled) <= built.named_done & sent_ids and not set(tally.canceled) & left
    assert set(tally.failed) == set(fates.refused)
    assert set(tally.acknowledged if shape.whole else tally.unconfirmed) == set(fates.unnamed)


# --- the port: an acknowledged "whole" still listed is never cancelled ----------------------------
# MEXC through the real ccxt client (tests/unit/adapters/venues/test_mexc_dialect.py's MexcVenue):
# order/cancel_all and planorder/cancel_all answer success true, naming none (acknowledged); the
# venue here takes away only the orders it is drawn to, and lists the others open after.


class RestingMexc(MexcVenue):
    """MEXC's contract API holding ``regular`` and ``triggers`` open (documented rows, their ids
    ours); a symbol's cancel-all answers success and cancels every order not in ``resting``."""

    def __init__(self, regular: list[str], triggers: list[str], resting: set[str]):
        super().__init__(mode=2)
        self.regular = [dict(MEXC_ORDER, orderId=i, externalOid=f"ks{i}", positionMode="2") for i in regular]
        self.triggers = [dict(MEXC_TRIGGER, id=i) for i in triggers]
        self.resting = resting
        self.cancels: list[str] = []

    async def fetch(self, url, method="GET", headers=None, body_=None, **kw):
        path = urlsplit(url).path
        if path == "/api/v1/private/order/list/open_orders":
            return ok(self.regular)
        if path == "/api/v1/private/planorder/list/orders":
            return ok(self.triggers)
        if path == "/api/v1/private/stoporder/list/orders":
            return ok([])
        if path in ("/api/v1/private/order/cancel_all", "/api/v1/private/planorder/cancel_all"):
            self.cancels.append(path)
            self.regular = [r for r in self.regular if r["orderId"] in self.resting]
            self.triggers = [r for r in self.triggers if r["id"] in self.resting]
            return {"success": True, "code": 0}
        return await super().fetch(url, method, headers, body_, **kw)


@SETTINGS
@given(data=st.data())
def test_an_order_listed_open_after_an_acknowledged_cancel_is_never_cancelled(data):
    ids = data.draw(st.lists(st.integers(10**17, 10**19).map(str), min_size=1, max_size=8, unique=True))
    cut = data.draw(st.integers(0, len(ids)))
    regular, triggers = ids[:cut], ids[cut:]
    resting = set(data.draw(st.lists(st.sampled_from(ids), unique=True)))
    venue = RestingMexc(regular, triggers, resting)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KS_TEST_KEY", "k")
        env.setenv("KS_TEST_SECRET", "s")
        a = mexc_adapter(venue)
        answers: list[CancelResult] = []  # the adapter's own answers, before the port decides
        cancel = a.cancel_orders

        async def recorded(selector: CancelSelector) -> CancelResult:
            answers.append(await cancel(selector))
            return answers[-1]

        a.cancel_orders = recorded  # type: ignore[method-assign]
        try:
            res = run(confirmed_cancel(a, CancelSelector(which="all")))
        finally:
            run(a.close())
    # the adapter's first answer: acknowledged, none of them counted cancelled before the list
    assert not answers[0].canceled and set(answers[0].acknowledged) == set(ids)
    # each kind's cancel-all sent, answered success naming none
    kinds = [("/api/v1/private/order/cancel_all", regular), ("/api/v1/private/planorder/cancel_all", triggers)]
    assert set(venue.cancels) == {path for path, held in kinds if held}
    assert not set(res.canceled) & resting, f"still resting yet cancelled: {sorted(set(res.canceled) & resting)}"
    assert {o.id for o in res.still_open} == resting
    assert all(res.failed[i] == Reason.ORDER_STILL_OPEN.value for i in resting)
    assert set(res.canceled) == set(ids) - resting  # what the venue took away, confirmed by its list
