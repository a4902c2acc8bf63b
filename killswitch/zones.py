"""The time zone database, looked up for the compiler and the notification sink.

What it owns: whether a location name (an IANA zone such as ``Europe/London``) is known, and its
``tzinfo``. The compiler is pure, so it does not read the zone database itself: whoever compiles
policies from files hands :func:`zone_known` over (``killswitch.sources.compile_read``, the
daemon's fallback, the demo), as runbook templates are checked through a checker handed in.
"""

from __future__ import annotations

from datetime import timezone, tzinfo
from zoneinfo import ZoneInfo

from .policy.time_intervals.build import known_by


def zone(name: str | None) -> tzinfo:
    """The zone of a location (UTC when None). Raises ValueError for a zone the database lacks."""
    if name is None or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ValueError(f'time zone "{name}" is not in the time zone database (write an IANA name such as '
                         '"Europe/London" or "America/New_York")') from None


zone_known = known_by(zone)  # whether the zone database has a name ("UTC" always)
