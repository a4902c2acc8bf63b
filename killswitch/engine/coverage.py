"""Armed coverage: for every policy × scope instance, whether the kill switch can act there.

A kill switch that cannot evaluate a trigger is not calm, it is blind; one whose scope selects
nothing is off. Every view (status, console, API, metrics, logs, pages, ``ksctl plan``) reads the
same fact, computed here once per tick from the trigger results, the signal values, the scope's
snapshots and the state:

- ``armed``: every trigger a stage of the policy uses can be evaluated this tick.
- ``blind``: some cannot (:class:`BlindTrigger` says which and why), so its stages cannot be
  entered through them. A trigger is blind when a signal it reads has no value and its
  ``on_missing_data`` is ``hold`` or ``ignore`` (``fire`` fails closed: it acts, it is not blind),
  or when it reads a signal of the books while a scope account's feed is stale or frozen (it would
  judge old data as today's). Blind by what it reads, not by the condition's value: ``a || b``
  with ``b`` unknown cannot fire on ``b`` even while ``a`` holds, and a coverage that followed
  the values would flap with them. Reason codes, the most actionable first: ``ACCOUNT_NOT_READ`` (a
  snapshot could not be fetched), ``STALE_DATA``, ``MISSING_DATA``, ``INSUFFICIENT_HISTORY``
  (a window not yet covered: with the coverage reached and needed, and until when). Blind is
  not helpless: a blind trigger says which of its known signals it can still fire on
  (``fires_on``, :mod:`.reach`), and a scope where some trigger can still fire is *partly* blind
  (:attr:`Coverage.partly`: "partly blind: dd_1h unknown; soft and hard can still fire on
  dd_15m"), so a policy that just acted on its other signal is never shown as one that cannot act.
- ``unmatched``: the policy's scope selects no account of this tick's snapshots (``UNMATCHED``;
  a scope listing strategies selects only accounts the Accounts document declares one of them on;
  ``UNMATCHED_ALLOWED`` when its scope says ``allow_empty: true``: a policy prepared ahead of its
  account, unmatched all the same and shown so, but expected: no page, no alert).

``until_ms`` is when a blind trigger is evaluable again if every tick from now on reads: the
latest of its unknown signals' ``ready_ms`` (an ``a || b`` with ``b`` unknown stays unknown while
``a`` is false, so it waits for all of them); None when one of them waits for data, not time.
It can *fire* sooner: ``fires_from_ms`` is the first ready time from which it can fire on what is
known by then (``a || b``: ``a``'s), and :attr:`Coverage.acts_from_ms` the earliest of a scope's
triggers: when a blind scope can act again, the time every view gives first (a scope said blind
"until 03:43" by its ``until_ms`` fired at 03:07 on ``a``).

The state remembers each scope's coverage and since when (``ScopeState.coverage``), so a change
is seen once (``changed``), and a standby or a restarted runner reports the leader's.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..compile.graph import PolicyNode
from ..policy.signals import SIGNALS
from ..snapshot import Snapshot
from .reach import fires_on
from .scope import ScopeView, account_key
from .signals import SignalValue
from .state import ScopeState, State

ARMED = "armed"
BLIND = "blind"
UNMATCHED = "unmatched"

ACCOUNT_NOT_READ = "ACCOUNT_NOT_READ"
STALE_DATA = "STALE_DATA"
MISSING_DATA = "MISSING_DATA"
INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"
UNMATCHED_REASON = "UNMATCHED"
UNMATCHED_ALLOWED = "UNMATCHED_ALLOWED"  # unmatched, and its scope says allow_empty: true
_RANK = (ACCOUNT_NOT_READ, STALE_DATA, MISSING_DATA, INSUFFICIENT_HISTORY)

# Signal kinds whose values come from the accounts' books: a stale or frozen feed makes them judge
# old data. The others measure the feed itself (data_age, api stats) or the bots (heartbeat_age).
# The catalogue says which (its entries' reads_book).
BOOK_KINDS = frozenset(name for name, k in SIGNALS.items() if k.reads_book)
# A feed is stale when its data is older than this many of the policy's intervals (and at least
# STALE_MIN_MS): three missed ticks in a row, not one slow answer.
STALE_INTERVALS = 3
STALE_MIN_MS = 30_000
# what a scope for an unmatched policy is called in every view
NO_SCOPE = "(none)"


@dataclass(frozen=True)
class BlindTrigger:
    trigger: str
    reason: str  # a reason code (see the module doc)
    until_ms: Optional[int] = None  # evaluable again then if every tick reads (None: unknown)
    # what :attr:`detail` is made of, kept as values: a blind scope is evaluated every tick and
    # its text is read only when something shows it
    unknown: tuple[SignalValue, ...] = ()
    not_read: tuple[Snapshot, ...] = ()
    stale: tuple[str, ...] = ()  # the book signals read from stale data
    stale_from: tuple[tuple[str, bool, Optional[int]], ...] = ()  # (account, frozen, data age ms)
    fires_on: tuple[str, ...] = ()  # its known signals it can still fire on (empty: it cannot fire)
    # when it can fire again if every tick reads: the first of its unknown signals' ready times
    # from which it can fire on what is known by then (``a || b``: a's, though b's comes later);
    # None: not known (a signal waits for data, not time; stale data)
    fires_from_ms: Optional[int] = None

    @property
    def missing(self) -> tuple[str, ...]:
        """The signals it cannot read: unknown, or read from stale data."""
        return self.stale or tuple(v.name for v in self.unknown)

    @property
    def detail(self) -> str:
        """e.g. ``dd_15m: INSUFFICIENT_HISTORY: coverage=40% min=80%``."""
        if self.stale:
            named = [f"{k} (frozen feed, data {_secs(age)} old)" if frozen else f"{k} (data {_secs(age)} old)"
                     for k, frozen, age in self.stale_from[:MAX_NAMED]]
            return f"{', '.join(self.stale)} read from {_named(named, len(self.stale_from))}"
        why = "; ".join(f"{v.name}: {v.reason}" for v in self.unknown)
        if self.reason == ACCOUNT_NOT_READ:
            return _not_read_text(list(self.not_read)) + " (" + why + ")"
        return why


@dataclass(frozen=True)
class Coverage:
    """One policy × scope instance's coverage at a tick."""

    state: str = ARMED
    reason: Optional[str] = None  # None when armed
    triggers: tuple[BlindTrigger, ...] = ()
    until_ms: Optional[int] = None  # blind: armed again then if nothing else fails
    since_ms: Optional[int] = None  # when the scope entered this state
    changed: bool = False  # the state differs from the previous tick's (or this is the first)
    left_since_ms: Optional[int] = None  # changed: when the state it left had begun (None: the first tick)
    armed_triggers: tuple[str, ...] = ()  # blind: the triggers of its stages that can be evaluated

    @property
    def armed(self) -> bool:
        return self.state == ARMED

    @property
    def acts_from_ms(self) -> Optional[int]:
        """Blind: the earliest time any of its triggers can fire again if every tick reads (the
        blind spell's end for an on-call, before :attr:`until_ms`, when every trigger is armed
        again); None: not known (or not blind). The one figure of status, the console and
        ``ksctl plan``."""
        times = [t.fires_from_ms for t in self.triggers if t.fires_from_ms is not None]
        return min(times) if self.state == BLIND and times else None

    @property
    def acts_first(self) -> tuple[str, ...]:
        """The triggers that can fire at :attr:`acts_from_ms`, the first ones."""
        at = self.acts_from_ms
        return tuple(t.trigger for t in self.triggers if at is not None and t.fires_from_ms == at)

    @property
    def detail(self) -> str:
        """One line: which triggers, why."""
        if self.state == ARMED:
            return "every trigger can be evaluated"
        return "; ".join(f"{t.trigger}: {t.detail}" for t in self.triggers)

    @property
    def why_blind(self) -> str:
        """Why a blind scope is blind, in words that stay true while it is: each signal it cannot
        read once, with the triggers that need it (``INSUFFICIENT_HISTORY: dd unknown to soft,
        harder and hard``); the figures that move every tick (``coverage=40%``) are the status's to
        show. What a lock held while blind says (:attr:`detail` repeats a signal's reason per
        trigger: 600 characters for three triggers on one signal)."""
        if self.state == ARMED:
            return "every trigger can be evaluated"
        groups: dict[tuple[tuple[str, ...], bool], list[str]] = {}
        for t in self.triggers:
            groups.setdefault((t.missing, bool(t.stale)), []).append(t.trigger)
        parts = [f"{', '.join(m)} {'read from stale data' if stale else 'unknown'} to {_and(names)}" if m
                 else f"{_and(names)} cannot be evaluated" for (m, stale), names in groups.items()]
        return f"{self.reason}: {'; '.join(parts)}"

    @property
    def partly(self) -> Optional[str]:
        """A blind scope some trigger can still fire in, in one line: ``partly blind: dd_1h
        unknown; soft and hard can still fire on dd_15m``; None when armed, unmatched, or when no
        trigger of its stages can fire (blind: it cannot act)."""
        if self.state != BLIND or not (self.armed_triggers or any(t.fires_on for t in self.triggers)):
            return None
        unknown = list(dict.fromkeys(n for t in self.triggers if not t.stale for n in t.missing))
        stale = list(dict.fromkeys(n for t in self.triggers if t.stale for n in t.missing))
        parts = [f"{', '.join(unknown)} unknown"] if unknown else []
        parts += [f"{', '.join(stale)} read from stale data"] if stale else []
        groups: dict[tuple[str, ...], list[str]] = {}
        for t in self.triggers:
            if t.fires_on:
                groups.setdefault(t.fires_on, []).append(t.trigger)
        parts += [f"{_and(names)} can still fire on {', '.join(on)}" for on, names in groups.items()]
        if self.armed_triggers:
            parts.append(f"{_and(self.armed_triggers)} {'is' if len(self.armed_triggers) == 1 else 'are'} armed")
        cannot = [t.trigger for t in self.triggers if not t.fires_on]
        if cannot:
            parts.append(f"{_and(cannot)} cannot fire")
        return "partly blind: " + "; ".join(parts)


def _and(names: Any) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True)
class Unmatched:
    """A policy whose scope selected nothing this tick."""

    policy: str
    selector: str  # the scope as written, e.g. "accounts{book=futurs}"
    since_ms: Optional[int]
    changed: bool
    allowed: bool = False  # its scope says allow_empty: true (prepared ahead of its account)

    @property
    def reason(self) -> str:
        return UNMATCHED_ALLOWED if self.allowed else UNMATCHED_REASON


def selector_text(policy: PolicyNode) -> str:
    sc = policy.scope
    parts = []
    if sc.get("venues"):
        parts.append("venues=" + ",".join(sc["venues"]))
    acc = sc.get("accounts") or {}
    if acc.get("names"):
        parts.append("accounts=" + ",".join(acc["names"]))
    if acc.get("match_labels"):
        parts.append("labels{" + ",".join(f"{k}={v}" for k, v in sorted(acc["match_labels"].items())) + "}")
    if sc.get("strategies"):
        # an account is selected only if it declares one of them (engine/scope.py ``declares``)
        parts.append("strategies=" + ",".join(sc["strategies"]) + " (declared on the account)")
    return " ".join(parts) or "every account"


@dataclass(frozen=True)
class Watched:
    """A trigger some stage of the policy uses, with what its coverage reads: taken once per
    policy and evaluation (:func:`watched`), not per scope instance."""

    name: str
    reads: tuple[str, ...]
    book_reads: tuple[str, ...]  # its reads of a book signal (stale data makes them blind)
    fires_on_missing: bool
    condition: Any = field(default=None, compare=False, repr=False)  # the condition's AST (None: not known)


def watched(policy: PolicyNode) -> tuple[Watched, ...]:
    used = {t for st in policy.stages for t in st.on}
    kinds = {s.name: s.kind for s in policy.signals}
    return tuple(Watched(t.name, t.reads, tuple(n for n in t.reads if kinds.get(n) in BOOK_KINDS),
                         t.on_missing_data == "fire", t.ast) for t in policy.triggers if t.name in used)


ARMED_NOW = Coverage()


def scope_coverage(policy: PolicyNode, watch: tuple[Watched, ...], view: ScopeView,
                   values: Mapping[str, SignalValue], state: State, ss: ScopeState, now: int) -> Coverage:
    """The coverage of one scope instance this tick (``watch``: :func:`watched` of ``policy``);
    records it (and since when) in ``ss``."""
    blind: list[BlindTrigger] = []
    stale: Optional[tuple[tuple[str, bool, Optional[int]], ...]] = None  # looked up once, when needed
    for w in watch:
        if w.fires_on_missing:
            continue  # fails closed: it acts on what it cannot see
        unknown = tuple(v for n in w.reads if (v := values.get(n)) is not None and v.value is None)
        if unknown:
            not_read = tuple(s for s in view.snapshots if not s.fetch.ok)
            readies = [v.ready_ms for v in unknown]
            until = max(readies) if all(x is not None for x in readies) else None  # type: ignore[type-var]
            blind.append(BlindTrigger(w.name, _reason(unknown, not_read), until, unknown, not_read,
                                      fires_on=_fires_on(w, {v.name for v in unknown}),
                                      fires_from_ms=_fires_from(w, unknown, now)))
        elif w.book_reads:
            if stale is None:
                stale = _stale_accounts(view, state, now, int(policy.interval_s * 1000))
            if stale:
                blind.append(BlindTrigger(w.name, STALE_DATA, None, stale=w.book_reads, stale_from=stale,
                                          fires_on=_fires_on(w, set(w.book_reads))))
    if blind:
        reason = min((b.reason for b in blind), key=_RANK.index)
        untils = [b.until_ms for b in blind]
        until = max(untils) if all(u is not None for u in untils) else None  # type: ignore[type-var]
        names = {b.trigger for b in blind}
        armed = tuple(w.name for w in watch if w.name not in names)
        return _remember(ss, Coverage(BLIND, reason, tuple(blind), until, armed_triggers=armed), now)
    return _remember(ss, ARMED_NOW, now)


def _remember(ss: ScopeState, cov: Coverage, now: int) -> Coverage:
    prev = ss.coverage
    same = prev is not None and prev[0] == cov.state
    since = prev[1] if same and prev is not None else now
    if prev is None or prev[0] != cov.state or prev[2] != cov.reason or prev[3] != cov.until_ms:
        ss.coverage = (cov.state, since, cov.reason, cov.until_ms)
    left = prev[1] if prev is not None and not same else None
    return Coverage(cov.state, cov.reason, cov.triggers, cov.until_ms, since, not same, left, cov.armed_triggers)


def _fires_on(w: Watched, unknown: set[str]) -> tuple[str, ...]:
    """The signals a blind trigger can still fire on (none when its condition is not known)."""
    return () if w.condition is None else fires_on(w.condition, unknown)


def _fires_from(w: Watched, unknown: tuple[SignalValue, ...], now: int) -> Optional[int]:
    """When a blind trigger can fire again if every tick reads: ``now`` when it can fire on a
    known signal already, else the first of its unknown signals' ready times at which what is
    still unknown leaves it a signal to fire on (all of them known, where its condition is not
    known); None when no such time is known."""
    if w.condition is not None and fires_on(w.condition, {v.name for v in unknown}):
        return now
    for at in sorted({v.ready_ms for v in unknown if v.ready_ms is not None}):
        still = {v.name for v in unknown if v.ready_ms is None or v.ready_ms > at}
        if not still or (w.condition is not None and fires_on(w.condition, still)):
            return at
    return None


def unmatched(policy: PolicyNode, state: State, matched: bool, now: int) -> tuple[Optional[Unmatched], bool]:
    """The policy's entry when its scope selected nothing this tick (its since kept in
    ``state.unmatched``), and whether it selects accounts again this tick (its entry dropped)."""
    if matched:
        return None, state.unmatched.pop(policy.name, None) is not None
    since = state.unmatched.get(policy.name)
    if since is None:
        state.unmatched[policy.name] = now
    return Unmatched(policy.name, selector_text(policy), since if since is not None else now, since is None,
                     allowed_empty(policy)), False


def allowed_empty(policy: PolicyNode) -> bool:
    """The policy's scope says ``allow_empty: true``: selecting nothing is expected."""
    return bool(policy.scope.get("allow_empty"))


def _reason(unknown: tuple[SignalValue, ...], not_read: tuple[Snapshot, ...]) -> str:
    if not_read:
        return ACCOUNT_NOT_READ
    if unknown and all((v.reason or "").startswith(INSUFFICIENT_HISTORY) for v in unknown):
        return INSUFFICIENT_HISTORY
    return MISSING_DATA


# accounts named in one detail line (a global scope over hundreds: the rest are counted)
MAX_NAMED = 3


def _named(items: list[str], total: int) -> str:
    head = ", ".join(items[:MAX_NAMED])
    return head if total <= MAX_NAMED else f"{head} and {total - MAX_NAMED} more"


def _not_read_text(snaps: list[Snapshot]) -> str:
    return _named([f"{account_key(s)} not read: {s.fetch.error_code or 'UNKNOWN'}" for s in snaps[:MAX_NAMED]],
                  len(snaps))


def _stale_accounts(view: ScopeView, state: State, now: int, interval_ms: int
                    ) -> tuple[tuple[str, bool, Optional[int]], ...]:
    """The scope's accounts read fine this tick whose data is stale or frozen, as (account,
    frozen, data age in ms)."""
    limit = max(STALE_MIN_MS, STALE_INTERVALS * interval_ms)
    out = []
    for s in view.snapshots:
        if not s.fetch.ok:
            continue
        key = account_key(s)
        acc = state.accounts.get(key)
        if acc is None:
            continue
        age = acc.data_age_ms(now)
        if acc.frozen():
            out.append((key, True, age))
        elif age is not None and age > limit:
            out.append((key, False, age))
    return tuple(out)


def _secs(ms: Optional[int]) -> str:
    return "?" if ms is None else f"{ms / 1000:.0f}s"
