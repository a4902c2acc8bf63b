"""Hyperliquid through the real ccxt hyperliquid client, its HTTP ``fetch`` answering Hyperliquid's
documented answers (adapters/venues/hyperliquid/fixtures/hyperliquid-*.json) by the ``type`` of each POST /info
body and recording every request: the snapshot field by field, what every read asks (and for
whom: the vault or sub-account when one is configured), a close's signed order action, the
engine's client id through the cloid both ways, scheduleCancel armed and disarmed, and an
address typo refused before anything is built."""

from __future__ import annotations

import json

import pydantic
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.venues.hyperliquid.dialect import from_cloid, to_cloid
from killswitch.engine.planner import client_order_id
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import run
from tests.venue_fixtures import fixture

META = json.loads(fixture("hyperliquid-meta-and-asset-ctxs.json").read_text())["response"]
STATE = json.loads(fixture("hyperliquid-clearinghouse-state.json").read_text())["response"]
ORDERS = json.loads(fixture("hyperliquid-frontend-open-orders.json").read_text())["response"]

WALLET = "0x" + "ab" * 20
VAULT = "0x" + "cd" * 20
KEY = "0x" + "11" * 32  # a throwaway signing key (an API wallet's, say)
BTC, ETH = "BTC/USDC:USDC", "ETH/USDC:USDC"
CID = client_order_id("decision-1", "hyperliquid/main/BTC/USDC:USDC/short#1")


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_HL_KEY", KEY)


def account(**creds) -> Account:
    return Account.model_validate({
        "name": "main", "venue": "hyperliquid", "market_type": "futures", "quote_currency": "USDC",
        "strategies": ["alpha"],
        "credentials": {"wallet_address": WALLET, "private_key": {"env": "KS_TEST_HL_KEY"}, **creds},
    })


class Venue:
    """Answers ccxt's requests as Hyperliquid would; every request kept as (path, JSON body)."""

    def __init__(self, orders: list | None = None, state: dict | None = None):
        self.requests: list[tuple[str, dict]] = []
        self.order_status: dict = {"status": "unknownOid"}
        self.orders = ORDERS if orders is None else orders
        self.state = STATE if state is None else state

    async def fetch(self, url, method="GET", headers=None, body=None):
        assert method == "POST"
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        params = json.loads(body)
        self.requests.append((path, params))
        if path == "/info":
            kind = params["type"]
            if kind == "metaAndAssetCtxs":
                return META
            if kind == "userAbstraction":
                return "default"
            if kind == "clearinghouseState":
                return self.state
            if kind == "frontendOpenOrders":
                return self.orders
            if kind == "orderStatus":
                return self.order_status
        if path == "/exchange":
            kind = params["action"]["type"]
            if kind == "order":
                return {"status": "ok", "response": {"type": "order", "data": {"statuses": [
                    {"filled": {"totalSz": params["action"]["orders"][0]["s"], "avgPx": "59990.0", "oid": 77,
                               "cloid": params["action"]["orders"][0]["c"]}}]}}}
            if kind == "scheduleCancel":
                return {"status": "ok", "response": {"type": "default"}}
        raise AssertionError(f"unexpected request {path} {params}")

    def infos(self) -> list[dict]:
        return [b for p, b in self.requests if p == "/info"]

    def actions(self) -> list[dict]:
        return [b for p, b in self.requests if p == "/exchange"]


def adapter(venue: Venue, acc: Account | None = None) -> CcxtAdapter:
    a = CcxtAdapter(acc or account(), timeout=5)
    a._ex.fetch = venue.fetch
    return a


def test_the_snapshot_field_by_field():
    venue = Venue()
    a = adapter(venue)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(13109.482328)  # marginSummary.accountValue
    got = {p.symbol: (p.side, p.position_side, p.contracts, p.entry_price, p.unrealized_pnl, p.liquidation_price)
           for p in snap.positions}
    assert got == {ETH: ("long", "BOTH", 0.0335, 2986.3, -0.0134, 2866.26936529),
                   BTC: ("short", "BOTH", 0.01, 60000.0, 5.0, 105000.0)}
    orders = {o.id: (o.symbol, o.client_id, o.kind, o.side, o.trigger_price, o.reduce_only, o.amount)
              for o in snap.orders}
    assert orders == {
        # documented limit sell; its cloid is an engine id's
        "91490942": (BTC, "ks0123456789abcdef0123456789abcd", "regular", "sell", None, False, 5.0),
        "91490950": (ETH, None, "conditional", "sell", 2800.0, True, 0.0335),  # Stop Market
        "91490960": (BTC, None, "tpsl", "buy", 55000.0, True, 0.0),  # the position's take-profit
        # a Stop Limit entry: another software's cloid kept as it is
        "8670487141": ("SOL/USDC:USDC", "0x8d3f1c2b4a5e6f708192a3b4c5d6e7f8", "conditional", "buy", 0.6, False, 20.0),
    }
    # every read of the wallet's address; markets: the main perp dex only
    assert sorted(map(json.dumps, venue.infos())) == sorted(map(json.dumps, [
        {"type": "metaAndAssetCtxs"},  # markets: the main perp dex only, no private request
        {"type": "userAbstraction", "user": WALLET},  # ccxt asks it once, at the first balance
        {"type": "clearinghouseState", "user": WALLET},  # the balance and the positions: one read
        {"type": "frontendOpenOrders", "user": WALLET}]))
    assert venue.actions() == []


def test_a_vault_or_sub_account_is_read_by_its_address():
    venue = Venue()
    a = adapter(venue, account(vault_address=VAULT))
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    assert {b.get("user") for b in venue.infos() if b["type"] != "metaAndAssetCtxs"} == {VAULT}


def close(amount: float, price: float | None = 60_600.0) -> OrderIntent:
    return OrderIntent("d1", CID, "hyperliquid", "main", BTC, "buy", None, amount, True, price, amount * 60_000.0,
                       1, 1, 0, "close_all", "test")


def test_a_close_is_a_reduce_only_ioc_with_the_cloid_on_the_assets_step():
    venue = Venue()
    a = adapter(venue)
    r = run(a.submit(close(0.0099999)))
    run(a.close())
    assert (r.client_order_id, r.status, r.filled) == (CID, "filled", 0.00999)
    [sent] = venue.actions()
    action = sent["action"]
    assert action["type"] == "order" and action["grouping"] == "na"
    assert "builder" not in action  # no builder named, none approved
    [order] = action["orders"]
    assert order == {"a": 0, "b": True, "p": "60600", "s": "0.00999", "r": True, "t": {"limit": {"tif": "Ioc"}},
                     "c": "0x00" + CID[2:]}
    assert "vaultAddress" not in sent and set(sent) == {"action", "nonce", "signature"}


def test_a_vaults_close_carries_its_address():
    venue = Venue()
    a = adapter(venue, account(vault_address=VAULT))
    run(a.submit(close(0.01)))
    run(a.close())
    [sent] = venue.actions()
    assert sent["vaultAddress"] == VAULT[2:]  # as ccxt sends it, signed with the action


def test_a_close_without_a_price_is_refused_before_it_leaves():
    venue = Venue()
    a = adapter(venue)
    with pytest.raises(AdapterError):
        run(a.submit(close(0.01, price=None)))  # ccxt needs a price for a market order
    run(a.close())
    assert venue.actions() == []


def test_an_id_not_of_the_engines_form_is_refused():
    venue = Venue()
    a = adapter(venue)
    intent = close(0.01)
    bad = OrderIntent(*[("alpha-1" if f == "client_order_id" else getattr(intent, f))
                        for f in intent.__dataclass_fields__])
    with pytest.raises(AdapterError) as e:
        run(a.submit(bad))
    run(a.close())
    assert e.value.reason is Reason.INVALID_ORDER and venue.actions() == []


def test_the_client_id_round_trips_through_the_cloid():
    assert to_cloid(CID) == "0x00" + CID[2:] and len(to_cloid(CID)) == 34
    assert from_cloid(to_cloid(CID)) == CID and from_cloid("0x00" + CID[2:].upper()) == CID
    venue = Venue()
    venue.order_status = {"status": "order", "order": {"status": "filled", "statusTimestamp": 1704346468838, "order": {
        "children": [], "cloid": "0x00" + CID[2:], "coin": "BTC", "isPositionTpsl": False, "isTrigger": False,
        "limitPx": "60600.0", "oid": 77, "orderType": "Limit", "origSz": "0.01", "reduceOnly": True, "side": "B",
        "sz": "0.0", "tif": "Ioc", "timestamp": 1704346468838, "triggerCondition": "N/A", "triggerPx": "0.0"}}}
    a = adapter(venue)
    r = run(a.fetch_order(BTC, CID))
    run(a.close())
    assert (r.client_order_id, r.order_id, r.status) == (CID, "77", "filled")
    assert venue.infos()[-1] == {"type": "orderStatus", "user": WALLET, "oid": "0x00" + CID[2:]}


def test_an_unknown_client_id_is_order_not_found():
    venue = Venue()
    a = adapter(venue)
    with pytest.raises(AdapterError) as e:
        run(a.fetch_order(BTC, CID))
    run(a.close())
    assert e.value.reason is Reason.ORDER_NOT_FOUND


def test_schedule_cancel_is_armed_ahead_and_disarmed_without_a_time():
    venue = Venue()
    a = adapter(venue, account(vault_address=VAULT))
    assert a.capabilities.cancel_all_after
    st = run(a.arm_cancel_all_after(30))
    short = run(a.arm_cancel_all_after(1))  # the venue refuses less than 5 s ahead
    off = run(a.disarm_cancel_all_after())
    run(a.close())
    assert (st.armed, st.seconds, short.seconds, off.armed) == (True, 30.0, 5.0, False)
    arm, arm_short, disarm = venue.actions()
    assert arm["action"] == {"type": "scheduleCancel", "time": arm["nonce"] + 30_000}
    assert arm_short["action"]["time"] == arm_short["nonce"] + 5_000
    assert disarm["action"] == {"type": "scheduleCancel"}  # no time: the schedule is removed
    assert {x["vaultAddress"] for x in (arm, arm_short, disarm)} == {VAULT[2:]}
    assert all(set(x["signature"]) == {"r", "s", "v"} for x in (arm, disarm))


@pytest.mark.parametrize("field,value", [("wallet_address", "0xab12"), ("vault_address", "0x" + "g" * 40),
                                         ("wallet_address", "ab" * 20)])
def test_an_address_typo_is_refused(field, value):
    with pytest.raises(pydantic.ValidationError) as e:
        account(**{field: value})
    assert field in str(e.value)
    # built some other way than from a document, the adapter refuses it before any client exists
    good = account()
    bad = good.model_copy(update={"credentials": good.credentials.model_copy(update={field: value})})
    with pytest.raises(AdapterError) as err:
        CcxtAdapter(bad, timeout=5)
    assert err.value.reason is Reason.AUTH and "0x and 40 hex digits" in err.value.message


def test_an_api_key_is_refused_for_a_wallet_signed_venue():
    acc = Account.model_validate({"name": "main", "venue": "hyperliquid", "market_type": "futures",
                                  "credentials": {"api_key": {"env": "KS_TEST_HL_KEY"},
                                                  "secret": {"env": "KS_TEST_HL_KEY"}}})
    with pytest.raises(AdapterError) as e:
        CcxtAdapter(acc, timeout=5)
    assert e.value.reason is Reason.AUTH and "wallet_address" in e.value.message


def test_half_a_wallet_is_refused_by_the_document():
    with pytest.raises(pydantic.ValidationError):
        Account.model_validate({"name": "main", "venue": "hyperliquid", "market_type": "futures",
                                "credentials": {"wallet_address": WALLET}})


def _orders(i: int, **change) -> list:
    """The documented open orders with row ``i`` changed: a key given None is removed."""
    row = {k: v for k, v in {**ORDERS[i], **change}.items() if v is not None}
    return [row if j == i else r for j, r in enumerate(ORDERS)]


def _state_without_size() -> dict:
    state = json.loads(json.dumps(STATE))
    del state["assetPositions"][1]["position"]["szi"]  # ccxt would read the BTC short as flat
    return state


def snapshot(venue: Venue):
    a = adapter(venue)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


def test_a_trigger_order_type_is_a_trigger_order_whatever_its_flag_says():
    snap = snapshot(Venue(orders=_orders(1, isTrigger=False)))
    assert snap.fetch.ok, snap.fetch
    eth = next(o for o in snap.orders if o.id == "91490950")
    assert (eth.kind, eth.trigger_price, eth.reduce_only) == ("conditional", 2800.0, True)


@pytest.mark.parametrize("venue, error", [
    (lambda: Venue(orders=_orders(0, orderType="Twap")),
     "POST /info frontendOpenOrders: field orderType: unknown value 'Twap'"),
    (lambda: Venue(orders=_orders(2, orderType=None)), "POST /info frontendOpenOrders: field orderType: missing"),
    (lambda: Venue(orders=_orders(0, side="X")),
     "POST /info frontendOpenOrders: field side: unknown value 'X'"),  # ccxt reads it as a buy
    (lambda: Venue(orders=_orders(3, origSz=None, sz=None)),
     "POST /info frontendOpenOrders: field origSz (ccxt amount): missing (order 8670487141)"),
    (lambda: Venue(orders=_orders(1, triggerPx=None)),
     "POST /info frontendOpenOrders: field triggerPx (ccxt triggerPrice): missing on a conditional order "
     "(order 91490950)"),
    (lambda: Venue(state=_state_without_size()), "POST /info clearinghouseState: field position.szi: missing"),
], ids=["unknown-orderType", "no-orderType", "unknown-side", "no-origSz", "no-triggerPx", "no-szi"])
def test_an_answer_not_understood_fails_the_snapshot_naming_venue_endpoint_and_field(venue, error):
    """Never an order read as a guessed kind or size, nor a position as flat."""
    snap = snapshot(venue())
    assert not snap.fetch.ok and snap.equity is None and snap.positions == [] and snap.orders == []
    assert snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert snap.fetch.error == f"hyperliquid {error}"


def test_a_position_row_reads_as_ccxts_parse_of_it():
    """The balance's clearinghouseState gives the positions (one read a snapshot): each row read
    as ccxt's ``parse_position`` reads it, field for field of what the snapshot parses, for the
    documented rows and an isolated and a flat one."""
    import ccxt

    from adapters.venues.hyperliquid.dialect.positions import unified_position

    ex = ccxt.hyperliquid()
    first = STATE["assetPositions"][0]["position"]
    rows = [*STATE["assetPositions"],
            {"type": "oneWay", "position": {**first, "leverage": {"type": "isolated", "value": 5, "rawUsd": "-9"},
                                            "szi": "-2.5", "marginUsed": "7.25", "unrealizedPnl": "-1.5"}},
            {"type": "oneWay", "position": {**first, "szi": "0.0"}}]
    fields = ("symbol", "side", "contracts", "entryPrice", "markPrice", "notional", "leverage", "initialMargin",
              "collateral", "unrealizedPnl", "liquidationPrice", "marginMode", "isolated")
    for row in rows:
        ours, theirs = unified_position(row), ex.parse_position(row)
        assert {f: ours[f] for f in fields} == {f: theirs[f] for f in fields}, row


def test_a_balance_without_the_positions_asks_for_them():
    """A unified account's balance is its spot state (no ``assetPositions``): its positions are
    asked through ccxt's fetch_positions, never read as none."""
    from adapters.ccxt_exchange.dialects.base import Reads
    from adapters.venues.hyperliquid.dialect import HYPERLIQUID

    asked: list = []

    async def call(method, *args):
        asked.append(method)
        return [{"symbol": BTC}]

    reads = Reads(call=call, has_method=lambda name: True, symbol_of=lambda market_id: market_id)
    assert run(HYPERLIQUID.balance_positions({"info": {"balances": []}}, reads)) == [{"symbol": BTC}]
    assert asked == ["fetch_positions"]
    got = run(HYPERLIQUID.balance_positions({"info": STATE}, reads))
    assert asked == ["fetch_positions"] and len(got) == len(STATE["assetPositions"])
