"""The real ccxt client answered with what ccxt itself recorded from the venues: the httpResponse
bodies of ccxt's static fixtures (``ts/src/test/static/response`` in the ccxt repository; the data
carried over, each file naming its commit and the cases taken, in
adapters/venues/<venue>/fixtures/ccxt-static-<id>.json). The adapter's snapshot is checked field by field against
those bodies, and the requests it sends for them path by path; where a venue's list or close
had no recorded body, the tests beside this one answer from the venue's documented examples."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector
from adapters.ccxt_exchange import CcxtAdapter
from killswitch.orders import OrderIntent
from tests.unit.adapters.ccxt.fake import account, market, run
from tests.unit.adapters.venues.test_okx_algo_orders import BALANCE as OKX_DOCUMENTED_BALANCE
from tests.venue_fixtures import recorded as recorded_file


def recorded(venue: str) -> dict:
    """case name → the recorded httpResponse, fresh for each use."""
    doc = json.loads(recorded_file(venue).read_text())
    return {name: case["httpResponse"] for name, case in doc["cases"].items()}


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def _request(url: str, method: str, body) -> tuple[str, object]:
    parts = urlsplit(url)
    params: object = dict(parse_qsl(parts.query)) if method in ("GET", "DELETE") else json.loads(body or "{}")
    return parts.path, params


# --- Bybit (linear, unified account) ------------------------------------------------------------

LTC, BTC = "LTC/USDT:USDT", "BTC/USDT:USDT"
EMPTY_BYBIT_PAGE = {"retCode": 0, "retMsg": "OK", "result": {"nextPageCursor": "", "category": "linear", "list": []},
                    "retExtInfo": {}, "time": 1}


class BybitVenue:
    """Answers each list's first USDT page with ccxt's recorded page; the page its cursor points
    to, and USDC's, are empty (Bybit hands a cursor on the last page too)."""

    def __init__(self):
        self.bodies = recorded("bybit")
        self.requests: list[tuple[str, str, object]] = []
        self.queries: list[str] = []  # the query strings as sent, undecoded

    async def fetch(self, url, method="GET", headers=None, body=None):
        path, params = _request(url, method, body)
        self.requests.append((method, path, params))
        self.queries.append(urlsplit(url).query)
        assert isinstance(params, dict)
        first_usdt = params.get("settleCoin") == "USDT" and "cursor" not in params
        if path == "/v5/account/wallet-balance":
            return self.bodies["fetchBalance"]
        if path == "/v5/position/list":
            return self.bodies["fetchPositions"] if first_usdt else EMPTY_BYBIT_PAGE
        if path == "/v5/order/realtime":
            return self.bodies["fetchOpenOrder"] if first_usdt else EMPTY_BYBIT_PAGE
        raise AssertionError(f"unexpected request {method} {path}")


def bybit_snapshot(venue: BybitVenue):
    def build(config: dict):
        ex = ccxt_async.bybit(config)
        ex.set_markets([market(LTC, "LTCUSDT", amount_step=0.1, price_step=0.01, min_amount=0.1),
                        market(BTC, "BTCUSDT")])
        ex.options.update(enableUnifiedMargin=False, enableUnifiedAccount=True, unifiedMarginStatus=6)
        ex.fetch = venue.fetch
        return ex

    a = CcxtAdapter(account("bybit"), exchange_factory=build)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


def test_bybit_recorded_balance_position_and_open_order_field_by_field():
    venue = BybitVenue()
    snap = bybit_snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(92255.96988644)  # the unified account's totalEquity
    usdt = next(b for b in snap.balances if b.asset == "USDT")
    assert (usdt.total, usdt.used) == (pytest.approx(3322.25896609), pytest.approx(92.61831144))
    [p] = snap.positions
    assert (p.symbol, p.side, p.position_side, p.contracts, p.contract_size) == (LTC, "long", "BOTH", 1.2, 1.0)
    assert (p.entry_price, p.mark_price, p.unrealized_pnl, p.notional) == (
        pytest.approx(64.59947917), 71.1, pytest.approx(7.800625), pytest.approx(77.519375))
    assert p.liquidation_price is None  # liqPrice "": none, not 0
    assert (p.leverage, p.margin) == (6.0, pytest.approx(12.95542633))  # positionIM
    assert p.maintenance_margin == pytest.approx(0.81072399)  # positionMM
    [o] = snap.orders
    assert (o.id, o.client_id, o.symbol, o.side, o.type, o.kind) == (
        "3606515b-e4d7-4ea4-b096-bb247d0661ae", None, BTC, "buy", "limit", "regular")  # orderLinkId ""
    assert (o.amount, o.filled, o.price, o.trigger_price, o.reduce_only, o.position_side) == (
        0.001, 0.0, 102000.0, None, False, "BOTH")


def test_bybit_sends_each_recorded_cursor_back_as_the_venue_wrote_it():
    """Bybit's cursors come percent-encoded and go back as they came (ccxt does not encode them
    again): the page after each recorded one is asked, then the next settle coin."""
    venue = BybitVenue()
    assert bybit_snapshot(venue).fetch.ok
    bodies = recorded("bybit")
    position_cursor = bodies["fetchPositions"]["result"]["nextPageCursor"]
    order_cursor = bodies["fetchOpenOrder"]["result"]["nextPageCursor"]
    asked = [(p, q.get("settleCoin"), q.get("cursor") is not None) for m, p, q in venue.requests
             if p in ("/v5/position/list", "/v5/order/realtime") and isinstance(q, dict)]
    assert asked == [("/v5/position/list", "USDT", False), ("/v5/position/list", "USDT", True),
                     ("/v5/position/list", "USDC", False), ("/v5/order/realtime", "USDT", False),
                     ("/v5/order/realtime", "USDT", True), ("/v5/order/realtime", "USDC", False)]
    cursors = [dict(kv.split("=", 1) for kv in q.split("&"))["cursor"] for q in venue.queries if "cursor=" in q]
    assert cursors == [position_cursor, order_cursor]


# --- OKX (swap) ------------------------------------------------------------------------------------

LTC_SWAP, ADA_SWAP, BTC_INVERSE = "LTC/USDT:USDT", "ADA/USDT:USDT", "BTC/USD:BTC"
EMPTY_OKX = {"code": "0", "data": [], "msg": ""}


def okx_markets() -> list[dict]:
    inverse = market("BTC/USD:USD", "BTC-USD-SWAP", amount_step=1, price_step=0.1, min_amount=1, contract_size=100)
    inverse.update(symbol=BTC_INVERSE, settle="BTC", settleId="BTC", linear=False, inverse=True)
    return [market(LTC_SWAP, "LTC-USDT-SWAP", amount_step=1, price_step=0.01, min_amount=1),
            market(ADA_SWAP, "ADA-USDT-SWAP", amount_step=1, price_step=0.0001, min_amount=1, contract_size=100),
            inverse]


class OkxVenue:
    """Answers with ccxt's recorded OKX bodies; ``position``: which recorded position the account
    holds. The balance is OKX's documented shape (the recorded one was not carried over)."""

    def __init__(self, position: str = "fetchPosition.linear"):
        self.bodies = recorded("okx")
        self.position = position
        self.requests: list[tuple[str, str, object]] = []

    async def fetch(self, url, method="GET", headers=None, body=None):
        path, params = _request(url, method, body)
        self.requests.append((method, path, params))
        if path == "/api/v5/account/balance":
            return OKX_DOCUMENTED_BALANCE
        if path == "/api/v5/account/positions":
            return self.bodies[self.position]
        if path == "/api/v5/trade/orders-pending":
            return self.bodies["fetchOpenOrders.regular"]
        if path == "/api/v5/trade/orders-algo-pending":
            assert isinstance(params, dict)
            return self.bodies["fetchOpenOrders.algo"] if params["ordType"] == "conditional,oco" else EMPTY_OKX
        if path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):
            return self.bodies["createOrder"]
        if path == "/api/v5/trade/cancel-order":  # not recorded: OKX's documented answer
            assert isinstance(params, dict)
            return {"code": "0", "msg": "", "data": [{"clOrdId": "", "ordId": params["ordId"], "sCode": "0",
                                                       "sMsg": ""}]}
        if path == "/api/v5/trade/cancel-algos":  # not recorded: OKX's documented answer
            assert isinstance(params, list)
            return {"code": "0", "msg": "", "data": [{"algoId": p["algoId"], "sCode": "0", "sMsg": ""}
                                                     for p in params]}
        raise AssertionError(f"unexpected request {method} {path}")


def okx_adapter(venue: OkxVenue, hedge_mode: bool = False) -> CcxtAdapter:
    def build(config: dict):
        ex = ccxt_async.okx(config)
        ex.set_markets(okx_markets())
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("okx", hedge_mode=hedge_mode), exchange_factory=build)


def test_okx_recorded_position_and_both_order_lists_field_by_field():
    venue = OkxVenue()
    a = okx_adapter(venue)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    [p] = snap.positions
    # a long/short-mode long leg of two contracts, cross
    assert (p.symbol, p.side, p.position_side, p.contracts, p.contract_size) == (LTC_SWAP, "long", "LONG", 2.0, 1.0)
    assert (p.entry_price, p.mark_price, p.unrealized_pnl) == (82.675, 101.33, pytest.approx(0.03731))
    assert (p.liquidation_price, p.leverage, p.margin) == (None, 10.0, pytest.approx(0.020266))  # liqPx "", imr
    assert p.maintenance_margin == pytest.approx(0.00131729)  # mmr
    orders = {o.id: (o.client_id, o.symbol, o.side, o.type, o.kind, o.amount, o.price, o.trigger_price,
                     o.reduce_only, o.position_side) for o in snap.orders}
    assert orders == {
        # orders-pending: a post-only buy on the long leg opens (an entry)
        "645348448086081536": ("e847386590ce4dBC28d905b5946bad5a", ADA_SWAP, "buy", "limit", "regular", 50.0, 0.2,
                               None, False, "LONG"),
        # orders-algo-pending: a stop that buys when LTC reaches 100 (slTriggerPx), in net mode: an entry;
        # its client id is algoClOrdId
        "2017146754403004416": ("e847386590ce4dBC510e616e0438b78a", LTC_SWAP, "buy", "conditional", "conditional",
                                1.0, None, 100.0, False, "BOTH"),
    }
    lists = [(p, q) for m, p, q in venue.requests if "orders" in p]
    assert lists == [
        ("/api/v5/trade/orders-pending", {"limit": "100"}),
        ("/api/v5/trade/orders-algo-pending", {"ordType": "conditional,oco", "limit": "100"}),
        ("/api/v5/trade/orders-algo-pending", {"ordType": "trigger", "limit": "100"}),
        ("/api/v5/trade/orders-algo-pending", {"ordType": "move_order_stop", "limit": "100"}),
    ]


def test_okx_cancel_entries_cancels_the_recorded_entry_and_entry_stop_each_by_its_endpoint():
    venue = OkxVenue()
    a = okx_adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed
    sent = sorted((p, json.dumps(q, sort_keys=True)) for m, p, q in venue.requests if m == "POST")
    assert sent == [
        ("/api/v5/trade/cancel-algos", json.dumps([{"algoId": "2017146754403004416", "instId": "LTC-USDT-SWAP"}],
                                                  sort_keys=True)),
        ("/api/v5/trade/cancel-order", json.dumps({"instId": "ADA-USDT-SWAP", "ordId": "645348448086081536"},
                                                  sort_keys=True)),
    ]


def test_okx_close_of_the_recorded_isolated_inverse_leg_is_sent_isolated_on_its_leg():
    venue = OkxVenue(position="fetchPosition.inverse_isolated")
    a = okx_adapter(venue, hedge_mode=True)
    cid = "ks" + "0" * 29 + "1"
    intent = OrderIntent("d1", cid, "okx", "main", BTC_INVERSE, "sell", "LONG", 1.0, True, None, 100.0,
                         1, 1, 0, "close_all", "test")
    r = run(a.submit(intent))
    run(a.close())
    assert r.order_id == "2896576259728695296"  # the recorded answer's ordId
    [(path, body)] = [(p, q) for m, p, q in venue.requests if m == "POST"]
    [order] = body if isinstance(body, list) else [body]
    assert isinstance(order, dict)
    assert (order["instId"], order["side"], order["sz"], order["tdMode"], order["posSide"], order["clOrdId"]) == (
        "BTC-USD-SWAP", "sell", "1", "isolated", "long", cid)
    assert "reduceOnly" not in order  # long/short mode: the leg closes; OKX takes reduceOnly in net mode only
    assert [(p, q) for m, p, q in venue.requests if p == "/api/v5/account/positions"] == [
        ("/api/v5/account/positions", {"instId": "BTC-USD-SWAP"})]


# --- Binance USDⓈ-M ----------------------------------------------------------------------------

LTC_PERP = "LTC/USDT:USDT"
SIGNED = ("timestamp", "signature", "recvWindow")


class BinanceUsdmVenue:
    """Answers with ccxt's recorded USDⓈ-M bodies (of binance.json). The open-order list is the
    recorded ``openOrder`` (one order) as its only element, a new order's answer the recorded
    ``batchOrders`` list's one element: the same order objects. No algo order was recorded: the
    algo list is empty."""

    def __init__(self):
        self.bodies = recorded("binanceusdm")
        self.requests: list[tuple[str, str, dict]] = []

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params = {k: v for k, v in parse_qsl(parts.query) + parse_qsl(body or "") if k not in SIGNED}
        self.requests.append((method, parts.path, params))
        key = (method, parts.path)
        if key == ("GET", "/fapi/v3/account"):
            return self.bodies["fetchBalance.linear"]
        if key == ("GET", "/fapi/v3/positionRisk"):
            return self.bodies["fetchPositions.linear"]
        if key == ("GET", "/fapi/v1/openOrders"):
            return [self.bodies["fetchOpenOrder.linear"]]
        if key == ("GET", "/fapi/v1/openAlgoOrders"):  # none recorded
            return []
        if key == ("POST", "/fapi/v1/order"):
            return self.bodies["createOrders.linear"][0]
        if key == ("GET", "/fapi/v1/positionSide/dual"):  # none recorded: the venue's documented example
            return {"dualSidePosition": False}
        raise AssertionError(f"unexpected request {method} {parts.path}")


def binanceusdm_adapter(venue: BinanceUsdmVenue) -> CcxtAdapter:
    def build(config: dict):
        ex = ccxt_async.binanceusdm(config)
        ex.set_markets([market(BTC, "BTCUSDT"), market(LTC_PERP, "LTCUSDT", amount_step=0.001, price_step=0.01)])
        # as ccxt's own static tests do: the file's recorded brackets (fetch_positions loads them first)
        ex.options["leverageBrackets"] = json.loads(recorded_file("binanceusdm").read_text())["options"][
            "leverageBrackets"]
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("binanceusdm"), exchange_factory=build)


def test_binanceusdm_recorded_balance_position_and_open_order_field_by_field():
    venue = BinanceUsdmVenue()
    a = binanceusdm_adapter(venue)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(31.022612)  # totalMarginBalance
    [usdt] = snap.balances
    assert (usdt.asset, usdt.total, usdt.free, usdt.used) == ("USDT", pytest.approx(31.022612),
                                                              pytest.approx(31.022612), 0.0)
    [p] = snap.positions
    assert (p.symbol, p.side, p.position_side, p.contracts, p.contract_size) == (BTC, "long", "BOTH", 0.009, 1.0)
    assert (p.entry_price, p.mark_price, p.unrealized_pnl, p.notional) == (
        67445.9, pytest.approx(67502.68519858), pytest.approx(0.51106678), pytest.approx(607.52416678))
    assert (p.liquidation_price, p.margin) == (pytest.approx(64846.9875379), pytest.approx(7.59405208))
    assert p.leverage is None  # positionRisk v3 rows carry no leverage (v2's did)
    assert p.maintenance_margin == pytest.approx(2.43009666)  # maintMargin
    [o] = snap.orders
    assert (o.id, o.client_id, o.symbol, o.side, o.type, o.kind) == (
        "664082074", "x-xcKtGhcu68f8383451844295b3e8b9", LTC_PERP, "buy", "limit", "regular")
    assert (o.amount, o.filled, o.price, o.trigger_price, o.reduce_only, o.position_side) == (
        0.2, 0.0, 50.0, None, False, "BOTH")
    assert [(m, p, q) for m, p, q in venue.requests] == [
        ("GET", "/fapi/v3/account", {}), ("GET", "/fapi/v3/positionRisk", {}),
        ("GET", "/fapi/v1/openOrders", {}), ("GET", "/fapi/v1/openAlgoOrders", {}),
        ("GET", "/fapi/v1/positionSide/dual", {})]  # the account's mode, read at the first snapshot
    # one-way, as the venue's read and the recorded position's own positionSide (BOTH) say
    assert a.position_mode().hedge is False and a.position_mode().source == "GET /fapi/v3/positionRisk positionSide"


def test_binanceusdm_close_of_the_recorded_position_is_reduce_only_on_the_step_with_our_id():
    venue = BinanceUsdmVenue()
    a = binanceusdm_adapter(venue)
    cid = "ks" + "0" * 29 + "1"
    intent = OrderIntent("d1", cid, "binanceusdm", "main", BTC, "sell", None, 0.0089, True, None, 600.0,
                         1, 1, 0, "close_all", "test")
    r = run(a.submit(intent))
    run(a.close())
    # the recorded answer as read: a resting limit of 0.2 and the id the venue gave it
    assert (r.order_id, r.status, r.filled, r.amount) == ("4087922044", "open", 0.0, 0.2)
    assert r.client_order_id == "x-xcKtGhcu04075babaeb34c55af79ba"  # the answer's, not assumed ours
    assert [(m, p) for m, p, q in venue.requests] == [("GET", "/fapi/v3/positionRisk"), ("POST", "/fapi/v1/order")]
    sent = venue.requests[-1][2]
    # one-way (positionSide BOTH): reduce-only, 0.0089 down to the 0.001 step, under our id
    assert sent == {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.008",
                    "reduceOnly": "true", "newClientOrderId": cid, "newOrderRespType": "RESULT"}


# --- Hyperliquid ---------------------------------------------------------------------------------

HL_KEY = "0x" + "11" * 32  # a throwaway signing key
HL_WALLET = "0x" + "ab" * 20  # test_ccxt_adapter.account's
SOL_HL, ETH_HL, ADA_HL, HYPE_HL = "SOL/USDC:USDC", "ETH/USDC:USDC", "ADA/USDC:USDC", "HYPE/USDC:USDC"


def hyperliquid_assets() -> list:
    """Hyperliquid's documented metaAndAssetCtxs (BTC, ETH, SOL: assets 0-2) with ADA (3) and
    HYPE (4), the recorded cases' other coins, at their sizes' decimals."""
    from tests.unit.adapters.venues.hyperliquid.test_documented_answers import META

    universe, ctxs = json.loads(json.dumps(META))
    universe["universe"] += [{"name": "ADA", "szDecimals": 0, "maxLeverage": 10, "onlyIsolated": False},
                             {"name": "HYPE", "szDecimals": 2, "maxLeverage": 10, "onlyIsolated": False}]
    ctxs += [dict(ctxs[2], markPx="0.45", midPx="0.45"), dict(ctxs[2], markPx="48.1", midPx="48.1")]
    return [universe, ctxs]


class HyperliquidVenue:
    """Answers each POST /info by its type and each POST /exchange action with ccxt's recorded
    Hyperliquid bodies; ``state``: which recorded clearinghouseState the account has."""

    def __init__(self, state: str):
        self.bodies = recorded("hyperliquid")
        self.state = state
        self.requests: list[tuple[str, dict]] = []

    async def fetch(self, url, method="GET", headers=None, body=None):
        path, params = _request(url, method, body)
        assert method == "POST" and isinstance(params, dict)
        self.requests.append((path, params))
        if path == "/info":
            kind = params["type"]
            if kind == "metaAndAssetCtxs":
                return hyperliquid_assets()
            if kind == "userAbstraction":
                return "default"
            if kind == "clearinghouseState":
                return self.bodies[self.state]
            if kind == "frontendOpenOrders":
                return self.bodies["fetchOpenOrders.trigger"]
        if path == "/exchange" and params["action"]["type"] == "order":
            return self.bodies["createOrder"]
        raise AssertionError(f"unexpected request {path} {params}")


def hyperliquid_adapter(venue: HyperliquidVenue, monkeypatch) -> CcxtAdapter:
    monkeypatch.setenv("KS_TEST_SECRET", HL_KEY)
    a = CcxtAdapter(account("hyperliquid"), timeout=5)
    a._ex.fetch = venue.fetch
    return a


@pytest.mark.parametrize("state, equity, positions", [
    ("fetchBalance.swap", 20.454862, {}),
    # two cross longs without a liquidation price (liquidationPx null); the mark is the
    # position's value over its size (the state has no mark)
    ("fetchPositions.long", 19762.483455, {
        SOL_HL: ("long", 3.34, 112.0945, pytest.approx(138.91), 89.563507, None, 20.0),
        ETH_HL: ("long", 3.6, 1100.0, pytest.approx(3803.9), 9734.04, None, 20.0)}),
    ("fetchPositions.short", 11524.216934, {
        SOL_HL: ("short", 0.5, 138.76, pytest.approx(137.96), 0.4, 22881.19788911, 20.0),
        ETH_HL: ("long", 1.6, 1100.0, pytest.approx(2387.0), 2059.2, None, 20.0)}),
    # isolated: the equity is marginSummary's, which holds the isolated margin (crossMarginSummary: 57.6421)
    ("fetchPositions.isolated_short", 76.206517, {
        HYPE_HL: ("short", 4.0, 47.9932, pytest.approx(48.145), -0.6071, 50.2724802381, 10.0)}),
])
def test_hyperliquid_recorded_states_field_by_field(state, equity, positions, monkeypatch):
    venue = HyperliquidVenue(state)
    a = hyperliquid_adapter(venue, monkeypatch)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(equity)
    got = {p.symbol: (p.side, p.contracts, p.entry_price, p.mark_price, p.unrealized_pnl, p.liquidation_price,
                      p.leverage) for p in snap.positions}
    assert got == positions
    assert {p.position_side for p in snap.positions} <= {"BOTH"}  # oneWay: the venue has no hedge mode
    # a position's marginUsed is its initial margin; the maintenance margin is the account's alone
    # (crossMaintenanceMarginUsed): not said per position
    assert {p.maintenance_margin for p in snap.positions} <= {None}
    [usdc] = snap.balances
    summary = recorded("hyperliquid")[state]["marginSummary"]
    assert (usdc.asset, usdc.total, usdc.used) == ("USDC", pytest.approx(float(summary["accountValue"])),
                                                   pytest.approx(float(summary["totalMarginUsed"])))
    assert sorted(b["type"] for p, b in venue.requests if p == "/info") == [
        "clearinghouseState", "frontendOpenOrders", "metaAndAssetCtxs", "userAbstraction"]  # (one state: both)
    assert {b.get("user") for p, b in venue.requests if p == "/info" and b["type"] != "metaAndAssetCtxs"} == {
        HL_WALLET}


def test_hyperliquid_recorded_trigger_order_field_by_field(monkeypatch):
    venue = HyperliquidVenue("fetchBalance.swap")
    a = hyperliquid_adapter(venue, monkeypatch)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    [o] = snap.orders
    # a Stop Limit that buys 40 ADA at 0.4 once the price is above 0.6: conditional, an entry; no cloid
    assert (o.id, o.client_id, o.symbol, o.side, o.type, o.kind) == (
        "8670685324", None, ADA_HL, "buy", "limit", "conditional")
    assert (o.amount, o.filled, o.price, o.trigger_price, o.reduce_only) == (40.0, 0.0, 0.4, 0.6, False)


def test_hyperliquid_close_of_the_recorded_isolated_short_read_from_the_recorded_fill(monkeypatch):
    venue = HyperliquidVenue("fetchPositions.isolated_short")
    a = hyperliquid_adapter(venue, monkeypatch)
    cid = "ks" + "0" * 29 + "1"
    intent = OrderIntent("d1", cid, "hyperliquid", "main", HYPE_HL, "buy", None, 3.999, True, 50.0, 200.0,
                         1, 1, 0, "close_all", "test")
    r = run(a.submit(intent))
    run(a.close())
    # the recorded answer filled 1.0 at 25.585: a partial fill of what was sent, under our id
    assert (r.order_id, r.status, r.filled, r.amount, r.average_price, r.client_order_id) == (
        "296683658818", "partially_filled", 1.0, 3.99, 25.585, cid)
    assert [b["type"] for p, b in venue.requests if p == "/info"] == ["metaAndAssetCtxs", "clearinghouseState"]
    [sent] = [b for p, b in venue.requests if p == "/exchange"]
    assert sent["action"]["type"] == "order" and sent["action"]["grouping"] == "na"
    # HYPE is asset 4; 3.999 down to the 0.01 step; reduce-only IOC at the intent's price; our cloid
    assert sent["action"]["orders"] == [{"a": 4, "b": True, "p": "50", "s": "3.99", "r": True,
                                         "t": {"limit": {"tif": "Ioc"}}, "c": "0x00" + cid[2:]}]
