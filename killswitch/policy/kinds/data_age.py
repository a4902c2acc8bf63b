"""The ``data_age`` signal: how old the scope's data is.

A kill switch judging a book it no longer sees is blind: ``{when: "age > 60s"}`` on
``age: data_age`` fires when the oldest account of the scope has not answered for a minute, or
when its feed is frozen — the venue's clock moves on while the book's content stays the same
for over 10 s, and the age counts from when that content first arrived. Unreachable exchanges
age too: a failed fetch is no answer.

Unknown (``NO_DATA``) for a scope with no account, or while an account of it has never answered
(there is no age to tell yet: the trigger's ``on_missing_data`` decides). It measures the feed,
not the books (``reads_book`` False), and the holder of the firm lease reads it from the facts
each shard publishes (``firm``).

It keeps no parameters (``build`` gives None).
"""

from typing import ClassVar

from ..expr import ValueType
from ..registry import Reading, SignalInputs, SignalKind, SignalParams, no_parameters


class DataAge(SignalParams):
    """Age of the scope's data: since its newest good snapshot, or, for a book whose content has
    not changed while the venue's clock moved on by over 10 s (a frozen feed), since that content
    first arrived (unreachable exchanges age too)."""

    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)


def evaluate(params: None, inputs: SignalInputs, now: int) -> Reading:
    """The age of the scope's oldest account data, in seconds."""
    if not inputs.snapshots:
        return None, "NO_DATA: no account in scope"
    oldest = 0
    for s in inputs.snapshots:
        age = inputs.data_age_ms(s, now)
        if age is None:
            return None, f"NO_DATA: no good snapshot yet from {s.venue}/{s.account}"
        oldest = max(oldest, age)
    return oldest / 1000.0, None


KIND = SignalKind("data_age", DataAge, reads_book=False, firm=True, build=no_parameters, evaluate=evaluate)
