"""The book of orders a cancel left open: recorded once, ended only by a list taken after it."""

from __future__ import annotations

from types import SimpleNamespace

from adapters.base import CancelResult
from killswitch.notify.message import headline
from killswitch.runner.book.still_open import StillOpenBook, owner_of, still_open_of
from killswitch.runner.venue.left_open import event_of
from killswitch.snapshot import FetchStatus, Order, Snapshot

ACC = "bybit/main"
WORDS = "110001 order not exists or too late to cancel"


def order(oid: str, amount: float = 2.0, filled: float = 0.0) -> Order:
    return Order(id=oid, symbol="BTC/USDT:USDT", side="sell", type="limit", amount=amount, filled=filled,
                 price=70_000.0, client_id=f"bot-{oid}")


def snap(ts: int, *orders: Order, ok: bool = True) -> Snapshot:
    return Snapshot(venue="bybit", account="main", market_type="futures", ts_event=ts, ts_observed=ts,
                    orders=list(orders), fetch=FetchStatus(ok=ok, error_code=None if ok else "TIMEOUT"))


def result(*orders: Order) -> CancelResult:
    return CancelResult((), {o.id: "ORDER_STILL_OPEN" for o in orders}, words={o.id: WORDS for o in orders},
                        still_open=orders)


def test_a_fact_names_the_order_what_the_venue_said_and_the_incident_of_its_cancel():
    (r,) = still_open_of(ACC, result(order("7")), cause="CANCEL_ALL", now=1_000,
                         incident="flatten/bybit/main/L2/e3/r4")
    assert (r.account, r.order_id, r.symbol, r.side, r.left, r.said) == (
        ACC, "7", "BTC/USDT:USDT", "sell", 2.0, f"ORDER_STILL_OPEN: {WORDS}")
    assert (r.incident, r.policy, r.scope, r.level) == ("flatten/bybit/main/L2/e3", "flatten", "bybit/main", 2)
    assert owner_of("manual/bybit/main/m123") == (None, "bybit/main", 0)
    assert owner_of(None) == (None, None, 0)
    (d,) = still_open_of(ACC, result(order("8")), cause="DMS_FIRED source=bot-a", now=1_000, scope="bot-a")
    assert (d.incident, d.policy, d.scope) == (None, None, "bot-a")


def test_only_a_good_list_taken_after_it_ends_it_and_an_unchanged_list_is_not_read_again():
    book = StillOpenBook()
    (r,) = still_open_of(ACC, result(order("7")), cause="CANCEL_ALL", now=1_000)
    assert book.record(r) and not book.record(r)
    always = lambda _r: True  # noqa: E731
    same_tick = snap(1_000)  # (taken before the cancel's answer: says nothing of it)
    assert book.refresh({ACC: same_tick}, always, 1_000) == [] and len(book) == 1
    assert book.refresh({ACC: snap(2_000, ok=False)}, always, 2_000) == [] and len(book) == 1
    later = snap(3_000, order("7", filled=0.5))
    assert book.refresh({ACC: later}, always, 3_000) == []
    (kept,) = book
    assert kept.left == 1.5 and kept.as_of_ms == 3_000
    later.orders.clear()  # the same snapshot again: not compared again (nothing new)
    assert book.refresh({ACC: later}, always, 3_500) == [] and len(book) == 1
    (ended,) = book.refresh({ACC: snap(4_000)}, always, 4_000)
    assert ended[1] == "ORDER_GONE" and len(book) == 0


def test_it_ends_with_its_incident_is_saved_and_read_back_and_told_once():
    book = StillOpenBook()
    (r,) = still_open_of(ACC, result(order("7")), cause="CANCEL_ALL", now=1_000, incident="p/bybit/main/L1/e1")
    book.record(r)
    again = StillOpenBook.from_doc({"still_open": book.to_json()})
    assert [x.key for x in again.untold()] == [(ACC, "7")]
    again.mark_told([(ACC, "7")])
    assert again.untold() == [] and StillOpenBook.from_doc({"still_open": again.to_json()}).untold() == []
    assert StillOpenBook.from_doc({}).items == {}
    (ended,) = again.refresh({}, lambda _r: False, 2_000)
    assert ended[1] == "INCIDENT_ENDED"


def test_its_page_names_the_order_and_what_the_venue_said():
    (r,) = still_open_of(ACC, result(order("7")), cause="CANCEL_ALL", now=1_000, incident="p/bybit/main/L1/e1")
    e = event_of(r, dry_run=False)
    assert e.labels["severity"] == "critical" and e.labels["incident"] == "p/bybit/main/L1/e1"
    # in the words of the standing fact, as ksctl status says it (killswitch/facts/still_open.py)
    assert headline(SimpleNamespace(labels=e.labels, event=e)) == (
        f"STILL OPEN {ACC} BTC/USDT:USDT sell 2 order 7: ORDER_STILL_OPEN: {WORDS}; incident p/bybit/main/L1/e1")

