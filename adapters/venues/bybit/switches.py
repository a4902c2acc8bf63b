"""Bybit v5's switches of its sub-accounts' API keys' trading permission, worked with a master credential.

What it owns
    * :class:`BybitPermissions`, ``permissions``: ``POST /v5/user/update-sub-api``
      (``privatePostV5UserUpdateSubApi``) with ``apikey`` and ``readOnly`` 1 (revoke) or 0
      (restore); ``permissions`` is not sent, so they are kept; ``ips`` is sent as the key has
      it (read first), because Bybit's page says a request without ``ips`` unbinds the key's
      IPs. Read: ``GET /v5/user/sub-apikeys`` (``subMemberId`` = the sub-account's uid, 20 a
      page by ``cursor``), ``readOnly`` of each key.
    * :class:`BybitFreeze`, ``freeze``: ``POST /v5/user/frozen-sub-member`` (``subuid``,
      ``frozen`` 1 / 0); the answer has no result, so the state is read:
      ``GET /v5/user/query-sub-members``, the sub-account's ``status`` (4 frozen; 1 normal).
      Every key of the sub-account shares it.

    A refusal keeps Bybit's own words (``retCode``/``retMsg``).

What it must not do: import ccxt, keep state, or decide more than the request and its reading
(the calls, retries, pacing and result are :mod:`adapters.ccxt_exchange.permissions`').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ...base import ALLOWED, REVOKED, UNKNOWN_STATE, AdapterError, Reason
from ...ccxt_exchange.dialects.base import MAX_PAGES, Call
from ...ccxt_exchange.dialects.switches import Target, bad, flag, number
from ...ccxt_exchange.parsing import dig


def _bybit_refusal(body: Any) -> Optional[tuple[str, str]]:
    if isinstance(body, Mapping) and body.get("retCode") not in (None, 0, "0"):
        return str(body["retCode"]), str(body.get("retMsg", ""))
    return None


async def bybit_sub_keys(call: Call, target: Target) -> dict[str, Mapping[str, Any]]:
    """Every API key of the sub-account (``GET /v5/user/sub-apikeys``, read to its last page)."""
    rows: dict[str, Mapping[str, Any]] = {}
    params: dict[str, Any] = {"subMemberId": target.sub_account, "limit": 20}
    for _ in range(MAX_PAGES):
        answer = await call("privateGetV5UserSubApikeys", dict(params))
        page = dig(answer, "result", "result")
        if not isinstance(page, list):
            raise bad("bybit", "GET /v5/user/sub-apikeys", "result.result is not a list")
        for row in page:
            if isinstance(row, Mapping) and isinstance(row.get("apiKey"), str):
                rows[row["apiKey"]] = row
        cursor = dig(answer, "result", "nextPageCursor")
        if not cursor or not page:
            return rows
        params["cursor"] = cursor
    raise AdapterError(Reason.LIST_INCOMPLETE, f"GET /v5/user/sub-apikeys: more than {MAX_PAGES} pages",
                       venue="bybit")


def _bybit_read_only(row: Mapping[str, Any]) -> str:
    read_only = flag(row.get("readOnly"))
    return UNKNOWN_STATE if read_only is None else (REVOKED if read_only else ALLOWED)


@dataclass(frozen=True)
class BybitPermissions:
    method: str = "permissions"
    readable: bool = True
    per_key: bool = True
    rate: float = 5.0  # the user endpoints' 10 a second, halved

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        return _bybit_refusal(body)

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        assert key is not None
        row = (await bybit_sub_keys(call, target)).get(key)
        if row is None:
            raise AdapterError(Reason.REVOKE_REFUSED, f"GET /v5/user/sub-apikeys: sub-account "
                               f"{target.sub_account} lists no key {key}", venue="bybit")
        ips = row.get("ips")
        bound = ",".join(str(i) for i in ips) if isinstance(ips, list) and ips else "*"
        answer = await call("privatePostV5UserUpdateSubApi", {"apikey": key, "readOnly": 0 if allowed else 1,
                                                              "ips": bound})
        result = answer.get("result") if isinstance(answer, Mapping) else None
        return _bybit_read_only(result) if isinstance(result, Mapping) else UNKNOWN_STATE

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        rows = await bybit_sub_keys(call, target)
        return {k: _bybit_read_only(rows[k]) if k in rows else UNKNOWN_STATE for k in keys}


# Bybit's sub-member status: 1 normal, 2 login banned, 4 frozen
BYBIT_FROZEN, BYBIT_NORMAL = 4, 1


@dataclass(frozen=True)
class BybitFreeze:
    method: str = "freeze"
    readable: bool = True
    per_key: bool = False
    rate: float = 5.0

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        return _bybit_refusal(body)

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        uid: Any = int(target.sub_account) if target.sub_account.isdigit() else target.sub_account
        await call("privatePostV5UserFrozenSubMember", {"subuid": uid, "frozen": 0 if allowed else 1})
        return UNKNOWN_STATE  # the answer carries no state: it is read back

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        answer = await call("privateGetV5UserQuerySubMembers", {})
        members = dig(answer, "result", "subMembers")
        if not isinstance(members, list):
            raise bad("bybit", "GET /v5/user/query-sub-members", "result.subMembers is not a list")
        status = next((m.get("status") for m in members
                       if isinstance(m, Mapping) and str(m.get("uid")) == target.sub_account), None)
        code = number(status)
        states = {BYBIT_FROZEN: REVOKED, BYBIT_NORMAL: ALLOWED}
        state = UNKNOWN_STATE if code is None else states.get(code, UNKNOWN_STATE)
        return {k: state for k in keys}


__all__ = ["BybitFreeze", "BybitPermissions", "bybit_sub_keys"]
