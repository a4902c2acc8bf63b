"""What the Kraken spot dialect reads of the venue's own rows and answers.

What it owns
    * the engine's client order ids as Kraken's ``cl_ord_id`` and back (:func:`to_cl_ord_id`,
      :func:`from_cl_ord_id`): the venue takes a UUID or a free text of at most 18 characters,
      so ``ks`` and 30 hex digits travel as the long UUID of ``00`` and those digits;
    * an open order's row (:func:`read_open_order`): its kind from ``descr.ordertype``, its
      trigger and limit prices from ``descr.price`` / ``descr.price2`` (a trailing stop's
      trigger from ``stopprice``), its client id from ``cl_ord_id`` alone (ccxt reads the
      ``userref``, a number, as the client id);
    * the venue's refusal in an answer (:func:`kraken_refusal`): HTTP 200 and a non-empty
      ``error`` list (``EOrder:Unknown order``) is a refusal, never a success, and its table
      (:data:`REFUSALS`);
    * a cancel's answer (:func:`cancel_answer`): ``CancelOrder``'s ``result.count``.

What it must not do
    import ccxt, or count an order cancelled that the answer does not confirm.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from ....base import PERMANENT, TRANSIENT, VenueRefusal
from ....ccxt_exchange.dialects.base import CancelAnswer, Listed, bad_field, documented
from ....ccxt_exchange.dialects.refusals import MAX_MESSAGE, Rule, mapped
from ....ccxt_exchange.parsing import dig, num, order_info

VENUE = "kraken"
OPEN_ORDERS = "POST /0/private/OpenOrders"
CANCEL_ORDER = "POST /0/private/CancelOrder"

# The engine's client order ids (killswitch.engine.schedule.client_order_id) and their cl_ord_id.
OUR_ID = re.compile(r"^ks[0-9a-f]{30}$")
OUR_UUID = re.compile(r"^00([0-9a-f]{30})$")
# the free text the venue takes as a cl_ord_id (an id that is not the engine's)
FREE_TEXT = re.compile(r"^[A-Za-z0-9\-]{1,18}$")


def to_cl_ord_id(client_order_id: str) -> str:
    """The cl_ord_id an id travels as: the engine's (``ks`` + 30 hex digits) as the long UUID
    of ``00`` and the same digits; any other as it is (a free text of at most 18 characters)."""
    if not OUR_ID.match(client_order_id):
        return client_order_id
    h = "00" + client_order_id[2:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def from_cl_ord_id(cl_ord_id: Any) -> Optional[str]:
    """The engine id a cl_ord_id carries (a UUID, with or without its dashes, of ``00`` and 30
    hex digits → ``ks`` and those digits); any other as it is; None for none."""
    if not isinstance(cl_ord_id, str) or not cl_ord_id:
        return None
    m = OUR_UUID.match(cl_ord_id.replace("-", "").lower()) if len(cl_ord_id) in (32, 36) else None
    return "ks" + m.group(1) if m else cl_ord_id


# descr.ordertype → the order's kind (the types AddOrder takes, as OpenOrders lists them). Any
# other (or none) fails the snapshot (BAD_RESPONSE naming the field), never a kind guessed.
ORDER_KINDS: Mapping[str, str] = {
    "market": "regular", "limit": "regular", "iceberg": "regular", "settle-position": "regular",
    "stop-loss": "conditional", "stop-loss-limit": "conditional",
    "take-profit": "conditional", "take-profit-limit": "conditional",
    "trailing-stop": "trailing", "trailing-stop-limit": "trailing",
}
# the types whose limit is descr.price2 (descr.price is their trigger)
TRIGGER_LIMITS = frozenset({"stop-loss-limit", "take-profit-limit"})


def _positive(value: Any) -> Optional[float]:
    v = num(value)
    return v if v is not None and v > 0 else None


def read_open_order(order: Any) -> Listed:
    """A row of OpenOrders (ccxt's parsed order, the venue's row in ``info``) as the adapter
    reads it: its kind from ``descr.ordertype``; a stop or take-profit's trigger from
    ``descr.price`` and its limit from ``descr.price2`` (a ``-limit`` type), a trailing stop's
    trigger from ``stopprice`` (its ``descr.price`` is an offset: ``+50.0000%``); a limit
    order's price from ``descr.price``; the client id from ``cl_ord_id`` (the engine's for its
    UUID), none without one. A spot order never only reduces a position: ``reduceOnly`` false."""
    info = order_info(order)
    said = info.get("descr")
    descr: Mapping[str, Any] = said if isinstance(said, Mapping) else {}
    order_type = descr.get("ordertype")
    kind = documented(VENUE, OPEN_ORDERS, "descr.ordertype", order_type, ORDER_KINDS)
    out = dict(order)
    if kind == "conditional":
        out["triggerPrice"] = _positive(descr.get("price"))
        out["price"] = _positive(descr.get("price2")) if order_type in TRIGGER_LIMITS else None
        if out["triggerPrice"] is None:
            raise bad_field(VENUE, OPEN_ORDERS, "descr.price", f"no trigger price for {order_type}")
    elif kind == "trailing":
        out["triggerPrice"] = _positive(info.get("stopprice"))
        out["price"] = _positive(info.get("limitprice")) if order_type == "trailing-stop-limit" else None
    else:
        out["triggerPrice"] = None
        out["price"] = _positive(descr.get("price")) if order_type != "market" else None
    out["type"] = "limit" if out["price"] is not None else "market"
    out["reduceOnly"] = False
    out["clientOrderId"] = from_cl_ord_id(info.get("cl_ord_id"))
    return Listed(kind, out, OPEN_ORDERS)


# Kraken's refusals (https://docs.kraken.com/api/docs/guides/spot-errors): its error strings
# are the codes ("<severity><category>:<message>"), matched whole.
REFUSALS: tuple[Rule, ...] = (
    Rule("EOrder:Unknown order", "ORDER_NOT_FOUND", PERMANENT),
    Rule("EOrder:Insufficient funds", "INSUFFICIENT_MARGIN", TRANSIENT),  # the holding is held by orders
    Rule("EOrder:Order minimum not met", "INVALID_ORDER", PERMANENT),
    Rule("EOrder:Cost minimum not met", "INVALID_ORDER", PERMANENT),
    Rule("EOrder:Tick size check failed", "INVALID_ORDER", PERMANENT),
    Rule("EOrder:Invalid price", "INVALID_ORDER", PERMANENT),
    Rule("EOrder:Orders limit exceeded", "INVALID_ORDER", TRANSIENT),
    Rule("EOrder:Rate limit exceeded", "RATE_LIMITED", TRANSIENT),
    Rule("EOrder:Trading agreement required", "AUTH", PERMANENT),
    Rule("EGeneral:Invalid arguments", "INVALID_ORDER", PERMANENT),
    Rule("EGeneral:Permission denied", "AUTH", PERMANENT),
    Rule("EGeneral:Temporary lockout", "RATE_LIMITED", TRANSIENT),
    Rule("EAPI:Invalid key", "AUTH", PERMANENT),
    Rule("EAPI:Invalid signature", "AUTH", PERMANENT),
    Rule("EAPI:Invalid nonce", "AUTH", TRANSIENT),
    Rule("EAPI:Rate limit exceeded", "RATE_LIMITED", TRANSIENT),
    Rule("EQuery:Unknown asset pair", "UNKNOWN_SYMBOL", PERMANENT),
    Rule("EService:Unavailable", "EXCHANGE_UNAVAILABLE", TRANSIENT),
    Rule("EService:Busy", "EXCHANGE_UNAVAILABLE", TRANSIENT),
    Rule("EService:Market in cancel_only mode", "EXCHANGE_UNAVAILABLE", TRANSIENT),
    Rule("EService:Market in post_only mode", "EXCHANGE_UNAVAILABLE", TRANSIENT),
    Rule("EService:Deadline elapsed", "EXCHANGE_UNAVAILABLE", TRANSIENT),
)


def errors_of(body: Any) -> list[str]:
    """The venue's error strings of an answer (its ``error`` list), [] for none."""
    errors = body.get("error") if isinstance(body, Mapping) else None
    return [e for e in errors if isinstance(e, str) and e] if isinstance(errors, list) else []


def kraken_refusal(body: Any) -> Optional[tuple[str, str]]:
    """(code, words) of an answer whose ``error`` list is not empty: the first error's severity,
    category and message (``EGeneral:Invalid arguments`` of ``EGeneral:Invalid
    arguments:volume``) the code, every error whole the words (HTTP 200 all the same: never a
    success); None for an answer without one."""
    errors = errors_of(body)
    if not errors:
        return None
    return ":".join(errors[0].strip().split(":")[:2]), "; ".join(e.strip() for e in errors)[:MAX_MESSAGE]


def refusal_of(body: Any) -> Optional[VenueRefusal]:
    """:func:`kraken_refusal` mapped by :data:`REFUSALS`."""
    said = kraken_refusal(body)
    return mapped(said[0], said[1], REFUSALS) if said is not None else None


def cancel_answer(how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
    """What ``CancelOrder`` of one order (``sent[0]``, by its ``txid``) answered: a refusal in
    its ``error`` list keeps its code and words (``EOrder:Unknown order``: ORDER_NOT_FOUND);
    ``result.count`` 1 or more is the order cancelled, 0 names none (the list after it decides);
    an answer without a count is BAD_RESPONSE. The venue's answer to a batch, a count for the
    whole of it, names no order: the dialect sends one order a request."""
    if len(sent) != 1:
        raise bad_field(VENUE, CANCEL_ORDER, "the request", f"{len(sent)} orders: CancelOrder cancels one")
    oid = sent[0].id
    refused = refusal_of(answer)
    if refused is not None:
        return CancelAnswer(frozenset(), {oid: refused})
    count = num(dig(answer, "result", "count"))
    if count is None or count < 0:
        raise bad_field(VENUE, CANCEL_ORDER, "result.count", "missing" if count is None else f"{count!r}")
    return CancelAnswer(frozenset({oid}) if count >= 1 else frozenset())


__all__ = ["CANCEL_ORDER", "FREE_TEXT", "OPEN_ORDERS", "ORDER_KINDS", "OUR_ID", "REFUSALS",
           "VENUE", "cancel_answer", "errors_of", "from_cl_ord_id", "kraken_refusal", "read_open_order",
           "refusal_of", "to_cl_ord_id"]
