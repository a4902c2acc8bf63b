"""Binance's rows of the adapter contract (tests/contract/test_adapter_contract.py), one per ccxt id.

Each row says what the production adapter must send to, and read from, the id: the market id of
BTC/USDT:USDT, a one-way close's and a hedge-mode close's ``create_order`` params, the first call
of a lookup by client order id, the raw info of a SHORT leg, the client id's longest length, the
countdown's call and the order rate (orders a second). Plain data: nothing here is imported by
the adapter.
"""

def _row(ccxt_id: str, market_id: str, countdown: str, order_rate: float) -> dict:
    """One id's row: the three ids share Binance's forms; their market id, the countdown's
    endpoint (USDⓈ-M ``fapi``, COIN-M ``dapi``) and the order rate differ."""
    return {"id": ccxt_id, "market_id": market_id, "one_way_close": {"newClientOrderId": "ks1", "reduceOnly": True},
            "hedge_close": {"newClientOrderId": "ks1", "positionSide": "LONG"},
            "lookup": ("fetch_order", {"origClientOrderId": "ks1"}), "short_leg_info": {"positionSide": "SHORT"},
            "max_client_id_length": 36, "countdown": (countdown, {"symbol": market_id, "countdownTime": 60000}),
            "order_rate": order_rate}


ROWS = (
    _row("binance", "BTCUSDT", "fapiPrivatePostCountdownCancelAll", 10.0),
    _row("binanceusdm", "BTCUSDT", "fapiPrivatePostCountdownCancelAll", 20.0),
    _row("binancecoinm", "BTCUSD_PERP", "dapiPrivatePostCountdownCancelAll", 5.0),
)


# Where its face differs from the contract's plain case (test_adapter_contract.py: Terms): nowhere.
FACE_TERMS: dict = {}


# Its master endpoint's switch (test_simulated_revoke.py): the sub-account, the path, what a revoke
# sends (``signed``: fields the signature adds), a revoked key's order's code, a non-master's refusal.
SWITCH_TERMS = {
    "sub_account": "bot@example.com", "path": "/sapi/v1/sub-account/subAccountApiPermission",
    "revoke_sent": {"email": "bot@example.com", "subAccountApiKey": "{key}", "canTrade": "false",
                    "canFuturesTrade": "false"}, "signed": ("timestamp", "recvWindow"),
    "refused_order": "-2015", "not_master": ("-1002", "You are not authorized to execute this request."),
}
