"""``ksctl status``'s lines of what broke a lock or a limit at the venue (render/status.py)."""

from __future__ import annotations

from killswitch.render.status import violation_lines

ROW = {"key": "cancel|binanceusdm/sim-main|1", "action": "cancel", "scope": "binanceusdm/sim-main", "mode": "active",
       "venue": "binanceusdm", "account": "binanceusdm/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy",
       "amount": 0.01, "notional": 500.0, "client_order_id": "bot-a-1", "order_id": "1", "strategy": "bot-a",
       "ts_ms": 1_772_456_400_000, "dry_run": False, "outcome": "canceled"}


def test_a_limit_violation_names_the_limit_it_broke_not_the_lock_it_did_not():
    reason = "PRICE_COLLAR: price 50000 is 16.62% from mark 59966.4 of BTC/USDT:USDT [policy=g scope=s]"
    [_, line] = violation_lines({"total": 1, "recent": [{**ROW, "kind": "LIMIT_VIOLATION", "reason": reason}]})
    assert line.endswith(f"order bot-a-1 breaking {reason}: canceled"), line
    assert "under active" not in line


def test_a_lock_violation_says_the_lock_it_broke():
    row = {**ROW, "kind": "LOCK_VIOLATION", "mode": "halted", "reason": "HALTED: ..."}
    [_, line] = violation_lines({"total": 1, "recent": [row]})
    assert line.endswith("order bot-a-1 under halted binanceusdm/sim-main: canceled"), line
