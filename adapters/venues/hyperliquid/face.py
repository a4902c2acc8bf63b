"""The simulated exchange as Hyperliquid: ``POST /info`` reads and signed ``POST /exchange`` actions.

What it owns
    Hyperliquid's dialect over the one engine (:class:`adapters.simulated.engine.SimExchange`):

    * markets: the perpetual *coins* (``BTC``; ccxt's ``BTC/USDC:USDC``), one per base of the
      engine's markets, the USDC-quoted market of a base preferred over another (an engine with
      only ``BTCUSDT`` answers it as ``BTC``, one with ``BTCUSDC`` too answers that one). A
      coin's asset index is its place in that list, in the engine's market order;
    * accounts: every engine account has a wallet key and an address, derived from its name
      (:func:`account_key`, :func:`account_address`: well-known test values, like the engine's
      API keys). ``/info`` reads the account whose address is the body's ``user`` (an address no
      account has reads as an empty account, as the venue answers any address);
    * ``/info``: ``metaAndAssetCtxs``, ``clearinghouseState`` (equity = the engine's account
      value, positions one-way), ``frontendOpenOrders`` and ``openOrders`` (resting and trigger
      orders: the engine's regular and conditional books), ``orderStatus`` (by oid, or by cloid:
      the engine's client id), ``userAbstraction`` ("default");
    * ``/exchange``: ``order`` (limit Gtc / Ioc / Alo at the price, reduce-only ``r``, the cloid
      as the engine's client id; a trigger ``t`` is a conditional order, ``positionTpsl`` or
      size 0 one that closes the position), ``cancel`` (by oid) and ``cancelByCloid``, regular
      and trigger orders alike, and ``scheduleCancel``: the account's dead man's switch, mapped
      to the engine's countdown cancel-all of every market at ``time``; no ``time`` removes it,
      and a ``time`` under 5 s after the action's nonce is refused;
    * each answer in the venue's envelope: ``{"status": "ok", "response": {"type": "order",
      "data": {"statuses": [...]}}}`` with ``filled``, ``resting`` or ``error`` in the venue's
      words ("Reduce only order would increase position. asset=0", "Order could not immediately
      match against any resting orders. asset=0", ...); ``{"status": "err", "response": "..."}``
      for a refused action; a rate limit (the engine's, or a fault) is HTTP 429.

The payload shapes both Hyperliquid faces render are :mod:`.face_rows`'; the derived
keys and the signature check :mod:`.face_keys`'; the websocket face is
:mod:`.face_stream`.

Signatures
    An action is signed as the venue signs it (EIP-712 over secp256k1, the phantom agent of the
    action's msgpack hash, nonce and vault): the face recovers the signer from ``r``, ``s`` and
    ``v`` and trades for the account that signer's address is, or for the account whose address
    the body's ``vaultAddress`` names (the signer must then be an account's key too). A nonce
    must lie within the venue's window of the server's clock (2 days back, 1 day ahead) when
    the server checks timestamps, and be new for its signer (above the least of its last 100).
    What it does not check: API wallets approved by an account (only the accounts' own keys
    sign), a vault's leader, ``expiresAfter``, builder fees, the address's action budget.

Faults
    As the Binance face applies them (``server.faults``), keyed on the engine's operation names
    (``exchange_info``, ``account``, ``open_orders``, ``get_order``, ``place_order``,
    ``cancel_order``, ``countdown``, ``account_mode``) and on ``"POST /info"`` or
    ``"POST /exchange"``: latency, TIMEOUT, 429 / 418 (HTTP status, body ``null``), 500 / 503,
    truncated JSON, a stale feed (``/info`` reads), a reduce-only refusal in the venue's words,
    a dropped connection after the action ran, an order hidden from the next query.

What it must not do
    keep exchange state (the engine's; the nonces seen, as the venue keeps them, are the face's
    per server), hold keys beyond the derived test keys, or serve hedge-mode accounts as if the
    venue had legs (it has one position a coin: such an account's legs are listed apart).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import weakref
from typing import Any, Optional

from aiohttp import web

from ...simulated.faults import FaultKind, first, restamp, stale, total_latency_ms
from ...simulated.rules import (MARGIN_INSUFFICIENT, NOTIONAL_TOO_SMALL, PRECISION, QTY_NOT_POSITIVE, QTY_TOO_LARGE,
                     REDUCE_ONLY_REJECTED, TICK_SIZE, MarketSpec, SimError, SimOrder)
from .face_keys import account_address, account_key, action_digest, addresses as _addresses, signer as _signer
from .face_rows import (ALGO_STATUS, CLOID_RE, TIF, clearinghouse, dec as _dec, empty_clearinghouse,
                               order_row, order_status, trigger_row)

PREFIXES = ("/info", "/exchange")

INFO_OPS = {"metaAndAssetCtxs": "exchange_info", "clearinghouseState": "account", "frontendOpenOrders": "open_orders",
            "openOrders": "open_orders", "orderStatus": "get_order", "userAbstraction": "account_mode"}
ACTION_OPS = {"order": "place_order", "cancel": "cancel_order", "cancelByCloid": "cancel_order",
              "scheduleCancel": "countdown"}
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
SCHEDULE_CANCEL_MIN_MS = 5_000
NONCE_BACK_MS, NONCE_AHEAD_MS = 2 * 86_400_000, 86_400_000
NONCES_KEPT = 100
TIME_FIELDS = ("time", "timestamp", "statusTimestamp")


def _restamp(body: Any, now: int) -> Any:
    return restamp(body, now, TIME_FIELDS)

NOT_FOUND = "Order was never placed, already canceled, or filled."
NO_MATCH = "Order could not immediately match against any resting orders."


# --- markets -------------------------------------------------------------------------------------------------------


def universe(engine: Any) -> list[MarketSpec]:
    """The coins, in asset-index order: one engine market a base, a USDC-quoted one preferred."""
    chosen: dict[str, MarketSpec] = {}
    for m in engine.markets.values():
        have = chosen.get(m.base)
        if have is None or (m.quote == "USDC" and have.quote != "USDC"):
            chosen[m.base] = m
    return list(chosen.values())


class _Err(Exception):
    """An answer other than the operation's: ``status`` and ``body``."""

    def __init__(self, status: int, body: Any):
        self.status, self.body = status, body


def _unprocessable(msg: str) -> _Err:
    return _Err(422, f"Failed to deserialize the JSON body into the target type: {msg}")


def _refused(msg: str) -> _Err:
    return _Err(200, {"status": "err", "response": msg})


# per server: the nonces each signer used (the venue keeps its 100 highest)
_NONCES: "weakref.WeakKeyDictionary[Any, dict[str, list[int]]]" = weakref.WeakKeyDictionary()


class _Face:
    """One request's worth of the dialect: ``server``'s engine, its markets as coins.

    Size: about 330 lines, the /info reads and /exchange actions the real ccxt client sends, each
    in the venue's shape; the signature check and the venue are elsewhere (module functions, the
    engine)."""

    def __init__(self, server: Any):
        self.server = server
        self.eng = server.engine
        self.coins = universe(self.eng)
        self.index = {m.symbol: i for i, m in enumerate(self.coins)}

    # --- identity ------------------------------------------------------------------------------------------

    def user(self, body: dict) -> Optional[str]:
        u = body.get("user")
        if not isinstance(u, str) or not ADDRESS_RE.match(u):
            raise _unprocessable("user: invalid address")
        return _addresses(self.eng).get(u.lower())

    def signed(self, body: dict) -> tuple[Optional[str], Optional[_Err]]:
        """(account, refusal) of an action: the account it trades for, or why not."""
        if not isinstance(body.get("nonce"), int) or isinstance(body.get("nonce"), bool):
            return None, _unprocessable("missing field `nonce`")
        sig = body.get("signature")
        if not isinstance(sig, dict) or not all(k in sig for k in ("r", "s", "v")):
            return None, _unprocessable("missing field `signature`")
        addresses = _addresses(self.eng)
        signer = _signer(body, addresses)
        if signer is None or signer not in addresses:
            return None, _refused(f"User or API Wallet {signer or '0x' + '0' * 40} does not exist.")
        vault = body.get("vaultAddress")
        if vault is not None:
            name = addresses.get("0x" + str(vault).lower().removeprefix("0x"))
            if name is None:
                return None, _refused(f"Vault not registered: 0x{str(vault).removeprefix('0x')}")
            return name, None
        return addresses[signer], None

    def fresh_nonce(self, account: str, nonce: int) -> None:
        srv = self.server
        if srv.check_timestamp:
            now = int(srv.auth_clock())
            if not now - NONCE_BACK_MS < nonce < now + NONCE_AHEAD_MS:
                raise _refused(f"Invalid nonce: nonce {nonce} is too far from the current time {now}")
        seen = _NONCES.setdefault(srv, {}).setdefault(account, [])
        if nonce in seen or (len(seen) >= NONCES_KEPT and nonce <= seen[0]):
            raise _refused("Invalid nonce: duplicate nonce" if nonce in seen else
                           f"Invalid nonce: nonce {nonce} is below the least of the last {NONCES_KEPT} used")
        seen.append(nonce)
        seen.sort()
        del seen[:-NONCES_KEPT]

    # --- reads ---------------------------------------------------------------------------------------------

    def info(self, kind: str, body: dict, account: Optional[str], at: Optional[int]) -> Any:
        eng = self.eng
        if kind == "metaAndAssetCtxs":
            return self.meta(eng.now() if at is None else at)
        if kind == "userAbstraction":
            return "default"
        if kind == "clearinghouseState":
            return self.clearinghouse(account, at)
        if kind in ("frontendOpenOrders", "openOrders"):
            if account is None:
                return []
            rows = [self.row(o) for o in eng.open_orders(account) if o.symbol in self.index]
            rows += [self.trigger_row(o) for o in eng.open_algo_orders(account) if o.symbol in self.index]
            return sorted(rows, key=lambda r: r["oid"])
        if kind == "orderStatus":
            return self.order_status(account, body.get("oid"))
        raise _unprocessable(f"unknown variant `{kind}`")

    def meta(self, at: int) -> list:
        eng = self.eng
        universe_rows, ctxs = [], []
        for m in self.coins:
            pd = m.price_decimals
            mark = _dec(eng.mark(m.symbol, at), pd)
            universe_rows.append({"name": m.base, "szDecimals": m.amount_decimals, "maxLeverage": m.max_leverage,
                                  "onlyIsolated": False})
            ctxs.append({"dayNtlVlm": "0.0", "funding": "0.0000125", "impactPxs": [mark, mark], "markPx": mark,
                         "midPx": mark, "openInterest": "0.0", "oraclePx": mark, "premium": "0.0",
                         "prevDayPx": _dec(eng.mark(m.symbol, at - 86_400_000), pd)})
        return [{"universe": universe_rows}, ctxs]

    def clearinghouse(self, account: Optional[str], at: Optional[int]) -> dict:
        eng = self.eng
        now = eng.now() if at is None else at
        if account is None:  # the venue answers any address: an empty account
            return empty_clearinghouse(now)
        v = eng.account_state(account, at=now)
        return clearinghouse(eng, self.index, eng.positions(account, at=now), v, now)

    def row(self, o: SimOrder) -> dict:
        return order_row(self.eng, o)

    def trigger_row(self, o: Any) -> dict:
        return trigger_row(self.eng, o)

    def _find(self, account: str, oid: Any) -> tuple[Optional[SimOrder], Any]:
        """(regular order, conditional order) an oid or a cloid names, at most one of them."""
        a = self.eng.accounts[account]
        if isinstance(oid, str) and CLOID_RE.match(oid):
            cid = oid.lower()
            o = self.eng.order_by_client_id(account, cid)
            algo = a.algos.get(a.algo_by_client.get(cid, -1))
            return o, (algo if o is None else None)
        if isinstance(oid, int) and not isinstance(oid, bool):
            o = a.orders.get(oid)
            return (o, None) if o is not None else (None, a.algos.get(oid))
        raise _unprocessable("oid: expected an order id or a 16-byte hex cloid")

    def order_status(self, account: Optional[str], oid: Any) -> dict:
        if account is None:
            self._find_shape(oid)
            return {"status": "unknownOid"}
        o, algo = self._find(account, oid)
        eng = self.eng
        try:
            if o is not None and not o.spot and o.symbol in self.index:
                o = eng.get_order(account, o.symbol, order_id=o.order_id)  # weight, hiding, timers
                return {"status": "order", "order": {"order": self.row(o), "status": self.status(o),
                                                     "statusTimestamp": o.update_time}}
            if algo is not None and algo.symbol in self.index:
                algo = eng.get_algo_order(account, algo_id=algo.algo_id)
                status = ALGO_STATUS.get(algo.status, "canceled")
                return {"status": "order", "order": {"order": self.trigger_row(algo), "status": status,
                                                     "statusTimestamp": algo.update_time}}
        except SimError as e:
            if e.http_status in (429, 418):
                raise
        return {"status": "unknownOid"}

    def _find_shape(self, oid: Any) -> None:
        if not ((isinstance(oid, str) and CLOID_RE.match(oid)) or (isinstance(oid, int) and not isinstance(oid, bool))):
            raise _unprocessable("oid: expected an order id or a 16-byte hex cloid")

    @staticmethod
    def status(o: SimOrder) -> str:
        return order_status(o)

    # --- actions -------------------------------------------------------------------------------------------

    def coin(self, asset: Any) -> MarketSpec:
        if not isinstance(asset, int) or isinstance(asset, bool) or not 0 <= asset < len(self.coins):
            raise _refused(f"Asset {asset} is out of range")
        return self.coins[asset]

    def act(self, account: str, action: dict, body: dict, reject_reduce_only: bool) -> Any:
        kind = action.get("type")
        if kind == "order":
            return self.orders(account, action, reject_reduce_only)
        if kind in ("cancel", "cancelByCloid"):
            return self.cancels(account, kind, action)
        if kind == "scheduleCancel":
            return self.schedule_cancel(account, action, int(body["nonce"]))
        raise _unprocessable(f"unknown variant `{kind}`")

    def orders(self, account: str, action: dict, reject_reduce_only: bool) -> dict:
        orders = action.get("orders")
        if not isinstance(orders, list) or not orders:
            raise _unprocessable("orders: expected a non-empty sequence")
        grouping = action.get("grouping", "na")
        statuses = [self.one_order(account, o, grouping, reject_reduce_only) for o in orders]
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def one_order(self, account: str, o: Any, grouping: str, reject_reduce_only: bool) -> Any:
        if not isinstance(o, dict) or not all(k in o for k in ("a", "b", "p", "s", "r", "t")):
            raise _unprocessable("order: missing field")
        asset = o["a"]
        m = self.coin(asset)
        tail = f" asset={asset}"
        cloid = o.get("c")
        if cloid is not None and (not isinstance(cloid, str) or not CLOID_RE.match(cloid)):
            raise _unprocessable("cloid: expected 16 bytes of hex")
        cid = cloid.lower() if cloid else None
        if reject_reduce_only:
            return {"error": "Reduce only order would increase position." + tail}
        try:
            px, sz = float(o["p"]), float(o["s"])
        except (TypeError, ValueError):
            raise _unprocessable("p, s: expected decimal strings") from None
        side = "BUY" if o["b"] is True else "SELL"
        t = o["t"]
        try:
            if isinstance(t, dict) and isinstance(t.get("trigger"), dict):
                return self.trigger(account, m, side, px, sz, bool(o["r"]), t["trigger"], grouping, cid)
            if not isinstance(t, dict) or not isinstance(t.get("limit"), dict) or t["limit"].get("tif") not in TIF:
                raise _unprocessable("t: expected a limit (Gtc, Ioc, Alo) or a trigger")
            placed = self.eng.place_order(account, m.symbol, side, "LIMIT", sz, px,
                                          time_in_force=TIF[t["limit"]["tif"]], reduce_only=True if o["r"] else None,
                                          client_order_id=cid)
        except SimError as e:
            return self.order_error(e, m, tail)
        ids: dict[str, Any] = {"oid": placed.order_id}
        if cid:
            ids["cloid"] = cid
        if placed.is_open and placed.executed_qty <= 0:
            return {"resting": ids}
        if placed.executed_qty > 0:
            return {"filled": {"totalSz": _dec(placed.executed_qty, m.amount_decimals),
                               "avgPx": _dec(placed.avg_price, m.price_decimals + 2), **ids}}
        return {"error": NO_MATCH + tail}

    def trigger(self, account: str, m: MarketSpec, side: str, px: float, sz: float, reduce_only: bool, trig: dict,
                grouping: str, cid: Optional[str]) -> dict:
        whole = grouping == "positionTpsl" or sz == 0
        is_market = trig.get("isMarket") is True
        kind = "TAKE_PROFIT" if trig.get("tpsl") == "tp" else "STOP"
        placed = self.eng.place_algo_order(
            account, m.symbol, side, kind + ("_MARKET" if is_market else ""), quantity=None if whole else sz,
            trigger_price=float(trig.get("triggerPx", 0)), price=None if is_market else px,
            reduce_only=None if whole else (True if reduce_only else None), close_position=whole,
            client_algo_id=cid)
        ids: dict[str, Any] = {"oid": placed.algo_id}
        if cid:
            ids["cloid"] = cid
        return {"resting": ids}

    @staticmethod
    def order_error(e: SimError, m: MarketSpec, tail: str) -> dict:
        if e.http_status in (429, 418):
            raise e
        text = {
            REDUCE_ONLY_REJECTED: "Reduce only order would increase position.",
            TICK_SIZE: "Price must be divisible by tick size.",
            NOTIONAL_TOO_SMALL: f"Order must have minimum value of ${m.min_notional:g}.",
            MARGIN_INSUFFICIENT: "Insufficient margin to place order.",
            PRECISION: "Order has invalid size.", QTY_NOT_POSITIVE: "Order has zero size.",
            QTY_TOO_LARGE: "Order has invalid size.", -2021: "Invalid TP/SL price.",
        }.get(e.code, e.msg)
        return {"error": text + tail}

    def cancels(self, account: str, kind: str, action: dict) -> dict:
        rows = action.get("cancels")
        if not isinstance(rows, list) or not rows:
            raise _unprocessable("cancels: expected a non-empty sequence")
        by_cloid = kind == "cancelByCloid"
        statuses: list[Any] = []
        for c in rows:
            if not isinstance(c, dict):
                raise _unprocessable("cancel: expected an object")
            asset, ref = (c.get("asset"), c.get("cloid")) if by_cloid else (c.get("a"), c.get("o"))
            m = self.coin(asset)
            if by_cloid and not (isinstance(ref, str) and CLOID_RE.match(ref)):
                raise _unprocessable("cloid: expected 16 bytes of hex")
            o, algo = self._find(account, str(ref).lower() if by_cloid else ref)
            try:
                if o is not None and o.symbol == m.symbol and o.is_open and not o.spot:
                    self.eng.cancel_order(account, m.symbol, order_id=o.order_id)
                elif algo is not None and algo.symbol == m.symbol and algo.is_open:
                    self.eng.cancel_algo_order(account, algo_id=algo.algo_id)
                else:
                    raise SimError(-2011, NOT_FOUND)
            except SimError as e:
                if e.http_status in (429, 418):
                    raise
                statuses.append({"error": f"{NOT_FOUND} asset={asset}"})
                continue
            statuses.append("success")
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def schedule_cancel(self, account: str, action: dict, nonce: int) -> dict:
        """Every market's countdown at ``time`` (measured from now on the server's clock, the one
        nonces come from, then kept on the engine's), or every countdown removed without it."""
        eng = self.eng
        when = action.get("time")
        if when is None:
            for symbol in list(eng.countdowns(account)):
                eng.countdown_cancel_all(account, symbol, 0)
            return {"status": "ok", "response": {"type": "default"}}
        if not isinstance(when, int) or isinstance(when, bool):
            raise _unprocessable("time: expected an integer")
        if when < nonce + SCHEDULE_CANCEL_MIN_MS:
            raise _refused("Scheduled cancel time too early, must be at least 5 seconds from now.")
        ms = max(1, when - int(self.server.auth_clock()))
        for symbol in eng.markets:
            eng.countdown_cancel_all(account, symbol, ms)
        return {"status": "ok", "response": {"type": "default"}}


# --- the handler ---------------------------------------------------------------------------------------------------




def _rate_limited(server: Any, method: str, path: str, status: int, retry_after_s: Optional[float],
                  account: Optional[str]) -> web.Response:
    retry = retry_after_s if retry_after_s is not None else 1.0
    return server._respond(method, path, status, "null", {"Retry-After": str(max(1, int(retry + 0.999)))},
                           account, raw=True)


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    """Serve one Hyperliquid request (``POST /info`` or ``POST /exchange``)."""
    method, path = request.method, request.path
    raw = (await request.text()) if request.can_read_body else ""
    if path not in PREFIXES:
        return server._respond(method, path, 404, "<html><body><h1>404 Not Found</h1></body></html>")
    if method != "POST":
        return server._respond(method, path, 405, "<html><body><h1>405 Method Not Allowed</h1></body></html>")
    face = _Face(server)
    eng = face.eng
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return server._respond(method, path, 422, "Failed to deserialize the JSON body into the target type")
    info = path == "/info"
    action = body.get("action") if not info else None
    kind = body.get("type") if info else (action.get("type") if isinstance(action, dict) else None)
    op = (INFO_OPS if info else ACTION_OPS).get(kind) if isinstance(kind, str) else None
    if op is None:
        what = "type" if info else "action"
        return server._respond(method, path, 422, f"Failed to deserialize the JSON body into the target type: "
                               f"{what}: unknown variant `{kind}`")
    assert isinstance(kind, str)  # op is None otherwise
    account: Optional[str] = None
    refusal: Optional[_Err] = None
    try:
        if info:
            account = face.user(body) if "user" in body or kind not in ("metaAndAssetCtxs",) else None
        else:
            account, refusal = face.signed(body)
    except _Err as e:
        return server._respond(method, path, e.status, e.body)
    endpoint = f"{method} {path}"
    faults = server.faults.match(op, eng.now(), account=account, endpoint=endpoint)
    lat = total_latency_ms(faults)
    if lat:
        await asyncio.sleep(lat / 1000 * server.time_scale)
    status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
    if status_fault is not None:
        if status_fault.kind in (FaultKind.HTTP_429, FaultKind.HTTP_418) and status_fault.body is None:
            status = 429 if status_fault.kind == FaultKind.HTTP_429 else 418
            return _rate_limited(server, method, path, status, status_fault.retry_after_s, account)
        return server._status_fault(method, path, status_fault)
    timeout = first(faults, FaultKind.TIMEOUT)
    if timeout is not None and not timeout.applied:
        await asyncio.sleep(server.hang_s)
        return server._respond(method, path, 504, "")
    try:
        if refusal is not None:
            raise refusal
        if info:
            st = stale(faults)
            if st is None:
                out = face.info(kind, body, account, None)
            else:
                key = (st.rule, f"{endpoint} {kind}", account, json.dumps(body.get("oid")))
                frozen = server._frozen.get(key)
                if frozen is None:
                    frozen = server._frozen[key] = face.info(kind, body, account, eng.now() - st.stale_ms)
                out = copy.deepcopy(frozen)
                if st.stamp == "now":
                    _restamp(out, eng.now())
        else:
            assert account is not None and isinstance(action, dict)
            face.fresh_nonce(account, int(body["nonce"]))
            out = face.act(account, action, body, bool(first(faults, FaultKind.REJECT_REDUCE_ONLY)))
    except _Err as e:
        return server._respond(method, path, e.status, e.body, account=account)
    except SimError as e:
        if e.http_status in (429, 418):
            return _rate_limited(server, method, path, 429, e.retry_after_s, account)
        return server._respond(method, path, 200, {"status": "err", "response": e.msg}, account=account)
    if kind == "order" and first(faults, FaultKind.HIDE_FROM_NEXT_QUERY):
        for st_ in out["response"]["data"]["statuses"]:
            placed = st_.get("resting") or st_.get("filled") if isinstance(st_, dict) else None
            if placed:
                eng.hide_from_next_query(account, placed["oid"])
    if timeout is not None:  # applied: executed, then never answered
        await asyncio.sleep(server.hang_s)
        return server._respond(method, path, 504, "")
    if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
        server.requests.append((method, path, 0))
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError()
    if first(faults, FaultKind.MALFORMED_JSON):
        text = json.dumps(out, separators=(",", ":"))
        return server._respond(method, path, 200, text[: max(1, len(text) // 2)], account=account, raw=True)
    return server._respond(method, path, 200, out if not isinstance(out, str) else json.dumps(out),
                           account=account, raw=isinstance(out, str))


# --- a ccxt client --------------------------------------------------------------------------------------------------


def ccxt_urls(base_url: str) -> dict:
    """ccxt hyperliquid's ``urls`` with every API family (and the testnet's) on ``base_url``."""
    if not base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ValueError("the simulated exchange is on loopback")
    return {"api": {"public": base_url, "private": base_url}, "test": {"public": base_url, "private": base_url}}


def hyperliquid_client(server: Any, account: str, **config: Any) -> Any:
    """A ``ccxt.async_support.hyperliquid`` bound to ``server`` as ``account`` (its derived wallet
    key and address), every URL family on the server; what the adapter's dialect turns off
    (builder fee approval, referral, the abstraction query) and the currencies (``spotMeta``) off
    here too. Close it after use."""
    import ccxt.async_support as ccxt_async

    from .dialect import HYPERLIQUID

    options = {**HYPERLIQUID.client_options, **config.pop("options", {})}
    ex = ccxt_async.hyperliquid({"walletAddress": account_address(account), "privateKey": account_key(account),
                                 "enableRateLimit": False, "options": options, **config})
    HYPERLIQUID.prepare_client(ex)
    ex.has = {**ex.has, "fetchCurrencies": False}  # spotMeta: no spot here, as the adapter loads none
    for family, urls in ccxt_urls(server.base_url).items():
        ex.urls[family] = urls
    return ex


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on venue ``hyperliquid``: its derived wallet
    address, its key in the environment (:func:`adapters.simulated.venues.sim_account`)."""
    import os

    from killswitch.policy.accounts_doc import Account

    env = "KS_SIM_HL_" + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_KEY"
    os.environ[env] = account_key(account)  # a derived test key: the face recovers it as the signer
    return Account.model_validate({
        "name": account, "venue": "hyperliquid", "market_type": "futures", "quote_currency": "USDC",
        "api_url": server.base_url,
        "credentials": {"wallet_address": account_address(account), "private_key": {"env": env}}, **fields})


__all__ = ["PREFIXES", "handle", "account_key", "account_address", "action_digest", "universe", "ccxt_urls",
           "hyperliquid_client", "sim_account"]
