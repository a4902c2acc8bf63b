"""A tick's evaluation folded into the lock book: the locks its stage entries hold, the
releases its resets make, the holds of the policies blind in a scope (``spec.while_blind``), and
the locks by the clock (``spec.lock_trading`` during or outside a window).

At a window's edge: a lock by the clock is placed at the first tick its window is open (the
daemon ticks at a window's edge: ``Readout.window_edge_s``), with the window's next edge as its
expiry, so it ends at that instant whether or not a tick runs
then (the gate and the lock file read expiries); a stage's lock (``lock_trading`` as an action)
is the stage's and is untouched by any window: a stage entered stays entered until its reset.

The book itself (its holds, how they merge, its documents) is :mod:`.lock`'s; this module
only says which holds one evaluation adds and removes. Must not: read the clock (the
evaluation's ``now_ms`` is the time), or write the lock file.
"""

from __future__ import annotations

from typing import Any, Mapping

from .lock import LockBook, LockHold

# the stage of a policy's hold on a scope it is blind in (``spec.while_blind``): no stage of it
WHILE_BLIND_STAGE = 0
# the stage of a policy's lock by the clock (``spec.lock_trading``): no stage of it either
WINDOW_STAGE = -1


def apply_evaluation(book: LockBook, evaluation: Any, graph: Any) -> LockBook:
    """Fold one tick's :class:`~killswitch.engine.evaluate.Evaluation` into the book: a reset
    releases the policy's locks on that scope; the locks a stage entry's plan holds (an action's
    ``ActionPlanning.lock``: ``lock_trading``'s) lock it (held until reset when the stage resets
    manually); a policy with ``while_blind`` holds a scope it is blind in at that mode, and
    releases it when the scope is armed again."""
    now = evaluation.now_ms
    book = _while_blind(book, evaluation, graph)
    for se in evaluation.scopes:
        tr = se.transition
        if tr is not None and tr.kind == "reset":
            book = book.release(se.scope, policy=se.policy)
        if se.plan is None:
            continue
        if not se.plan.locks:
            continue
        stage = graph.policy(se.policy).stage(se.plan.stage)
        for lock in se.plan.locks:
            book = book.apply(
                lock.scope, lock.mode, now_ms=now, policy=se.policy, stage=se.plan.stage,
                reason=f"{lock.kind.upper()}: stage={se.plan.stage} ({stage.name}) policy={se.policy}"
                       + (f" {tr.reason}" if tr is not None else ""),
                ttl_ms=lock.ttl_ms, manual=stage.manual,
                details={"decision_id": se.plan.decision_id, "digest": evaluation.digest,
                         "revision": evaluation.revision, **_enforce(lock)})
    return _windows(book, evaluation, graph)  # last: a reset above released the policy's holds


def _enforce(lock: Any) -> dict:
    """What a lock makes hold at the venue, carried in its hold when it is not its mode's default
    (killswitch.runner.watch.enforce reads it)."""
    if lock.cancel is True and lock.revert_growth == (lock.mode == "halted"):
        return {}
    return {"enforce": {"cancel": bool(lock.cancel), "revert_growth": bool(lock.revert_growth)}}


def _held(book: LockBook, stage: int, asked: Mapping[str, Any]) -> tuple[LockBook, dict[tuple[str, str], LockHold]]:
    """The policies' holds at ``stage`` by (scope, policy), with the book once those of a policy
    that no longer asks for them (``asked`` gives it None: reloaded without it, or gone) let go."""
    held = {(h.scope, h.policy): h for h in book.holds if h.stage == stage and h.policy is not None}
    for scope, policy in held:
        if asked.get(policy) is None:
            book = book.release(scope, policy=policy, stage=stage)
    return book, held


def _while_blind(book: LockBook, evaluation: Any, graph: Any) -> LockBook:
    modes = {p.name: p.while_blind_lock for p in graph.policies}
    book, held = _held(book, WHILE_BLIND_STAGE, modes)
    for se in evaluation.scopes:
        mode = modes.get(se.policy)
        if mode is None:
            continue
        cov = se.coverage
        if cov.armed:
            if (se.scope, se.policy) in held:
                book = book.release(se.scope, policy=se.policy, stage=WHILE_BLIND_STAGE)
        else:  # held (again when its mode or why changed; since when it is held kept while it was)
            why = f"WHILE_BLIND: policy={se.policy} {cov.why_blind}"[:500]
            was = held.get((se.scope, se.policy))
            if was is not None and was.mode != mode:
                book = book.release(se.scope, policy=se.policy, stage=WHILE_BLIND_STAGE)
            if was is None or (was.mode, was.reason) != (mode, why):
                book = book.apply(se.scope, mode, now_ms=evaluation.now_ms, policy=se.policy,
                                  stage=WHILE_BLIND_STAGE, reason=why,
                                  details={"while_blind": True, "until_ms": cov.until_ms})
    return book


def _windows(book: LockBook, evaluation: Any, graph: Any) -> LockBook:
    """Each policy's lock by the clock on each of its scope instances: held while the window is
    open, until its next edge; let go when it is closed, or the policy no longer has one. The
    window answers from its last answer until its edge: no interval is read again each tick."""
    now = evaluation.now_ms
    locks = {p.name: getattr(p, "window_lock", None) for p in graph.policies}
    book, held = _held(book, WINDOW_STAGE, locks)
    for se in evaluation.scopes:
        wl = locks.get(se.policy)
        if wl is None:
            continue
        open_, edge = wl.window.at(now)
        h = held.get((se.scope, se.policy))
        if h is not None and (not open_ or h.mode != wl.mode or h.expires_ms != edge or not h.in_force(now)):
            book = book.release(se.scope, policy=se.policy, stage=WINDOW_STAGE)
        elif h is not None:
            continue  # held as it should be
        if not open_:
            continue
        book = book.apply(se.scope, wl.mode, now_ms=now, policy=se.policy, stage=WINDOW_STAGE,
                          reason=f"TRADING_WINDOW: policy={se.policy} lock_trading {wl.mode} {wl.window.text}",
                          ttl_ms=None if edge is None else max(1, edge - now),
                          details={"window": wl.window.text, **_enforce(wl)})
    return book
