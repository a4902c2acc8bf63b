"""The documents' form of named time intervals, shared by the routes (``NotificationRoutes``'
``spec.time_intervals``, which routes mute or are active in) and the policies (``Policy``'s
``spec.time_intervals``, which a lock, a stage or the limits are gated by): a
:class:`TimeInterval` and its periods (:class:`TimeSpec`), each item validated by the parsers
of :mod:`.syntax`; and :class:`Windowed`, the ``during:`` / ``outside:`` pair a policy's lock,
stage or limits take.

Pure: no I/O. (No ``from __future__ import annotations``: pydantic reads the annotations as the
classes are made, as in :mod:`killswitch.policy.model`.)
"""

from typing import Annotated, Any, Callable, Optional, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..registry import Strict
from . import syntax as intervals

WINDOW = "ks_window"  # KS270: a window written wrong (both during and outside, or an empty list)


def _checked(parse: Callable[[str], Any]) -> Callable[[list[str]], list[str]]:
    def check(items: list[str]) -> list[str]:
        for item in items:
            try:
                parse(str(item))
            except ValueError as e:
                raise PydanticCustomError("ks_value", str(e)) from None
        return [str(i) for i in items]
    return check


class TimeRange(Strict):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        try:
            intervals.parse_times(self.start_time, self.end_time)
        except ValueError as e:
            raise PydanticCustomError("ks_value", str(e)) from None
        return self


class TimeSpec(Strict):
    """One period of a named time interval: every field given must hold (empty: any)."""

    times: list[TimeRange] = []
    weekdays: Annotated[list[str], AfterValidator(_checked(intervals.parse_weekdays))] = []
    days_of_month: Annotated[list[str], AfterValidator(_checked(intervals.parse_days_of_month))] = []
    months: Annotated[list[str], AfterValidator(_checked(intervals.parse_months))] = []
    years: Annotated[list[str], AfterValidator(_checked(intervals.parse_years))] = []
    location: Annotated[Optional[str], Field(pattern=intervals.LOCATION_RE,
                                             description="an IANA time zone such as Europe/London; UTC if left out")
                        ] = None


class TimeInterval(Strict):
    name: Annotated[str, Field(min_length=1)]
    time_intervals: Annotated[list[TimeSpec], Field(min_length=1)]




class Windowed(Strict):
    """``during:`` or ``outside:`` named time intervals (``spec.time_intervals``): what carries
    them is in force only while one of the intervals holds, or only while none does. At most one
    of the two, and never an empty list."""

    during: Optional[list[Annotated[str, Field(min_length=1)]]] = None
    outside: Optional[list[Annotated[str, Field(min_length=1)]]] = None

    @field_validator("during", "outside")
    @classmethod
    def _not_empty(cls, v: Optional[list[str]], info: ValidationInfo) -> Optional[list[str]]:
        if v is not None and not v:
            raise PydanticCustomError(
                WINDOW, "names no time interval",
                {"ks_hint": f"name one or more of spec.time_intervals ({info.field_name}: [weekend]), or leave "
                            f"{info.field_name} out to be in force at any time"})
        if v is not None and info.field_name == "outside" and info.data.get("during") is not None:
            raise PydanticCustomError(
                WINDOW, "during and outside are both given",
                {"ks_hint": "give one: during: [a, b] is in force while a or b holds, outside: [a, b] while "
                            "neither does"})
        return v

    @property
    def window(self) -> Optional[tuple[str, tuple[str, ...]]]:
        """``("during", names)``, ``("outside", names)`` or None (in force at any time)."""
        if self.during is not None:
            return "during", tuple(self.during)
        if self.outside is not None:
            return "outside", tuple(self.outside)
        return None
