"""The drift verdict a runner shows after a start or a takeover, read back from the state store
(:meth:`~killswitch.state.store.StateStore.posted_policy_drift`): its own latest (under its holder
name), else the latest posted to another runner of its store — its shard — about the graph it
runs: a runner restarted under another holder name (the default is ``host-pid``) or a standby
taking over shows the last verdict posted, when and by whom, and to which runner
(:attr:`~killswitch.view.policy_sync.DriftVerdict.posted_to`), not "no drift verdict posted".

What it owns: :func:`recall_now` (at the start, before the store's thread is up) and
:func:`recall` (at the first tick under a new token, :mod:`..tick.takeover`), both handing what
they read to :meth:`~.tracker.PolicySync.recall`, which keeps a runner's own verdict.

Must not: write, or fail a start or a takeover: a verdict is a report, not state the book needs
(a row that cannot be read is left unshown until the checker posts again).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from ...state.store import PostedDrift, StoreError
from ...view.policy_sync import DriftVerdict, VerdictError, stored_verdict
from .tracker import PolicySync


def recalled(row: Optional[PostedDrift], holder: str) -> Optional[DriftVerdict]:
    """The verdict of a kept row as runner ``holder`` shows it (None: none, or not one)."""
    if row is None:
        return None
    try:
        return stored_verdict(row.verdict, row.posted_ms, None if row.holder == holder else row.holder)
    except VerdictError:
        return None


def recall_now(sync: PolicySync, store: Any, holder: str) -> None:
    """At the start: the verdict kept for this runner (blocking: the store's thread is not up yet)."""
    try:
        verdict = recalled(store.posted_policy_drift(holder, sync.digest), holder)
    except StoreError:
        return
    if verdict is not None:
        sync.recall(verdict)


async def recall(sync: PolicySync, io: Callable[..., Awaitable[Any]], store: Any, holder: str) -> None:
    """At a takeover: a later verdict posted to the runner it takes over from, about the graph it
    runs, unless it shows its own."""
    try:
        verdict = recalled(await io(store.posted_policy_drift, holder, sync.digest), holder)
    except StoreError:
        return
    if verdict is not None:
        sync.recall(verdict)
