"""A request to the simulated Bybit v5 face, read as Bybit reads it, against the engine's markets.

What it owns
    :class:`BybitParams`, the base of the face's request view (:class:`..face._Face`): the
    category a request names (``linear`` the engine's; another answers an empty list), its
    market, the markets of a list request (its symbol, else its settle or base coin), a page of
    a list (``limit``, ``cursor``), and an order's numbers and flags (:func:`_num`,
    :func:`_flag`), each with Bybit's refusal (10001) when missing or wrong. The views of the
    reads and the orders (:mod:`.reads`, :mod:`.orders`) build on it.

What it must not do
    keep state beyond the request, or change the engine.
"""

from __future__ import annotations

from typing import Optional

from ....simulated.engine import MarketSpec
from ....simulated.faces.shared import RestFace, finite_number, flag
from .wire import _params

# the most a page holds, and what it holds when ``limit`` is not sent
PAGE_LIMITS = {"positions": 200, "open_orders": 50, "get_order": 50}
DEFAULT_PAGE = 20


class BybitParams(RestFace):
    """One request's view of the engine in Bybit's terms (no state beyond the request): what it
    names."""

    @staticmethod
    def _linear(p: dict) -> None:
        category = p.get("category")
        if not category:
            raise _params("params error: category is required")
        if category not in ("linear", "inverse", "spot", "option"):
            raise _params(f"params error: category {category} is invalid")

    def _market(self, symbol: Optional[str]) -> MarketSpec:
        if not symbol:
            raise _params("params error: symbol is required")
        m = self.engine.markets.get(symbol)
        if m is None:
            raise _params("params error: symbol invalid")
        return m

    def _scope(self, p: dict, need: bool = True) -> Optional[list[MarketSpec]]:
        """The linear markets a list request names (its symbol, else its settle coin); None for
        another category (an empty list: the engine has only linear perpetuals)."""
        self._linear(p)
        if p["category"] != "linear":
            return None
        symbol = p.get("symbol")
        if symbol:
            return [self._market(symbol)]
        coin = p.get("settleCoin") or p.get("baseCoin")
        if not coin:
            if need:
                raise _params("Missing some parameters that must be filled in, symbol or settleCoin or baseCoin")
            return list(self.engine.markets.values())
        key = "quote" if p.get("settleCoin") else "base"
        return [m for m in self.engine.markets.values() if getattr(m, key) == coin]

    @staticmethod
    def _page(rows: list, p: dict, op: str, category: str) -> dict:
        limit_s = str(p.get("limit", "") or "")
        most = PAGE_LIMITS[op]
        if limit_s and (not limit_s.isdigit() or not 1 <= int(limit_s) <= most):
            raise _params(f"params error: limit must be 1 to {most}")
        limit = int(limit_s) if limit_s else DEFAULT_PAGE
        cursor = str(p.get("cursor", "") or "")
        if cursor and not (cursor.startswith("page") and cursor[4:].isdigit()):
            raise _params("params error: cursor is invalid")
        start = int(cursor[4:]) if cursor else 0
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return {"category": category, "list": page, "nextPageCursor": f"page{start + limit}" if more else ""}


def _num(p: dict, name: str, required: bool = False) -> Optional[float]:
    invalid = _params(f"params error: {name} invalid")
    x = finite_number(p, name, _params(f"params error: {name} is required") if required else None, invalid)
    if x is not None and x < 0:
        raise invalid
    return x


def _flag(p: dict, name: str) -> bool:
    return flag(p.get(name, False), _params(f"params error: {name} must be true or false"))
