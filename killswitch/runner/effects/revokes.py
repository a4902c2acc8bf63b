"""The bots' trading permission at the venue: revoked when a stage or an operator says so, restored only by a reset.

What it owns: carrying out ``revoke_trading`` and its restore over the value of
:mod:`..book.revoke_state` (``Book.revokes``, changed at this part's word alone), with the
discipline of an order:

- **journaled before it is sent.** A stage entry's revoke is owed in the book before the tick's
  save (:meth:`Revokes.owe_entries`, the same document as the entry itself); an operator's revoke
  and a reset's restore are owed before the save that records them. Nothing is sent before that
  save returns;
- **fenced.** Only the leader sends, after asking the store that no one took the lease since
  (:meth:`~killswitch.runner.lease.leadership.Leadership.fence_holds`), and every call to the adapter
  runs inside the send gate of the term; the audit row is fenced, so a deposed runner's row is
  refused;
- **idempotent across crashes and failover.** The runner that carries on finds the owed effect
  in the saved book and sends it again (revoking twice is harmless); at its first tick under a
  new token it looks the effect up in the audit chain by its ``op`` (:meth:`Revokes.resume`), so
  an effect whose row was written before the stop is completed without a second row;
- **confirmed by the venue.** The answer and, where the venue offers one, a read-back: every
  key must say what was asked, or the attempt failed (``NOT_CONFIRMED``); a venue without a read
  is shown so (``revoked (venue offers no read)``);
- **audited** (``trading_revoked`` / ``trading_restored``: the account, its keys as the venue
  said, the answer, the holds) and told (:data:`~killswitch.events.TRADING_REVOKED` …);
- **loud when refused.** A refusal or an error is ``REVOKE_FAILED`` with the venue's own code and
  message: retried with backoff (1 s doubling to 60 s, at the tick's pace), counted
  (``killswitch_revoke_failures_total{account,code}``), audited and paged once per failure spell,
  and never shown as revoked; a refused restore leaves the account shown revoked, as it is.

Must not: lift a hold (only a stage's reset and an operator's approved restore release one:
:meth:`Revokes.release`), send from a standby, or write the store on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from adapters.base import AdapterError, SendWithheld, send_gate

from ...engine.evaluate import Evaluation
from ...engine.scope import accounts_acted_on
from ...events import REVOKE_FAILED, TRADING_RESTORED, TRADING_REVOKED, Event
from ...metrics import Registry
from ...snapshot import Snapshot
from ...state.store import StateStore
from ..book.book import Book
from ..book.keeper import Keeper
from ..book.revoke_state import ALLOWED, OPERATOR, REVOKED, Hold, Permission, hold_text, holder_of, permission_status
from ..collaborators import Fences, Saves
from ..lock.lock import iso_ms
from ..storeio import StoreIO, audit_pages
from ..venue.port import Venues

log = logging.getLogger("killswitch.runner.revokes")

AUDIT_REVOKED = "trading_revoked"
AUDIT_RESTORED = "trading_restored"
AUDIT_FAILED = "trading_permission_failed"  # the first failure of a spell (the page's row)


@dataclass(frozen=True)
class Answer:
    """What one attempt came to: the keys as the venue confirmed them, or why not."""

    keys: Mapping[str, str]
    read_back: bool
    answer: Mapping[str, Any]  # the venue's answer to the change, for the audit row
    code: Optional[str] = None  # the failure: the venue's code (or the adapter's reason)
    message: str = ""
    withheld: bool = False  # the send gate closed before the request left: nothing was sent


class _Failed(Exception):
    def __init__(self, code: str, message: str, answer: Optional[Mapping[str, Any]] = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.answer = code, message, dict(answer or {})


def _asked(holds: Sequence[Hold]) -> dict[str, Any]:
    """What a revoke's page says beside the account: who asked (an operator's revoke by its
    scope, author and reason; a stage by its policy, scope and stage) and the accounts the same
    holds' scopes reached but could not revoke (``out_of_reach``), so whoever is paged, not only
    who typed the command, learns that a bot there can still trade."""
    unreached = sorted({a for h in holds for a in h.out_of_reach})
    return {"asked_by": [hold_text(h.to_json()) + (f": {h.reason.removeprefix('MANUAL_REVOKE: ')}"
                                                   if h.policy == OPERATOR and h.reason else "") for h in holds],
            **({"out_of_reach": unreached} if unreached else {})}


class Revokes(Keeper[Fences]):
    """See the module doc. ``persist`` saves the book (fenced); ``lead`` audits under the
    runner's token and fences the venue calls."""

    def __init__(self, book: Book, venues: Venues, store: StateStore, io: StoreIO, *,
                 lead: Fences, persist: Saves, clock: Callable[[], int], dry_run: bool):
        super().__init__(book, store, io, lead=lead, persist=persist, clock=clock, dry_run=dry_run)
        self.venues = venues
        self.failures: dict[tuple[str, str], int] = {}  # (account, code) → failed attempts (a counter)

    # --- owing -----------------------------------------------------------------------------------------

    def owe_entries(self, ev: Evaluation, snapshots: Sequence[Snapshot], now: int) -> None:
        """The tick's stage entries that revoke: each account their scope instance reaches held
        revoked by the policy's stage on that scope, and a revoke owed — saved with the entry."""
        if self.dry_run:
            return
        for se, plan, node, stage in ev.entries(self.book.graph):
            if not any(a.asks.revokes for a in stage.actions):
                continue
            accounts = accounts_acted_on(node, se.scope, snapshots, self.venues)
            hold = Hold(holder=holder_of(se.policy, se.scope), policy=se.policy, scope=se.scope, since_ms=now,
                        reason=f"REVOKE_TRADING: stage={stage.level} ({stage.name}) policy={se.policy}",
                        stage=stage.level, decision_id=plan.decision_id, approvals_needed=stage.approvals)
            unreached = sorted(a for a in accounts if not self.switchable(a))
            if unreached:  # owed only what can be sent: never retried (and restored) without end
                log.warning("REVOKE_OUT_OF_REACH: %s stage %s on %s: not revoked on %s (no revoke: block, or a venue "
                            "without the switch); the lock and the venue watch hold there", se.policy, stage.level,
                            se.scope, ", ".join(unreached))
            reach = sorted(a for a in accounts if a not in unreached)
            hold = replace(hold, out_of_reach=tuple(unreached))  # named where the hold is shown
            self.book.revokes_changed(self.book.revokes.hold(reach, hold, now))

    def hold(self, accounts: Sequence[str], hold: Hold, now: int) -> None:
        """An operator's revoke of ``accounts`` (the caller saves the book before anything is sent)."""
        self.book.revokes_changed(self.book.revokes.hold(accounts, hold, now))

    def approve(self, holder: str, approver: str) -> None:
        self.book.revokes_changed(self.book.revokes.approve(holder, approver))

    def release(self, holder: str, now: int) -> list[str]:
        """``holder``'s holds lifted (a stage's reset, an operator's approved restore): the
        accounts left without a hold owe a restore, returned (the caller saves the book)."""
        revokes, restored = self.book.revokes.release(holder, now)
        self.book.revokes_changed(revokes)
        return restored

    def keys_of(self, account: str) -> tuple[str, ...]:
        """The bots' keys of ``account`` a revoke switches: as the venue last answered for them,
        else as its adapter lists them (empty: not known)."""
        known = self.book.revokes.get(account).keys
        port = self.venues.get(account)
        return tuple(sorted(known)) if known else tuple(getattr(port, "trading_keys", ()) or ())

    def switchable(self, account: str) -> bool:
        """Whether ``account``'s venue has the switch of its bots' keys (``revoke_trading``)."""
        port = self.venues.get(account)
        return port is not None and port.capabilities.revoke_trading

    # --- carrying on -----------------------------------------------------------------------------------

    async def resume(self) -> None:
        """At the first tick under a new token: the owed effects whose audit row the chain holds
        already (written before a stop, the book not saved after it) are marked so, and are
        completed — sent again and read back — without a second row."""
        owed = [p.owed for p in self.book.revokes.accounts.values() if p.owed is not None and not p.owed.audited]
        if not owed:
            return
        ops = {o.op for o in owed}
        found: set[str] = set()
        async for page in audit_pages(self.io, self.store.audit_rows, min(o.since_ms for o in owed),
                                      [AUDIT_REVOKED, AUDIT_RESTORED]):
            found |= {str(r.payload.get("op")) for r in page} & ops
        if found:
            log.warning("REVOKE_CARRIED_ON: %s audited by the runner that stopped; completed by %s without a "
                        "second row", ", ".join(sorted(str(f) for f in found)), self.lead.holder)
            self.book.revokes_changed(self.book.revokes.audited_ops(found))

    async def work(self, now: int) -> list[Event]:
        """Send every owed effect whose backoff is over (leader only, fenced), confirm it,
        audit it, and save the book once: the events to tell. A fenced write raises
        FencedError (the caller stands down); nothing here is sent by a standby."""
        due = self.book.revokes.due(now)
        if not due or self.dry_run or not self.lead.term_holds():
            return []
        # held or owed where no switch is (an Accounts document without its revoke: block now, or a
        # book saved before such holds were refused): nothing was ever sent there, so nothing is owed
        unsent = [p.account for p in due if not p.revoked and not self.switchable(p.account)]
        if unsent:
            log.warning("REVOKE_OUT_OF_REACH: %s: no switch of the bots' keys; nothing was sent, nothing is owed",
                        ", ".join(unsent))
            self.book.revokes_changed(self.book.revokes.forget_unsent(unsent))
            await self.persist.save()
            due = [p for p in due if p.account not in unsent]
            if not due:
                return []
        if not await self.lead.fence_holds():
            return []
        answers = await asyncio.gather(*(self._ask(p) for p in due))
        events: list[Event] = []
        changed = False
        for perm, ans in zip(due, answers):
            if ans.withheld:
                continue
            changed = True
            events += await (self._failed(perm, ans, now) if ans.code is not None else self._confirmed(perm, ans, now))
        if changed:
            await self.persist.save()
        return events

    async def _ask(self, perm: Permission) -> Answer:
        """One attempt at the venue: the change, then the read-back where the venue has one."""
        assert perm.owed is not None
        want = perm.owed.want
        port = self.venues.get(perm.account)
        answer: dict[str, Any] = {}
        try:
            if port is None:
                raise _Failed("UNKNOWN_ACCOUNT", f"{perm.account} is not an account of this runner (the Accounts "
                                                 "document no longer lists it)")
            if not port.capabilities.revoke_trading:
                raise _Failed("REVOKE_UNSUPPORTED", f"{perm.account}: its adapter offers no trading-permission "
                                                    "switch")
            with send_gate(self.lead.term_holds):
                res = await port.set_trading(want == ALLOWED)
            answer = {"states": dict(res.states),
                      "refused": {k: [r.code, r.message] for k, r in res.refusals.items()},
                      "failed": {k: [reason.value, detail] for k, (reason, detail) in res.failures.items()},
                      "readable": res.readable}
            if res.refusals:  # the venue said no: its own code and message
                (first, r), more = next(iter(sorted(res.refusals.items()))), len(res.refusals) - 1
                raise _Failed(str(r.code), f"key {first}: {r.message}" + (f" (and {more} more keys refused)"
                                                                          if more else ""), answer)
            if res.failures:  # no answer for a key: its outcome is unknown, asked again
                (first, (reason, detail)), more = next(iter(sorted(res.failures.items()))), len(res.failures) - 1
                raise _Failed(reason.value, f"key {first}: {detail}" + (f" (and {more} more keys unanswered)"
                                                                         if more else ""), answer)
            keys, read_back = dict(res.states), False
            if res.readable:
                back = await port.read_trading()
                if back.readable:
                    keys, read_back = dict(back.states), True
                    answer["read_back"] = dict(back.states)
            if not keys:
                raise _Failed("NO_KEYS", f"{perm.account}: the venue answered for no key", answer)
            wrong = {k: v for k, v in sorted(keys.items()) if v != want}
            if wrong:
                said = ", ".join(f"{k}={v}" for k, v in wrong.items())
                raise _Failed("NOT_CONFIRMED", f"asked {want}, the venue {'reads' if read_back else 'answered'} "
                                               f"{said}", answer)
            return Answer(keys, read_back, answer)
        except SendWithheld:
            return Answer({}, False, answer, withheld=True)
        except _Failed as e:
            return Answer({}, False, e.answer or answer, e.code, e.message)
        except AdapterError as e:  # its message is the venue's (scrubbed by the adapter); TIMEOUT: sent again
            return Answer({}, False, answer, e.reason.value, e.message)
        except Exception as e:  # noqa: BLE001 - a bug in an adapter: a failure like any, named by its type
            return Answer({}, False, answer, type(e).__name__, "the adapter failed")

    async def _confirmed(self, perm: Permission, ans: Answer, now: int) -> list[Event]:
        o = perm.owed
        assert o is not None
        revoked = o.want == REVOKED
        payload = {"op": o.op, "account": perm.account, "keys": dict(ans.keys), "read_back": ans.read_back,
                   "answer": dict(ans.answer), "owed_ts": iso_ms(o.since_ms), "attempts": o.attempts + 1,
                   "holds": [h.holder for h in perm.holds], "by": self.lead.holder}
        if not o.audited:
            await self.lead.audit(AUDIT_REVOKED if revoked else AUDIT_RESTORED, now, payload)
        self.book.revokes_changed(self.book.revokes.confirmed(perm.account, o.op, ans.keys, ans.read_back, now))
        how = "read back" if ans.read_back else "venue offers no read"
        log.warning("%s: %s %s (%s): keys %s", "TRADING_REVOKED" if revoked else "TRADING_RESTORED", perm.account,
                    "revoked" if revoked else "restored", how, ", ".join(sorted(ans.keys)))
        venue, _, account = perm.account.partition("/")
        return [Event.make(TRADING_REVOKED if revoked else TRADING_RESTORED, now,
                           {"keys": sorted(ans.keys), "read_back": ans.read_back, "op": o.op,
                            "holds": [h.holder for h in perm.holds], "attempts": o.attempts + 1,
                            **(_asked(perm.holds) if revoked else {})},
                           account=perm.account, venue=venue)]

    async def _failed(self, perm: Permission, ans: Answer, now: int) -> list[Event]:
        o = perm.owed
        assert o is not None and ans.code is not None
        code = ans.code
        self.failures[(perm.account, code)] = self.failures.get((perm.account, code), 0) + 1
        revokes, first = self.book.revokes.failed(perm.account, o.op, code, ans.message, now)
        self.book.revokes_changed(revokes)
        after = self.book.revokes.get(perm.account).owed
        next_in = (after.next_ms - now) / 1000 if after is not None else 0
        what = "revoke" if o.want == REVOKED else "restore"
        log.error("REVOKE_FAILED: %s %s of trading refused or failed: %s: %s (attempt %d; again in %gs)",
                  perm.account, what, code, ans.message, o.attempts + 1, next_in)
        if not first:
            return []
        data = {"op": o.op, "want": o.want, "want_text": what, "code": code, "message": ans.message,
                "attempts": o.attempts + 1, "retry_in_s": next_in, "answer": dict(ans.answer)}
        await self.lead.audit(AUDIT_FAILED, now, {"account": perm.account, **data})
        return [Event.make(REVOKE_FAILED, now, data, account=perm.account, venue=perm.account.partition("/")[0],
                           reason=f"REVOKE_FAILED: {code}")]

    # --- reads -----------------------------------------------------------------------------------------

    def status(self) -> dict[str, dict]:
        """Every account whose permission is held, owed or revoked: what status shows."""
        return permission_status(self.book.revokes)

    def collect_metrics(self, reg: Registry) -> None:
        gauge = reg.sampled("killswitch_trading_revoked", "gauge",
                            "1 while the venue has confirmed the bots' keys of an account revoked (revoke_trading; "
                            "a restore not confirmed yet keeps it 1), 0 otherwise.", ("account",))
        held = self.book.revokes.accounts
        for account in sorted(set(self.venues) | set(held)):  # 0 for every account not revoked: alertable
            gauge.add(int(account in held and held[account].revoked), account=account)
        fails = reg.sampled("killswitch_revoke_failures_total", "counter",
                            "Attempts to revoke or restore the bots' trading permission at a venue that the venue "
                            "refused or that failed, by account and code (the venue's own, or the adapter's "
                            "reason).", ("account", "code"))
        for (account, code), n in sorted(self.failures.items()):
            fails.add(n, account=account, code=code)


__all__ = ["AUDIT_FAILED", "AUDIT_RESTORED", "AUDIT_REVOKED", "Revokes"]
