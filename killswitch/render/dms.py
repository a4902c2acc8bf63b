"""Render the dead man's switch (``ksctl dms status``, and its lines in ``ksctl status``): each
heartbeat source, the sources watched and never heard, the venues' cancel-all-after
countdowns, and the beats refused.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

from ..client import DmsStatus
from ..runner.book.dms_state import declared_only
from .ops import api_json
from .times import seconds_text


def dms_lines(d: DmsStatus) -> list[str]:
    """One line per heartbeat source, then one per venue countdown; first, when the status
    listed only the most urgent sources, how many there are and how to see every one."""
    lines = summary_lines(d)
    for name, s in sorted(d.sources.items()):
        if s.fired:
            state = "FIRED" + (f" (trading halted for {name})" if s.locked else "")
        elif s.armed:
            state = f"armed, fires in {seconds_text(s.fires_in_s)}"
        else:
            state = "disarmed" + (f" (trading halted for {name})" if s.locked else "")
        lines.append(f"  dms {name}: {state}; last beat {seconds_text(s.last_beat_age_s)} ago, "
                     f"timeout {seconds_text(s.timeout_s)}")
    for name, by in sorted(d.watched.items()):
        if name not in d.sources and declared_only(by):  # named, but nothing acts on its silence
            lines.append(f"  heartbeat {name}: not heard; declared in the Accounts document only: no policy and no "
                         "armed switch watches it")
        elif name not in d.sources:  # watched, never heard: the bot to look at
            lines.append(f"  heartbeat {name}: NEVER HEARD; watched by {', '.join(by)}")
    for acct, n in sorted(d.native.items()):
        extra = "  LAPSED" if n.lapsed else ""
        extra += f"  refresh failing: {n.error}" if n.error else ""
        said = f" ({n.at_venue})" if n.at_venue else ""
        cancels = (f"cancels in {seconds_text(n.cancels_in_s)} without a refresh" if n.cancels_in_s is not None
                   else "cancels nothing now")
        lines.append(f"  venue cancel-all-after {acct}: {n.countdown_s:g}s countdown{said}, refreshed "
                     f"{seconds_text(n.last_refresh_age_s)} ago, {cancels}{extra}")
    for name, r in sorted(d.refused.items(), key=lambda kv: kv[1].last_refused_age_s):
        lines.append(f"  REFUSED heartbeat {name}: {r.count} beat(s), the last "
                     f"{seconds_text(r.last_refused_age_s)} ago; {r.reason}")
    return lines


def summary_lines(d: DmsStatus) -> list[str]:
    """A summarised switch that left sources out: how many of each kind there are, how many are
    listed, the soonest to fire and how to see every one (nothing when every one is listed)."""
    m = d.summary
    if m is None or not m.partial:
        return []
    soonest = (f"; the soonest to fire: {m.soonest} in {seconds_text(m.soonest_fires_in_s)}"
               if m.soonest is not None else "")
    return [f"  dms: {m.shown} of {m.sources:,} sources listed, the most urgent ({m.armed:,} armed, {m.fired:,} "
            f"fired, {m.locked:,} halting trading{soonest}); {m.never_heard_shown} of {m.never_heard:,} watched "
            f"sources never heard listed; every one: ksctl status --dms-all (GET {m.all}) or ksctl dms status"]


def dms_text(d: DmsStatus) -> str:
    lines = [] if d.sources or d.native or d.refused or d.watched else ["no source armed, no venue countdown"]
    return "\n".join(lines + dms_lines(d))


dms_json = api_json  # ``ksctl dms status -o json``: as the API wrote it

