"""The venues' own switches of their API keys' trading permission, worked with a master credential.

What it owns
    one :class:`PermissionSwitch` per venue and method, each request and answer as the venue
    documents it (checked against the venues' API pages):

    * Binance (every ccxt id of it), ``permissions``: ``POST /sapi/v1/sub-account/subAccountApiPermission``
      (Modify Sub-account API Key Permission, for master accounts; UID weight 3000) with
      ``email``, ``subAccountApiKey`` and the trading flags ``canTrade`` (spot and margin) and
      ``canFuturesTrade``; its answer carries the key's flags after the change. ccxt 4.5.90's
      implicit API has only the broker variant, so the request goes through the client's own
      signed path (``request(path, ['sapi'], 'POST', params)``). Binance documents no read of a
      sub-account key's permissions for a master account (the broker's
      ``GET /sapi/v1/broker/subAccountApi`` is for brokers; ``GET /sapi/v1/sub-account/
      subAccountApi/ipRestriction`` answers IPs only): not readable, the state is the
      change's answer. A revoke clears both flags; a restore sets back the flag the account's
      market type trades with (``canFuturesTrade`` on futures, ``canTrade`` on spot) and no
      other: without a read of what the key had, a restore never grants more than the account
      trades.
    * Bybit v5, ``permissions``: ``POST /v5/user/update-sub-api`` (``privatePostV5UserUpdateSubApi``)
      with ``apikey`` and ``readOnly`` 1 (revoke) or 0 (restore); ``permissions`` is not sent, so
      they are kept; ``ips`` is sent as the key has it (read first), because Bybit's page says a
      request without ``ips`` unbinds the key's IPs. Read: ``GET /v5/user/sub-apikeys``
      (``subMemberId`` = the sub-account's uid, 20 a page by ``cursor``), ``readOnly`` of each key.
    * Bybit v5, ``freeze``: ``POST /v5/user/frozen-sub-member`` (``subuid``, ``frozen`` 1 / 0); the
      answer has no result, so the state is read: ``GET /v5/user/query-sub-members``, the
      sub-account's ``status`` (4 frozen; 1 normal). Every key of the sub-account shares it.
    * OKX v5, ``permissions``: ``POST /api/v5/users/subaccount/modify-apikey``
      (``privatePostUsersSubaccountModifyApikey``) with ``subAcct``, ``apiKey`` and ``perm``
      ``read_only`` (revoke) or ``read_only,trade`` (restore); ``ip`` and ``label`` are not sent,
      so they are kept (OKX resets only what is passed). One request a second (its limit).
      Read: ``GET /api/v5/users/subaccount/apikey`` (``subAcct``, ``apiKey``), its ``perm``.

    Each also reads the venue's refusal out of its error body (:meth:`PermissionSwitch.refusal`:
    Binance ``code``/``msg``, Bybit ``retCode``/``retMsg``, OKX ``code``/``msg`` or the row's
    ``sCode``/``sMsg``), so a refusal keeps the venue's own words.

What it must not do
    import ccxt, keep state, or decide anything but the request and how to read its answer:
    the calls, retries, pacing, refusals and the result are :mod:`..permissions`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol

from ...base import ALLOWED, REVOKED, UNKNOWN_STATE, AdapterError, Reason
from .base import MAX_PAGES, Call


@dataclass(frozen=True)
class Target:
    """What a switch works on: the sub-account (Binance: email; Bybit: uid; OKX: name) and the
    account's market type (which trading flag a Binance restore sets)."""

    sub_account: str
    market_type: str = "futures"


class PermissionSwitch(Protocol):
    method: str  # permissions | freeze
    readable: bool  # the venue offers a read of the state
    per_key: bool  # one request a key (permissions) or one for the sub-account (freeze)
    rate: float  # changes a second our pacing allows (below the venue's limit)

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        """The venue's (code, message) of an error body, None when it is not one."""

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        """Change one key (or, per_key False, the sub-account: ``key`` None); the state the
        venue's answer says (``unknown`` where it says none)."""

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        """Each key's state as the venue reads it (a key it does not list: ``unknown``)."""


def _bad(venue: str, endpoint: str, what: str) -> AdapterError:
    return AdapterError(Reason.BAD_RESPONSE, f"{endpoint}: {what}", venue=venue)


def _flag(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


# --- Binance -----------------------------------------------------------------------------------

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
            raise _bad("binance", "POST /sapi/v1/" + BINANCE_PERMISSION, "the answer is not an object")
        spot, futures = _flag(answer.get("canTrade")), _flag(answer.get("canFuturesTrade"))
        if spot is None or futures is None:
            return UNKNOWN_STATE
        return ALLOWED if spot or futures else REVOKED

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        return {k: UNKNOWN_STATE for k in keys}


# --- Bybit -------------------------------------------------------------------------------------


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
        result = answer.get("result") if isinstance(answer, Mapping) else None
        page = result.get("result") if isinstance(result, Mapping) else None
        if not isinstance(page, list):
            raise _bad("bybit", "GET /v5/user/sub-apikeys", "result.result is not a list")
        for row in page:
            if isinstance(row, Mapping) and isinstance(row.get("apiKey"), str):
                rows[row["apiKey"]] = row
        cursor = result.get("nextPageCursor") if isinstance(result, Mapping) else None
        if not cursor or not page:
            return rows
        params["cursor"] = cursor
    raise AdapterError(Reason.LIST_INCOMPLETE, f"GET /v5/user/sub-apikeys: more than {MAX_PAGES} pages",
                       venue="bybit")


def _bybit_read_only(row: Mapping[str, Any]) -> str:
    flag = _flag(row.get("readOnly"))
    return UNKNOWN_STATE if flag is None else (REVOKED if flag else ALLOWED)


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
        result = answer.get("result") if isinstance(answer, Mapping) else None
        members = result.get("subMembers") if isinstance(result, Mapping) else None
        if not isinstance(members, list):
            raise _bad("bybit", "GET /v5/user/query-sub-members", "result.subMembers is not a list")
        status = next((m.get("status") for m in members
                       if isinstance(m, Mapping) and str(m.get("uid")) == target.sub_account), None)
        code = _int(status)
        states = {BYBIT_FROZEN: REVOKED, BYBIT_NORMAL: ALLOWED}
        state = UNKNOWN_STATE if code is None else states.get(code, UNKNOWN_STATE)
        return {k: state for k in keys}


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- OKX ---------------------------------------------------------------------------------------

OKX_REVOKED, OKX_ALLOWED = "read_only", "read_only,trade"


def _okx_perm(row: Any) -> str:
    perm = row.get("perm") if isinstance(row, Mapping) else None
    if not isinstance(perm, str):
        return UNKNOWN_STATE
    return ALLOWED if "trade" in {p.strip() for p in perm.split(",")} else REVOKED


def _okx_row(answer: Any) -> Any:
    data = answer.get("data") if isinstance(answer, Mapping) else None
    return data[0] if isinstance(data, list) and data else None


@dataclass(frozen=True)
class OkxPermissions:
    method: str = "permissions"
    readable: bool = True
    per_key: bool = True
    rate: float = 1.0  # modify-apikey: 1 request a second per user

    def refusal(self, body: Any) -> Optional[tuple[str, str]]:
        if not isinstance(body, Mapping) or body.get("code") in (None, "0", 0):
            return None
        row = _okx_row(body)
        if isinstance(row, Mapping) and row.get("sCode") not in (None, "", "0"):
            return str(row["sCode"]), str(row.get("sMsg", ""))
        return str(body["code"]), str(body.get("msg", ""))

    async def set(self, call: Call, target: Target, key: Optional[str], allowed: bool) -> str:
        assert key is not None
        answer = await call("privatePostUsersSubaccountModifyApikey", {
            "subAcct": target.sub_account, "apiKey": key, "perm": OKX_ALLOWED if allowed else OKX_REVOKED})
        return _okx_perm(_okx_row(answer))

    async def read(self, call: Call, target: Target, keys: tuple[str, ...]) -> dict[str, str]:
        out = {}
        for k in keys:
            answer = await call("privateGetUsersSubaccountApikey", {"subAcct": target.sub_account, "apiKey": k})
            out[k] = _okx_perm(_okx_row(answer))
        return out


__all__ = ["BinancePermissions", "BybitFreeze", "BybitPermissions", "OkxPermissions", "PermissionSwitch", "Target",
           "bybit_sub_keys"]
