"""The ``heartbeat_age`` signal: how long a bot, a strategy or a feed has been silent.

A bot that stopped beating may still hold positions nobody watches: ``{when: "hb > 2m"}`` on
``hb: {heartbeat_age: {source: bot-a}}`` fires when ``bot-a`` has not beaten for two minutes.
Its beats reach the engine through the runner (``POST /v1/heartbeat``, the dead man's switch);
the age counts from the last one, in the tick's clock.

A source never heard from has no age: ``NO_HEARTBEAT`` from the first tick on, and the trigger's
``on_missing_data`` decides. With ``grace: G`` a fresh start is not a silence: from the first tick
that evaluated the signal the source has G to send its first beat and reads 0s meanwhile, with
the note ``NEVER_HEARD`` (when its silence is counted from, and when the grace ends) so that a
reader shows a source never heard as never heard, not as one just heard; past it, still silent,
it is ``NO_HEARTBEAT`` again. It measures the bots, not the books
(``reads_book`` False).

The kind keeps a state between ticks (:class:`~killswitch.policy.registry.KeptState`) only while
it waits for a first beat with a grace: when the wait began, ``[since_ms]``, saved with the
engine's state under ``listening:<source>`` — the form the engine saved it in when the kind was
built in, so a restart does not grant a silent source a new grace, across an upgrade and back.
Another source is another wait; a change of the grace keeps the wait. Until it waits, it keeps
nothing (its evaluation gives None back: the engine keeps and saves nothing for it).
"""

import re
from typing import Annotated, Any, ClassVar, Optional

from pydantic import Field

from ...figures import iso
from ...records import record
from ..expr import ValueType
from ..registry import KeptState, Reading, SignalInputs, SignalKind, SignalParams
from ..units import Duration, DurationField, checked

# [when the wait for a first beat began, in ms] (a list: what JSON gives back); None: no wait
Wait = Optional[list[Any]]
# the note of a source never heard within its grace: its reading is 0s (not silent yet), which a
# reader shows as "never heard" with the note, never as a beat just heard
NEVER_HEARD = "NEVER_HEARD"


class HeartbeatAge(SignalParams):
    """Time since the last heartbeat of ``source`` (a bot, a strategy, a data feed).

    ``grace``: how long a source never heard from has to send its first beat, counted from the
    first tick that evaluated the signal. Within it the signal reads 0s (not silent yet); past it,
    with still no beat, it has no value (``NO_HEARTBEAT``) and the trigger's ``on_missing_data``
    decides. Without ``grace`` a source never heard from has no value from the first tick on."""

    source: Annotated[str, Field(min_length=1)]
    grace: Optional[Annotated[DurationField, checked(lambda d: d.ms > 0, "ks_value",
                                                     "grace must be longer than 0s (leave it out for none)")]] = None
    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)


@record
class HeartbeatAgeParams:
    """heartbeat_age, compiled: the source and its grace in milliseconds."""

    source: str
    grace_ms: Optional[int]  # None: no grace


def build(p: HeartbeatAge) -> HeartbeatAgeParams:
    return HeartbeatAgeParams(source=p.source, grace_ms=p.grace.ms if p.grace is not None else None)


def initial(params: HeartbeatAgeParams) -> Wait:
    return None  # no wait until a tick finds the source silent


def wait_key(params: HeartbeatAgeParams) -> str:
    return params.source  # another source is another wait; the grace is not part of it


def evaluate(params: HeartbeatAgeParams, inputs: SignalInputs, now: int, wait: Wait) -> tuple[Reading, Wait]:
    """Seconds since the source's last beat; within a grace, 0s while the source has never beaten,
    with the note NEVER_HEARD."""
    beat = inputs.heartbeat_ms(params.source)
    if beat is not None:
        return (max(0.0, (now - beat) / 1000.0), None), wait
    if params.grace_ms is None:
        return (None, f"NO_HEARTBEAT: source={params.source}"), wait
    if wait is None:
        wait = [now]
    if now - wait[0] < params.grace_ms:
        return (0.0, f"{NEVER_HEARD}: source={params.source} silent since {iso(wait[0])} (the first tick "
                     f"that read it); grace until {iso(wait[0] + params.grace_ms)}, then NO_HEARTBEAT"), wait
    return (None, f"NO_HEARTBEAT: source={params.source} "
                  f"grace={params.grace_ms / 1000:g}s passed without a first beat"), wait


def never_heard(note: Optional[str], on_missing_data: Optional[str] = None) -> Optional[str]:
    """What a reader says of a reading noted NEVER_HEARD (None for any other note): the note, and
    what happens when the grace ends, from the trigger's ``on_missing_data`` when it is known."""
    if not note or not note.startswith(NEVER_HEARD):
        return None
    if on_missing_data == "fire":
        return f"{note}: the trigger fires then (on_missing_data: fire)"
    return f"{note}: on_missing_data: {on_missing_data} decides then" if on_missing_data else note


# the reason of a source never heard, past its grace or without one (what :func:`evaluate` writes)
_UNHEARD = re.compile(r"NO_HEARTBEAT: source=(\S+)(?: grace=([0-9.]+)s passed without a first beat)?")


def unheard(reason: Optional[str]) -> Optional[str]:
    """What a reader says of a check whose source was never heard, past its grace (its reason
    ``NO_HEARTBEAT``): ``bot-a never heard: grace 3m passed without a first beat`` (``bot-a never
    heard`` without a grace), as ``ksctl status`` says NEVER HEARD; None for any other reason."""
    m = _UNHEARD.fullmatch(reason or "")
    if m is None:
        return None
    grace = m.group(2)
    return f"{m.group(1)} never heard" + (
        f": grace {Duration(round(float(grace) * 1000))} passed without a first beat" if grace else "")


KIND = SignalKind("heartbeat_age", HeartbeatAge, reads_book=False, build=build,
                  state=KeptState("listening", initial, evaluate, key=wait_key), listens=lambda p: p.source)
