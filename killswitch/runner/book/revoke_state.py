"""The bots' trading permission at the venue, as a value: who holds it revoked, and what is owed the venue.

What it owns: :class:`RevokeBook`, saved in the state document (``revokes``). Per account it
keeps the holds that want the account's keys revoked (a policy's stage on a scope, from the
entry that revoked until the stage's reset; an operator's revoke of a scope, until it is
restored with its approvals), the permission as the venue last confirmed it (each key's state,
and whether the venue read it back), and the one effect owed the venue: a revoke while a hold
wants one and the venue has not confirmed it, a restore once the last hold is gone.

An owed effect has an identity (``op``, the account and a sequence number) under which it is
audited once, by whichever runner completes it; its attempts, the backoff before the next one
(1 s doubling to 60 s), and its failure spell: the venue's code and message of the last attempt,
since when it fails, and whether the spell was paged (once a spell, not once a retry).

Nothing here lifts a hold by time: a hold goes only by :meth:`RevokeBook.release` (a stage's
reset, an operator's restore with its approvals). A failed revoke is never shown as revoked; a
failed restore leaves the account shown revoked, as it is.

Pure: no I/O, no clock (times are handed in). Replaced, never changed in place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional

from ...facts.trading import OPERATOR, hold_text, out_of_reach
from ...holds import unreached_text
from ..lock.lock import iso_ms

REVOKED = "revoked"
ALLOWED = "allowed"
BACKOFF_FIRST_MS = 1_000
BACKOFF_MAX_MS = 60_000


def backoff_ms(attempts: int) -> int:
    """The wait after ``attempts`` failed attempts in a row (a revoke's, a refused close's:
    :mod:`.rejections`): 1 s, 2 s, 4 s … at most 60 s."""
    return min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** max(0, min(attempts - 1, 16)))


def holder_of(policy: str, scope: str) -> str:
    """A hold's identity: a policy's stage on a scope, or ``operator|scope``."""
    return f"{policy}|{scope}"


@dataclass(frozen=True)
class Hold:
    """Why an account's keys are to stay revoked. ``approvals_needed``: distinct approvers of
    its release (a stage's own ``approvals``; an operator's revoke says its own)."""

    holder: str
    policy: str  # the policy, or OPERATOR
    scope: str
    since_ms: int
    reason: str
    stage: int = 0  # the stage level that revoked (0: an operator's)
    decision_id: Optional[str] = None
    approvals_needed: int = 1
    approvals: tuple[str, ...] = ()
    by: Optional[str] = None  # who revoked (an operator's)
    # the accounts its scope reached that have no switch of their bots' keys: named, never held
    out_of_reach: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {**asdict(self), "approvals": list(self.approvals), "out_of_reach": list(self.out_of_reach)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Hold":
        return cls(holder=str(d["holder"]), policy=str(d["policy"]), scope=str(d["scope"]),
                   since_ms=int(d["since_ms"]), reason=str(d.get("reason") or ""), stage=int(d.get("stage") or 0),
                   decision_id=d.get("decision_id"), approvals_needed=int(d.get("approvals_needed") or 1),
                   approvals=tuple(d.get("approvals") or ()), by=d.get("by"),
                   out_of_reach=tuple(str(a) for a in d.get("out_of_reach") or ()))


@dataclass(frozen=True)
class Owed:
    """The effect owed the venue for one account, from the save that records it until it is
    confirmed and audited."""

    op: str  # "<account>#<n>@<ms>": its identity in the audit chain
    want: str  # revoked | allowed
    since_ms: int
    attempts: int = 0
    next_ms: int = 0  # not before (the backoff)
    failure: Optional[tuple[str, str]] = None  # the venue's (code, message) of the last attempt
    failing_since_ms: Optional[int] = None
    paged: bool = False  # this failure spell was paged
    audited: bool = False  # its row is in the audit chain (found by a runner that carried it on)

    def to_json(self) -> dict:
        return {**asdict(self), "failure": list(self.failure) if self.failure else None}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Owed":
        if d.get("want") not in (REVOKED, ALLOWED):
            raise ValueError(f'an owed permission change wants "revoked" or "allowed", not {d.get("want")!r}')
        f = d.get("failure")
        return cls(op=str(d["op"]), want=str(d["want"]), since_ms=int(d["since_ms"]),
                   attempts=int(d.get("attempts") or 0), next_ms=int(d.get("next_ms") or 0),
                   failure=(str(f[0]), str(f[1])) if f else None, failing_since_ms=d.get("failing_since_ms"),
                   paged=bool(d.get("paged")), audited=bool(d.get("audited")))


@dataclass(frozen=True)
class Permission:
    """One account: its holds, the permission as the venue last confirmed it, what is owed."""

    account: str
    holds: tuple[Hold, ...] = ()
    state: str = ALLOWED  # as the venue last confirmed it
    keys: Mapping[str, str] = field(default_factory=dict)  # public key id → its state, as last answered
    read_back: Optional[bool] = None  # True: read back from the venue; False: the venue offers no read
    confirmed_ms: Optional[int] = None
    owed: Optional[Owed] = None

    @property
    def wanted(self) -> str:
        return REVOKED if self.holds else ALLOWED

    @property
    def revoked(self) -> bool:
        """The venue confirmed the keys revoked, and no restore has been confirmed since."""
        return self.state == REVOKED

    def shown(self) -> str:
        """What status, the console and the runbook say of it: revoked only once confirmed."""
        o = self.owed
        how = "read back" if self.read_back else "venue offers no read"
        if o is None:
            return f"revoked ({how})" if self.revoked else "allowed"
        fail = f"{o.failure[0]}: {o.failure[1]} (attempt {o.attempts})" if o.failure else None
        if o.want == REVOKED:
            return f"REVOKE_FAILED: {fail}" if fail else "revoking (sent or to send, not confirmed yet)"
        if self.revoked:
            return f"revoked ({how}); RESTORE_FAILED: {fail}" if fail else f"revoked ({how}); restore owed"
        return f"RESTORE_FAILED: {fail}" if fail else "restoring (not confirmed yet)"

    def to_json(self) -> dict:
        return {"holds": [h.to_json() for h in self.holds], "state": self.state, "keys": dict(self.keys),
                "read_back": self.read_back, "confirmed_ms": self.confirmed_ms,
                "owed": self.owed.to_json() if self.owed else None}

    @classmethod
    def from_json(cls, account: str, d: Mapping[str, Any]) -> "Permission":
        if d.get("state") not in (REVOKED, ALLOWED):
            raise ValueError(f'{account}: a permission is "revoked" or "allowed", not {d.get("state")!r}')
        return cls(account=account, holds=tuple(Hold.from_json(h) for h in d.get("holds") or ()),
                   state=str(d["state"]), keys=dict(d.get("keys") or {}), read_back=d.get("read_back"),
                   confirmed_ms=d.get("confirmed_ms"),
                   owed=Owed.from_json(d["owed"]) if d.get("owed") else None)


@dataclass(frozen=True)
class RevokeBook:
    accounts: Mapping[str, Permission] = field(default_factory=dict)
    seq: int = 0  # the last effect's number

    def __bool__(self) -> bool:
        return bool(self.accounts)

    def get(self, account: str) -> Permission:
        return self.accounts.get(account) or Permission(account)

    # --- holds ---------------------------------------------------------------------------------------

    def hold(self, accounts: Iterable[str], hold: Hold, now: int) -> "RevokeBook":
        """``hold`` on each of ``accounts`` (kept as it was where the holder holds it already),
        and a revoke owed wherever the venue has not confirmed one."""
        out = self
        for account in sorted(set(accounts)):
            perm = out.get(account)
            if any(h.holder == hold.holder for h in perm.holds):
                continue
            out = out._settle(replace(perm, holds=perm.holds + (hold,)), now)
        return out

    def holds_of(self, holder: str) -> list[tuple[str, Hold]]:
        """Every (account, hold) of ``holder``."""
        return [(a, h) for a, p in sorted(self.accounts.items()) for h in p.holds if h.holder == holder]

    def approve(self, holder: str, approver: str) -> "RevokeBook":
        """``approver`` recorded on every hold of ``holder`` (an operator's restore, two people)."""
        accounts = dict(self.accounts)
        for account, perm in self.accounts.items():
            holds = tuple(replace(h, approvals=h.approvals + (approver,)) if h.holder == holder else h
                          for h in perm.holds)
            accounts[account] = replace(perm, holds=holds)
        return replace(self, accounts=accounts)

    def release(self, holder: str, now: int) -> tuple["RevokeBook", list[str]]:
        """``holder``'s holds lifted: the accounts left without one owe a restore (returned)."""
        out, restored = self, []
        for account, perm in sorted(self.accounts.items()):
            if not any(h.holder == holder for h in perm.holds):
                continue
            holds = tuple(h for h in perm.holds if h.holder != holder)
            out = out._settle(replace(perm, holds=holds), now)
            if not holds:
                restored.append(account)
        return out, restored

    def _settle(self, perm: Permission, now: int) -> "RevokeBook":
        """``perm`` with the effect it owes now: none while the venue is as the holds want and
        nothing else is owed; the owed one kept while it wants the same; else a new one (a
        change owed the other way may have reached the venue: it is sent again, not assumed)."""
        wanted, owed, seq = perm.wanted, perm.owed, self.seq
        if owed is not None and owed.want != wanted or owed is None and perm.state != wanted:
            seq += 1
            owed = Owed(op=f"{perm.account}#{seq}@{now}", want=wanted, since_ms=now, next_ms=now)
        return replace(self, accounts={**self.accounts, perm.account: replace(perm, owed=owed)}, seq=seq)

    # --- the venue's answers -------------------------------------------------------------------------

    def due(self, now: int) -> list[Permission]:
        """The accounts whose owed effect may be sent now (its backoff over)."""
        return [p for _, p in sorted(self.accounts.items()) if p.owed is not None and p.owed.next_ms <= now]

    def confirmed(self, account: str, op: str, keys: Mapping[str, str], read_back: bool, now: int) -> "RevokeBook":
        """The venue confirmed ``op`` (its keys as answered or read back). An account allowed
        again with nothing held or owed is dropped. Another op (superseded since): no change."""
        perm = self.get(account)
        if perm.owed is None or perm.owed.op != op:
            return self
        done = replace(perm, state=perm.owed.want, keys=dict(keys), read_back=read_back, confirmed_ms=now, owed=None)
        accounts = dict(self.accounts)
        if done.state == ALLOWED and not done.holds:
            accounts.pop(account, None)
        else:
            accounts[account] = done
        return replace(self, accounts=accounts)

    def failed(self, account: str, op: str, code: str, message: str, now: int) -> tuple["RevokeBook", bool]:
        """An attempt of ``op`` failed with the venue's ``code`` and ``message``: retried after the
        backoff. True when it starts a failure spell not paged yet (page it, once)."""
        perm = self.get(account)
        o = perm.owed
        if o is None or o.op != op:
            return self, False
        attempts = o.attempts + 1
        first = not o.paged
        o = replace(o, attempts=attempts, next_ms=now + backoff_ms(attempts), failure=(code, message),
                    failing_since_ms=o.failing_since_ms if o.failing_since_ms is not None else now, paged=True)
        return replace(self, accounts={**self.accounts, account: replace(perm, owed=o)}), first

    def forget_unsent(self, accounts: Iterable[str]) -> "RevokeBook":
        """``accounts`` dropped where nothing can ever have reached the venue: never confirmed
        revoked (held or owed only). One the venue confirmed revoked stays, restore owed."""
        gone = {a for a in accounts if a in self.accounts and not self.accounts[a].revoked}
        if not gone:
            return self
        return replace(self, accounts={a: p for a, p in self.accounts.items() if a not in gone})

    def audited_ops(self, ops: Iterable[str]) -> "RevokeBook":
        """The owed effects of ``ops`` are in the audit chain already (written before a stop)."""
        found = set(ops)
        accounts = {a: replace(p, owed=replace(p.owed, audited=True)) if p.owed and p.owed.op in found else p
                    for a, p in self.accounts.items()}
        return replace(self, accounts=accounts)

    # --- saved form ----------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"seq": self.seq, "accounts": {a: p.to_json() for a, p in sorted(self.accounts.items())}}

    @classmethod
    def from_json(cls, d: Optional[Mapping[str, Any]]) -> "RevokeBook":
        if not d:
            return cls()
        accounts = d.get("accounts")
        if not isinstance(accounts, dict):
            raise ValueError('the saved "revokes" must map each account to its permission')
        return cls(accounts={a: Permission.from_json(a, p) for a, p in accounts.items()}, seq=int(d.get("seq") or 0))


def permission_status(book: RevokeBook) -> dict[str, dict]:
    """Every account held, owed or revoked, as status shows it (``shown``: revoked only once the
    venue confirmed it), with its holds, its keys and what is owed."""
    return {account: {
        "shown": p.shown(), "revoked": p.revoked, "read_back": p.read_back, "keys": dict(p.keys),
        "confirmed_ts": iso_ms(p.confirmed_ms) if p.confirmed_ms else None,
        "holds": [{"holder": h.holder, "policy": h.policy, "scope": h.scope, "stage": h.stage,
                   "since_ts": iso_ms(h.since_ms), "reason": h.reason, "by": h.by,
                   "approvals": list(h.approvals), "approvals_needed": h.approvals_needed,
                   "out_of_reach": list(h.out_of_reach)} for h in p.holds],
        "owed": None if o is None else {
            "op": o.op, "want": o.want, "attempts": o.attempts, "next_ts": iso_ms(o.next_ms),
            "failure": {"code": o.failure[0], "message": o.failure[1]} if o.failure else None,
            "failing_since_ts": iso_ms(o.failing_since_ms) if o.failing_since_ms else None},
    } for account, p in sorted(book.accounts.items()) for o in (p.owed,)}


def revokes_in_force(book: RevokeBook, scope: str) -> list[dict]:
    """The accounts ``scope`` covers whose bots' keys are revoked or being revoked now, each
    with the keys, what the venue confirmed (:meth:`Permission.shown`) and who holds them
    revoked (:func:`hold_text`, since when, why): what a runbook's lock section names beside
    the lock."""
    from ...engine.guarded import within

    return [{"account": account, "shown": p.shown(), "key_ids": sorted(p.keys),
             "held_by": [f"{hold_text(h.to_json())} since {iso_ms(h.since_ms)}: {h.reason}" for h in p.holds]}
            for account in within(scope, sorted(book.accounts)) for p in (book.accounts[account],)
            if p.holds or p.revoked]

__all__ = ["ALLOWED", "BACKOFF_FIRST_MS", "BACKOFF_MAX_MS", "Hold", "OPERATOR", "Owed", "Permission",
           "REVOKED", "RevokeBook", "backoff_ms", "hold_text", "holder_of", "out_of_reach", "permission_status",
           "revokes_in_force", "unreached_text"]
