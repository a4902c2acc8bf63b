"""Times as every renderer writes them: UTC, to the second, ISO 8601 with a Z.

Its own module so that the renderers that share it (evaluation, plan, diff, coverage) import it
without importing each other.
"""

from __future__ import annotations

from typing import Optional

# the runner's and the standing facts' too: figures of their own
from ..figures import duration_text as duration_text, iso as iso


def seconds_text(seconds: Optional[float]) -> str:
    """An age or a span in seconds as ``5s`` (``-``: unknown)."""
    return "-" if seconds is None else f"{seconds:g}s"


