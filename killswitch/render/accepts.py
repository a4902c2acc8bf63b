"""The ``ksctl close-accept`` command of a close the venue refused, as a person types it.

One builder for every place that suggests it: ``ksctl status`` under its CLOSE_REJECTED lines,
and the runbook of the incident whose closes were refused (each refused leg, exactly). Words are
quoted for a POSIX shell; a placeholder (``A``, ``R``) is left as it is.

Pure: no I/O.
"""

from __future__ import annotations

import shlex
from typing import Optional

REASON = '"<why it is accepted>"'


def accept_command(account: str, symbol: Optional[str] = None, leg: Optional[str] = None,
                   reason: str = REASON) -> str:
    """``ksctl close-accept --account … [--symbol … --leg …] --reason …`` of one refused leg
    (``leg``: long | short, or LONG | SHORT in hedge mode, as the venue's position says)."""
    words = f"ksctl close-accept --account {shlex.quote(account)}"
    if symbol:
        words += f" --symbol {shlex.quote(symbol)}"
    if leg:
        words += f" --leg {shlex.quote(leg)}"
    return f"{words} --reason {reason}"


__all__ = ["REASON", "accept_command"]
