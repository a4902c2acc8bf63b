"""The simulated venues' master-account endpoints that switch a sub-account's keys' trading permission.

What it owns
    the requests a master credential sends to change or read the bots' keys
    (:mod:`adapters.ccxt_exchange.dialects.switches`), each venue's request, answer, envelope and
    signature as its face speaks it, over the engine's :class:`~..permissions.SimPermissions`:

    Binance  POST /sapi/v1/sub-account/subAccountApiPermission (``email``, ``subAccountApiKey``,
                  ``canTrade``, ``canFuturesTrade``; the answer the key's flags), signed as the
                  Binance face signs (``X-MBX-APIKEY``, HMAC of query + body, ``timestamp``)
    Bybit    POST /v5/user/update-sub-api (``apikey``, ``readOnly``, ``ips``: absent or ``*``
                  unbinds), POST /v5/user/frozen-sub-member (``subuid``, ``frozen``),
             GET  /v5/user/sub-apikeys (``subMemberId``, ``limit`` up to 20, ``cursor``),
                  /v5/user/query-sub-members; signed as Bybit signs (``X-BAPI-*``)
    OKX      POST /api/v5/users/subaccount/modify-apikey (``subAcct``, ``apiKey``, ``perm``; ``ip``
                  and ``label`` kept unless sent),
             GET  /api/v5/users/subaccount/apikey (``subAcct``, ``apiKey``); signed as OKX signs
                  (``OK-ACCESS-*``, passphrase)

    Only a master credential (:meth:`~..permissions.SimPermissions.add_master`) may call them:
    an account's own key is refused with the venue's code for it (Binance -1002, Bybit 10005,
    OKX 59500), an unknown one as the venue refuses an unknown key. Faults: the server's plan,
    keyed on ``revoke_trading``, ``restore_trading``, ``read_trading`` or ``"METHOD /path"``
    (latency, TIMEOUT, 429, 500, 503), and the refusals a test plans
    (:meth:`~..permissions.SimPermissions.refuse`), answered in the venue's envelope.

What it must not do
    keep state (the engine's permissions hold it), or change anything on a refused request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ..faults import HTTP_STATUS, FaultKind, first, total_latency_ms
from ..permissions import READ, RESTORE, REVOKE, SimKey, SimPermissions

BINANCE_PERMISSION = "/sapi/v1/sub-account/subAccountApiPermission"
BYBIT_UPDATE, BYBIT_FREEZE = "/v5/user/update-sub-api", "/v5/user/frozen-sub-member"
BYBIT_KEYS, BYBIT_MEMBERS = "/v5/user/sub-apikeys", "/v5/user/query-sub-members"
OKX_MODIFY, OKX_KEYS = "/api/v5/users/subaccount/modify-apikey", "/api/v5/users/subaccount/apikey"

PREFIXES = (BINANCE_PERMISSION, BYBIT_UPDATE, BYBIT_FREEZE, BYBIT_KEYS, BYBIT_MEMBERS, OKX_MODIFY, OKX_KEYS)

# (method, path) → venue
ROUTES = {("POST", BINANCE_PERMISSION): "binance", ("POST", BYBIT_UPDATE): "bybit", ("POST", BYBIT_FREEZE): "bybit",
          ("GET", BYBIT_KEYS): "bybit", ("GET", BYBIT_MEMBERS): "bybit", ("POST", OKX_MODIFY): "okx",
          ("GET", OKX_KEYS): "okx"}

# each venue's refusal of a key that is not a master account's
NOT_MASTER = {"binance": ("-1002", "You are not authorized to execute this request."),
              "bybit": ("10005", "Permission denied, please check your API key permissions."),
              "okx": ("59500", "Only the APIKey of the main account has permission for this operation.")}
BAD_KEY = {"binance": ("-2015", "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"),
           "bybit": ("10003", "API key is invalid."), "okx": ("50111", "Invalid OK-ACCESS-KEY.")}
BAD_SIGN = {"binance": ("-1022", "Signature for this request is not valid."),
            "bybit": ("10004", "error sign!"), "okx": ("50113", "Invalid Sign.")}


class Refused(Exception):
    def __init__(self, code: str, msg: str, status: int = 400):
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status


def _body(venue: str, now: int, code: str, msg: str, result: Any = None) -> Any:
    if venue == "binance":
        return {"code": int(code), "msg": msg}
    if venue == "bybit":
        return {"retCode": int(code), "retMsg": msg, "result": {} if result is None else result, "retExtInfo": {},
                "time": now}
    return {"code": code, "msg": msg, "data": []}


def _answer(server: Any, method: str, path: str, status: int, body: Any) -> web.Response:
    server.requests.append((method, path, status))
    if isinstance(body, str):
        return web.Response(status=status, text=body, content_type="text/html")
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json")


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    method, path = request.method, request.path
    venue = ROUTES.get((method, path))
    eng = server.engine
    if venue is None:
        return _answer(server, method, path, 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"})
    raw_query = request.rel_url.raw_query_string
    raw_body = (await request.text()) if request.can_read_body else ""
    perms: SimPermissions = eng.permissions
    try:
        params = _params(venue, method, raw_query, raw_body)
        op = _op(path, params)
    except Refused as r:
        return _answer(server, method, path, r.status, _body(venue, eng.now(), r.code, r.msg))
    faults = server.faults.match(op, eng.now(), account=None, endpoint=f"{method} {path}")
    lat = total_latency_ms(faults)
    if lat:
        await asyncio.sleep(lat / 1000 * server.time_scale)
    status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
    if status_fault is not None:
        code = HTTP_STATUS[status_fault.kind]
        return _answer(server, method, path, code, f"<html><body><h1>{code}</h1></body></html>")
    if first(faults, FaultKind.TIMEOUT) is not None:
        await asyncio.sleep(server.hang_s)
        return _answer(server, method, path, 504, "")
    try:
        _authenticate(server, venue, request, raw_query, raw_body, params)
        perms.requests.append((method, path, {k: v for k, v in params.items() if k != "signature"}))
        planned = perms.refusal(op)
        if planned is not None:
            raise Refused(*planned)
        result = _dispatch(perms, venue, path, params, eng.now())
    except Refused as r:
        return _answer(server, method, path, r.status, _body(venue, eng.now(), r.code, r.msg))
    if venue == "binance":
        return _answer(server, method, path, 200, result)
    if venue == "bybit":
        return _answer(server, method, path, 200, _body(venue, eng.now(), "0", "OK", result))
    return _answer(server, method, path, 200, {"code": "0", "msg": "", "data": result})


def _params(venue: str, method: str, raw_query: str, raw_body: str) -> dict:
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if method == "POST" and raw_body.strip():
        if venue == "binance":
            params.update(parse_qsl(raw_body, keep_blank_values=True))
        else:
            try:
                body = json.loads(raw_body)
            except ValueError:
                raise Refused("10001" if venue == "bybit" else "50002", "request body is not JSON") from None
            if not isinstance(body, dict):
                raise Refused("10001" if venue == "bybit" else "50002", "request body is not a JSON object")
            params.update(body)
    return params


def _op(path: str, p: dict) -> str:
    """revoke_trading, restore_trading or read_trading: what a fault plan or a refusal names."""
    if path in (BYBIT_KEYS, BYBIT_MEMBERS, OKX_KEYS):
        return READ
    if path == BINANCE_PERMISSION:
        allowed = any(str(p.get(f, "")).lower() == "true" for f in ("canTrade", "canFuturesTrade"))
    elif path == BYBIT_UPDATE:
        allowed = str(p.get("readOnly", "0")) == "0"
    elif path == BYBIT_FREEZE:
        allowed = str(p.get("frozen")) == "0"
    else:
        allowed = "trade" in str(p.get("perm", "")).split(",")
    return RESTORE if allowed else REVOKE


def _authenticate(server: Any, venue: str, request: web.Request, raw_query: str, raw_body: str, p: dict) -> None:
    h, perms = request.headers, server.engine.permissions
    key = h.get({"binance": "X-MBX-APIKEY", "bybit": "X-BAPI-API-KEY", "okx": "OK-ACCESS-KEY"}[venue], "")
    creds = perms.credentials(key) if key else None
    if creds is None:
        raise Refused(*BAD_KEY[venue], 401)
    secret, passphrase = creds
    if venue == "binance":
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        ok = hmac.compare_digest(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest(),
                                 str(p.get("signature", "")).lower())
        if "timestamp" not in p:
            raise Refused("-1102", "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    elif venue == "bybit":
        origin = h.get("X-BAPI-TIMESTAMP", "") + key + h.get("X-BAPI-RECV-WINDOW", "5000") + \
            (raw_query if request.method == "GET" else raw_body)
        ok = hmac.compare_digest(hmac.new(secret.encode(), origin.encode(), hashlib.sha256).hexdigest(),
                                 h.get("X-BAPI-SIGN", "").lower())
    else:
        if not hmac.compare_digest(h.get("OK-ACCESS-PASSPHRASE", ""), passphrase):
            raise Refused("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        prehash = h.get("OK-ACCESS-TIMESTAMP", "") + request.method + request.path + \
            (f"?{raw_query}" if raw_query else "") + raw_body
        want = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        ok = hmac.compare_digest(want, h.get("OK-ACCESS-SIGN", ""))
    if not ok:
        raise Refused(*BAD_SIGN[venue], 401 if venue != "bybit" else 200)
    if key not in perms.masters:
        raise Refused(*NOT_MASTER[venue], 401 if venue == "binance" else 200)


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def _sub(perms: SimPermissions, name: Any, venue: str) -> str:
    account = perms.sub_account(str(name)) if name not in (None, "") else None
    if account is None:
        raise Refused(*{"binance": ("-1102", f"Sub-account {name} does not exist."),
                        "bybit": ("10001", f"params error: sub member {name} does not exist"),
                        "okx": ("59510", "Sub-account does not exist.")}[venue])
    return account


def _key(perms: SimPermissions, account: str, api_key: Any, venue: str) -> SimKey:
    k = perms.key(str(api_key)) if api_key else None
    if k is None or k.account != account:
        raise Refused(*{"binance": ("-1102", "Param 'subAccountApiKey' is not a key of this sub-account."),
                        "bybit": ("10001", "params error: apikey is not a key of a sub member of this master"),
                        "okx": ("59506", "APIKey does not exist.")}[venue])
    return k


def _dispatch(perms: SimPermissions, venue: str, path: str, p: dict, now: int) -> Any:
    if path == BINANCE_PERMISSION:
        k = _key(perms, _sub(perms, p.get("email"), venue), p.get("subAccountApiKey"), venue)
        flags = {f: str(p[f]).lower() == "true" for f in ("canTrade", "canFuturesTrade") if f in p}
        perms.set_flags(k, spot=flags.get("canTrade"), futures=flags.get("canFuturesTrade"))
        return {"apiName": k.label, "apikey": k.api_key, "canTrade": k.spot, "canMarginLoanRepay": False,
                "canFuturesTrade": k.futures, "canUniversalTransfer": False, "canVanillaOptions": False,
                "timestamp": now}
    if path == BYBIT_UPDATE:
        found = perms.key(str(p.get("apikey", "")))
        if found is None or str(p.get("readOnly", "0")) not in ("0", "1"):
            raise Refused("10001", "params error: apikey or readOnly")
        k = found
        ips = str(p.get("ips") or "*")
        k.ips = tuple(i.strip() for i in ips.split(",") if i.strip()) or ("*",)
        trade = str(p.get("readOnly", "0")) == "0"
        perms.set_flags(k, spot=trade, futures=trade)
        return {"id": "1", "note": k.label, "apiKey": k.api_key, "readOnly": 0 if trade else 1, "secret": "",
                "permissions": _bybit_permissions(), "ips": list(k.ips)}
    if path == BYBIT_FREEZE:
        account = _sub(perms, p.get("subuid"), venue)
        if str(p.get("frozen")) not in ("0", "1"):
            raise Refused("10001", "params error: frozen")
        perms.set_frozen(account, str(p.get("frozen")) == "1")
        return {}
    if path == BYBIT_KEYS:
        account = _sub(perms, p.get("subMemberId"), venue)
        keys = perms.keys_of(account)
        limit = max(1, min(20, int(p.get("limit") or 20)))
        start = int(p.get("cursor") or 0)
        page = keys[start:start + limit]
        rows = [{"id": str(start + i + 1), "ips": list(k.ips), "apiKey": k.api_key, "note": k.label, "status": 1,
                 "expiredAt": "", "createdAt": "", "type": 1, "permissions": _bybit_permissions(),
                 "secret": "******", "readOnly": not (k.spot or k.futures), "deadlineDay": -1, "flag": "hmac"}
                for i, k in enumerate(page)]
        more = start + limit < len(keys)
        return {"result": rows, "nextPageCursor": str(start + limit) if more else ""}
    if path == BYBIT_MEMBERS:
        members = sorted({a for a in perms.aliases.values()} | set(perms.engine.accounts))
        uid_of = {acc: alias for alias, acc in perms.aliases.items() if alias.isdigit()}
        return {"subMembers": [{"uid": uid_of.get(a, a), "username": a, "memberType": 1,
                                "status": 4 if a in perms.frozen else 1, "accountMode": 5, "remark": ""}
                               for a in members]}
    account = _sub(perms, p.get("subAcct"), venue)
    k = _key(perms, account, p.get("apiKey"), venue)
    if path == OKX_MODIFY and "perm" in p:
        perm = {x.strip() for x in str(p["perm"]).split(",") if x.strip()}
        if not perm <= {"read_only", "trade"}:
            raise Refused("50014", "Parameter perm error")
        perms.set_flags(k, spot="trade" in perm, futures="trade" in perm)
    if path == OKX_MODIFY and "ip" in p:
        k.ips = tuple(i for i in str(p["ip"]).split(",") if i) or ("*",)
    if path == OKX_MODIFY and "label" in p:
        k.label = str(p["label"])
    perm_text = "read_only,trade" if (k.spot or k.futures) else "read_only"
    return [{"subAcct": account, "label": k.label, "apiKey": k.api_key, "perm": perm_text,
             "ip": "" if k.ips == ("*",) else ",".join(k.ips), "ts": str(now)}]


def _bybit_permissions() -> dict[str, list[str]]:
    return {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": [], "Options": [],
            "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []}


__all__ = ["PREFIXES", "ROUTES", "handle"]
