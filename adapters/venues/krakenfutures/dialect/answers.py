"""Kraken Futures' answers to writes, read status by status: an order's ``sendStatus``, a cancel's
``cancelStatus``, a batch's ``batchStatus``, an error body.

What it owns
    * :data:`STATUS_WORDS`: what each ``status`` value of Kraken's answers means, in the words of
      Kraken's documentation of ``sendorder`` / ``cancelorder`` (an answer carries the status alone,
      no text: the refusal's message is the documentation's meaning of it);
    * :data:`REFUSALS`: the refusal table (status → reason code, and how a retry fares);
    * the venue's endpoints the dialect names (:data:`SEND_ORDER`, :data:`POSITIONS`, ...);
    * :func:`kraken_refusal`: (code, words) in an answer's body, whatever the write;
    * :func:`refused_order`: the AdapterError of a ``sendorder`` answered ``result: success`` with a
      refused ``sendStatus`` (Kraken answers HTTP 200 either way: a refused close must never read
      as an order sent);
    * :func:`cancel_answer`: which of the orders a cancel meant the answer names as cancelled,
      which it refused (with the status and its words), and nothing assumed of the rest.

What it must not do
    import ccxt, or count an order done that the answer does not name.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ....base import PERMANENT, TRANSIENT, AdapterError, Reason, VenueRefusal
from ....ccxt_exchange.dialects.base import CancelAnswer, bad_field, documented, unknown_value
from ....ccxt_exchange.dialects.refusals import MAX_MESSAGE, Rule, mapped as mapped_by

VENUE = "krakenfutures"
# the venue's endpoints the dialect names ("METHOD /path"): its reads, its writes and its switch
POSITIONS = "GET /derivatives/api/v3/openpositions"
TICKERS = "GET /derivatives/api/v3/tickers"
ACCOUNTS = "GET /derivatives/api/v3/accounts"
OPEN_ORDERS = "GET /derivatives/api/v3/openorders"
DEAD_MANS_SWITCH = "POST /derivatives/api/v3/cancelallordersafter"
SEND_ORDER = "POST /derivatives/api/v3/sendorder"
CANCEL_ORDER = "POST /derivatives/api/v3/cancelorder"
CANCEL_ALL = "POST /derivatives/api/v3/cancelallorders"
BATCH_ORDER = "POST /derivatives/api/v3/batchorder"

# Kraken's documentation of the status values of sendorder, cancelorder and batchorder (the
# descriptions ccxt's krakenfutures, 4.5.90, keeps beside its parse_order_status table are the
# same sentences). The answer carries the status only.
STATUS_WORDS: Mapping[str, str] = {
    "invalidOrderType": "the order was not placed because orderType is invalid",
    "invalidSide": "the order was not placed because side is invalid",
    "invalidSize": "the order was not placed because size is invalid",
    "invalidPrice": "the order was not placed because limitPrice and/or stopPrice are invalid",
    "insufficientAvailableFunds": "the order was not placed because available funds are insufficient",
    "selfFill": "the order was not placed because it would be filled against an existing order belonging "
                "to the same account",
    "tooManySmallOrders": "the order was not placed because the number of small open orders would exceed "
                          "the permissible limit",
    "maxPositionViolation": "the order would cause you to exceed your maximum position in this contract",
    "marketSuspended": "the order was not placed because the market is suspended",
    "marketInactive": "the order was not placed because the market is inactive",
    "clientOrderIdAlreadyExist": "the specified client id already exists",
    "clientOrderIdTooLong": "the client id is longer than the permissible limit",
    "outsidePriceCollar": "the limit order crosses the spread but is an order of magnitude away from the "
                          "mark price (fat finger control)",
    "postWouldExecute": "the post-only order would be filled upon placement, thus is cancelled",
    "iocWouldNotExecute": "the immediate-or-cancel order would not execute",
    "wouldNotReducePosition": "the reduce only order would not reduce position",
    "wouldCauseLiquidation": "the order would fill at a worse price than the mark price and trigger a liquidation",
    "orderForEditNotFound": "the requested order for edit has not been found",
    "orderForEditNotAStop": "the supplied stopPrice cannot be applied because order is not a stop order",
    "filled": "the order was found completely filled and could not be cancelled",
    "notFound": "the order was not found, either because it had already been cancelled or it never existed",
    "apiLimitExceeded": "the API limit for the calling IP address has been exceeded",
    "unavailable": "the service is unavailable",
}

REFUSALS: tuple[Rule, ...] = (
    Rule("wouldNotReducePosition", "REDUCE_ONLY_REJECTED", PERMANENT),
    Rule("insufficientAvailableFunds", "INSUFFICIENT_MARGIN", TRANSIENT),
    Rule("INSUFFICIENT_MARGIN", "INSUFFICIENT_MARGIN", TRANSIENT),  # {"errors": [{"code": 92, ...}]}
    Rule("insufficientFunds", "INSUFFICIENT_MARGIN", TRANSIENT),
    Rule("wouldCauseLiquidation", "INSUFFICIENT_MARGIN", TRANSIENT),
    Rule("iocWouldNotExecute", "INVALID_ORDER", TRANSIENT),  # the book moved away from the limit
    Rule("postWouldExecute", "INVALID_ORDER", TRANSIENT),
    Rule("outsidePriceCollar", "INVALID_ORDER", TRANSIENT),
    Rule("tooManySmallOrders", "INVALID_ORDER", TRANSIENT),
    Rule("selfFill", "INVALID_ORDER", TRANSIENT),
    Rule("maxPositionViolation", "INVALID_ORDER", PERMANENT),
    Rule("invalidOrderType", "INVALID_ORDER", PERMANENT),
    Rule("invalidSide", "INVALID_ORDER", PERMANENT),
    Rule("invalidSize", "INVALID_ORDER", PERMANENT),
    Rule("invalidPrice", "INVALID_ORDER", PERMANENT),
    Rule("clientOrderIdAlreadyExist", "INVALID_ORDER", PERMANENT),
    Rule("clientOrderIdTooLong", "INVALID_ORDER", PERMANENT),
    Rule("orderForEditNotAStop", "INVALID_ORDER", PERMANENT),
    Rule("marketSuspended", "EXCHANGE_UNAVAILABLE", TRANSIENT),
    Rule("marketInactive", "UNKNOWN_SYMBOL", PERMANENT),
    Rule("contractNotFound", "UNKNOWN_SYMBOL", PERMANENT),
    Rule("notFound", "ORDER_NOT_FOUND", PERMANENT),  # a cancel: already cancelled, or never there
    Rule("filled", "ORDER_NOT_FOUND", PERMANENT),  # a cancel: already filled
    Rule("orderForEditNotFound", "ORDER_NOT_FOUND", PERMANENT),
    Rule("apiLimitExceeded", "RATE_LIMITED", TRANSIENT),
    Rule("unavailable", "EXCHANGE_UNAVAILABLE", TRANSIENT),
)

# sendStatus values of an order the venue took (an IOC's executions are in its orderEvents)
PLACED = frozenset({"placed", "partiallyFilled", "filled"})


def words(status: str) -> str:
    """The documentation's meaning of a status; the status itself where it documents none."""
    return STATUS_WORDS.get(status, status)


def mapped(code: str, message: str) -> VenueRefusal:
    """The venue's (code, words) as the refusal table maps them (unknown: VENUE_REFUSED)."""
    return mapped_by(code, message, REFUSALS)


def kraken_refusal(body: Any) -> Optional[tuple[str, str]]:
    """(code, words) of a Kraken answer that refuses: ``result: error`` with its ``error``
    (``apiLimitExceeded``) or ``errors`` ([{"code": 92, "message": "INSUFFICIENT_MARGIN"}]); a
    ``sendStatus`` / ``cancelStatus`` / ``editStatus`` whose status is a refusal. None: no refusal."""
    if not isinstance(body, Mapping):
        return None
    if body.get("result") == "error":
        error = body.get("error")
        if isinstance(error, str) and error:
            return error, words(error)
        for row in body.get("errors") or ():
            if isinstance(row, Mapping) and row.get("message"):
                return str(row["message"]), str(row["message"])
        return "error", str(body)[:MAX_MESSAGE]
    for key in ("sendStatus", "cancelStatus", "editStatus"):
        st = body.get(key)
        status = st.get("status") if isinstance(st, Mapping) else None
        if isinstance(status, str) and status not in PLACED | {"cancelled", "edited", "noOrdersToCancel"}:
            return status, words(status)
    return None


def refused_order(send_status: Any) -> Optional[AdapterError]:
    """The AdapterError of a ``sendorder`` answer whose ``sendStatus`` did not place the order:
    its status as the refusal's code, the documentation's words, the table's reason and kind; an
    order event of type REJECT (its ``reason``) likewise. None for an order placed; a missing
    status is BAD_RESPONSE naming the field."""
    if not isinstance(send_status, Mapping):
        return bad_field(VENUE, SEND_ORDER, "sendStatus", "missing")
    status = send_status.get("status")
    if not isinstance(status, str) or not status:
        return unknown_value(VENUE, SEND_ORDER, "sendStatus.status", status)
    code = None if status in PLACED else status
    if code is None:
        for event in send_status.get("orderEvents") or ():
            if isinstance(event, Mapping) and event.get("type") == "REJECT":
                code = str(event.get("reason") or "REJECT")
                break
    if code is None:
        return None
    refusal = mapped(code, words(code))
    try:
        reason = Reason(refusal.reason)
    except ValueError:
        reason = Reason.VENUE_REFUSED
    return AdapterError(reason, f"{SEND_ORDER}: sendStatus {refusal.text()}", venue=VENUE, refusal=refusal)


# --- cancels -------------------------------------------------------------------------------------


def _raw(answer: Any, key: str) -> Optional[Mapping[str, Any]]:
    """The venue's body in ``answer``: the raw body itself (it carries ``key``), or ccxt's parsed
    order whose ``info`` is it (ccxt's cancel_order keeps the whole answer there)."""
    if isinstance(answer, Mapping):
        if key in answer:
            return answer
        info = answer.get("info")
        if isinstance(info, Mapping) and key in info:
            return info
    return None


def _parsed_status(answer: Any) -> Any:
    """The ``cancelStatus`` ccxt's cancel_order hands as its parsed order's ``info`` (it parses
    the status and its extend keeps the parse's info over the whole body's)."""
    info = answer.get("info") if isinstance(answer, Mapping) else None
    if isinstance(info, Mapping) and "status" in info and ("orderEvents" in info or "receivedTime" in info):
        return info
    return None


def _status(endpoint: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise unknown_value(VENUE, endpoint, field, value)
    return value


def cancel_answer(how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
    """What a cancel's answer says of each order of ``sent`` (see the module docstring):

    * ``one`` (``cancelorder``): ``cancelStatus.status`` ``cancelled`` is done (when the answer
      names another ``order_id`` than the one sent, nothing is confirmed); any other status is
      that order's refusal (``notFound``, ``filled``: ORDER_NOT_FOUND);
    * ``symbol`` (``cancelallorders``, the raw answer: ccxt keeps only its order events, and
      repeats the first): ``cancelStatus.status`` ``cancelled`` with ``cancelledOrders``, the
      orders it names (by ``order_id``) done, the others unconfirmed; ``noOrdersToCancel``: none
      done; another status or a missing list is BAD_RESPONSE;
    * ``batch`` (``batchorder`` of cancels, ccxt's parsed rows or the raw body): each row of
      ``batchStatus`` by its ``order_id`` (or ``cliOrdId``): ``cancelled`` done, another status
      refused.

    A missing ``cancelStatus`` / ``batchStatus`` is BAD_RESPONSE naming it."""
    if how == "one":
        return _one(answer, sent)
    if how == "symbol":
        return _symbol(answer, sent)
    if how == "batch":
        return _batch(answer, sent)
    raise ValueError(f"cancel answer of {how!r}: one, symbol or batch")


def _one(answer: Any, sent: Sequence[Any]) -> CancelAnswer:
    body = _raw(answer, "cancelStatus")
    st = body.get("cancelStatus") if body is not None else _parsed_status(answer)
    if not isinstance(st, Mapping):
        raise bad_field(VENUE, CANCEL_ORDER, "cancelStatus", "missing")
    status = _status(CANCEL_ORDER, "cancelStatus.status", st.get("status"))
    if not sent:
        return CancelAnswer(frozenset())
    order = sent[0]
    if status == "cancelled":
        named = st.get("order_id")
        if named is not None and str(named) != order.id:
            return CancelAnswer(frozenset())  # it names another order: this one is not confirmed
        return CancelAnswer(frozenset({order.id}))
    return CancelAnswer(frozenset(), {order.id: mapped(status, words(status))})


def _symbol(answer: Any, sent: Sequence[Any]) -> CancelAnswer:
    body = _raw(answer, "cancelStatus")
    st = body.get("cancelStatus") if body is not None else None
    if not isinstance(st, Mapping):
        raise bad_field(VENUE, CANCEL_ALL, "cancelStatus", "missing")
    status = _status(CANCEL_ALL, "cancelStatus.status", st.get("status"))
    rows = st.get("cancelledOrders")
    if status == "noOrdersToCancel" and rows in (None, []):
        return CancelAnswer(frozenset())
    documented(VENUE, CANCEL_ALL, "cancelStatus.status", status, ("cancelled", "noOrdersToCancel"))
    if not isinstance(rows, list):
        raise bad_field(VENUE, CANCEL_ALL, "cancelStatus.cancelledOrders", "missing" if rows is None else "not a list")
    ids, client_ids = set(), set()
    for i, row in enumerate(rows):
        oid = row.get("order_id") if isinstance(row, Mapping) else None
        if not isinstance(oid, str) or not oid:
            raise unknown_value(VENUE, CANCEL_ALL, f"cancelStatus.cancelledOrders[{i}].order_id", oid)
        ids.add(oid)
        cli = row.get("cliOrdId")
        if isinstance(cli, str) and cli:
            client_ids.add(cli)
    done = {o.id for o in sent if o.id in ids or (getattr(o, "client_id", None) or "") in client_ids}
    return CancelAnswer(frozenset(done))


def _batch(answer: Any, sent: Sequence[Any]) -> CancelAnswer:
    if isinstance(answer, Mapping):
        rows = answer.get("batchStatus")
        if not isinstance(rows, list):
            raise bad_field(VENUE, BATCH_ORDER, "batchStatus", "missing")
    elif isinstance(answer, list):  # ccxt's cancel_orders: one parsed order a row, the row in its info
        rows = [o.get("info") if isinstance(o, Mapping) else None for o in answer]
    else:
        raise bad_field(VENUE, BATCH_ORDER, "batchStatus", "missing")
    by_id = {o.id: o for o in sent}
    by_client = {o.client_id: o for o in sent if getattr(o, "client_id", None)}
    done: set[str] = set()
    refused: dict[str, VenueRefusal] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise bad_field(VENUE, BATCH_ORDER, f"batchStatus[{i}]", "not an object")
        status = _status(BATCH_ORDER, f"batchStatus[{i}].status", row.get("status"))
        order = by_id.get(str(row.get("order_id"))) or by_client.get(str(row.get("cliOrdId")))
        if order is None:
            continue  # a row naming no order of this cancel (another id): it confirms none of them
        if status == "cancelled":
            done.add(order.id)
            refused.pop(order.id, None)
        elif order.id not in done:
            refused[order.id] = mapped(status, words(status))
    return CancelAnswer(frozenset(done), refused)


__all__ = ["ACCOUNTS", "BATCH_ORDER", "CANCEL_ALL", "CANCEL_ORDER", "DEAD_MANS_SWITCH", "OPEN_ORDERS", "PLACED",
           "POSITIONS", "REFUSALS", "SEND_ORDER", "STATUS_WORDS", "TICKERS", "cancel_answer", "kraken_refusal",
           "mapped", "refused_order", "words"]
