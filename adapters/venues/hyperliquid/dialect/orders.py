"""What one Hyperliquid order row says, as the REST lists and the stream carry it: the engine's id, the kind.

What it owns
    the engine's client order ids as Hyperliquid's cloids and back (:func:`to_cloid`,
    :func:`from_cloid`: ``ks`` and 30 lowercase hex digits travel as ``0x00`` and the same
    digits), the order types the venue documents and whether each waits on a trigger
    (:data:`ORDER_TYPE_TRIGGERS`), and an open order's kind read from its row
    (:func:`listed_kind`): ``frontendOpenOrders`` has it, and so has an ``orderUpdates`` row
    that carries the same fields (:mod:`.stream`).

What it must not do
    import ccxt or hold account state.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ....ccxt_exchange.parsing import num, order_info

# The engine's client order ids (killswitch.engine.schedule.client_order_id) and their cloids.
OUR_ID = re.compile(r"^ks[0-9a-f]{30}$")
OUR_CLOID = re.compile(r"^0x00([0-9a-fA-F]{30})$")


# A row's ``orderType`` → whether it waits on a trigger: the values the venue documents for
# frontendOpenOrders. Any other (or none) fails the snapshot (BAD_RESPONSE naming the field),
# never an order read as a kind it may not be.
ORDER_TYPE_TRIGGERS: Mapping[str, bool] = {
    "Limit": False, "Market": False,
    "Stop Market": True, "Stop Limit": True, "Take Profit Market": True, "Take Profit Limit": True,
}


def to_cloid(client_order_id: str) -> str:
    """The cloid an engine id travels as: ``ks`` + 30 hex digits → ``0x00`` + the same digits."""
    if not OUR_ID.match(client_order_id):
        raise ValueError(f"{client_order_id!r} is not ks and 30 lowercase hex digits")
    return "0x00" + client_order_id[2:]


def from_cloid(cloid: Any) -> Optional[str]:
    """The engine id a cloid carries (``0x00`` + 30 hex digits → ``ks`` + those digits, in
    lowercase); any other cloid as it is; None for none."""
    if not isinstance(cloid, str) or not cloid:
        return None
    m = OUR_CLOID.match(cloid)
    return "ks" + m.group(1).lower() if m else cloid


def with_our_id(order: Mapping[str, Any]) -> dict:
    out = dict(order)
    out["clientOrderId"] = from_cloid(order.get("clientOrderId"))
    return out


def listed_kind(order: Mapping[str, Any], trigger_type: bool) -> tuple[str, dict]:
    """A row of ``frontendOpenOrders``: its kind (``isPositionTpsl``: a TP/SL of the position,
    which closes it whatever its size; ``isTrigger`` or a trigger ``orderType``
    (``trigger_type``): a stop or take-profit order), the engine's id for its cloid, and a
    position TP/SL as reduce-only (the venue lists it with ``reduceOnly`` true; a TP/SL cannot
    grow the position)."""
    info = order_info(order)
    out = with_our_id(order)
    if info.get("isPositionTpsl") is True:
        kind = "tpsl"
        out["reduceOnly"] = True
    elif info.get("isTrigger") is True or trigger_type:
        kind = "conditional"
    else:
        kind = "regular"
    if kind != "regular" and num(out.get("triggerPrice")) is None:
        out["triggerPrice"] = num(info.get("triggerPx"))
    return kind, out


__all__ = ["OUR_ID", "OUR_CLOID", "ORDER_TYPE_TRIGGERS", "to_cloid", "from_cloid", "with_our_id", "listed_kind"]
