"""bench/stream_breakdown.py, where a streamed trial's time went: a spot trial is read from the
venue's stamp of the ticker that takes the book to its trigger to the deciding tick (the last the
runner started before its first submit) and that tick's phases, each phase's first end after it."""

from __future__ import annotations

import pytest

from tests.conftest import bench_module

bd = bench_module("stream_breakdown")


def trace(*rows: tuple) -> list[dict]:
    return [{"k": k, "t": t, **(extra[0] if extra else {})} for k, t, *extra in rows]


def test_a_spot_trial_is_read_from_the_crossings_ticker_to_the_deciding_tick_and_its_phases() -> None:
    tr = trace(("tick", 0.5), ("frame", 1.05, {"t0": 1.04}), ("tick", 1.10), ("_tick", 1.101),
               ("frame", 1.12, {"t0": 1.11}), ("tick", 1.20), ("_tick", 1.201), ("phase", 1.21, {"name": "snapshots"}),
               ("phase", 1.24, {"name": "evaluate"}), ("phase", 1.25, {"name": "journal"}),
               ("phase", 1.26, {"name": "persist"}), ("submit", 1.262),
               ("tick", 1.40), ("phase", 1.41, {"name": "snapshots"}), ("submit", 1.42))  # a later tick's
    r = {"event": 1.0, "crossing_sent": 1.08, "order": 1.265, "trace": tr}
    out = bd.spot_breakdown(r)
    seg = out["segments"]
    assert out["total"] == pytest.approx(265.0)
    assert seg["venue: event -> crossing's ticker sent"] == pytest.approx(80.0)
    assert seg["ticker sent -> deciding tick start"] == pytest.approx(120.0)
    assert seg["snapshots"] == pytest.approx(9.0)  # the deciding tick's, not the later one's
    assert (seg["evaluate"], seg["journal"], seg["persist"]) == pytest.approx((30.0, 10.0, 10.0))
    assert seg["persist -> first submit"] == pytest.approx(2.0)
    assert seg["submit -> venue receives"] == pytest.approx(3.0)
    assert out["ticks started before the deciding one"] == 1  # (the one at 0.5 was before the event)
    assert out["frames decoded before it"] == 2


def test_a_spot_trial_without_the_venues_stamp_or_a_submit_is_not_broken_down() -> None:
    tr = trace(("tick", 1.1), ("submit", 1.2))
    assert "segments" not in bd.spot_breakdown({"event": 1.0, "order": 1.3, "trace": tr})
    no_submit = bd.spot_breakdown({"event": 1.0, "crossing_sent": 1.05, "order": 1.3, "trace": trace(("tick", 1.1))})
    assert "segments" not in no_submit and no_submit["total"] == pytest.approx(300.0)
