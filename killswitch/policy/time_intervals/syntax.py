"""The syntax of a time interval's period: each written item parsed.

Each parser takes one written item and returns an inclusive range of numbers, or raises
:class:`ValueError` with a message a person can act on. The models validate with these
(:mod:`.model`) and the periods are built from the same parsers (:mod:`.build`), so what
validates is what runs.

- ``times``: ``{start_time: "HH:MM", end_time: "HH:MM"}``, minutes of the day, the start
  inclusive, the end exclusive, ``00:00`` … ``24:00``; a range does not cross midnight (write
  two).
- ``weekdays``: ``monday`` or ``monday:friday`` (lower case; Monday is 0).
- ``days_of_month``: ``1``, ``1:5``, ``-1`` (the last day), ``-3:-1``; 0 and beyond ±31 are
  errors.
- ``months``: ``january``, ``1``, ``january:march``, ``1:3``.
- ``years``: ``2026``, ``2026:2027``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_CLOCK = re.compile(r"^([0-9]{2}):([0-9]{2})$")
LOCATION_RE = r"^(UTC|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*)$"


def parse_clock(text: str) -> int:
    """``"HH:MM"`` as minutes of the day, 0 … 1440."""
    m = _CLOCK.match(text)
    if m is None:
        raise ValueError(f'time "{text}" is not HH:MM (such as 08:30)')
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and mi):
        raise ValueError(f'time "{text}" is not between 00:00 and 24:00')
    return h * 60 + mi


def parse_times(start: str, end: str) -> tuple[int, int]:
    a, b = parse_clock(start), parse_clock(end)
    if a >= b:
        raise ValueError(f"start_time {start} is not before end_time {end} (a range does not cross midnight: "
                         "write two, one ending at 24:00 and one starting at 00:00)")
    return a, b


def _split(text: str, what: str) -> tuple[str, str]:
    parts = str(text).strip().split(":")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ValueError(f'{what} "{text}" is not one value or a range such as a:b')


def _named(value: str, names: tuple[str, ...], what: str, numbers_from: int | None) -> int:
    v = value.strip().lower()
    if v in names:
        return names.index(v) + (numbers_from or 0)
    if numbers_from is not None and v.isascii() and v.isdigit() and len(v) <= 2 \
            and numbers_from <= int(v) < numbers_from + len(names):
        return int(v)
    close = [n for n in names if n.startswith(v[:3])] if len(v) >= 3 else []
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    allowed = f"{names[0]} … {names[-1]}" + (f" or {numbers_from} … {numbers_from + len(names) - 1}"
                                             if numbers_from is not None else "")
    raise ValueError(f'{what} "{value}" is not one of {allowed}{hint}')


def parse_weekdays(text: str) -> tuple[int, int]:
    a, b = (_named(x, WEEKDAYS, "weekday", None) for x in _split(text, "weekdays"))
    if a > b:
        raise ValueError(f'weekdays "{text}" runs backwards (write monday:friday, not friday:monday)')
    return a, b


def parse_months(text: str) -> tuple[int, int]:
    a, b = (_named(x, MONTHS, "month", 1) for x in _split(text, "months"))
    if a > b:
        raise ValueError(f'months "{text}" runs backwards')
    return a, b


def parse_days_of_month(text: str) -> tuple[int, int]:
    out = []
    for x in _split(text, "days_of_month"):
        try:
            d = int(x)
        except ValueError:
            raise ValueError(f'day of month "{x}" is not a number (1 … 31, or -1 for the last day)') from None
        if d == 0 or not -31 <= d <= 31:
            raise ValueError(f'day of month "{x}" is not 1 … 31 or -31 … -1')
        out.append(d)
    a, b = out
    if (a > 0) == (b > 0) and a > b:
        raise ValueError(f'days_of_month "{text}" runs backwards')
    return a, b


def parse_years(text: str) -> tuple[int, int]:
    out = []
    for x in _split(text, "years"):
        if not re.fullmatch(r"[0-9]{4}", x.strip()):
            raise ValueError(f'year "{x}" is not a four-digit year')
        out.append(int(x))
    a, b = out
    if a > b:
        raise ValueError(f'years "{text}" runs backwards')
    return a, b
