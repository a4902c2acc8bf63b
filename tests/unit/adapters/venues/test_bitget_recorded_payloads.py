"""Bitget through the real ccxt client, answered with what ccxt recorded from the venue (the
httpResponse bodies of ``ts/src/test/static/response/bitget.json``, carried over verbatim in
adapters/venues/bitget/fixtures/ccxt-static-bitget.json, which names its commit) and, where nothing was
recorded for the classic account, Bitget's documented shapes (said at each). The snapshot is
checked field by field, and the requests ccxt sends for it path by path."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.dialects.base import Reads
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from killswitch.snapshot import Order
from tests.ports import confirmed_cancel
from tests.unit.adapters.ccxt.fake import market, run
from tests.venue_fixtures import recorded

RECORDED = recorded("bitget")
LTC, BTC, LTC_SPOT = "LTC/USDT:USDT", "BTC/USDT:USDT", "LTC/USDT"


def recorded(name: str) -> dict:
    return json.loads(RECORDED.read_text())["cases"][name]


def body(name: str) -> dict:
    return recorded(name)["httpResponse"]


def envelope(data, at="1702575069342") -> dict:
    """Bitget's success envelope (documented: code 00000, msg success, requestTime, data)."""
    return {"code": "00000", "msg": "success", "requestTime": at, "data": data}


# Bitget's documented rows of the lists ccxt recorded nothing of for the classic account: an
# open limit entry on the long leg (the orders-pending example of ccxt's bitget.py and Bitget's
# Get-Orders-Pending page) and a trigger entry (orders-plan-pending's normal_plan example), in
# hedge mode; and a position stop-loss of the LTC long leg (pos_loss) with the fields the
# profit_loss list documents.
DOCUMENTED_ENTRY = {
    "symbol": "BTCUSDT", "size": "0.002", "orderId": "1111488897767604224", "clientOid": "1111488897805352960",
    "baseVolume": "0", "fee": "0", "price": "25000", "priceAvg": "", "status": "live", "side": "buy",
    "force": "gtc", "totalProfits": "0", "posSide": "long", "marginCoin": "USDT", "quoteVolume": "0",
    "leverage": "20", "marginMode": "crossed", "enterPointSource": "web", "tradeSide": "open",
    "posMode": "hedge_mode", "orderType": "limit", "orderSource": "normal", "presetStopSurplusPrice": "",
    "presetStopLossPrice": "", "reduceOnly": "NO", "cTime": "1700725524378", "uTime": "1700725524378"}
DOCUMENTED_PLAN = {
    "planType": "normal_plan", "symbol": "BTCUSDT", "size": "0.001", "orderId": "1111491399869075457",
    "clientOid": "1111491399869075456", "price": "27000", "callbackRatio": "", "triggerPrice": "24000",
    "triggerType": "mark_price", "planStatus": "live", "side": "buy", "posSide": "long", "marginCoin": "USDT",
    "marginMode": "crossed", "enterPointSource": "API", "tradeSide": "open", "posMode": "hedge_mode",
    "orderType": "limit", "stopSurplusTriggerPrice": "", "stopSurplusExecutePrice": "",
    "stopSurplusTriggerType": "fill_price", "stopLossTriggerPrice": "", "stopLossExecutePrice": "",
    "stopLossTriggerType": "fill_price", "cTime": "1700726120917", "uTime": "1700726120917"}
DOCUMENTED_STOP = dict(DOCUMENTED_PLAN, planType="pos_loss", symbol="LTCUSDT", size="", orderId="1111491399869075460",
                       clientOid="1111491399869075461", price="", triggerPrice="60", orderType="market",
                       tradeSide="close")


def plan_page(rows) -> dict:
    return envelope({"entrustedList": rows, "endId": rows[-1]["orderId"] if rows else None})


class BitgetVenue:
    """Answers ccxt's bitget as the classic account: the recorded bodies where ccxt recorded
    them, the documented rows above for the open futures lists."""

    def __init__(self, regular=(DOCUMENTED_ENTRY,), plans=None, more_pages=(), refuse_plans=None):
        self.regular_pages = [list(regular), *[list(p) for p in more_pages]]  # each orders-pending asks the next
        self.plans = plans if plans is not None else {"normal_plan": [DOCUMENTED_PLAN],
                                                      "profit_loss": [DOCUMENTED_STOP]}
        self.refuse_plans = refuse_plans or {}  # plan order id → (errorCode, errorMsg) its cancel is refused with
        self.requests: list[tuple[str, str, object]] = []

    async def fetch(self, url, method="GET", headers=None, body_=None, **kw):
        raw = kw.get("body", body_)
        parts = urlsplit(url)
        params: object = dict(parse_qsl(parts.query)) if method == "GET" else json.loads(raw or "{}")
        self.requests.append((method, parts.path, params))
        assert isinstance(params, dict)
        path = parts.path
        if path == "/api/v2/mix/account/accounts":  # the recorded account row, in its list
            return envelope([body("fetchMarginMode.linear")["data"]])
        if path == "/api/v2/mix/position/all-position":
            return body("fetchPositions.linear")
        if path == "/api/v2/mix/order/orders-pending":
            return plan_page(self.regular_pages.pop(0) if len(self.regular_pages) > 1 else self.regular_pages[0])
        if path == "/api/v2/mix/order/orders-plan-pending":
            return plan_page(self.plans.get(params["planType"], []))
        if path == "/api/v2/mix/order/detail":
            return body("fetchOrder.reduceOnlySell")
        if path == "/api/v2/mix/order/cancel-order":  # the recorded answer, naming the order sent
            answer = body("cancelOrder.linearByClientOid")
            return dict(answer, data={"orderId": params["orderId"], "clientOid": answer["data"]["clientOid"]})
        if path == "/api/v2/mix/order/cancel-plan-order":
            if "orderIdList" in params:
                return self.cancel_plans(params["orderIdList"])
            # a symbol's plans of one planType: the recorded shape, its successList naming them
            done = [{"orderId": r["orderId"], "clientOid": r.get("clientOid", "")}
                    for rows in self.plans.values() for r in rows if r["planType"] == params["planType"]]
            return envelope({"successList": done, "failureList": []})
        if path == "/api/v2/mix/order/place-order":  # documented answer: the two ids
            return envelope({"clientOid": params.get("clientOid"), "orderId": "1139547338494877699"})
        if path == "/api/v2/spot/account/assets":
            return body("fetchBalance.spot")
        if path == "/api/v2/spot/trade/unfilled-orders":
            return body("fetchOpenOrders.spot")
        if path == "/api/v2/spot/market/tickers":  # the recorded ticker (BTCUSDT): the other coins unpriced
            return body("fetchTicker.spot")
        if path == "/api/v2/mix/account/account":
            return body("fetchMarginMode.linear")
        raise AssertionError(f"unexpected request {method} {path}")

    def cancel_plans(self, refs: list) -> dict:
        """cancel-plan-order of listed ids: the recorded answer (code 00000, successList,
        failureList), each id in its successList, or, refused, in its failureList with its
        errorCode and errorMsg (the row Bitget documents: orderId, clientOid, errorMsg, errorCode)."""
        answer = body("cancelOrder.trailingByClientOid")
        clients = {r["orderId"]: r.get("clientOid", "") for rows in self.plans.values() for r in rows}
        done, failed = [], []
        for ref in refs:
            row = {"orderId": ref["orderId"], "clientOid": clients.get(ref["orderId"], "")}
            if ref["orderId"] in self.refuse_plans:
                code, words = self.refuse_plans[ref["orderId"]]
                failed.append({**row, "errorMsg": words, "errorCode": code})
            else:
                done.append(row)
        return dict(answer, data={"successList": done, "failureList": failed})


def bitget_adapter(venue: BitgetVenue, market_type="futures", hedge_mode=True) -> CcxtAdapter:
    def build(config: dict):
        ex = ccxt_async.bitget(config)
        if market_type == "futures":
            ex.set_markets([market(LTC, "LTCUSDT", amount_step=0.1, price_step=0.01, min_amount=0.1),
                            market(BTC, "BTCUSDT")])
        else:
            ex.set_markets([market(LTC_SPOT, "LTCUSDT", amount_step=0.0001, price_step=0.01, min_amount=0.0001,
                                   spot=True),
                            market("BTC/USDT", "BTCUSDT", amount_step=0.000001, price_step=0.01, spot=True)])
        ex.fetch = venue.fetch
        return ex

    acc = Account.model_validate({
        "name": "main", "venue": "bitget", "market_type": market_type, "hedge_mode": hedge_mode,
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"},
                        "password": {"env": "KS_TEST_PASS"}}})
    return CcxtAdapter(acc, exchange_factory=build)


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def snapshot(venue: BitgetVenue, **kw):
    a = bitget_adapter(venue, **kw)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


def test_recorded_account_and_hedge_position_and_both_order_lists_field_by_field():
    venue = BitgetVenue()
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(19.88811074)  # the USDT row's accountEquity
    [p] = snap.positions
    # the recorded hedge-mode long leg of 0.1 LTC, cross; liquidationPrice "0": none
    assert (p.symbol, p.side, p.position_side, p.contracts, p.contract_size) == (LTC, "long", "LONG", 0.1, 1.0)
    assert (p.entry_price, p.mark_price, p.unrealized_pnl, p.liquidation_price) == (72.66, 72.62, -0.004, None)
    assert (p.leverage, p.margin) == (5.0, pytest.approx(1.4532))
    # the row says a rate (keepMarginRate 0.01), not the margin; ccxt's figure adds a closing fee
    # at a taker rate it assumes: not the venue's word
    assert p.maintenance_margin is None
    got = {o.id: (o.client_id, o.symbol, o.side, o.type, o.kind, o.amount, o.price, o.trigger_price,
                  o.reduce_only, o.position_side) for o in snap.orders}
    assert got == {
        # orders-pending: a limit buy opening the long leg (an entry)
        "1111488897767604224": ("1111488897805352960", BTC, "buy", "limit", "regular", 0.002, 25000.0, None,
                                False, "LONG"),
        # normal_plan: a trigger that opens the long leg at 24000 (an entry, conditional)
        "1111491399869075457": ("1111491399869075456", BTC, "buy", "normal_plan", "conditional", 0.001, 27000.0,
                                24000.0, False, "LONG"),
        # pos_loss on the long leg: a sell that only closes (Bitget writes it buy, the leg's way)
        "1111491399869075460": ("1111491399869075461", LTC, "sell", "pos_loss", "tpsl", 0.0, None, 60.0, True,
                                "LONG"),
    }
    lists = [(p, q) for m, p, q in venue.requests if "/order/" in p or "/position/" in p or "/account/" in p]
    # the account's position mode, read beside the first snapshot (the mode watch's)
    mode = ("/api/v2/mix/account/account", {"marginCoin": "USDT", "productType": "USDT-FUTURES", "symbol": "BTCUSDT"})
    assert lists.count(mode) == 1
    assert [x for x in lists if x != mode] == [
        ("/api/v2/mix/account/accounts", {"productType": "USDT-FUTURES"}),
        ("/api/v2/mix/position/all-position", {"marginCoin": "USDT", "productType": "USDT-FUTURES"}),
        ("/api/v2/mix/order/orders-pending", {"limit": "100", "productType": "USDT-FUTURES"}),
        ("/api/v2/mix/order/orders-plan-pending", {"limit": "100", "planType": "normal_plan",
                                                   "productType": "USDT-FUTURES"}),
        ("/api/v2/mix/order/orders-plan-pending", {"limit": "100", "planType": "track_plan",
                                                   "productType": "USDT-FUTURES"}),
        ("/api/v2/mix/order/orders-plan-pending", {"limit": "100", "planType": "profit_loss",
                                                   "productType": "USDT-FUTURES"}),
    ]
    assert not any(p.startswith("/api/v3/") for m, p, q in venue.requests)  # no UTA probe of ccxt's own


def test_the_recorded_hedge_close_row_reads_as_ccxt_parsed_it_a_reducing_sell_on_the_long_leg():
    """The recorded row Bitget writes for a close of the long leg (side buy, tradeSide close):
    listed as an open order it reads as ccxt's recorded parse has it, a sell that only reduces."""
    case = recorded("fetchClosedOrders.swapReduceOnly")
    venue = BitgetVenue(regular=case["httpResponse"]["data"]["entrustedList"], plans={})
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    [o] = snap.orders
    assert (o.side, o.reduce_only) == (case["parsedResponse"]["side"], case["parsedResponse"]["reduceOnly"])
    assert (o.id, o.symbol, o.position_side, o.kind, o.amount) == ("1115965643967582214", LTC, "LONG", "regular", 0.1)


def test_a_plan_row_of_a_plan_type_not_known_fails_the_snapshot_naming_the_field():
    venue = BitgetVenue(plans={"profit_loss": [dict(DOCUMENTED_STOP, planType="twap_plan")]})
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.fetch.error_code == "BAD_RESPONSE"
    assert "orders-plan-pending planType=profit_loss: field planType: unknown value 'twap_plan'" in snap.fetch.error


def test_an_order_row_of_an_unknown_position_mode_fails_the_snapshot_naming_the_field():
    venue = BitgetVenue(regular=[dict(DOCUMENTED_ENTRY, posMode="")], plans={})
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.fetch.error_code == "BAD_RESPONSE"
    assert "orders-pending: field posMode: unknown value ''" in snap.fetch.error


def test_a_full_page_is_followed_by_the_next_older_than_its_oldest_order():
    rows = [dict(DOCUMENTED_ENTRY, orderId=str(2_000_000 + i), clientOid=f"c{i}") for i in range(100)]
    venue = BitgetVenue(regular=rows, plans={}, more_pages=[[dict(DOCUMENTED_ENTRY, orderId="1500000",
                                                                  clientOid="last")]])
    snap = snapshot(venue)
    assert snap.fetch.ok and len(snap.orders) == 101
    asked = [q for m, p, q in venue.requests if p == "/api/v2/mix/order/orders-pending"]
    assert [dict(q).get("idLessThan") for q in asked] == [None, "2000000"]  # type: ignore[call-overload]


def test_cancel_entries_cancels_the_entry_and_entry_trigger_each_its_way_and_keeps_the_stop_loss():
    venue = BitgetVenue()
    a = bitget_adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed and sorted(res.canceled) == ["1111488897767604224", "1111491399869075457"]
    sent = sorted((p, json.dumps(q, sort_keys=True)) for m, p, q in venue.requests if m == "POST")
    assert sent == sorted([
        ("/api/v2/mix/order/cancel-order", json.dumps({"orderId": "1111488897767604224", "productType": "USDT-FUTURES",
                                                       "symbol": "BTCUSDT"}, sort_keys=True)),
        ("/api/v2/mix/order/cancel-plan-order", json.dumps({
            "orderIdList": [{"orderId": "1111491399869075457"}], "planType": "normal_plan",
            "productType": "USDT-FUTURES", "symbol": "BTCUSDT"}, sort_keys=True)),
    ])


# Bitget's refusal of one plan order's cancel: HTTP 200, code 00000, the order a row of
# data.failureList (orderId, clientOid, errorMsg, errorCode: the row Bitget documents; 40725 and
# its words from Bitget's error code table). ccxt recorded the answer's shape with the order in
# successList (cancelOrder.trailingByClientOid): the refusal is that answer, its row moved.
PLAN_REFUSAL = ("40725", "service return an error")


def refused_plan_cancel() -> dict:
    answer = body("cancelOrder.trailingByClientOid")
    [row] = answer["data"]["successList"]
    return dict(answer, data={"successList": [], "failureList": [
        dict(row, errorMsg=PLAN_REFUSAL[1], errorCode=PLAN_REFUSAL[0])]})


def recorded_plan(**fields) -> Order:
    """The order of ccxt's recorded plan cancel (cancelOrder.trailingByClientOid), as listed."""
    [row] = body("cancelOrder.trailingByClientOid")["data"]["successList"]
    return Order(**{"id": row["orderId"], "client_id": row["clientOid"], "symbol": BTC, "side": "buy",
                    "type": "track_plan", "kind": "trailing", "amount": 0.001, **fields})


def test_one_plan_cancel_is_read_from_the_venues_lists_and_a_refused_row_keeps_its_code():
    d, plan = dialect_for("bitget"), recorded_plan()
    done = d.cancel_answer("one", body("cancelOrder.trailingByClientOid"), [plan])
    assert done.done == {plan.id} and not done.refused
    refused = d.cancel_answer("one", refused_plan_cancel(), [plan])
    assert not refused.done and set(refused.refused) == {plan.id}
    r = refused.refused[plan.id]
    assert (r.code, r.reason, r.text()) == ("40725", "VENUE_REFUSED", "40725 service return an error")
    # a row naming the order by its clientOid alone is the same order
    by_client = refused_plan_cancel()
    by_client["data"]["failureList"][0]["orderId"] = ""
    assert set(d.cancel_answer("one", by_client, [plan]).refused) == {plan.id}
    # an answer naming another order confirms nothing: the list after it decides
    other = d.cancel_answer("one", body("cancelOrder.trailingByClientOid"), [recorded_plan(id="1", client_id="c")])
    assert not other.done and not other.refused


@pytest.mark.parametrize("data, field", [
    ({"successList": []}, "data.failureList"), ({"failureList": []}, "data.successList"), (None, "data"),
    ({"successList": [{"errorCode": "1"}], "failureList": []}, "data.successList[0].orderId")])
def test_a_plan_cancels_answer_without_its_lists_or_a_rows_order_is_bad_response(data, field):
    with pytest.raises(AdapterError) as ei:
        dialect_for("bitget").cancel_answer("one", envelope(data), [recorded_plan()])
    assert ei.value.reason is Reason.BAD_RESPONSE and f"cancel-plan-order: field {field}" in ei.value.message


def test_one_regular_cancel_is_done_only_for_the_order_the_recorded_answer_names():
    d, named = dialect_for("bitget"), body("cancelOrder.linearByClientOid")["data"]["orderId"]
    entry = Order(id=named, symbol=BTC, side="buy", type="limit", amount=0.002)
    assert d.cancel_answer("one", body("cancelOrder.linearByClientOid"), [entry]).done == {named}
    assert d.cancel_answer("one", body("cancelOrder.linearByClientOid"), [entry.model_copy(update={"id": "1"})]
                           ).done == frozenset()
    with pytest.raises(AdapterError, match=r"cancel-order: field data\.orderId: missing"):
        d.cancel_answer("one", envelope({"clientOid": "abc321"}), [entry])
    # spot's through ccxt: its parsed order, the answer's data in its info
    assert d.cancel_answer("one", {"id": named, "info": body("cancelOrder.linearByClientOid")["data"]},
                           [entry]).done == {named}


@pytest.mark.parametrize("selector", [CancelSelector("entries"),
                                      CancelSelector("all", order_ids=("1111491399869075457",))],
                         ids=["entries", "by-id"])
def test_a_refused_plan_cancel_is_refused_in_the_venues_words_never_cancelled_nor_sent_again(selector):
    """Cancelling entries, or the trigger by its id, through the runner's one way out: the
    venue's failureList row is the trigger's refusal (40725 and its words), one cancel sent."""
    plan = DOCUMENTED_PLAN["orderId"]
    venue = BitgetVenue(regular=(), refuse_plans={plan: PLAN_REFUSAL})  # the trigger, the entry here
    a = bitget_adapter(venue)
    res = run(confirmed_cancel(a, selector))
    run(a.close())
    assert not res.canceled
    assert res.failed == {plan: "VENUE_REFUSED"} and res.words == {plan: "40725 service return an error"}
    # a symbol's cancel is listed again after (the trigger named resting); one by id answered is not
    assert [o.id for o in res.still_open] == ([] if selector.order_ids else [plan])
    plan_cancels = [q for m, p, q in venue.requests if p == "/api/v2/mix/order/cancel-plan-order"]
    assert plan_cancels == [{"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "planType": "normal_plan",
                             "orderIdList": [{"orderId": plan}]}]


def test_cancel_all_cancels_the_stop_loss_by_its_own_plan_type():
    venue = BitgetVenue(regular=(), plans={"profit_loss": [DOCUMENTED_STOP]})
    a = bitget_adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="all")))
    run(a.close())
    assert not res.failed and res.canceled == ("1111491399869075460",)
    [(path, sent)] = [(p, q) for m, p, q in venue.requests if m == "POST"]
    assert path == "/api/v2/mix/order/cancel-plan-order"
    assert sent == {"symbol": "LTCUSDT", "productType": "USDT-FUTURES", "planType": "pos_loss"}


def test_close_of_the_recorded_long_leg_is_the_legs_buy_with_trade_side_close_under_our_id():
    venue = BitgetVenue()
    a = bitget_adapter(venue)
    cid = "ks" + "0" * 29 + "1"
    intent = OrderIntent("d1", cid, "bitget", "main", LTC, "sell", "LONG", 0.1, True, None, 7.0,
                         1, 1, 0, "close_all", "test")
    r = run(a.submit(intent))
    run(a.close())
    assert (r.order_id, r.client_order_id) == ("1139547338494877699", cid)
    [(path, sent)] = [(p, q) for m, p, q in venue.requests if m == "POST"]
    assert path == "/api/v2/mix/order/place-order"
    assert isinstance(sent, dict)
    # hedge mode: close long is side buy, tradeSide close (ccxt writes Close); the recorded
    # position is crossed, so the close is too; no reduceOnly beside the leg
    assert (sent["symbol"], sent["side"], sent["tradeSide"].lower(), sent["size"], sent["orderType"],
            sent["marginMode"], sent["clientOid"]) == ("LTCUSDT", "buy", "close", "0.1", "market", "crossed", cid)
    assert "reduceOnly" not in sent


def test_one_way_close_is_reduce_only_yes_without_a_trade_side():
    venue = BitgetVenue()
    a = bitget_adapter(venue, hedge_mode=False)
    cid = "ks" + "0" * 29 + "2"
    intent = OrderIntent("d1", cid, "bitget", "main", LTC, "sell", None, 0.1, True, None, 7.0,
                         1, 1, 0, "close_all", "test")
    run(a.submit(intent))
    run(a.close())
    [sent] = [q for m, p, q in venue.requests if m == "POST"]
    assert isinstance(sent, dict)
    assert (sent["side"], sent["reduceOnly"], sent["clientOid"]) == ("sell", "YES", cid)
    assert "tradeSide" not in sent


def test_lookup_by_client_id_reads_the_recorded_order_detail():
    venue = BitgetVenue()
    a = bitget_adapter(venue)
    case = recorded("fetchOrder.reduceOnlySell")
    r = run(a.fetch_order(LTC, "1139547338494877697"))
    run(a.close())
    assert (r.order_id, r.client_order_id, r.status, r.filled) == (
        "1139547338494877696", "1139547338494877697", "filled", case["parsedResponse"]["filled"])
    assert [(p, q) for m, p, q in venue.requests] == [
        ("/api/v2/mix/order/detail", {"clientOid": "1139547338494877697", "productType": "USDT-FUTURES",
                                      "symbol": "LTCUSDT"})]


def test_recorded_spot_balances_and_open_order():
    venue = BitgetVenue()
    snap = snapshot(venue, market_type="spot", hedge_mode=False)
    assert snap.fetch.ok, snap.fetch
    usdt = next(b for b in snap.balances if b.asset == "USDT")
    assert (usdt.total, usdt.free, usdt.used) == (pytest.approx(23.35159289), pytest.approx(17.85159289), 5.5)
    assert {b.asset for b in snap.balances} == {"BGB", "USDT", "LTC", "TRX", "FON"}
    [o] = snap.orders
    assert (o.id, o.client_id, o.symbol, o.side, o.type, o.amount, o.price) == (
        "1136353550487961603", "a0fa8867-b90c-4c1c-ab32-45469dcdb53d", LTC_SPOT, "buy", "limit", 0.11, 50.0)
    assert sorted(p for m, p, q in venue.requests) == [
        "/api/v2/spot/account/assets", "/api/v2/spot/market/tickers", "/api/v2/spot/trade/unfilled-orders"]


@pytest.mark.parametrize("case, hedge", [("fetchMarginMode.linear", True), ("fetchLeverage", False)])
def test_the_dialect_reads_the_accounts_position_mode_from_the_recorded_account(case, hedge):
    """The read the mode watch makes (at start, every few minutes, after a refusal for the mode)."""
    asked: list = []

    async def call(method, *args):
        asked.append((method, *args))
        return body(case)

    reads = Reads(call=call, has_method=lambda name: name == "privateMixGetV2MixAccountAccount",
                  symbol_of=lambda m: m, market_type="futures")
    got = run(dialect_for("bitget").read_position_mode(reads))
    mode = body(case)["data"]["posMode"]
    assert (got.hedge, got.source, got.error) == (hedge, f"GET /api/v2/mix/account/account posMode={mode}", None)
    assert asked == [("privateMixGetV2MixAccountAccount",
                      {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginCoin": "USDT"})]
    spot = Reads(call=call, has_method=lambda name: True, symbol_of=lambda m: m, market_type="spot")
    assert run(dialect_for("bitget").read_position_mode(spot)).hedge is None  # spot has no position mode


@pytest.mark.parametrize("account, problem", [({"marginCoin": "USDT", "posMode": "double_mode"},
                                                 "unknown value 'double_mode'"), ({"marginCoin": "USDT"}, "missing")])
def test_the_dialects_read_of_an_unknown_pos_mode_is_bad_response_naming_the_endpoint_and_field(account, problem):
    async def call(method, *args):
        return envelope(account)

    reads = Reads(call=call, has_method=lambda name: True, symbol_of=lambda m: m, market_type="futures")
    with pytest.raises(AdapterError) as ei:
        run(dialect_for("bitget").read_position_mode(reads))
    assert ei.value.reason is Reason.BAD_RESPONSE
    assert f"GET /api/v2/mix/account/account: field posMode: {problem}" in ei.value.message
