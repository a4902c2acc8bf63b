"""Times as every renderer writes them: UTC, to the second, ISO 8601 with a Z.

Its own module so that the renderers that share it (evaluation, plan, diff, coverage) import it
without importing each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_text(seconds: Optional[float]) -> str:
    """An age or a span in seconds as ``5s`` (``-``: unknown)."""
    return "-" if seconds is None else f"{seconds:g}s"


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
