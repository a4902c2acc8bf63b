"""Who leads, as the console says it: a standby's banner and why its actions are disabled.

What it owns: the words the page shows when the runner it is served by does not hold the lease
(``STANDBY``): that this runner acts on nothing, who the lease names as the leader (as the lease
stores it: the pod's name in the chart), and that the page's action buttons are disabled here for
that reason. The runner refuses a change on a standby anyway (``NOT_LEADER``, naming the leader);
the page says it before the operator fills a form in.

Pure: no I/O, no clock. Must not: guess a leader the status did not name.
"""

from __future__ import annotations

from typing import Optional

from ...view import RunnerStatus


def leader_facts(status: RunnerStatus) -> dict:
    """``lease_holder`` (who leads, when known) and ``standby`` (None on the leader; else the
    banner's facts: this runner, the leader, and the reason the actions are disabled)."""
    holder = status.holder
    leader: Optional[str] = status.lease_holder if status.lease_holder and status.lease_holder != holder else None
    if status.leader:
        return {"lease_holder": holder, "standby": None}
    me = f" ({holder})" if holder else ""
    where = (f"The leader is {leader} (the lease holder): act on its console." if leader
             else "No runner holds the lease right now; a standby takes it when its term runs out.")
    return {"lease_holder": leader, "standby": {
        "holder": holder, "leader": leader,
        "reason": f"This runner{me} is a standby: it acts on nothing, so its actions are disabled here. {where}"}}
