"""The ccxt adapter's read of an account's fills (adapters/ccxt_exchange/fills.py): each trade with
its order's client order id — the trade's own where the venue puts it, else looked up by the
order id, once per order — and the strategy its declared prefix names; no read where ccxt has none."""

from __future__ import annotations

import pytest

from adapters.base import AdapterError, Reason

from .fake import BTC, FakeExchange as _Fake, _creds, account, make, run  # noqa: F401 - fixture

pytest.importorskip("ccxt")


class FakeExchange(_Fake):
    """The ccxt-like exchange, with the account's trades (``script["fetch_my_trades"]``)."""

    async def fetch_my_trades(self, symbol=None, since=None, limit=None, params={}):
        return await self._do("fetch_my_trades", (symbol, since, limit, params), [])


def trade(tid: str, oid: str, side: str = "buy", amount: float = 1.0, ts: int = 1_000, info=None, **kw):
    return {"id": tid, "order": oid, "symbol": BTC, "side": side, "amount": amount, "price": 50_000.0,
            "timestamp": ts, "info": info or {}, **kw}


def test_a_trade_without_its_client_id_is_named_by_its_order_looked_up_once(_creds):
    fake = FakeExchange(has={"fetchMyTrades": True})
    fake.script["fetch_my_trades"] = [[trade("1", "900", ts=2_000), trade("2", "900", ts=2_500),
                                       trade("3", "901", info={"clientOrderId": "beta-x"}, ts=1_500)]]
    fake.script["fetch_order"] = [lambda oid, symbol, params: {"id": oid, "clientOrderId": "alpha-mkt-1"}]
    a, _ = make(fake, account("binanceusdm"))
    fills = run(a.fills(BTC, 1_000))
    assert [(f.id, f.order_id, f.client_id, f.strategy) for f in fills] == [
        ("3", "901", "beta-x", "beta"), ("1", "900", "alpha-mkt-1", "alpha"), ("2", "900", "alpha-mkt-1", "alpha")]
    assert [c for c in fake.names() if c == "fetch_order"] == ["fetch_order"]  # one lookup for order 900
    (call,) = [args for name, args in fake.calls if name == "fetch_my_trades"]
    assert call[:2] == (BTC, 1_000)


def test_a_venues_own_client_id_key_is_read_and_an_unknown_prefix_names_no_strategy(_creds):
    fake = FakeExchange("okx", has={"fetchMyTrades": True})
    fake.script["fetch_my_trades"] = [[trade("1", "5", info={"clOrdId": "zeta1", "posSide": "long"})]]
    a, _ = make(fake, account("okx"))
    (f,) = run(a.fills(BTC, 0))
    assert (f.client_id, f.strategy, f.position_side) == ("zeta1", None, "LONG")
    assert "fetch_order" not in fake.names()


def test_no_read_of_the_trades_is_unsupported(_creds):
    a, _ = make(FakeExchange(has={"fetchMyTrades": False}))
    with pytest.raises(AdapterError) as e:
        run(a.fills(BTC, 0))
    assert e.value.reason is Reason.UNSUPPORTED
