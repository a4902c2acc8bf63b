"""Times as every renderer writes them: UTC, to the second, ISO 8601 with a Z.

Its own module so that the renderers that share it (evaluation, plan, diff, coverage) import it
without importing each other.
"""

from __future__ import annotations

import datetime as dt


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
