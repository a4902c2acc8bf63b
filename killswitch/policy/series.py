"""Input series of policy unit tests, in the expanding notation of ``promtool test rules``.

``10000-100x9`` is 10000, 9900, …, 9100 (ten samples); ``5x3`` is 5 four times; ``_`` is a
missing sample and ``stale`` a sample whose data is stale; ``_x4`` repeats a gap. Terms are
separated by spaces: ``10000 9950 _ stale 9800+0x5``.

Pure: no I/O.
"""

from __future__ import annotations

import re

from ..records import record

MISSING = None
STALE = "stale"
MAX_SAMPLES = 100_000  # a test series longer than this is a typo, not a test

_TERM = re.compile(
    r"^(?:(?P<gap>_|stale)(?:x(?P<gapn>\d+))?"
    r"|(?P<start>-?\d+(?:\.\d+)?)(?:(?P<sign>[+-])(?P<step>\d+(?:\.\d+)?)x(?P<n>\d+)|x(?P<rep>\d+))?)$"
)

Sample = "float | str | None"


@record
class SeriesError(ValueError):
    """An input series that does not expand, with the 0-based index of the term at fault."""

    message: str
    term: int  # 0-based index of the offending term

    def __str__(self) -> str:
        return self.message


def parse_series(text: str) -> list[float | str | None]:
    """Expand a series. Returns floats, ``None`` for missing and ``"stale"`` for stale samples."""
    if not isinstance(text, str):
        text = str(text)
    terms = text.split()
    if not terms:
        raise SeriesError("an input series needs at least one sample", 0)
    out: list[float | str | None] = []
    for i, term in enumerate(terms):
        m = _TERM.match(term)
        if not m:
            raise SeriesError(
                f'"{term}" is not a series term; write a value (100), a run (100+5x3, 100-5x3, 100x3), _ or stale',
                i,
            )
        if m.group("gap"):
            count = 1 + int(m.group("gapn") or 0)
            value = MISSING if m.group("gap") == "_" else STALE
            _extend(out, [value] * min(count, MAX_SAMPLES + 1), i)
            continue
        start = float(m.group("start"))
        if m.group("n") is not None:
            n = int(m.group("n"))
            step = float(m.group("step")) * (1 if m.group("sign") == "+" else -1)
            if n > MAX_SAMPLES:
                raise SeriesError(f'"{term}" expands to more than {MAX_SAMPLES} samples', i)
            _extend(out, [start + step * k for k in range(n + 1)], i)
        elif m.group("rep") is not None:
            n = int(m.group("rep"))
            if n > MAX_SAMPLES:
                raise SeriesError(f'"{term}" expands to more than {MAX_SAMPLES} samples', i)
            _extend(out, [start] * (n + 1), i)
        else:
            _extend(out, [start], i)
    return out


def _extend(out: list[float | str | None], values: list[float | str | None], term: int) -> None:

    if len(out) + len(values) > MAX_SAMPLES:
        raise SeriesError(f"the series is longer than {MAX_SAMPLES} samples", term)
    out.extend(values)
