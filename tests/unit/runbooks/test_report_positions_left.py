"""The closure report's positions left open at the period's end (walk 65, M4), from audit rows.

A residual recorded before the period that still stands at its end is listed; one whose
position closed, or whose incident ended, is not; an acceptance names who, when and why; a row
past the first that does not check is marked unverified.
"""

from __future__ import annotations

from killswitch.render.report import positions_left_lines
from killswitch.runbooks.residuals import positions_left
from killswitch.state.store import AuditRow

T = 1_772_456_400_000
HEDGE = "binanceusdm/sim-hedge"


def residual(seq: int, symbol: str, side: str, position_side, incident: str = "manual/x/m1") -> AuditRow:
    return AuditRow(seq, "close_residual", T + seq, {
        "incident": incident, "policy": None, "scope": HEDGE, "level": 0, "account": HEDGE, "symbol": symbol,
        "side": side, "position_side": position_side, "amount": 1500.0, "why": "CLOSE_REJECTED",
        "detail": "1 of 1 orders rejected by the venue: -2022 ReduceOnly Order is rejected.", "since_ms": T + seq,
        "as_of_ms": T + seq}, "h")


def test_standing_residuals_are_listed_with_who_accepted_them_and_ended_ones_are_not():
    rows = [
        residual(1, "SOL/USDT:USDT", "short", "SHORT"),
        residual(2, "ETH/USDT:USDT", "long", "LONG"),
        residual(3, "BTC/USDT:USDT", "long", None, incident="crash/binanceusdm/sim-main/L3/e1"),
        AuditRow(4, "close_residual_ended", T + 4, {"incident": "manual/x/m1", "account": HEDGE,
                                                    "symbol": "ETH/USDT:USDT", "side": "long",
                                                    "why": "POSITION_CLOSED"}, "h"),
        AuditRow(5, "close_rejection_accepted", T + 5, {
            "by": "alice", "reason": "desk closes by hand",
            "legs": [{"incident": "manual/x/m1", "account": HEDGE, "symbol": "SOL/USDT:USDT", "leg": "SHORT"}]}, "h"),
    ]
    left = positions_left(rows, lambda seq: seq < 5)
    assert [(x["symbol"], x["leg"]) for x in left] == [("SOL/USDT:USDT", "SHORT"), ("BTC/USDT:USDT", "long")]
    sol, btc = left
    assert sol["accepted"] == {"by": "alice", "at": "2026-03-02T13:00:00Z", "reason": "desk closes by hand"}
    assert not sol["verified"]  # its acceptance was read from a row past the first that does not check
    assert btc["accepted"] is None and btc["verified"]
    lines = positions_left_lines(left)
    assert lines[0] == "## Positions left open at the period's end"
    assert any(x.startswith(f"| {HEDGE} | BTC/USDT:USDT | long | 1500.0 | CLOSE_REJECTED: ") and "| **nobody** |" in x
               for x in lines), lines
    assert any("| alice at 2026-03-02T13:00:00Z: desk closes by hand *unverified* |" in x for x in lines), lines


def test_nothing_left_open_says_so():
    assert positions_left([], lambda seq: True) == []
    assert "No position was left open by a close at the period's end." in positions_left_lines([])


def test_one_open_leg_is_one_row_naming_every_incident_that_failed_to_close_it():
    """Fifth walk (issue 65, M7): a stage's close and a manual close of the same 30 ETH long were
    refused; the report listed two rows of 30 (60 ETH), the venue holds 30."""
    book = "futures-book/binanceusdm/sim-hedge/L1/e1"
    rows = [residual(1, "ETH/USDT:USDT", "long", "LONG", incident=book),
            residual(2, "ETH/USDT:USDT", "long", "LONG", incident="manual/binanceusdm/sim-hedge/m1"),
            residual(3, "SOL/USDT:USDT", "short", "SHORT", incident=book)]
    left = positions_left(rows, lambda seq: True)
    assert [(x["symbol"], x["leg"], x["incidents"]) for x in left] == [
        ("ETH/USDT:USDT", "LONG", [book, "manual/binanceusdm/sim-hedge/m1"]), ("SOL/USDT:USDT", "SHORT", [book])]
    eth = [x for x in positions_left_lines(left) if "ETH/USDT:USDT" in x]
    assert len(eth) == 1 and f"| {book}, manual/binanceusdm/sim-hedge/m1 |" in eth[0], eth


def test_a_partial_reductions_residual_keeps_its_shortfall_beside_the_amount():
    """Walk 12 (issue 65, M2): status read 'BTC/USDT:USDT long LONG 2 (shortfall 1 of 2)'; the
    report's row read '2.0' alone, the shortfall lost. A residual of the whole leg has none."""
    part = residual(1, "BTC/USDT:USDT", "long", "LONG")
    part.payload.update(amount=2.0, shortfall=1.0)
    rows = [part, residual(2, "SOL/USDT:USDT", "short", "SHORT")]
    left = positions_left(rows, lambda seq: True)
    assert [x["shortfall"] for x in left] == [1.0, None]
    lines = positions_left_lines(left)
    assert any(x.startswith(f"| {HEDGE} | BTC/USDT:USDT | LONG | 2.0 (shortfall 1 of 2) | CLOSE_REJECTED: ")
               for x in lines), lines
    assert any(x.startswith(f"| {HEDGE} | SOL/USDT:USDT | SHORT | 1500.0 | CLOSE_REJECTED: ") for x in lines), lines
