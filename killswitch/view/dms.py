"""The dead man's switch as the status shows it: the most urgent sources, summarised, and what a
venue said of its cancel-all-after countdown, in the words every screen shows.

What it owns: :func:`summarised` — the switch as
:meth:`killswitch.runner.effects.countdowns.Countdowns.status` shows it whole, cut to the
:data:`DMS_SHOWN` most urgent sources (fired, then a halt its firing left, then armed by the time
left, then the rest), with the counts of every kind and where every one is read
(:data:`DMS_ALL`) — and :func:`venue_said`, a venue's answer to an account's last arm (an
:class:`adapters.base.DmsStatus`) in words. The sources' states are the book's
(:class:`killswitch.runner.book.dms_state.SourceStatus`), read by their fields.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from typing import AbstractSet, Any, Mapping, Optional

SYMBOLS_SHOWN = 5  # a per-symbol countdown's symbols a status names
DMS_SHOWN = 20  # sources (and watched sources never heard from) the status lists: the most urgent
DMS_ALL = "/v1/status?dms=all"  # where the status lists every one (and GET /v1/dms, the switch alone)


def _urgency(name: str, st: Any, locked: AbstractSet[str]) -> tuple:
    """Fired first, then a halt its firing left, then armed by the time left, then the rest."""
    if st.fired:
        return (0, 0.0, name)
    if name in locked:
        return (1, 0.0, name)
    if st.armed:
        return (2, st.fires_in_s if st.fires_in_s is not None else math.inf, name)
    return (3, 0.0, name)


def summarised(doc: dict, states: Mapping[str, Any], locked: AbstractSet[str], shown: int) -> dict:
    """``doc`` (the switch as :meth:`~killswitch.runner.effects.countdowns.Countdowns.status` shows
    it whole, without its ``sources``)
    with the ``shown`` most urgent of ``states`` as its sources (each group by name: fired, a halt
    left, armed by the time left, the rest), the watched sources never heard from (at most
    ``shown``, by name) as its ``watched``, and ``summary``: the counts of every source held,
    armed, fired, halting trading, watched and never heard, how many of each are listed, the
    soonest to fire, and where every one is read (:data:`DMS_ALL`)."""
    ranked = sorted(states.items(), key=lambda kv: _urgency(kv[0], kv[1], locked))[:shown]
    watched = doc["watched"]
    never = [s for s in sorted(watched) if s not in states]
    soonest = min(((st.fires_in_s, name) for name, st in states.items() if st.armed and st.fires_in_s is not None),
                  default=None)
    summary = {"sources": len(states), "armed": sum(1 for st in states.values() if st.armed),
               "fired": sum(1 for st in states.values() if st.fired), "locked": len(locked),
               "watched": len(watched), "never_heard": len(never), "shown": len(ranked),
               "never_heard_shown": min(len(never), shown),
               "soonest": soonest[1] if soonest else None, "soonest_fires_in_s": soonest[0] if soonest else None,
               "all": DMS_ALL}
    return {**doc, "sources": {name: {**st.to_json(), "locked": name in locked} for name, st in ranked},
            "watched": {s: watched[s] for s in never[:shown]}, "summary": summary}


def venue_said(said: Optional[Any]) -> str:
    """The venue's answer to an account's last arm, in the words every screen shows."""
    if said is None:
        return "not asked by this runner yet"
    if not said.supported:
        return "not armed: the venue has no cancel-all-after for this account"
    if not said.armed:
        return ("not armed: no open order or position to cancel (a per-symbol countdown; "
                "looked at again at each refresh)")
    shown = ", ".join(said.symbols[:SYMBOLS_SHOWN]) + (f" and {len(said.symbols) - SYMBOLS_SHOWN} more"
                                                      if len(said.symbols) > SYMBOLS_SHOWN else "")
    where = f" on {shown}" if said.symbols else ""
    return f"armed, {said.seconds:g}s{where}" if said.seconds is not None else f"armed{where}"
