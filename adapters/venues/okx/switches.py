"""OKX v5's switch of its sub-accounts' API keys' trading permission, worked with a master credential.

What it owns
    :class:`OkxPermissions`, ``permissions``: ``POST /api/v5/users/subaccount/modify-apikey``
    (``privatePostUsersSubaccountModifyApikey``) with ``subAcct``, ``apiKey`` and ``perm``
    ``read_only`` (revoke) or ``read_only,trade`` (restore); ``ip`` and ``label`` are not sent,
    so they are kept (OKX resets only what is passed). One request a second (its limit). Read:
    ``GET /api/v5/users/subaccount/apikey`` (``subAcct``, ``apiKey``), its ``perm``. A refusal
    keeps OKX's own words (``code``/``msg`` or the row's ``sCode``/``sMsg``).

What it must not do: import ccxt, keep state, or decide more than the request and its reading
(the calls, retries, pacing and result are :mod:`adapters.ccxt_exchange.permissions`').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ...base import ALLOWED, REVOKED, UNKNOWN_STATE
from ...ccxt_exchange.dialects.base import Call
from ...ccxt_exchange.dialects.switches import Target
from ...ccxt_exchange.parsing import dig

OKX_REVOKED, OKX_ALLOWED = "read_only", "read_only,trade"


def _okx_perm(row: Any) -> str:
    perm = row.get("perm") if isinstance(row, Mapping) else None
    if not isinstance(perm, str):
        return UNKNOWN_STATE
    return ALLOWED if "trade" in {p.strip() for p in perm.split(",")} else REVOKED


def _okx_row(answer: Any) -> Any:
    return dig(answer, "data", 0)


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


__all__ = ["OkxPermissions"]
