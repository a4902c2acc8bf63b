"""Bybit v5's master-account endpoints on the simulated exchange: its sub-accounts' keys and freezes.

What it owns
    ``POST /v5/user/update-sub-api`` (``apikey``, ``readOnly``, ``ips``: absent or ``*``
    unbinds), ``POST /v5/user/frozen-sub-member`` (``subuid``, ``frozen``),
    ``GET /v5/user/sub-apikeys`` (``subMemberId``, ``limit`` up to 20, ``cursor``) and
    ``/v5/user/query-sub-members``, signed as Bybit signs (``X-BAPI-*``): the switches of
    :mod:`..switches` as the venue answers them; the way a request takes is
    :class:`adapters.simulated.faces.master.MasterFace`'s. It keeps no state (the engine's
permissions hold it).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ....simulated.faces.master import MasterFace, Refused, json_params
from ....simulated.faces.shared import signs
from ....simulated.permissions import READ, RESTORE, REVOKE

UPDATE, FREEZE = "/v5/user/update-sub-api", "/v5/user/frozen-sub-member"
KEYS, MEMBERS = "/v5/user/sub-apikeys", "/v5/user/query-sub-members"
PERMISSIONS = {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": [], "Options": [],
               "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []}


class BybitMaster(MasterFace):
    ROUTES = frozenset({("POST", UPDATE), ("POST", FREEZE), ("GET", KEYS), ("GET", MEMBERS)})
    KEY_HEADER = "X-BAPI-API-KEY"
    BAD_KEY = ("10003", "API key is invalid.")
    BAD_SIGN = ("10004", "error sign!")
    NOT_MASTER = ("10005", "Permission denied, please check your API key permissions.")
    NO_SUB = ("10001", "params error: sub member {name} does not exist")
    SUB_ACCOUNT = "53888001"
    BAD_SIGN_STATUS = 200

    def body(self, code: str, msg: str, result: Any = None) -> Any:
        return {"retCode": int(code), "retMsg": msg, "result": {} if result is None else result, "retExtInfo": {},
                "time": self.engine.now()}

    def ok(self, result: Any) -> Any:
        return self.body("0", "OK", result)

    def params(self, method: str, raw_query: str, raw_body: str) -> dict:
        return json_params(method, raw_query, raw_body, "10001")

    def op(self, path: str, p: dict) -> str:
        if path in (KEYS, MEMBERS):
            return READ
        allowed = str(p.get("readOnly", "0")) == "0" if path == UPDATE else str(p.get("frozen")) == "0"
        return RESTORE if allowed else REVOKE

    def signed(self, request: web.Request, key: str, secret: str, passphrase: str, raw_query: str,
               raw_body: str, p: dict) -> bool:
        h = request.headers
        origin = h.get("X-BAPI-TIMESTAMP", "") + key + h.get("X-BAPI-RECV-WINDOW", "5000") + \
            (raw_query if request.method == "GET" else raw_body)
        return signs(secret, origin, h.get("X-BAPI-SIGN", ""))

    def dispatch(self, path: str, p: dict) -> Any:
        return {UPDATE: self.update, FREEZE: self.freeze, KEYS: self.keys, MEMBERS: self.members}[path](p)

    def update(self, p: dict) -> Any:
        k = self.perms.key(str(p.get("apikey", "")))
        if k is None or str(p.get("readOnly", "0")) not in ("0", "1"):
            raise Refused("10001", "params error: apikey or readOnly")
        ips = str(p.get("ips") or "*")
        k.ips = tuple(i.strip() for i in ips.split(",") if i.strip()) or ("*",)
        trade = str(p.get("readOnly", "0")) == "0"
        self.perms.set_flags(k, spot=trade, futures=trade)
        return {"id": "1", "note": k.label, "apiKey": k.api_key, "readOnly": 0 if trade else 1, "secret": "",
                "permissions": PERMISSIONS, "ips": list(k.ips)}

    def freeze(self, p: dict) -> Any:
        account = self.sub(p.get("subuid"))
        if str(p.get("frozen")) not in ("0", "1"):
            raise Refused("10001", "params error: frozen")
        self.perms.set_frozen(account, str(p.get("frozen")) == "1")
        return {}

    def keys(self, p: dict) -> Any:
        keys = self.perms.keys_of(self.sub(p.get("subMemberId")))
        limit = max(1, min(20, int(p.get("limit") or 20)))
        start = int(p.get("cursor") or 0)
        rows = [{"id": str(start + i + 1), "ips": list(k.ips), "apiKey": k.api_key, "note": k.label, "status": 1,
                 "expiredAt": "", "createdAt": "", "type": 1, "permissions": PERMISSIONS, "secret": "******",
                 "readOnly": not (k.spot or k.futures), "deadlineDay": -1, "flag": "hmac"}
                for i, k in enumerate(keys[start:start + limit])]
        return {"result": rows, "nextPageCursor": str(start + limit) if start + limit < len(keys) else ""}

    def members(self, p: dict) -> Any:
        perms = self.perms
        members = sorted(set(perms.aliases.values()) | set(perms.engine.accounts))
        uid_of = {acc: alias for alias, acc in perms.aliases.items() if alias.isdigit()}
        return {"subMembers": [{"uid": uid_of.get(a, a), "username": a, "memberType": 1,
                                "status": 4 if a in perms.frozen else 1, "accountMode": 5, "remark": ""}
                               for a in members]}


__all__ = ["BybitMaster", "FREEZE", "KEYS", "MEMBERS", "UPDATE"]
