"""OKX v5's master-account endpoints on the simulated exchange: a sub-account key's permissions.

What it owns
    ``POST /api/v5/users/subaccount/modify-apikey`` (``subAcct``, ``apiKey``, ``perm``; ``ip``
    and ``label`` kept unless sent) and ``GET /api/v5/users/subaccount/apikey`` (``subAcct``,
    ``apiKey``), signed as OKX signs (``OK-ACCESS-*``, passphrase): the switch of
    :mod:`..switches` as the venue answers it; the way a request takes is
    :class:`adapters.simulated.faces.master.MasterFace`'s. It keeps no state (the engine's
permissions hold it).
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from ....simulated.faces.master import MasterFace, Refused, json_params
from ....simulated.faces.shared import prehash, signs
from ....simulated.permissions import READ, RESTORE, REVOKE
from . import wire as face_wire

MODIFY, KEYS = "/api/v5/users/subaccount/modify-apikey", "/api/v5/users/subaccount/apikey"


class OkxMaster(MasterFace):
    ROUTES = frozenset({("POST", MODIFY), ("GET", KEYS)})
    KEY_HEADER = "OK-ACCESS-KEY"
    BAD_KEY, BAD_SIGN = face_wire.BAD_KEY, face_wire.BAD_SIGN  # the face's own words
    NOT_MASTER = ("59500", "Only the APIKey of the main account has permission for this operation.")
    NO_SUB = ("59510", "Sub-account does not exist.")
    NO_KEY = ("59506", "APIKey does not exist.")
    SUB_ACCOUNT = "sub-main"

    def body(self, code: str, msg: str) -> Any:
        return {"code": code, "msg": msg, "data": []}

    def ok(self, result: Any) -> Any:
        return {"code": "0", "msg": "", "data": result}

    def params(self, method: str, raw_query: str, raw_body: str) -> dict:
        return json_params(method, raw_query, raw_body, "50002")

    def op(self, path: str, p: dict) -> str:
        if path == KEYS:
            return READ
        return RESTORE if "trade" in str(p.get("perm", "")).split(",") else REVOKE

    def signed(self, request: web.Request, key: str, secret: str, passphrase: str, raw_query: str,
               raw_body: str, p: dict) -> bool:
        h = request.headers
        if not hmac.compare_digest(h.get("OK-ACCESS-PASSPHRASE", ""), passphrase):
            raise Refused("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        said = prehash(h.get("OK-ACCESS-TIMESTAMP", ""), request.method, request.path, raw_query, raw_body)
        return signs(secret, said, h.get("OK-ACCESS-SIGN", ""), b64=True)

    def dispatch(self, path: str, p: dict) -> Any:
        account = self.sub(p.get("subAcct"))
        k = self.key(account, p.get("apiKey"))
        if path == MODIFY and "perm" in p:
            perm = {x.strip() for x in str(p["perm"]).split(",") if x.strip()}
            if not perm <= {"read_only", "trade"}:
                raise Refused("50014", "Parameter perm error")
            self.perms.set_flags(k, spot="trade" in perm, futures="trade" in perm)
        if path == MODIFY and "ip" in p:
            k.ips = tuple(i for i in str(p["ip"]).split(",") if i) or ("*",)
        if path == MODIFY and "label" in p:
            k.label = str(p["label"])
        perm_text = "read_only,trade" if (k.spot or k.futures) else "read_only"
        return [{"subAcct": account, "label": k.label, "apiKey": k.api_key, "perm": perm_text,
                 "ip": "" if k.ips == ("*",) else ",".join(k.ips), "ts": str(self.engine.now())}]


__all__ = ["KEYS", "MODIFY", "OkxMaster"]
