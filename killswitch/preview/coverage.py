"""Which accounts a preview read: for every account, the snapshots tried and the ones that could
not be read, with their reason codes and the last message; and which policy scopes it could not
evaluate (:class:`BlindSpell`: blind triggers or a scope that selects nothing).

A preview (``ksctl plan``, ``ksctl replay``) that could not read an account does not know what
the policies would do there; it says so with these values instead of passing for "nothing to
do". A failed snapshot is one with ``fetch.ok`` false: an adapter's (wrong credential, venue down
or slow) or one recorded so. Messages are the adapters' own, which scrub secrets.

A trigger the engine could not evaluate (the engine's armed coverage, :mod:`..engine.coverage`)
leaves the preview as unknown as an account not read: "no changes" would be a claim about what it
did not see (terraform's "known after apply"). Over a recording, the ticks from its start until a
scope is first armed are its *warm-up* (a runner deployed at the recording's first tick would be
blind the same way): reported, but not a gap; a scope blind after it had been armed, or never
armed, or a policy that selects no account, is a gap and the preview is incomplete. A live preview
has one tick: anything blind there is a gap.

What it owns: :class:`AccountCoverage` and :class:`CoverageTally`, which counts them;
:class:`BlindSpell` and :class:`BlindTally`.
What it must not do: fetch, print, read a clock or choose exit codes. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..snapshot import Snapshot

# Account statuses: every snapshot read, some read, none read.
EVALUATED = "evaluated"
PARTLY_READ = "partly_read"
NOT_READ = "not_read"

# The reason code of a failed snapshot that does not say why (a recording written without one).
UNKNOWN_REASON = "UNKNOWN"
# a policy that selects nothing as its scope's allow_empty: true allows (killswitch.engine.coverage's)
UNMATCHED_ALLOWED = "UNMATCHED_ALLOWED"


@dataclass(frozen=True)
class AccountCoverage:
    """What a preview saw of one account: ``snapshots`` tried (live: one; a recording: the ticks
    the account appears in), ``failed`` of them not read, the distinct reason codes of those
    failures in the order they first came, the last failure's message, and the tick times (UTC
    ms) of the first and last failure."""

    venue: str
    account: str
    snapshots: int = 0
    failed: int = 0
    reasons: tuple[str, ...] = ()
    message: Optional[str] = None
    first_failed_ms: Optional[int] = None
    last_failed_ms: Optional[int] = None

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.account}"

    @property
    def read(self) -> int:
        return self.snapshots - self.failed

    @property
    def reason(self) -> Optional[str]:
        """The reason code of the last failure (None when every snapshot was read)."""
        return self.reasons[-1] if self.reasons else None

    @property
    def status(self) -> str:
        if self.failed == 0:
            return EVALUATED
        return NOT_READ if self.read == 0 else PARTLY_READ


def complete(accounts: Iterable[AccountCoverage]) -> bool:
    """Every snapshot of every account was read."""
    return all(a.failed == 0 for a in accounts)


class CoverageTally:
    """Counts, account by account, the snapshots a preview tried and the ones it could not read.
    Counters are kept mutable (a long recording is counted snapshot by snapshot); :meth:`accounts`
    hands out frozen values."""

    def __init__(self) -> None:
        # (venue, account) → [snapshots, failed, reasons, message, first_failed_ms, last_failed_ms]
        self._by_key: dict[tuple[str, str], list] = {}

    def saw(self, snap: Snapshot, now_ms: int) -> None:
        """One snapshot of an account, read or failed (``fetch.ok``), at tick time ``now_ms``."""
        c = self._by_key.get((snap.venue, snap.account))
        if c is None:
            c = self._by_key[(snap.venue, snap.account)] = [0, 0, [], None, None, None]
        c[0] += 1
        if snap.fetch.ok:
            return
        reason = snap.fetch.error_code or UNKNOWN_REASON
        c[1] += 1
        if reason not in c[2]:
            c[2].append(reason)
        if snap.fetch.error is not None:
            c[3] = snap.fetch.error
        if c[4] is None:
            c[4] = now_ms
        c[5] = now_ms

    def accounts(self) -> tuple[AccountCoverage, ...]:
        """Every account seen, by venue then account name."""
        return tuple(AccountCoverage(v, a, c[0], c[1], tuple(c[2]), c[3], c[4], c[5])
                     for (v, a), c in sorted(self._by_key.items()))


@dataclass(frozen=True)
class BlindSpell:
    """A policy scope a preview could not evaluate: over ``ticks`` ticks from ``first_ms`` to
    ``last_ms`` (UTC ms), its ``triggers`` could not be evaluated (``reason`` and ``detail`` of the
    last such tick; ``UNMATCHED``: the policy selected no account, ``scope`` "(none)", ``detail``
    its selector).
    ``warmup``: the recording's first ticks, before the scope was first armed (not a gap)."""

    policy: str
    scope: str
    state: str  # blind | unmatched
    reason: str
    detail: str
    triggers: tuple[str, ...]
    first_ms: int
    last_ms: int
    ticks: int
    until_ms: Optional[int]  # the last tick's estimate of when it is armed (None: unknown)
    warmup: bool = False
    ended_ms: Optional[int] = None  # the first tick after the spell (None: it lasted to the last tick)
    live: bool = False  # seen by a preview of live accounts (not of a recording)
    # the last tick's earliest time a trigger of it can fire again (engine Coverage.acts_from_ms;
    # None: unknown, or it could fire through another signal: partly blind)
    acts_from_ms: Optional[int] = None

    @property
    def gap(self) -> bool:
        """It makes a preview incomplete: a blind scope outside a recording's warm-up, and, live,
        a policy that selects none of the accounts read (it previews nothing on the accounts it
        was written for, and a runner on them would page it UNMATCHED). Over a recording such a
        policy is named, not a gap: a recording carries the accounts it was made of, not every
        account the policies declare (one that selects no declared account does not compile:
        KS218). One whose scope says ``allow_empty: true`` (reason ``UNMATCHED_ALLOWED``) is
        expected to select nothing: named, never a gap."""
        return (self.state == "blind" and not self.warmup) or (
            self.state == "unmatched" and self.live and self.reason != UNMATCHED_ALLOWED)


class BlindTally:
    """Collects the blind spells of a preview's evaluations, tick by tick (``live``: one tick, no
    warm-up)."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self._armed_once: set[tuple[str, str]] = set()
        self._open: dict[tuple[str, str, bool], list[Any]] = {}
        self._spells: list[BlindSpell] = []

    def saw(self, ev: Any) -> None:
        """One evaluation (:class:`killswitch.engine.evaluate.Evaluation`)."""
        now = ev.now_ms
        current: set[tuple[str, str, bool]] = set()
        for se in ev.scopes:
            key = (se.policy, se.scope)
            c = se.coverage
            if c.armed:
                self._armed_once.add(key)
                continue
            warm = not self.live and key not in self._armed_once
            self._extend((se.policy, se.scope, warm), now, "blind", c.reason or "", c.detail,
                         tuple(t.trigger for t in c.triggers), c.until_ms, None if c.partly else c.acts_from_ms)
            current.add((se.policy, se.scope, warm))
        for u in ev.unmatched:
            self._extend((u.policy, "(none)", False), now, "unmatched", u.reason, u.selector, (), None)
            current.add((u.policy, "(none)", False))
        for done in [k for k in self._open if k not in current]:
            self._close(done, ended=now)

    def _extend(self, key: tuple[str, str, bool], now: int, state: str, reason: str, detail: str,
                triggers: tuple[str, ...], until: Optional[int], acts: Optional[int] = None) -> None:
        spell = self._open.get(key)
        if spell is None:
            self._open[key] = [state, reason, detail, set(triggers), now, now, 1, until, acts]
            return
        spell[1:4] = [reason, detail, spell[3] | set(triggers)]
        spell[5], spell[6], spell[7], spell[8] = now, spell[6] + 1, until, acts

    def _close(self, key: tuple[str, str, bool], warmup: Optional[bool] = None, ended: Optional[int] = None) -> None:
        st, reason, detail, trig, first, last, ticks, until, acts = self._open.pop(key)
        self._spells.append(BlindSpell(key[0], key[1], st, reason, detail, tuple(sorted(trig)), first, last, ticks,
                                       until, key[2] if warmup is None else warmup, ended, self.live, acts))

    def spells(self) -> tuple[BlindSpell, ...]:
        """Every spell, the open ones closed at the last tick, by policy, scope and time. A scope
        blind from the first tick to the last was never armed: a gap, not a warm-up."""
        for key in list(self._open):
            self._close(key, warmup=False)
        return tuple(sorted(self._spells, key=lambda b: (b.policy, b.scope, b.first_ms)))
