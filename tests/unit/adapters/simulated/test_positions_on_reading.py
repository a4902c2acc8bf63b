"""Positions made on reading: a snapshot's positions held as columns, each model built when read.

The in-process simulated adapter hands the runner its positions as :class:`PositionsOnReading`:
the tick reads the columns and builds no model. These tests hold the sequence to what a list
of the same positions is to every reader (equality, indexing, slices, iteration, dumps, copies,
pickles), and the adapter's positions and columns, over random books and many snapshots, to
the models pydantic validates from the engine's views leg by leg, type for type.
"""

from __future__ import annotations

import asyncio
import copy
import pickle

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.views import money
from killswitch.snapshot import (
    COLUMN_FIELDS,
    Position,
    PositionColumns,
    PositionList,
    PositionsOnReading,
    Snapshot,
    columns_of,
    with_positions,
)

from .test_snapshot import random_book, typed


def positions(n: int) -> list[Position]:
    return [Position(symbol=f"C{i}/USDT:USDT", side="long" if i % 2 else "short", contracts=1.0 + i,
                     notional=10.0 * (i + 1), mark_price=10.0, unrealized_pnl=-1.5 * i,
                     liquidation_price=None if i % 3 else 4.0, margin=2.0) for i in range(n)]


def on_reading(ps: list[Position]) -> tuple[PositionsOnReading, list[int]]:
    """``ps`` as positions made on reading, and the indexes made, in the order they were made."""
    made: list[int] = []

    def make(i: int) -> Position:
        made.append(i)
        return ps[i]

    cols = PositionColumns([tuple(getattr(p, f) for f in COLUMN_FIELDS) for p in ps])
    return PositionsOnReading(cols, make), made


def test_only_the_positions_read_are_made_and_each_once():
    ps = positions(6)
    seq, made = on_reading(ps)
    assert len(seq) == 6 and made == []
    assert seq[4] is ps[4] and seq[-1] is ps[5] and seq[4] is ps[4]
    assert made == [4, 5]
    assert list(seq) == ps and made == [4, 5, 0, 1, 2, 3]
    assert list(seq) == ps and len(made) == 6  # all made: none again


def test_it_reads_as_the_list_of_its_positions():
    ps = positions(5)
    seq, _ = on_reading(ps)
    assert seq == ps and ps == seq and seq == PositionList(ps) and not (seq != ps)
    assert seq != ps[:4] and seq != tuple(ps) and seq != positions(5)[::-1]
    assert seq[1:3] == ps[1:3] and seq[::-1] == ps[::-1] and list(reversed(seq)) == ps[::-1]
    assert ps[2] in seq and seq.index(ps[3]) == 3 and seq.count(ps[0]) == 1
    assert bool(seq) and not PositionsOnReading(PositionColumns([]), lambda i: ps[i])
    assert repr(seq) == repr(ps) and sorted(seq, key=lambda p: p.notional) == ps
    for bad in (5, -6):
        with pytest.raises(IndexError):
            seq[bad]
    with pytest.raises(TypeError):
        seq["0"]  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        hash(seq)
    with pytest.raises(AttributeError):  # it cannot be changed: no storage to change behind its back
        seq.append(ps[0])  # type: ignore[attr-defined]


def test_a_snapshot_of_it_dumps_copies_and_pickles_as_the_list():
    ps = positions(4)
    seq, _ = on_reading(ps)
    base = Snapshot(venue="v", account="a", market_type="futures", ts_event=1)
    snap = with_positions(base, seq)
    plain = base.model_copy(update={"positions": ps})
    assert snap.model_dump() == plain.model_dump() and snap.model_dump_json() == plain.model_dump_json()
    assert Snapshot.model_validate_json(snap.model_dump_json()) == snap == plain
    for copied in (copy.copy(seq), copy.deepcopy(seq), pickle.loads(pickle.dumps(seq))):
        assert type(copied) is PositionList and copied == ps
        assert columns_of(copied) is not None and copied.columns.symbols == [p.symbol for p in ps]
    deep = snap.model_copy(deep=True)
    assert deep == snap and type(deep.positions) is PositionList


def test_sharing_hands_out_the_same_models():
    ps = positions(3)
    seq, made = on_reading(ps)
    other = seq.sharing()
    assert other is not seq and other.columns is seq.columns
    assert other[1] is seq[1] and made == [1]


def test_columns_and_positions_made_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        PositionsOnReading(PositionColumns([]), lambda i: positions(1)[0], made=[None])
    with pytest.raises(ValueError):
        PositionColumns.of_columns(symbols=["a"], sides=["long"], side_keys=["BOTH"], contracts=[1.0],
                                   notional=[1.0], marks=[1.0], upnl=[0.0], liq=[None], margin=[])
    with pytest.raises(ValueError, match="not a position column: mark"):
        PositionColumns.of_columns(symbols=["a"], sides=["long"], contracts=[1.0], notional=[1.0], mark=[1.0],
                                   upnl=[0.0])
    with pytest.raises(ValueError, match="marks missing"):
        PositionColumns.of_columns(symbols=["a"], sides=["long"], contracts=[1.0], notional=[1.0], upnl=[0.0])


def validated(ex, views) -> list[Position]:
    """The positions ``views`` validate to, one by one, as an adapter would parse a venue's answer."""
    out = []
    for v in views:
        m = ex.markets[v.symbol]
        out.append(Position(symbol=m.unified, side="long" if v.amount > 0 else "short", position_side=v.position_side,
                            contracts=abs(v.amount), contract_size=m.contract_size, notional=abs(v.notional),
                            entry_price=v.entry_price or None, mark_price=v.mark_price,
                            unrealized_pnl=money(v.unrealized_pnl), liquidation_price=v.liquidation_price or None,
                            margin=money(v.initial_margin), maintenance_margin=money(v.maint_margin),
                            leverage=v.leverage))
    return out


def values(ps) -> list[tuple]:
    return typed([tuple(getattr(p, f) for f in Position.model_fields) for p in ps])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=random_book(), steps=st.lists(st.integers(0, 120_000), min_size=1, max_size=8),
       read=st.sampled_from(["all", "some", "none"]))
def test_the_adapter_positions_are_the_validated_models_snapshot_after_snapshot(book, steps, read):
    """Columns made from the engine's numbers, money rounded again only where it changed, each
    model made when read: after every snapshot, the same values and types as the positions
    validated from the views, whatever was read of the snapshots before."""
    ex, clock, _ = book
    adapter = SimulatedAdapter(ex, "a")
    for step in steps:
        clock.advance(step)
        snap = asyncio.run(asyncio.wait_for(adapter.snapshot(), 20))
        assert snap.fetch.ok
        expected = validated(ex, ex.positions("a", at=snap.ts_event))
        cols = columns_of(snap.positions)
        assert cols is not None
        assert typed(zip(cols.side_keys, *(cols.column(f) for f in COLUMN_FIELDS))) == typed(
            (p.position_side or p.side, *(getattr(p, f) for f in COLUMN_FIELDS)) for p in expected)
        if read == "all" or (read == "some" and step % 2):
            assert values(snap.positions) == values(expected)
            assert snap.positions == expected
