"""bench/stream_spot.py, the streamed reaction bench's spot mode: its policy sells a spot book once
the slide has taken the share of its equity the bench says (and not one pair before), the slide
sets every held pair's price, the venue's count of the tickers the runner watches, the venue's
share stamped at the crossing's frame, and the venues it runs are the registry's, one whose folder
says not what the real venue's ticker adds named."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.preview.policytest import run_tests
from tests.conftest import bench_module

sys.modules.setdefault("rogue_spot", bench_module("rogue_spot"))  # (its sibling, as the bench scripts import it)
spot = bench_module("stream_spot")


@pytest.mark.parametrize("n,holding,quote,want", [
    (1_000, 1_000.0, 1_000_000.0, 404),  # 8% of 101M is 8.08M, 20,000 a pair
    (10, 1_000.0, 0.0, 4),  # 8% of 1M is 80,000, 20,000 a pair: exactly 8% is the trigger's
    (1, 1_000.0, 1_000_000.0, 5),  # more than the book holds: the slide cannot trigger
])
def test_the_crossing_is_the_fewest_slid_pairs_that_take_the_trigger_off_the_open(n, holding, quote, want) -> None:
    assert spot.crossing(n, holding, quote) == want


def policy_test(n: int, slid: int) -> str:
    """A PolicyTest of the bench's policy: the book at the day's open, then ``slid`` of its pairs
    at :data:`SLID`; two held assets listed (what the stage sells)."""
    open_ = n * spot.HOLDING * spot.PRICE + spot.QUOTE
    after = open_ - slid * spot.HOLDING * (spot.PRICE - spot.SLID)
    held = spot.HOLDING
    return f"""\
apiVersion: killswitch/v1
kind: PolicyTest
metadata: {{name: slide}}
spec:
  policy: stream-reaction-spot
  interval: 10s
  tests:
    - name: {slid} of {n} pairs slid
      input:
        market_type: spot
        equity: "{open_:.0f}x1 {after:.0f}x1"
        balances:
          - {{asset: USDT, total: {spot.QUOTE:.0f}}}
          - {{asset: C0, total: {held:g}, price: "{spot.PRICE:g}x1 {spot.SLID:g}x1"}}
          - {{asset: C1, total: {held:g}, price: "{spot.PRICE:g}x3"}}
      expect:
        - {{at: 10s, stage: 0, firing: []}}
        - at: 20s
          stage: 1
          actions: [close_all]
          firing: [day_loss]
          orders:  # (the larger holding first: C1's, at its unslid price)
            - {{symbol: C1/USDT, side: sell, amount: {held:g}, reduce_only: false}}
            - {{symbol: C0/USDT, side: sell, amount: {held:g}, reduce_only: false}}
"""


def run_policy_test(n: int, slid: int):
    result = compile_documents(load_sources([("p.yaml", spot.policy(10.0)), ("t.yaml", policy_test(n, slid))]))
    assert result.errors == [], [e.message for e in result.errors]
    return run_tests(result)


def test_the_policy_sells_every_holding_once_the_crossing_of_the_slide_is_applied() -> None:
    n = 1_000
    report = run_policy_test(n, spot.crossing(n))
    assert (report.cases, report.failed, report.failures) == (1, 0, [])


def test_one_pair_fewer_than_the_crossing_does_not_trigger() -> None:
    n = 1_000
    report = run_policy_test(n, spot.crossing(n) - 1)
    assert report.failed == 1 and "day_loss" in report.failures[0].message


def test_the_slide_sets_every_held_pairs_price() -> None:
    eng = bench_module("rogue_spot").spot_book(3)
    assert spot.slide(eng) == 3
    assert [eng.mark(s) for s in eng.markets] == [spot.SLID] * 3
    assert eng.accounts["acct"].spot["C0"] == spot.HOLDING  # the holdings are the venue's own: unmoved


def test_watched_counts_each_pair_whose_ticker_a_socket_of_the_faces_pushes_once() -> None:
    def sock(*pairs: str):
        return SimpleNamespace(pushed={"marks": {p: (0.0, 100.0, 0) for p in pairs}})

    faces = [SimpleNamespace(sockets=[sock("C0USDT", "C1USDT"), sock("C1USDT")]),
             SimpleNamespace(sockets=[SimpleNamespace(pushed={})]),  # a socket watching no ticker
             SimpleNamespace(sockets=[sock("C2USDT")]),
             object()]  # a face without sockets
    assert spot.watched(faces) == 3
    assert spot.watched([]) == 0
    every = SimpleNamespace(pushed={"marks": {}, "every": {"pairs": frozenset({"C2USDT", "C3USDT"})}})
    assert spot.watched([*faces, SimpleNamespace(sockets=[every])]) == 4  # (a push of every pair's: MEXC spot)


def test_the_venues_are_every_streaming_spot_account_and_each_says_what_its_ticker_adds() -> None:
    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.simulated.venues import VENUES, market_types

    table = spot.reaction_venues()
    assert set(table) == {v for v in VENUES if "spot" in market_types(v) and dialect_for(v).streams_for("spot")}
    assert all(v.lacks is None and v.cadence for v in table.values())


def test_a_spot_venue_whose_folder_says_not_what_its_ticker_adds_is_named_not_run(monkeypatch) -> None:
    from importlib import import_module

    from adapters.registry import sim_venues

    contract = import_module(f"{sim_venues()['mexc'].__name__}.contract")
    monkeypatch.delattr(contract, "SPOT_STREAM_BENCH")
    mexc = spot.reaction_venues()["mexc"]
    assert mexc.cadence is None and mexc.lacks is not None
    assert "adapters/venues/mexc/contract.py" in mexc.lacks and "SPOT_STREAM_BENCH" in mexc.lacks


def test_the_venues_share_is_stamped_at_the_crossings_frame_sent_after_the_event() -> None:
    import asyncio

    class Face:
        def __init__(self) -> None:
            self.sockets: list = []
            self.sent: list = []

        async def _send(self, s, text) -> None:
            self.sent.append(text)

    face, seen = Face(), {"event": None}
    spot.stamp_sends([face, object()], seen, 3)  # (a face without sockets is left alone)

    async def send(*texts: str) -> None:
        for text in texts:
            await face._send(None, text)

    asyncio.run(send("before"))  # the frames before the event do not count
    seen["event"] = 1.0
    asyncio.run(send("a", "b"))
    assert "crossing_sent" not in seen
    asyncio.run(send("c"))
    stamped = seen["crossing_sent"]
    asyncio.run(send("d"))
    assert seen["crossing_sent"] == stamped and face.sent == ["before", "a", "b", "c", "d"]
