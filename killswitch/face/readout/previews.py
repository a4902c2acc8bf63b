"""Previews: what an operator's lock, unlock, reset approval or close would do if sent now.

What it owns: the dry run an operator reads before confirming an action (the console shows it
before it asks for the scope to be typed). Each preview goes through the same checks as the
action, in the same order, and works the change out with the same functions
(:func:`~killswitch.runner.operator.commands.operator_lock`,
:func:`~killswitch.runner.operator.commands.unlock_decision`,
:func:`~killswitch.runner.operator.resets.trial_reset`,
:meth:`~killswitch.runner.operator.closes.ManualCloses.draft`) on copies: what is previewed is what
the action would answer, as of now. The book may move before the action is sent (a tick, another
operator); the action is then worked out again, and its answer is the one that counts — for a
close, held to the preview it carries the id of (:mod:`killswitch.runner.operator.close_plans`). A
read above the runner, as the readout is: the desk is handed it by the composition root.

Must not: change anything, audit anything, or take the operator turn (previews are reads:
:attr:`~killswitch.runner.lease.turn.Turn.WITHOUT_TURN`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Optional, Sequence

from ...engine.guarded import within
from ...holds import others_binding
from ...runner.book.view import BookView
from ...runner.collaborators import Names
from ...runner.lease.leadership import Leadership
from ...runner.lock.lock import NOT_A_POLICY, OPERATOR, LockBook, iso_ms
from ...runner.operator.close_plans import default_max_notional
from ...runner.operator.closes import ManualCloses, preview_reason
from ...runner.operator.commands import (
    lift_unlocked,
    lock_ttl_ms,
    locked_reason,
    operator_lock,
    still_binds,
    unlock_decision,
    unlocked_reason,
)
from ...runner.operator.resets import firing_again, resettable, trial_reset
from ...view import ActionPreview, PlannedOrder, TriggerStatus
from ...view.relatch import entered_again, refused_again


def would(why: str) -> str:
    """A reset approval's answer as its preview says it, in the future tense (``PREVIEW: would
    record approval 1/2 (approvers=bob)``): the answer's code (``APPROVAL_RECORDED``,
    ``MANUAL_RESET``) is the result's, shown only once the approval is sent."""
    code, _, rest = why.partition(": ")
    if code == "APPROVAL_RECORDED":
        count, _, who = rest.partition(" ")
        return f"PREVIEW: would record approval {count}" + (f" ({who})" if who else "")
    if code == "MANUAL_RESET":
        return f"PREVIEW: would reset ({rest})"
    return why


class Previews:
    """See the module doc. ``catalog()``: the names the runner resolves now."""

    def __init__(self, book: BookView, lead: Leadership, closes: ManualCloses, *, known: Names,
                 clock: Callable[[], int], dry_run: bool, triggers: Callable[[], Sequence[TriggerStatus]] = tuple,
                 silences: Callable[[str, str], Sequence[str]],
                 unguarded: Callable[[], Sequence[str]] = tuple):
        self.book = book
        self.lead = lead
        self.closes = closes
        self.known = known
        self.clock = clock
        self.mode = "dry-run" if dry_run else "live"
        self.triggers = triggers  # every trigger's status: a reset warns of one that still fires
        # (policy, scope) → what a reset says of the silences holding back its incident's pages
        self.silences = silences
        self.unguarded = unguarded  # the accounts no running policy's scope selects (engine/guarded.py)

    def _answer(self, action: str, scope: str, why: str, allowed: bool, before: Optional[LockBook] = None,
                after: Optional[LockBook] = None, effects: tuple[str, ...] = (),
                orders: tuple[PlannedOrder, ...] = ()) -> ActionPreview:
        now = self.clock()
        return ActionPreview(action, scope, allowed, why, self.mode,
                             before.for_scope(scope, now).mode if before is not None else None,
                             after.for_scope(scope, now).mode if after is not None else None, effects, orders)

    def _refusal(self, scope: str) -> Optional[str]:
        """What refuses a lock or unlock before its change is worked out: a scope the runner does
        not know, then a standby (the action checks in this order)."""
        unknown = self.known.catalog().resolve_scope(scope)
        if unknown is not None:
            return unknown.reason
        return self.lead.not_leader("change")

    def lock(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None) -> ActionPreview:
        if mode not in ("halted", "reducing"):
            return self._answer("lock", scope, f'BAD_REQUEST: mode is "halted" or "reducing", not {mode!r}', False)
        unknown = self.known.catalog().resolve_scope(scope)
        if unknown is not None:
            return self._answer("lock", scope, unknown.reason, False)
        ttl_ms, bad_ttl = lock_ttl_ms(ttl_s)
        if bad_ttl:
            return self._answer("lock", scope, bad_ttl, False)
        before = self.book.lock_book
        refused = self.lead.not_leader("change")
        if refused:
            return self._answer("lock", scope, refused, False, before)
        now = self.clock()
        after = operator_lock(before, scope, mode, reason, now, ttl_ms)
        replaced = [h for h in before.in_force(now) if h.scope == scope and h.policy == OPERATOR]
        effects = [f"{scope} is {mode} for every bot it binds "
                   + ("until someone unlocks it" if ttl_ms is None else f"until {iso_ms(now + ttl_ms)}")]
        if replaced:
            effects.append(f"replaces the operator's {replaced[0].mode} lock set {iso_ms(replaced[0].created_ms)}")
        if after.for_scope(scope, now).mode != mode:
            effects.append(f"a stronger lock already binds {scope}: it stays {after.for_scope(scope, now).mode}")
        return self._answer("lock", scope, locked_reason(scope, mode, now, ttl_ms), True, before, after,
                            tuple(effects))

    def unlock(self, scope: str) -> ActionPreview:
        refused = self._refusal(scope)
        before = self.book.lock_book
        if refused:
            return self._answer("unlock", scope, refused, False, before)
        now = self.clock()
        why, lifted = unlock_decision(before, scope, now)
        if why is not None:
            return self._answer("unlock", scope, why, False, before)
        after = lift_unlocked(before, scope)
        effects = tuple(f"lifts the {h.mode} lock of the {'operator' if h.policy == OPERATOR else 'dead man’s switch'}"
                        f" set {iso_ms(h.created_ms)}: {h.reason}"
                        for h in before.in_force(now) if h.scope == scope and h.policy in NOT_A_POLICY)
        still = [h for h in after.in_force(now) if h.scope == scope]
        effects += tuple(f"{scope} stays {still_binds(h)}: {h.reason}" for h in still)
        return self._answer("unlock", scope, unlocked_reason(scope, lifted, still), True, before, after, effects)

    def reset(self, policy: str, scope: str, approver: str) -> ActionPreview:
        """The approval of ``approver`` (the caller), as
        :meth:`~killswitch.runner.operator.commands.OperatorCommands.reset` would work it out now."""
        refused = self.lead.not_leader("reset")
        if refused:
            return self._answer("reset", scope, refused, False)
        book = self.book
        key = f"{policy}|{scope}"
        node, removal, unknown = resettable(book, self.known, policy, scope)
        if unknown is not None:
            return self._answer("reset", scope, unknown, False)
        now = self.clock()
        stage = book.state.scopes[key].stage
        _, transition, why = trial_reset(node, scope, stage, approver, now, removal)
        before = book.lock_book
        if transition is None:
            done = why.startswith("APPROVAL_RECORDED")
            waits: tuple[str, ...] = (f"records the approval of {approver}; the stage and its lock stay until "
                                      "enough approve",)
            relatch = self._relatch(node, scope, removal, transition, why)
            p = self._answer("reset", scope, would(why) if done else why, done, before, before if done else None,
                             relatch + waits + self._still(before, policy, scope, now)
                             + tuple(self.silences(policy, scope)) if done else ())
            return replace(p, relatch=relatch)
        after = before.release(scope, policy=policy)
        relatch = self._relatch(node, scope, removal, transition, why)
        effects = [*relatch,
                   f"releases stage {transition.from_level} of {policy} on {scope}",
                   f"lifts the lock policy {policy} holds on {scope}"]
        if removal is not None:
            effects.append(f"ends the instance: {removal.why}")
            effects += [f"after this, no policy guards {a}: no running policy's scope selects it (UNGUARDED)"
                        for a in within(scope, self.unguarded())]
        elif node.resume is not None and transition.from_level >= node.resume.from_level:
            effects.append(f"trading resumes at {node.resume.start_fraction:.0%} of the normal limits")
        effects += self._still(after, policy, scope, now)
        effects += self.silences(policy, scope)
        return replace(self._answer("reset", scope, would(why), True, before, after, tuple(effects)), relatch=relatch)

    @staticmethod
    def _still(after: LockBook, policy: str, scope: str, now: int) -> tuple[str, ...]:
        """Every other hold that binds ``scope`` after the reset (its own and ``global``'s, the
        strongest first; an operator's in the words it was typed in): the reset lifts only
        ``policy``'s lock on ``scope``, and the lock binding after it is theirs (``stays halted
        by operator alice until ksctl unlock: bot-a rogue``)."""
        return tuple(f"after it, {scope} stays {w}" for w in others_binding(after.scope_doc(scope, now)["holds"],
                                                                            scope, policy))

    def _relatch(self, node: Any, scope: str, removal: Any, transition: Any, why: str) -> tuple[str, ...]:
        """What a reset runs into when a trigger still fires: the stage entered again, and the
        legs the venue refused before that its closes send again."""
        relatch = firing_again(node, scope, removal, transition, why, self.triggers)
        if not relatch:
            return ()
        return relatch + refused_again(entered_again(node, scope, self.triggers()), scope,
                                       self.book.rejections.refused())

    async def close(self, scope: str, symbol: Optional[str] = None, leg: Optional[str] = None) -> ActionPreview:
        """The orders a close of ``scope`` (of ``symbol`` in it, of its ``leg`` alone when given)
        would send, worked out as the close
        works it out (:meth:`~killswitch.runner.operator.closes.ManualCloses.draft`: the last snapshots less the fills
        since), recorded under the id the close carries (the close itself plans again at the tick
        after it is sent, from the positions then, and is refused if that differs materially)."""
        d = await self.closes.draft(scope, symbol, leg)
        if d.refusal is not None:
            return self._answer("close", scope, d.refusal, False)
        orders, notional = d.orders, d.notional
        rec = self.closes.ledger.record(scope, symbol, self.clock(), orders, leg)

        def extra(p: ActionPreview) -> ActionPreview:
            return replace(p, symbol=symbol, preview_id=rec.id, notional=notional,
                           max_notional=default_max_notional(notional), as_of_ms=d.as_of_ms, leg=leg)

        refused = self.lead.not_leader("close")
        if refused:
            return extra(self._answer("close", scope, refused, False, orders=orders))
        effects = []
        if self.mode == "dry-run":
            effects.append("this runner is a DRY RUN: nothing will be sent to any venue; the orders are planned and "
                           "audited only")
        what = (f"the {leg} leg of " if leg else "both legs of " if self._hedged(d, symbol) else "") + (
            f"{symbol} in {scope}" if symbol else scope)
        effects.append(f"{len(orders)} reduce-only order(s) closing {what} at the next tick, planned again from the "
                       "positions then; refused if that plan differs from this one (new positions, larger ones) or "
                       "its notional exceeds the maximum sent with it")
        # (how old the positions are is the preview's as_of_ms: shown once, with an age that counts)
        effects += [f"fill since the snapshot, taken off: {n}" for n in d.taken_off]
        effects += list(d.refused)  # the venue refused these legs' closes before: say so, accepted or not
        if d.unread:
            effects.append(f"not read now, so not counted: {', '.join(d.unread)}")
        return extra(self._answer("close", scope, preview_reason(self.closes.dry_run, len(orders), notional), True,
                                  effects=tuple(effects), orders=orders))

    @staticmethod
    def _hedged(d: Any, symbol: Optional[str]) -> bool:
        """A close of one symbol that closes two legs of it (a hedge-mode account's long and short)."""
        return symbol is not None and len({(o.account, o.position_side) for o in d.orders
                                           if o.position_side in ("LONG", "SHORT")}) > 1
