"""One open order as a dialect hands it to the adapter: read from a venue's list of open orders,
or from the venue's answer about that one order (the stream's look-up of an order's kind).

What it owns: :class:`Listed`. What it must not do: import ccxt, or read a venue's answer.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional


class Listed(NamedTuple):
    """One open order of a venue's lists."""

    kind: Optional[str]  # the kind its list says it is (None: read from the order, ..parsing.order_kind)
    order: Any  # ccxt's unified order structure
    endpoint: str  # the list it came from (``GET /fapi/v1/openOrders``): what a row it cannot read names
    # False for an order its venue triggers on something other than a price (Bybit's MmRateClose,
    # on the maintenance margin rate): one without a trigger price is then understood
    price_trigger: bool = True


__all__ = ["Listed"]
