"""Scripted recordings: market scenarios as snapshot streams for a preview to replay (the demo,
the replay goldens, the benchmarks).

Deterministic (no randomness, no clock): the same scenario always gives the same bytes.
``python -m killswitch.preview.recordings futures-crash > policies/recordings/futures-crash.jsonl``
writes the recording that ``make demo`` replays.
"""

from __future__ import annotations

import json
import math
import sys

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
MINUTE = 60_000

# symbol, side, contracts, entry, liquidation, amount step
BOOK = [
    ("BTC/USDT:USDT", "long", 5.0, 60_000.0, 48_000.0, 0.001),
    ("ETH/USDT:USDT", "long", 100.0, 3_000.0, 2_450.0, 0.01),
    ("SOL/USDT:USDT", "short", 1_000.0, 140.0, 175.0, 1.0),
]
# per-minute move during the crash
CRASH = {"BTC/USDT:USDT": -0.015, "ETH/USDT:USDT": -0.02, "SOL/USDT:USDT": -0.01}


def futures_crash(minutes: int = 100, crash_at: int = 60, crash_len: int = 16) -> list[dict]:
    """A hedged futures book, calm for an hour, then 16 minutes of crash (longs bleed)."""
    ticks = []
    for m in range(minutes):
        now = T0 + m * MINUTE
        positions = []
        pnl_total = 0.0
        for symbol, side, contracts, entry, liq, _ in BOOK:
            drift = 1.0 + 0.002 * math.sin(m / 7.0 + len(symbol))
            crashed = min(max(0, m - crash_at + 1), crash_len)
            mark = round(entry * drift * (1.0 + CRASH[symbol]) ** crashed, 4)
            upnl = contracts * (mark - entry) * (1 if side == "long" else -1)
            pnl_total += upnl
            positions.append({
                "symbol": symbol, "side": side, "position_side": side.upper(), "contracts": contracts,
                "notional": round(contracts * mark, 2), "entry_price": entry, "mark_price": mark,
                "unrealized_pnl": round(upnl, 2), "liquidation_price": liq,
                "margin": round(contracts * entry / 10, 2), "leverage": 10, "strategy": "strategy-a",
            })
        snap = {
            "venue": "binanceusdm", "account": "binance-futures-main", "market_type": "futures",
            "ts_event": now, "ts_observed": now + 150, "equity": round(1_000_000 + pnl_total, 2),
            "labels": {"book": "futures", "desk": "crypto"}, "initial_capital": 1_000_000,
            "positions": positions,
            "orders": [
                {"id": f"o-entry-{m}", "symbol": "ETH/USDT:USDT", "side": "buy", "type": "limit",
                 "amount": 5, "price": 2900, "position_side": "LONG"},
                {"id": "o-stop-btc", "symbol": "BTC/USDT:USDT", "side": "sell", "type": "stop_market",
                 "reduce_only": True, "amount": 5, "position_side": "LONG"},
            ],
            "markets": {s: {"amount_step": step, "min_amount": step} for s, _, _, _, _, step in BOOK},
            "fetch": {"ok": True, "latency_ms": 120 + (m % 5) * 10, "calls": 4, "failed_calls": 0},
        }
        # the runner counted no refusal nor violation: gate_refusals and venue_violations read 0
        ticks.append({"now": now, "snapshots": [snap], "heartbeats": {"strategy-a": now - 4_000}, "violations": []})
    return ticks


SCENARIOS = {"futures-crash": futures_crash}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SCENARIOS:
        print(f"usage: python -m killswitch.preview.recordings {{{'|'.join(SCENARIOS)}}}", file=sys.stderr)
        return 2
    for tick in SCENARIOS[argv[0]]():
        sys.stdout.write(json.dumps(tick, separators=(",", ":"), sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
