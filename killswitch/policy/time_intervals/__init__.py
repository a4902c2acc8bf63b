"""Named time intervals (Alertmanager's ``time_interval``), one language for the notification
routes and the policies' trading windows.

The room: :mod:`.syntax` (each written item parsed), :mod:`.model` (the documents' form:
``TimeInterval``, its periods, the ``during:`` / ``outside:`` pair), :mod:`.periods` (what an
interval means at an instant, and the next instant that changes: a :class:`~.periods.Window`)
and :mod:`.build` (the periods built from the documents, their zones through a lookup handed
in). A routes document's route mutes or is active in its intervals
(``killswitch.notify.routes``); a policy's lock, stage or limits are in force ``during:`` or
``outside:`` its own (``killswitch.compile.windows``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from .periods import NamedInterval, Period, Window, next_change, silenced_by
from .syntax import (
    LOCATION_RE,
    MONTHS,
    WEEKDAYS,
    parse_clock,
    parse_days_of_month,
    parse_months,
    parse_times,
    parse_weekdays,
    parse_years,
)

__all__ = ["LOCATION_RE", "MONTHS", "WEEKDAYS", "NamedInterval", "Period", "Window", "next_change",
           "parse_clock", "parse_days_of_month", "parse_months", "parse_times", "parse_weekdays", "parse_years",
           "silenced_by"]
