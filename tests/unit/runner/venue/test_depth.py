"""The runner's book fetch (killswitch/runner/venue/depth.py): at once, bounded, and failing safe."""

from __future__ import annotations

import asyncio
import time

from adapters.base import AdapterError, ExchangeAdapter, Reason
from killswitch.runner.venue.depth import PER_ACCOUNT, fetch_books
from killswitch.runner.venue.port import Venues
from killswitch.snapshot import OrderBook


class Books:
    def __init__(self, delay=0.0, fail=None, hang=()):
        self.delay, self.fail, self.hang = delay, fail, set(hang)
        self.calls, self.active, self.most = [], 0, 0

    async def fetch_order_book(self, symbol, depth):
        self.calls.append((symbol, depth))
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            if symbol in self.hang:
                await asyncio.sleep(60)
            await asyncio.sleep(self.delay)
            if self.fail:
                raise AdapterError(self.fail, "no book")
            return OrderBook(bids=((100.0, 1.0),), asks=((101.0, 1.0),))
        finally:
            self.active -= 1


class NoBooks(ExchangeAdapter):
    """The protocol's "not supported" (UNSUPPORTED)."""


def test_books_are_fetched_at_once_within_the_per_account_bound():
    a, b = Books(delay=0.05), Books(delay=0.05)
    wants = {"x/a": {f"S{i}": 20 for i in range(8)}, "x/b": {"T": 50}}
    t = time.perf_counter()
    books, failed = asyncio.run(fetch_books(Venues({"x/a": a, "x/b": b}), wants, 2.0))
    took = time.perf_counter() - t
    assert failed == {} and set(books["x/a"]) == {f"S{i}" for i in range(8)} and set(books["x/b"]) == {"T"}
    assert a.most == PER_ACCOUNT and ("T", 50) in b.calls
    assert took < 8 * 0.05  # not one after another


def test_a_failing_hanging_or_missing_book_is_a_reason_code_never_an_exception():
    adapters = {"x/a": Books(fail=Reason.RATE_LIMITED), "x/b": Books(hang={"H"}), "x/c": NoBooks()}
    wants = {"x/a": {"S": 20}, "x/b": {"H": 20, "K": 20}, "x/c": {"S": 20}, "x/gone": {"S": 20}}
    books, failed = asyncio.run(fetch_books(Venues(adapters), wants, 0.2))
    assert failed == {"x/a": {"S": "RATE_LIMITED"}, "x/b": {"H": "TIMEOUT"}, "x/c": {"S": "UNSUPPORTED"},
                      "x/gone": {"S": "UNSUPPORTED"}}
    assert books == {"x/b": {"K": OrderBook(bids=((100.0, 1.0),), asks=((101.0, 1.0),))}}


def test_the_whole_fetch_is_bounded_and_the_most_exposed_closes_get_their_books_first():
    slow = Books(delay=0.1)
    wants = {"x/a": {f"S{i:02}": 20 for i in range(20)}}  # plan order: S00 is the most exposed close
    t = time.perf_counter()
    books, failed = asyncio.run(fetch_books(Venues({"x/a": slow}), wants, 0.25))
    took = time.perf_counter() - t
    assert took < 0.45, took  # 20 books 4 at a time would take 0.5 s
    got = sorted(books["x/a"])
    assert got == [f"S{i:02}" for i in range(len(got))] and 4 <= len(got) < 20
    assert set(failed["x/a"]) == {f"S{i:02}" for i in range(len(got), 20)}
    assert set(failed["x/a"].values()) == {"TIMEOUT"}
