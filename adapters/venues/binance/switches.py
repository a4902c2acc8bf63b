"""Binance's switch of its sub-accounts' API keys' trading permission, worked with a master credential.

What it owns
    :class:`BinancePermissions`, method ``permissions``: ``POST /sapi/v1/sub-account/subAccountApiPermission``
    (Modify Sub-account API Key Permission, for master accounts; UID weight 3000) with ``email``,
    ``subAccountApiKey`` and the trading flags ``canTrade`` (spot and margin) and
    ``canFuturesTrade``; its answer carries the key's flags after the change. ccxt 4.5.90's
    implicit API has only the broker variant, so the request goes through the client's own
    signed path (``request(path, ['sapi'], 'POST', params)``). Binance documents no read of it
    for a master account (the broker's is for brokers; ``ipRestriction`` answers IPs only): the
    state is the change's answer. A revoke clears both flags; a restore sets back the flag the account's market type
    trades with (``canFuturesTrade`` on futures, ``canTrade`` on spot) and no other: without a
    read of what the key had, a restore never grants more than the account trades. A refusal
    keeps Binance's own words (``code``/``msg``).

What it must not do: import ccxt, keep state, or decide more than the request and its reading
(the calls, retries, pacing and result are :mod:`adapters.ccxt_exchange.permissions`').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ...base import ALLOWED, REVOKED, UNKNOWN_STATE
from ...ccxt_exchange.dialects.base import Call
from ...ccxt_exchange.dialects.switches import Target, bad, flag

BINANCE_PERMISSION = "sub-account/subAccountApiPermission"


@dataclass(frozen=True)
class BinancePermissions:
    method: str = "permissions"
    readable: bool = False
    per_key: bool = True
    rate: float = 1.0  # UID weight 3000 of a 180,000 a minute: far under it

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        if isinstance(body, Mapping) and body.get("code") is not None and "msg" in body:
            return str(body["code"]), str(body["msg"])
        return None

    def params(self, target: Target, key: str, allowed: bool) -> dict[str, str]:
        flags = ({"canFuturesTrade": "true"} if target.market_type == "futures" else {"canTrade": "true"}) \
            if allowed else {"canTrade": "false", "canFuturesTrade": "false"}
        return {"email": target.sub_account, "subAccountApiKey": key, **flags}

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        assert key is not None
        answer = await call("request", BINANCE_PERMISSION, ["sapi"], "POST", self.params(target, key, allowed))
        if not isinstance(answer, Mapping):
            raise bad("binance", "POST /sapi/v1/" + BINANCE_PERMISSION, "the answer is not an object")
        spot, futures = flag(answer.get("canTrade")), flag(answer.get("canFuturesTrade"))
        if spot is None or futures is None:
            return UNKNOWN_STATE
        return ALLOWED if spot or futures else REVOKED

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        return {k: UNKNOWN_STATE for k in keys}


__all__ = ["BinancePermissions"]
