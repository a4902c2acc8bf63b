"""OKX (``okx``).

What it owns
    the OKX forms the adapter needs: client order ids of at most 32 characters looked up as
    ``clOrdId``, the hedge-mode (long/short mode) leg as ``posSide`` (without ``reduceOnly``), the
    leg read from ``posSide``, the equity read from ``totalEq``, the account-wide
    ``trade/cancel-all-after``, its credential headers and its reduce-only refusals (51169, 51170).

What it must not do
    import ccxt or hold account state (see :mod:`.base`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .base import Call, Countdown, Dialect, clamp_seconds

CANCEL_ALL_AFTER_RANGE = (10, 120)  # seconds; 0 disarms


@dataclass(frozen=True)
class CancelAllAfter:
    """``trade/cancel-all-after``: account-wide, ``timeOut`` clamped to 10–120 s; 0 turns it off."""

    per_symbol = False
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        n = clamp_seconds(seconds, *CANCEL_ALL_AFTER_RANGE)
        await call("privatePostTradeCancelAllAfter", {"timeOut": str(n)})
        return float(n)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        await call("privatePostTradeCancelAllAfter", {"timeOut": "0"})


@dataclass(frozen=True, kw_only=True)
class OkxDialect(Dialect):
    max_client_id_length: int = 32
    fetch_order_param: str = "clOrdId"
    margin_mode_param: Optional[str] = "tdMode"
    secret_headers: tuple[str, ...] = ("ok-access-key", "ok-access-sign", "ok-access-passphrase")
    reduce_only_rejections: tuple[str, ...] = (
        r'"sCode"\s*:\s*"?(51169|51170)\b',
        r'"code"\s*:\s*"?(51169|51170)\b',
        r"reduce\s*-?\s*only order can.?t",
    )

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        # long/short mode: closing is the leg's nature; OKX takes reduceOnly in net mode only
        # (ccxt omits it too)
        return {"posSide": leg.lower()}, False

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        pos = info.get("posSide")
        if isinstance(pos, str) and pos.lower() in ("long", "short", "net"):
            return {"long": "LONG", "short": "SHORT", "net": "BOTH"}[pos.lower()]
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        data = info.get("data")
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            return [data[0].get("totalEq")]
        return []

    def countdown(self, client: Any, market_type: str, *, keeps_private_websocket: bool) -> Optional[Countdown]:
        if not hasattr(client, "privatePostTradeCancelAllAfter"):
            return None
        return CancelAllAfter()


OKX = OkxDialect(id="okx", order_rate=20.0)

DIALECTS = (OKX,)
