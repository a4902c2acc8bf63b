"""Times as every renderer writes them: UTC, to the second, ISO 8601 with a Z.

Its own module so that the renderers that share it (evaluation, plan, diff, coverage) import it
without importing each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from ..figures import duration_text as duration_text  # the runner's too: a figure of its own


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_text(seconds: Optional[float]) -> str:
    """An age or a span in seconds as ``5s`` (``-``: unknown)."""
    return "-" if seconds is None else f"{seconds:g}s"


