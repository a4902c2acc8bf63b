"""The console's table of pre-trade limits: each limit of each scope with its usage, as the lock
document has them; over and near the limit marked, an unread account's usage unknown (never 0)."""

from __future__ import annotations

from killswitch.face.console.model import page_model
from killswitch.runner.lock.lock import LockBook
from tests.unit.face.console.test_model import ACC, SYMBOL, T0, render, status, text_of

LIMITS = [{"policy": "futures-book", "limits": {"default": {"max_position_notional": 250000.0}},
           "usage": [{"scope": ACC, "limit": "max_gross_notional", "value": 1_000_000.0, "usage": 1_200_000.0,
                      "unit": "quote", "symbol": None},
                     {"scope": ACC, "limit": "max_position_notional", "value": 250_000.0, "usage": 210_000.0,
                      "unit": "quote", "symbol": SYMBOL},
                     {"scope": "binanceusdm/other", "limit": "max_open_orders", "value": 50, "usage": None,
                      "unit": "orders", "symbol": None}]}]


def model(limits):
    doc = LockBook().to_doc(T0)
    if limits is not None:
        doc["limits"] = limits
    return page_model(status(), (True, "LEADER"), doc, {}, (), ())


def test_each_limit_is_a_row_with_its_usage_and_share():
    m = model(LIMITS)
    gross, position, orders = m["limits"]
    assert (gross["usage"], gross["value"], gross["share"], gross["over"]) == ("1,200,000", "1,000,000", "120%", True)
    assert position["near"] and not position["over"] and position["symbol"] == SYMBOL and position["share"] == "84%"
    assert orders["usage"] == "unknown" and orders["share"] == "-" and not orders["over"]
    page = render(m)
    assert 'class="limit-over"' in page and 'class="limit-near"' in page
    text = text_of(page)
    assert "Pre-trade limits" in text and "max_gross_notional - 1,200,000 1,000,000 120% (over)" in text


def test_without_limits_the_page_says_so():
    m = model(None)
    assert m["limits"] == []
    assert "No policy sets pre-trade limits." in text_of(render(m))


def test_status_types_the_limits_of_the_lock_document_and_shows_each_one_s_usage():
    from killswitch.client import LockDocument
    from killswitch.render.locks import limit_lines
    from killswitch.view import decode

    doc = {**LockBook().to_doc(T0), "resuming": {}, "limits": LIMITS}
    locks = decode(LockDocument, doc)
    assert locks.limits[0].usage[1].symbol == SYMBOL
    assert limit_lines(locks) == [
        f"  LIMIT futures-book {ACC} max_gross_notional: 1,200,000 of 1,000,000 (120%)  OVER",
        f"  LIMIT futures-book {ACC} max_position_notional {SYMBOL}: 210,000 of 250,000 (84%)",
        "  LIMIT futures-book binanceusdm/other max_open_orders: usage unknown (an account not read)"]
    assert limit_lines(decode(LockDocument, {**LockBook().to_doc(T0), "resuming": {}})) == []


def test_per_order_limits_are_listed_though_they_have_no_usage():
    """A policy of per-order limits alone (the gate refuses by them) is never "no policy sets
    pre-trade limits": each is a row, "per order"; a symbol's own value beside the default's."""
    doc = {"default": {"max_order_notional": 100_000.0, "price_collar": 0.05}, "mark_max_age_s": 30.0,
           "symbols": {SYMBOL: {"max_order_notional": 20_000.0, "price_collar": 0.05}},
           "message_rate": {"per_second": 5.0, "burst": 10}}
    m = model([{"policy": "crash-ladder", "limits": doc, "usage": []}])
    rows = [(r["limit"], r["symbol"], r["value"], r["usage"], r["scope"]) for r in m["limits"]]
    assert rows == [("max_order_notional", None, "100,000", "per order", None),
                    ("price_collar", None, "5% of the mark", "per order", None),
                    ("max_order_notional", SYMBOL, "20,000", "per order", None),
                    ("message_rate", None, "5/s (burst 10)", "per strategy", None)]
    text = text_of(render(m))
    assert "No policy sets pre-trade limits." not in text
    assert "crash-ladder each instance max_order_notional - per order 100,000" in text, text


def test_a_limit_with_no_usage_row_yet_is_listed_too():
    doc = {"default": {"max_position_notional": 250_000.0}, "max_gross_notional": 1_000_000.0}
    m = model([{"policy": "futures-book", "limits": doc, "usage": []}])
    assert [(r["limit"], r["value"], r["usage"]) for r in m["limits"]] == [
        ("max_position_notional", "250,000", "no usage read yet"),
        ("max_gross_notional", "1,000,000", "no usage read yet")]


def test_a_position_or_gross_row_says_what_resting_orders_add():
    from killswitch.client import LockDocument
    from killswitch.render.locks import limit_lines
    from killswitch.view import decode

    resting = [{**LIMITS[0], "usage": [{**LIMITS[0]["usage"][0], "positions": 1_150_000.0, "resting": 50_000.0},
                                       {**LIMITS[0]["usage"][1], "positions": 210_000.0, "resting": 0.0}]}]
    gross, position = model(resting)["limits"][:2]
    assert (gross["usage"], gross["resting"]) == ("1,200,000", "50,000") and position["resting"] is None
    assert "1,200,000 (resting orders 50,000) 1,000,000 120% (over)" in text_of(render(model(resting)))
    lines = limit_lines(decode(LockDocument, {**LockBook().to_doc(T0), "resuming": {}, "limits": resting}))
    assert lines[0].endswith("120%)  OVER (positions 1,150,000 + resting orders 50,000)")
    assert lines[1].endswith("(84%)")  # nothing resting: said as before


def test_check_order_s_answer_lists_each_limit_with_what_resting_orders_add():
    from killswitch.render.locks import decision_lines
    from killswitch.runner.gate.request import Decision

    gross = {"code": "GROSS_LIMIT", "value": 800_000.0, "usage": 829_000.0, "unit": "quote", "symbol": None,
             "exposure": {"positions": 740_000.0, "resting": 59_000.0, "order": 30_000.0}}
    unknown = {"code": "POSITION_LIMIT", "value": 400_000.0, "usage": None, "unit": "quote", "symbol": SYMBOL}
    deny = Decision(False, "GROSS_LIMIT: …; POSITION_LIMIT: …", {**gross, "breaches": [gross, unknown]})
    assert decision_lines(deny) == [
        "DENY: GROSS_LIMIT: …; POSITION_LIMIT: …",
        "  GROSS_LIMIT: 829,000 of 800,000 quote (positions 740,000 + resting orders 59,000 + this order 30,000)",
        f"  POSITION_LIMIT {SYMBOL}: unknown of 400,000 quote"]
    assert decision_lines(Decision(True, "ACTIVE")) == ["ALLOW: ACTIVE"]


def test_a_price_collar_s_breach_line_reads_as_percentages_like_its_reason():
    from killswitch.render.locks import decision_lines
    from killswitch.runner.gate.request import Decision

    collar = {"code": "PRICE_COLLAR", "value": 0.05, "usage": 2.9651071, "unit": "ratio", "symbol": SYMBOL}
    no_price = {"code": "PRICE_COLLAR", "value": 0.05, "usage": None, "unit": "ratio", "symbol": SYMBOL}
    deny = Decision(False, "PRICE_COLLAR: price 500 is 296.51% from mark 126.1 (collar 5.00%)",
                    {**collar, "breaches": [collar, no_price]})
    assert decision_lines(deny)[1:] == [f"  PRICE_COLLAR {SYMBOL}: 296.51% of 5.00%",
                                        f"  PRICE_COLLAR {SYMBOL}: no limit price, a collar of 5.00% needs one"]
