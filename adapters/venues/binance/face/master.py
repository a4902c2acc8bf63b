"""Binance's master-account endpoint on the simulated exchange: a sub-account key's trading flags.

What it owns
    ``POST /sapi/v1/sub-account/subAccountApiPermission`` (``email``, ``subAccountApiKey``,
    ``canTrade``, ``canFuturesTrade``; the answer the key's flags), signed as the Binance face
    signs (``X-MBX-APIKEY``, HMAC of query + body, ``timestamp``), the switch of
    :mod:`..switches` as the venue answers it; the way a request takes is
    :class:`adapters.simulated.faces.master.MasterFace`'s. It keeps no state (the engine's
permissions hold it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ....simulated.faces.master import MasterFace, Refused
from ....simulated.faces.shared import signs
from ....simulated.permissions import RESTORE, REVOKE
from .rows import BAD_SIGNATURE, INVALID_KEY

PERMISSION = "/sapi/v1/sub-account/subAccountApiPermission"
FLAGS = ("canTrade", "canFuturesTrade")


class BinanceMaster(MasterFace):
    ROUTES = frozenset({("POST", PERMISSION)})
    KEY_HEADER = "X-MBX-APIKEY"
    BAD_KEY, BAD_SIGN = ("-2015", INVALID_KEY), ("-1022", BAD_SIGNATURE)  # the face's own words
    NOT_MASTER = ("-1002", "You are not authorized to execute this request.")
    NO_SUB = ("-1102", "Sub-account {name} does not exist.")
    NO_KEY = ("-1102", "Param 'subAccountApiKey' is not a key of this sub-account.")
    SUB_ACCOUNT = "bot@example.com"
    NOT_MASTER_STATUS = 401

    def body(self, code: str, msg: str) -> Any:
        return {"code": int(code), "msg": msg}

    def ok(self, result: Any) -> Any:
        return result

    def params(self, method: str, raw_query: str, raw_body: str) -> dict:
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        if method == "POST" and raw_body.strip():
            params.update(parse_qsl(raw_body, keep_blank_values=True))
        return params

    def op(self, path: str, p: dict) -> str:
        return RESTORE if any(str(p.get(f, "")).lower() == "true" for f in FLAGS) else REVOKE

    def signed(self, request: web.Request, key: str, secret: str, passphrase: str, raw_query: str,
               raw_body: str, p: dict) -> bool:
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        ok = signs(secret, payload, str(p.get("signature", "")))
        if "timestamp" not in p:
            raise Refused("-1102", "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        return ok

    def dispatch(self, path: str, p: dict) -> Any:
        k = self.key(self.sub(p.get("email")), p.get("subAccountApiKey"))
        flags = {f: str(p[f]).lower() == "true" for f in FLAGS if f in p}
        self.perms.set_flags(k, spot=flags.get("canTrade"), futures=flags.get("canFuturesTrade"))
        return {"apiName": k.label, "apikey": k.api_key, "canTrade": k.spot, "canMarginLoanRepay": False,
                "canFuturesTrade": k.futures, "canUniversalTransfer": False, "canVanillaOptions": False,
                "timestamp": self.engine.now()}


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


__all__ = ["BinanceMaster", "PERMISSION"]
