"""Numbers as a person reads them: one formatter for the console and ``ksctl status``.

A limit price of ``52611.594000000005``, a notional of ``300000`` beside one of ``1,000,000``,
and ``1e+06`` and ``500000`` for the same kind of figure in one status made people read twice
during an incident. Every figure the console and ``ksctl status`` show goes through here:

- :func:`figure`: thousands separators, never an exponent below 1e15, at most
  :data:`SIGNIFICANT` significant digits (float noise gone: ``52,611.594``), trailing zeros cut;
  rounded to the market's ``step`` when it is known (a price to its tick: ``52,611.6`` on a
  0.1 tick, ``140.35`` on 0.01), with the step's decimals.
- :func:`money`: an amount of money (notional, equity, PnL): separators and two decimals.
- :func:`fees_text`, :func:`pnl_text`: what a close came to, the venue's fee and the PnL it
  realized (``0.12 USDT``, ``-2,029.20 USDT``), and which of them is not reported or not known.
- :func:`step_of`: where a resumption's schedule is (``day 1 of 2`` on a daily step, ``step 1
  of 2 (every 2m)`` on another: a 2-minute step said ``day 1 of 2``).
- :func:`iso`: a time, UTC to the second (``2026-03-02T13:00:00Z``), as every renderer and
  every standing fact (:mod:`killswitch.facts`) writes it; :func:`iso_ms` to the millisecond, as
  the audit trail, the pages and the log write it.

Pure, imports nothing of ours: any layer may use it. The console's script has the same rules
(``figure`` in ``static/console.js``) for what it formats itself.
"""

from __future__ import annotations

import datetime as _dt
import math
from decimal import Decimal, InvalidOperation
from typing import Iterable, Optional

SIGNIFICANT = 8  # digits kept when no step is known
HUGE = 1e15  # at and above this, an exponent says more than 16 digits would


def places(step: float) -> int:
    """The decimals a step has: 0.1 → 1, 0.005 → 3, 1 → 0, 5e-05 → 5."""
    try:
        exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    except (InvalidOperation, ValueError):
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


def shortfall_text(amount: Optional[float], shortfall: Optional[float]) -> str:
    """``shortfall 1 of 2``: what a refused close would have taken off a leg of ``amount`` (a
    partial reduction's), when less than the whole leg; empty when it is the whole leg or unknown."""
    if not isinstance(shortfall, (int, float)) or not isinstance(amount, (int, float)) or shortfall <= 0 \
            or shortfall >= abs(amount) * (1 - 1e-9):
        return ""
    return f"shortfall {figure(shortfall)} of {figure(abs(amount))}"


def figure(x: Optional[float], step: Optional[float] = None) -> str:
    """``x`` as the console and ``ksctl status`` show it (see the module doc); ``-`` for None."""
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "unknown" if math.isnan(x) else ("-" if x < 0 else "") + "infinite"
    if abs(x) >= HUGE:
        return f"{x:.3e}"
    if step is not None and step > 0 and math.isfinite(step):
        d = places(step)
        text = f"{round(round(x / step) * step, d):,.{d}f}"
    else:
        magnitude = math.floor(math.log10(abs(x))) if x else 0
        d = min(12, max(0, SIGNIFICANT - 1 - magnitude))
        text = f"{round(x, d):,.{d}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "-0.0") or text.strip("-0.,") == "" else text


def money(x: Optional[float]) -> str:
    """An amount of money: ``1,234,567.89``; ``-`` for None."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return figure(x)
    text = f"{x:,.2f}"
    return "0.00" if text == "-0.00" else text


def fees_text(fees: Optional[Iterable[tuple[float, Optional[str]]]]) -> str:
    """The fee a venue reported on an order, ``(cost, currency)`` each: ``0.12 USDT``, ``0.1
    USDT + 0.0002 BNB``; ``not reported`` when its answer carried none (empty); ``not known``
    for None (journaled before fees were, or no answer of the venue): never 0."""
    if fees is None:
        return "not known"
    parts = [f"{figure(cost)} {currency}" if currency else figure(cost) for cost, currency in fees]
    return " + ".join(parts) if parts else "not reported"


def pnl_text(pnl: Optional[float], symbol: str = "") -> str:
    """The PnL a close realized, signed, in the currency its contract settles in (of a unified
    symbol, ``BTC/USDT:USDT``): ``+976.00 USDT``, ``-2,029.20 USDT``; ``not known`` for None."""
    if pnl is None:
        return "not known"
    currency = symbol.partition(":")[2]
    return ("+" if pnl > 0 and money(pnl) != "0.00" else "") + money(pnl) + (f" {currency}" if currency else "")


DAY_MS = 86_400_000


def step_of(step: int, steps: int, step_ms: Optional[int]) -> str:
    """``day N of M`` when a step is a day (or its length is not known), else ``step N of M
    (every 2m)``."""
    if step_ms is None or step_ms == DAY_MS:
        return f"day {step} of {steps}"
    return f"step {step} of {steps} (every {duration_text(max(1, int(step_ms // 1000)))})"


def iso(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ms: int) -> str:
    """UTC milliseconds since the epoch → ``2024-05-01T12:00:00.123Z``."""
    return _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def duration_text(seconds: Optional[float]) -> Optional[str]:
    """``90`` → ``1m30s``, ``3600`` → ``1h``, ``0.5`` → ``500ms``."""
    if seconds is None:
        return None
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    s = int(round(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"


def as_read(read_ms: Optional[int], now_ms: int, interval_s: Optional[float]) -> Optional[str]:
    """How old what a preview counts is, when older than ``interval_s`` (the interval its
    runner reads the venues at: what a tick read is never older, unless ticks stopped or a read
    failed since): ``as read 70 s ago`` (``as read 3m10s ago`` past two minutes); None when it is
    fresh, or when the read's time or the interval is not known. Every preview that counts
    orders or positions from the last tick's read says it through here."""
    if read_ms is None or not interval_s or interval_s <= 0:
        return None
    age_s = (now_ms - read_ms) / 1000
    if age_s <= interval_s:
        return None
    return f"as read {round(age_s)} s ago" if age_s < 120 else f"as read {duration_text(age_s)} ago"
