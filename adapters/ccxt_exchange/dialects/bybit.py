"""Bybit (``bybit``, the v5 unified API).

What it owns
    the Bybit forms the adapter needs: the hedge-mode leg as ``positionIdx`` 1 / 2 (``reduceOnly``
    kept), the leg read from ``positionIdx``, the equity read from the unified account's
    ``totalEquity``, the order lookup by ``orderLinkId`` over open then closed orders (Bybit has
    no single-order endpoint by client id), the disconnected-cancel-all (DCP) endpoint, its
    credential headers and its reduce-only refusals (110017, 140017).

What it must not do
    import ccxt or hold account state (see :mod:`.base`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .base import Call, Countdown, Dialect, Has, clamp_seconds

DCP_RANGE = (3, 300)  # seconds


@dataclass(frozen=True)
class DisconnectedCancelAll:
    """``order/disconnected-cancel-all``: account-wide, ``timeWindow`` clamped to 3–300 s."""

    product: str  # DERIVATIVES or SPOT
    per_symbol = False
    # the window can only be turned off through the account manager
    disarm_refusal = "bybit DCP cannot be disarmed over the API; it only fires on a private websocket disconnect"

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        n = clamp_seconds(seconds, *DCP_RANGE)
        await call("privatePostV5OrderDisconnectedCancelAll", {"product": self.product, "timeWindow": n})
        return float(n)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        raise NotImplementedError(self.disarm_refusal)


@dataclass(frozen=True, kw_only=True)
class BybitDialect(Dialect):
    max_client_id_length: int = 36
    client_id_alphabet: str = r"A-Za-z0-9_\-"  # orderLinkId: letters, digits, dashes and underscores
    secret_headers: tuple[str, ...] = ("x-bapi-api-key", "x-bapi-sign")
    reduce_only_rejections: tuple[str, ...] = (
        r'"retCode"\s*:\s*"?1(10017|40017)\b',  # Reduce-only rule not satisfied (UTA / classic)
        r"reduce\s*-?\s*only rule not satisfied",
    )

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        return {"positionIdx": 1 if leg == "LONG" else 2}, True

    def can_fetch_by_client_id(self, has: Has) -> bool:
        return True  # through the order lists, whatever ccxt says of fetchOrder

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        for method in ("fetch_open_orders", "fetch_closed_orders"):
            got = await call(method, symbol, None, None, {"orderLinkId": client_order_id})
            match = [o for o in (got or []) if isinstance(o, Mapping)
                     and o.get("clientOrderId") in (None, client_order_id)]
            if match:
                return match[0]
        return None

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        idx = info.get("positionIdx")
        if idx is not None and str(idx) in ("0", "1", "2"):
            return {"0": "BOTH", "1": "LONG", "2": "SHORT"}[str(idx)]
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        result = info.get("result")
        if isinstance(result, Mapping) and isinstance(result.get("list"), list) and result["list"]:
            first = result["list"][0]
            if isinstance(first, Mapping):
                return [first.get("totalEquity")]
        return []

    def countdown(self, client: Any, market_type: str, *, keeps_private_websocket: bool) -> Optional[Countdown]:
        # DCP fires when a private websocket subscribed to the "dcp" topic drops, not on a REST
        # silence: without such a socket it would never fire, so it is not offered
        if not keeps_private_websocket or not hasattr(client, "privatePostV5OrderDisconnectedCancelAll"):
            return None
        return DisconnectedCancelAll("DERIVATIVES" if market_type == "futures" else "SPOT")


BYBIT = BybitDialect(id="bybit", order_rate=10.0)

DIALECTS = (BYBIT,)
