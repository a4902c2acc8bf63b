"""What a Kraken Futures answer of the simulated exchange is made of: its ids, its statuses, its times.

What it owns
    an engine market as Kraken's multi-collateral perpetual (:func:`market_id`: BTCUSDT is
    ``PF_XBTUSD``, quoted and settled in USD); the engine's
    order and trigger ids as Kraken's UUID-shaped ``order_id`` (:func:`order_uuid`,
    :func:`trigger_uuid`) and back (:func:`engine_id`); the engine's refusals as Kraken's
    statuses (:data:`SEND_STATUS`: an order refused is HTTP 200 ``result: success`` with its
    ``sendStatus.status``) and its error bodies (:func:`error`); a time as Kraken writes it
    (:func:`iso`).

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Optional

from ....simulated.faces.shared import engine_codes
from ....simulated.numbers import plain as _f  # noqa: F401
from ....simulated.rules import POST_ONLY_REJECTED, MarketSpec

# Kraken's base of an engine base where they differ (its BTC is XBT)
BASES = {"BTC": "XBT"}

# the engine's refusal of an order → sendStatus.status (Kraken answers them HTTP 200)
SEND_STATUS: dict[int, str] = engine_codes(
    no_position="wouldNotReducePosition",
    no_margin="insufficientAvailableFunds",
    duplicate_id="clientOrderIdAlreadyExist",
    precision="invalidSize",
    too_small="invalidSize",
    more={
        -4003: "invalidSize",
        -4014: "invalidPrice",
        -4013: "invalidPrice",
        POST_ONLY_REJECTED: "postWouldExecute",
    },
)

UUID_RE = re.compile(r"^00000000-0000-4000-(8000|9000)-(\d{12})$")


def market_id(m: MarketSpec) -> str:
    """Kraken's id of the engine's perpetual: PF_ + its base (XBT for BTC) + USD."""
    return f"PF_{BASES.get(m.base, m.base)}USD"


def order_uuid(order_id: int) -> str:
    """An engine order's ``order_id`` as Kraken writes one (a UUID)."""
    return f"00000000-0000-4000-8000-{order_id:012d}"


def trigger_uuid(algo_id: int) -> str:
    """An engine trigger (conditional) order's ``order_id``: the same UUID space, another group."""
    return f"00000000-0000-4000-9000-{algo_id:012d}"


def engine_id(uuid: Any) -> tuple[Optional[str], Optional[int]]:
    """("order" | "trigger", the engine's id) of a face's UUID, (None, None) for any other."""
    m = UUID_RE.match(str(uuid or ""))
    if m is None:
        return None, None
    return ("order" if m.group(1) == "8000" else "trigger"), int(m.group(2))


def iso(ms: int) -> str:
    """A time in Kraken's ISO 8601 form (milliseconds, Z)."""
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def error(code: str, at: int) -> dict:
    """Kraken's error body: ``result: error``, its ``error`` code, ``serverTime``."""
    return {"result": "error", "error": code, "serverTime": iso(at)}
