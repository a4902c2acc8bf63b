"""What a close came to, in the journal (migration 19): the fee each venue answer reported and the
PnL the fill realized against the entry price of the position the close was planned from, on
SQLite and PostgreSQL. An older row, and a result the runner wrote itself, read as not known."""

from __future__ import annotations

import json

import pytest

from killswitch.state.store import IntentRow


def _leader(store):
    fence = store.acquire_lease("runner-a", 10_000, 0)
    assert fence is not None
    return fence


def _close(cid, side, leg=None, entry=None, size=None, reduce_only=True):
    return IntentRow(cid, "p/x/L3/e1", "simulated", "a", "BTC/USDT:USDT", side, leg, 2.0, reduce_only,
                     json.dumps({"client_order_id": cid}), entry, size)


def test_a_fill_keeps_the_venues_fee_and_the_pnl_against_the_entry_it_closed(store):
    """Issue 81: the journal kept what filled and at what price, not the fee nor the PnL."""
    fence = _leader(store)
    store.journal_intents(fence, [_close("long", "sell", None, 100.0, 1.0),
                                  _close("short", "buy", "SHORT", 100.0, 10.0),
                                  _close("spot", "sell", reduce_only=False)])
    store.journal_result(fence, "long", "partially_filled", 0.5, 110.0, None, None, fees=((0.02, "USDT"),))
    store.journal_result(fence, "long", "filled", 2.0, 104.0, None, None, fees=((0.08, "USDT"), (0.001, "BNB")))
    store.journal_result(fence, "short", "filled", 2.0, 104.0, None, None, fees=())
    store.journal_result(fence, "spot", "filled", 2.0, 104.0, None, None, fees=((0.1, None),))
    got = {e.client_order_id: e for e in store.journal()}
    long, short, spot = got["long"], got["short"], got["spot"]
    assert (long.fees, long.realized_pnl) == (((0.08, "USDT"), (0.001, "BNB")), pytest.approx(8.0))  # the latest
    assert (long.entry_price, long.contract_size) == (100.0, 1.0)
    assert (short.fees, short.realized_pnl) == ((), pytest.approx(-80.0))  # a short closed higher: a loss
    assert (spot.fees, spot.realized_pnl) == (((0.1, None),), None)  # a spot sale closes no position


def test_a_result_the_runner_wrote_and_an_older_row_read_as_not_known_never_0(store, raw):
    fence = _leader(store)
    store.journal_intents(fence, [_close("sent", "sell", None, 100.0, 1.0)])
    store.journal_result(fence, "sent", "unknown", 0.0, None, "TIMEOUT", "no answer")
    raw("INSERT INTO order_intent (client_order_id, fence, decision_id, venue, account, symbol, side, position_side, "
        "amount, reduce_only, payload, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("old", fence, "p/x/L3/e0", "simulated", "a", "BTC/USDT:USDT", "sell", None, 1.0, True, "{}", 1))
    raw("INSERT INTO order_result (client_order_id, fence, status, final, filled, avg_price, ts_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", ("old", fence, "filled", True, 1.0, 99.0, 2))  # as migration 18 kept it
    got = {e.client_order_id: e for e in store.journal()}
    assert (got["sent"].fees, got["sent"].realized_pnl) == (None, None)  # nothing filled, no venue answer
    assert (got["old"].fees, got["old"].realized_pnl, got["old"].entry_price) == (None, None, None)
    store.journal_result(fence, "old", "filled", 1.0, 99.0, None, "RECONCILED", fees=())
    old = next(e for e in store.journal() if e.client_order_id == "old")
    assert (old.fees, old.realized_pnl) == ((), None)  # answered now; its entry price was never journaled
