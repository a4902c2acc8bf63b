"""The position each close was planned from, journaled with its intent (runner/venue/entries.py):
its entry price and contract size, read from the snapshot of its account whether its positions
are models or columns; not known for what closes no position the snapshots hold."""

from __future__ import annotations

from killswitch.orders import OrderIntent
from killswitch.runner.venue.entries import NOT_KNOWN, entries_of
from killswitch.snapshot import PositionList, with_positions
from tests.unit.engine_helpers import pos, snap


def _close(symbol, side, leg=None, account="a", reduce_only=True):
    return OrderIntent("d", f"c-{symbol}-{side}-{leg}", "simulated", account, symbol, side, leg, 1.0, reduce_only,
                       None, 100.0, 1, 1, 0, "close_all", "CLOSE_ALL")


def _positions():
    return [pos("BTC/USDT:USDT", "long", entry=50_000.0), pos("BTC/USDT:USDT", "short", entry=51_000.0,
                                                              position_side="SHORT"),
            pos("ETH/USDT:USDT", "short", entry=3_000.0).model_copy(update={"contract_size": 10.0}),
            pos("BTC/USD:BTC", "long", entry=49_000.0)]


def test_each_close_gets_the_entry_of_the_position_it_closes_as_models_or_as_columns():
    orders = [_close("BTC/USDT:USDT", "sell"), _close("BTC/USDT:USDT", "buy", "SHORT"),
              _close("ETH/USDT:USDT", "buy"),
              _close("BTC/USD:BTC", "sell"),  # an inverse contract: its PnL is no (exit - entry) x size
              _close("SOL/USDT:USDT", "sell"),  # no such position
              _close("BTC/USDT:USDT", "sell", account="b"),  # no snapshot of its account
              _close("BTC/USDT", "sell", reduce_only=False)]  # a spot sale closes no position
    want = [(50_000.0, 1.0), (51_000.0, 1.0), (3_000.0, 10.0)] + [NOT_KNOWN] * 4
    models = snap(positions=_positions())
    columns = with_positions(models, PositionList.of(_positions()))
    assert entries_of(orders, [models]) == want
    assert entries_of(orders, [columns]) == want
    assert entries_of(orders, []) == [NOT_KNOWN] * len(orders)
