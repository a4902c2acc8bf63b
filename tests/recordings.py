"""Recordings derived from policies/recordings/futures-crash.jsonl for tests of what a preview did
not see: the same ticks, with snapshots that failed the way a venue fails."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import POLICIES

CRASH = POLICIES / "recordings" / "futures-crash.jsonl"
REFUSED = 'fetch_balance: AuthenticationError: bybit {"retCode":10003,"retMsg":"API key is invalid."}'


def failing_ticks(ticks: int = 40, failing: tuple[int, ...] = (10, 11, 12)) -> str:
    """The first ``ticks`` ticks of the crash recording as JSONL, where binance-futures-main's snapshot
    times out on the ``failing`` ticks (0-based) and a second account, bybit/bybit-futures, is refused
    (AUTH) on every tick. A failed snapshot is what an adapter records: no equity, no positions."""
    out = []
    for i, line in enumerate(CRASH.read_text().splitlines()[:ticks]):
        tick = json.loads(line)
        snaps = []
        for s in tick["snapshots"]:
            if i in failing:
                s = {k: s[k] for k in ("venue", "account", "market_type", "ts_event", "labels", "initial_capital")}
                s["fetch"] = {"ok": False, "error_code": "TIMEOUT", "error": "snapshot: no answer within 10s"}
            snaps.append(s)
        snaps.append({"venue": "bybit", "account": "bybit-futures", "market_type": "futures",
                      "ts_event": tick["now"], "labels": {"book": "futures", "desk": "crypto"},
                      "fetch": {"ok": False, "error_code": "AUTH", "error": REFUSED}})
        tick["snapshots"] = snaps
        out.append(json.dumps(tick))
    return "\n".join(out) + "\n"


def failing_recording(path: Path, ticks: int = 40, failing: tuple[int, ...] = (10, 11, 12)) -> Path:
    """:func:`failing_ticks` written to ``path``."""
    path.write_text(failing_ticks(ticks, failing))
    return path
