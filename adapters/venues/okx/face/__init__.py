"""The simulated exchange's OKX v5 face: the REST subset ``ccxt.async_support.okx`` and the OKX
dialect (:mod:`adapters.venues.okx.dialect`) ask, over the one engine.

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

What it answers, as OKX does
    * the envelope ``{"code": "0", "msg": "", "data": [...]}``; an order operation answers each
      order with its ``sCode`` / ``sMsg`` (``code`` "1" when every one failed, "2" when some did);
    * signed requests: ``OK-ACCESS-KEY`` (50103 missing, 50111 unknown), ``OK-ACCESS-PASSPHRASE``
      (50104 / 50105), ``OK-ACCESS-TIMESTAMP`` in ISO 8601 within 30 s of the server (50107,
      50112, 50102), ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 over timestamp + METHOD + path with
      its query + body (50106, 50113), all HTTP 401;
    * the engine's markets as SWAP instruments: ``BTCUSDT`` is ``BTC-USDT-SWAP`` with ``ctVal``
      1 (OKX's own BTC-USDT-SWAP is 0.01 BTC a contract: here a contract is one unit of the base,
      so an amount in contracts is the engine's amount, and positions, orders and fills match it
      number for number); ``lotSz`` / ``minSz`` / ``tickSz`` from the market;
    * positions in net mode (``posSide`` net, ``pos`` signed) or long/short mode (``posSide``
      long / short) from the engine's hedge mode; ``mgnMode`` cross: the engine keeps one cross
      margin, so an order's ``tdMode`` must be ``cross``: ``isolated`` on a close is refused as
      OKX refuses a close of a position it does not hold (51169), elsewhere 51000;
    * orders: ``market``, ``limit``, ``ioc``, ``fok``, ``post_only`` and ``optimal_limit_ioc``
      (a market IOC), ``reduceOnly`` (net mode only; long/short mode closes by ``posSide``),
      ``clOrdId`` (letters and digits, at most 32); ``state`` live / partially_filled / filled /
      canceled (an IOC or market remainder that expired is canceled, as OKX writes it);
    * algo orders in the engine's conditional book: ``conditional`` (one of ``slTriggerPx`` /
      ``tpTriggerPx``, ``slOrdPx`` / ``tpOrdPx`` -1 for market, ``closeFraction`` 1 closes the
      whole position), ``trigger`` (``triggerPx``, ``orderPx``), ``move_order_stop``
      (``callbackRatio``, ``activePx``); listed by ``orders-algo-pending`` per ``ordType`` (one,
      or ``conditional,oco``; missing is 51000), cancelled by ``cancel-algos``. A TP/SL with both
      triggers, an OCO and a ``callbackSpread`` trailing stop are refused (51000): the engine's
      conditional order has one trigger and a callback in percent;
    * both lists paged as OKX pages them: newest first, ``limit`` at most 100 (default 100),
      ``after`` an id gives the older rows, ``before`` the newer;
    * ``cancel-all-after``: account-wide, ``timeOut`` 0 (off) or 10-120 s: the engine's countdown
      armed (or disarmed) for every market at once;
    * errors: 50011 rate limit (HTTP 429), 51169 / 51170 reduce-only refused, 51603 order not
      found (51400 on a cancel), 51016 duplicate client id, 51008 margin, 51001 unknown
      instrument, 51000 bad parameter.

Faults are the shared pipeline's (:class:`adapters.simulated.faces.shared.RestFace`), in OKX's
words: a 418, which OKX does not send, as a 429; a refused reduce-only order 51169.

Where it lives
    here the routes, the shared face's hooks and the clients; the request view in
    :mod:`.params`, :mod:`.reads`, :mod:`.orders` and :mod:`.algos`; the
    envelope, codes and numbers in :mod:`.wire`.

What it must not do
    keep exchange state (the bodies a STALE rule repeats are the fault's, kept on the server as
    the Binance face keeps them) or reach beyond the server it is handed.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from aiohttp import web

from ....simulated.engine import SimError
from ....simulated.faces.shared import VenueFail, ccxt_client, loopback, read_json, routes, strict_client, venue_account
from .algos import OkxAlgos
from .master import OkxMaster
from .orders import OkxOrders
from .reads import OkxReads
from .wire import (
    BAD_KEY,
    BAD_SIGN,
    NO_ORDER,
    NO_PERMISSION,
    NO_POSITION_TO_REDUCE,
    RATE_LIMITED,
    _bad,
    _batch,
    _empty,
    _Fail,
    _ok,
    _okx_error,
    inst_id,
)

PREFIXES = ("/api/v5/",)
MASTER = OkxMaster  # the master account's endpoints that switch its sub-accounts' keys

TIMESTAMP_WINDOW_MS = 30_000  # OKX refuses a request stamped further than this from its clock (50102)

# --- the face ------------------------------------------------------------------------------------------------


def _iso_ms(stamp: str) -> Optional[int]:
    try:
        dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(dt.timestamp() * 1000)


class _Okx(OkxReads, OkxOrders, OkxAlgos):
    """One request's view of the engine in OKX's terms: the shared face's hooks and the dispatch
    of each operation over the reads, orders and algo orders it is built from."""

    ROUTES = routes({
        "GET /api/v5/public/time": "time",
        "GET /api/v5/public/instruments": "exchange_info",
        "GET /api/v5/public/mark-price": "mark_price",
        "GET /api/v5/market/ticker": "ticker",
        "GET /api/v5/market/tickers": "ticker",
        "GET /api/v5/market/books": "depth",
        "GET /api/v5/account/balance": "account",
        "GET /api/v5/account/positions": "positions",
        "GET /api/v5/account/config": "position_mode",
        "POST /api/v5/account/set-position-mode": "set_position_mode",
        "POST /api/v5/account/set-leverage": "set_leverage",
        "GET /api/v5/trade/order": "get_order",
        "GET /api/v5/trade/orders-pending": "open_orders",
        "GET /api/v5/trade/order-algo": "get_algo_order",
        "GET /api/v5/trade/orders-algo-pending": "open_algo_orders",
        "POST /api/v5/trade/order": "place_order",
        "POST /api/v5/trade/batch-orders": "place_order",
        "POST /api/v5/trade/order-algo": "place_algo_order",
        "POST /api/v5/trade/cancel-order": "cancel_order",
        "POST /api/v5/trade/cancel-batch-orders": "cancel_order",
        "POST /api/v5/trade/cancel-algos": "cancel_algo_order",
        "POST /api/v5/trade/cancel-all-after": "countdown",
    })
    KEY_HEADER = "OK-ACCESS-KEY"
    TIME_FIELDS = ("ts", "uTime", "cTime", "pTime", "fillTime")
    VENUE = "okx"

    # --- the shared hooks ----------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        known = any(p == path for _, p in self.ROUTES)
        return 404, {"code": "50115" if known else "404", "msg": f"Path {path}, Method {method} is invalid",
                     "data": []}

    def rate_limited(self) -> tuple[int, Any]:  # OKX answers every rate limit 429 50011; it has no 418 ban
        return 429, {"code": RATE_LIMITED[0], "msg": RATE_LIMITED[1], "data": []}

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        h = request.headers
        if not key:
            raise _Fail("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
        sign, stamp, phrase = h.get("OK-ACCESS-SIGN", ""), h.get("OK-ACCESS-TIMESTAMP", ""), \
            h.get("OK-ACCESS-PASSPHRASE", "")
        if not phrase:
            raise _Fail("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
        if not sign:
            raise _Fail("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
        if not stamp:
            raise _Fail("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
        if account is None:
            raise _Fail(*BAD_KEY, 401)
        ts = _iso_ms(stamp)
        if ts is None:
            raise _Fail("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
        if self.out_of_window(ts, TIMESTAMP_WINDOW_MS):
            raise _Fail("50102", "Timestamp request expired.", 401)
        creds = self.engine.permissions.credentials(key)
        secret, passphrase = creds if creds is not None else (self.engine.secret(account), "")
        if not hmac.compare_digest(phrase, passphrase):
            raise _Fail("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        if not self.prehash_signed(secret, stamp, request, raw_query, raw_body, sign):
            raise _Fail(*BAD_SIGN, 401)
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return _Fail(*NO_PERMISSION, 401)  # a read_only key

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        rows = params if isinstance(params, list) else [params]
        return _Fail("1", "All operations failed", 200, [
            {"clOrdId": r.get("clOrdId", "") if isinstance(r, dict) else "", "ordId": "", "tag": "",
             "sCode": NO_POSITION_TO_REDUCE[0], "sMsg": NO_POSITION_TO_REDUCE[1]} for r in rows])

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        return read_json(method, raw_query, raw_body, lambda parsed: _Fail("50002", "Json data format error"),
                         lists=True)

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        code, msg = _okx_error(e, cancel=op.startswith("cancel"))
        return 400, {"code": code, "msg": msg, "data": []}

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        if op != "place_order":
            return []
        return [int(row["ordId"]) for row in body["data"] if row.get("sCode") == "0"]

    # --- operations -------------------------------------------------------------------------------------

    def op_instruments(self, p: Any, account: Any, at: Optional[int], path: str) -> dict:
        inst_type = p.get("instType")
        if not inst_type:
            raise _empty("instType")
        if inst_type != "SWAP":
            return _ok([])  # the simulated venue lists perpetual swaps only
        rows = [self.instrument(m) for m in self.engine.markets.values()]
        if p.get("instId"):
            rows = [r for r in rows if r["instId"] == p["instId"]]
        return _ok(rows)

    def op_tickers(self, p: Any, account: Any, at: Optional[int], path: str) -> dict:
        return self.tickers("mark_price" if path.endswith("mark-price") else "ticker", path, p,
                            self.engine.now() if at is None else at)

    def op_config(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        hedge = self.engine.position_mode(account)
        return _ok([{"uid": account, "mainUid": account, "acctLv": "2",
                     "posMode": "long_short_mode" if hedge else "net_mode", "autoLoan": False,
                     "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
                     "mgnIsoMode": "automatic", "roleType": "0", "traderInsts": [], "spotRoleType": "0",
                     "opAuth": "0", "kycLv": "2", "label": "sim", "ip": "127.0.0.1", "perm": "read_only,trade"}])

    def op_set_position_mode(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        mode = p.get("posMode")
        if mode not in ("long_short_mode", "net_mode"):
            raise _bad("posMode")
        if self.engine.hedge_mode(account) != (mode == "long_short_mode"):
            self.engine.set_position_mode(account, mode == "long_short_mode")
        return _ok([{"posMode": mode}])

    def op_set_leverage(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        m = self.market(p)
        lev = self.number(p, "lever", required=True)
        got = self.engine.set_leverage(account, m.symbol, int(lev or 0))
        return _ok([{"instId": inst_id(m), "lever": str(got), "mgnMode": p.get("mgnMode", "cross"),
                     "posSide": p.get("posSide", "net")}])

    def op_get_order(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        m = self.market(p)
        ref = self.order_ref(p.get("ordId"), p.get("clOrdId"), _empty("ordId"), _Fail(*NO_ORDER))
        try:
            o = self.engine.get_order(account, m.symbol, *ref)
        except SimError as e:
            raise _Fail(*_okx_error(e)) from None
        return _ok([self.order(o)])

    def op_get_algo_order(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        ref = self.order_ref(p.get("algoId"), p.get("algoClOrdId"), _empty("algoId"), _Fail(*NO_ORDER))
        try:
            a = self.engine.get_algo_order(account, *ref)
        except SimError as e:
            raise _Fail(*_okx_error(e)) from None
        return _ok([self.algo(a)])

    @staticmethod
    def batch(p: Any, most: int, name: str, batched: bool = True) -> list:
        """A batch operation's rows (one, or a list of 1 to ``most`` where ``batched``)."""
        rows = p if isinstance(p, list) else [p]
        if batched and not 1 <= len(rows) <= most:
            raise _bad(name)
        return rows

    def op_place_algo(self, p: Any, account: str, at: Optional[int], path: str) -> dict:
        if isinstance(p, list):
            raise _Fail("50002", "Json data format error")
        return _batch([self.place_algo(account, p)])


    OPERATIONS: dict[str, Callable[..., dict]] = {
        "time": lambda f, p, account, at, path: _ok([{"ts": str(f.engine.now())}]),
        "exchange_info": op_instruments, "ticker": op_tickers, "mark_price": op_tickers,
        "depth": lambda f, p, account, at, path: f.books(p),
        "account": lambda f, p, account, at, path: f.balance(account, at),
        "positions": lambda f, p, account, at, path: f.positions(account, p, at),
        "position_mode": op_config, "set_position_mode": op_set_position_mode, "set_leverage": op_set_leverage,
        "open_orders": lambda f, p, account, at, path: f.pending(account, p),
        "open_algo_orders": lambda f, p, account, at, path: f.algo_pending(account, p),
        "get_order": op_get_order, "get_algo_order": op_get_algo_order,
        "place_order": lambda f, p, account, at, path: _batch(
            [f.place(account, r) for r in f.batch(p, 20, "orders", path.endswith("batch-orders"))]),
        "place_algo_order": op_place_algo,
        "cancel_order": lambda f, p, account, at, path: _batch(
            [f.cancel(account, r) for r in f.batch(p, 20, "orders", path.endswith("cancel-batch-orders"))]),
        "cancel_algo_order": lambda f, p, account, at, path: _batch(
            [f.cancel_algo(account, r) for r in f.batch(p, 10, "algoId")]),
        "countdown": lambda f, p, account, at, path: f.cancel_all_after(account, p),
    }


handle = _Okx.serve  # one request under PREFIXES, as the module docstring says


# --- clients -----------------------------------------------------------------------------------------------

# ccxt okx options that keep it on the endpoints above: SWAP instruments only, no currencies
CCXT_OPTIONS = {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}, "fetchCurrencies": False,
                "adjustForTimeDifference": False}


def okx_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.okx`` bound to ``server`` as ``account`` (close it after use).
    ccxt's okx has one URL family (``urls['api']['rest']``, ``https://{hostname}``): every
    other entry of ``urls['api']`` goes to the server too, so nothing leaves 127.0.0.1."""
    import ccxt.async_support as ccxt_async

    base = loopback(server.base_url)
    ex = ccxt_client(ccxt_async.okx, server, account, config, CCXT_OPTIONS, password=True)
    ex.urls["api"] = {k: base for k in (ex.urls.get("api") or {})} or {"rest": base}
    ex.urls["api"]["rest"] = base
    ex.has = {**ex.has, "fetchCurrencies": False}
    return strict_client(ex, strict)


sim_account = venue_account("okx", passphrase=True)  # an account's Accounts entry


sim_client = okx_client  # the ccxt client of an account (a bot's, with its own key)


__all__ = ["MASTER", "sim_client", "PREFIXES", "handle", "okx_client", "sim_account",
           "CCXT_OPTIONS"]
