"""bench/rogue_spot.py, the rogue bench's spot mode: the venues it runs are the registry's (every
simulated spot account whose dialect streams), one its simulator cannot push for is named with
what it lacks, and the spot book holds each base asset at the size asked."""

from __future__ import annotations

import pytest

from tests.conftest import bench_module

rogue = bench_module("rogue_spot")


def test_the_spot_venues_are_every_simulated_spot_account_whose_dialect_streams() -> None:
    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.simulated.venues import VENUES, market_types

    table = rogue.spot_stream_venues()
    assert set(table) == {v for v in VENUES if "spot" in market_types(v) and dialect_for(v).streams_for("spot")}
    mexc = table["mexc"]  # its spot face beside the contract API's, streamed from the spot websocket
    assert (mexc.folder, mexc.name, mexc.lacks) == ("mexc", "simulated MEXC spot", None)
    assert "binanceusdm" not in table  # a futures face alone


def test_a_spot_venue_whose_simulator_has_no_websocket_face_is_named_with_what_it_lacks(monkeypatch) -> None:
    from adapters.registry import sim_venues

    monkeypatch.setattr(sim_venues()["mexc"], "STREAM_FACE", None)
    lacks = rogue.spot_stream_venues()["mexc"].lacks
    assert lacks is not None and "STREAM_FACE" in lacks and "mexc" in lacks


@pytest.mark.parametrize("asked,market,want", [
    (None, "futures", ["binanceusdm"]),
    (None, "spot", ["a", "b"]),
    (" okx, bybit ,", "futures", ["okx", "bybit"]),
    ("b", "spot", ["b"]),
])
def test_the_venues_asked_else_binance_on_futures_and_every_spot_venue_on_spot(asked, market, want) -> None:
    assert rogue.pick_venues(asked, market, {"a": None, "b": None}) == want


def test_the_spot_book_holds_each_base_asked_and_the_quote_the_bot_spends_and_no_position() -> None:
    eng = rogue.spot_book(3, "bot", 1_000.0, 5_000.0)
    assert eng.accounts["bot"].spot == {"USDT": 5_000.0, "C0": 1_000.0, "C1": 1_000.0, "C2": 1_000.0}
    assert [eng.mark(s) for s in eng.markets] == [100.0, 100.0, 100.0]
    assert not eng.positions("bot", "C0USDT")


def test_why_a_run_never_came_live_is_the_runners_first_word_of_each_kind(tmp_path) -> None:
    err = tmp_path / "bench.err"
    err.write_text(
        "2026-11-29T15:24:12.387Z ERROR killswitch.run ksctl run: no NotificationRoutes document\n"
        "2026-11-29T15:24:13.639Z WARNING killswitch.runner.fetch FETCH_FAILING: kraken/acct: "
        "EXCHANGE_UNAVAILABLE: fetch_tickers: ExchangeNotAvailable\n"
        "2026-11-29T15:24:14.000Z WARNING killswitch.runner.fetch FETCH_FAILING: kraken/acct: later\n"
        "2026-11-29T15:24:15.000Z WARNING killswitch.runner.streams STREAM_DOWN: kraken/acct: its stream is down\n")
    assert rogue.why_not_read(err) == [
        "FETCH_FAILING: kraken/acct: EXCHANGE_UNAVAILABLE: fetch_tickers: ExchangeNotAvailable",
        "STREAM_DOWN: kraken/acct: its stream is down"]
    assert rogue.why_not_read(err, width=13) == ["FETCH_FAILING", "STREAM_DOWN: "]
    assert rogue.why_not_read(tmp_path / "none.err") == []
