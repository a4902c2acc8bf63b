"""Engine state: everything evaluation remembers from one tick to the next, as a plain value.

Stage machines, trigger confirmations, signal windows, per-account bookkeeping, heartbeats and
the PnL history used for attribution. :meth:`State.to_json` / :meth:`State.from_json` give a
stable serialization (``format_version``) that the runner persists and reloads: a halt stays
a halt after a restart because this value says so.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Optional, Sequence

from .signal_state import Kept
from .tally import Tally

# a position in an account's PnL history: (symbol, position side)
PnlKey = tuple[str, str]
# one sample of an account's PnL history: (ts_ms, the positions, their unrealized PnL)
PnlSample = tuple[int, tuple[PnlKey, ...], "array[float]"]
# a sample to store: (window_ms, account, ts_ms, the positions, their unrealized PnL)
PnlRow = tuple[int, str, int, tuple[PnlKey, ...], "array[float]"]

STATE_FORMAT = 1


@dataclass
class TriggerState:
    streak: int = 0  # consecutive ticks the condition held
    since_ms: Optional[int] = None  # when the current run of true began
    firing: bool = False
    last_fire_ms: Optional[int] = None  # last tick the confirmed condition held (keep_firing_for)
    last: Optional[bool] = None  # last known condition result (for on_missing_data: hold)
    # the last tick counted in ``streak`` (a tick sooner than an interval after it is not counted:
    # see engine/triggers.py); None in a state saved before it was kept: the next true tick counts
    counted_ms: Optional[int] = None

    def to_json(self) -> list[Any]:
        return [self.streak, self.since_ms, self.firing, self.last_fire_ms, self.last, self.counted_ms]

    @classmethod
    def from_json(cls, d: list[Any]) -> "TriggerState":
        return cls(*d)


@dataclass(frozen=True)
class ResetMark:
    """A manual reset that released a stage: the incident it ended (its decision id), when, by
    whom, and what that incident had as the reset found it (the orders its decision journaled,
    or planned in a dry run, and who had acknowledged it: a closed incident gets neither). A
    stage entered at the first step after it (a trigger still fired) continues that incident
    (:attr:`StageState.continues`)."""

    incident: str
    reset_ms: int
    approvers: tuple[str, ...]
    orders: Optional[int] = None  # None: not counted (a firm reset, a state saved without it)
    acked_by: tuple[str, ...] = ()

    def to_json(self) -> list[Any]:
        return [self.incident, self.reset_ms, list(self.approvers), self.orders, list(self.acked_by)]

    def doc(self) -> dict[str, Any]:
        """As a transition's data and the views carry it (``continues``): what
        :func:`killswitch.relatch.relatched_text` says."""
        return {"incident": self.incident, "reset_ms": self.reset_ms, "by": list(self.approvers),
                "orders": self.orders, "acked_by": list(self.acked_by)}

    @classmethod
    def from_json(cls, d: list[Any]) -> "ResetMark":
        return cls(str(d[0]), int(d[1]), tuple(map(str, d[2])), d[3], tuple(map(str, d[4])))


@dataclass
class StageState:
    level: int = 0  # 0: armed, nothing entered
    entered_ms: Optional[int] = None  # when the current level was (last) entered
    entries: int = 0  # how many stage entries this scope has had: part of every decision id
    last_entry_ms: dict[int, int] = field(default_factory=dict)  # per level, for cooldowns
    last_active_ms: Optional[int] = None  # last tick a trigger of the current stage fired
    approvals: list[str] = field(default_factory=list)  # distinct approvers of a pending reset
    # The stage was entered while positions were unknown: its closes are planned at the first
    # tick with good snapshots, under the same decision.
    deferred: bool = False
    # Closes of the current entry planned again (after positions were unknown, or a close that
    # expired unfilled): each re-plan is a decision of its own, "<entry>/r<n>".
    retries: int = 0
    # Of those re-plans, the rounds whose closes waited behind an earlier order of ours (held):
    # they spend nothing of the budget of re-plans of closes that ended short.
    held: int = 0
    # How the stage entered resets, fixed when it was entered (a reload changes only stages entered
    # after it): by hand or not, and the distinct approvers a manual reset needs. None: not known
    # (a state saved before they were kept, or nothing entered): the running stage's are read.
    manual: Optional[bool] = None
    needs: Optional[int] = None
    # The manual reset this scope's stage entry follows at once: at level 0, the reset just made,
    # kept until the next step (a stage entered then continues its incident; else dropped); above
    # 0, the reset the stage entry relatched after, while it holds. None: no such reset.
    continues: Optional[ResetMark] = None

    def latch(self, manual: bool, approvals: int) -> None:
        """Fix how the stage just entered resets: ``approvals`` distinct approvers when ``manual``."""
        self.manual, self.needs = manual, (approvals if manual else 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level, "entered_ms": self.entered_ms, "entries": self.entries,
            "last_entry_ms": {str(k): v for k, v in self.last_entry_ms.items()},
            "last_active_ms": self.last_active_ms, "approvals": list(self.approvals), "deferred": self.deferred,
            "retries": self.retries, "held": self.held, "manual": self.manual, "needs": self.needs,
            **({"continues": self.continues.to_json()} if self.continues is not None else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "StageState":
        return cls(d["level"], d["entered_ms"], d["entries"], {int(k): v for k, v in d["last_entry_ms"].items()},
                   d["last_active_ms"], list(d["approvals"]), d.get("deferred", False), d.get("retries", 0),
                   d.get("held", 0), d.get("manual"), d.get("needs"),
                   ResetMark.from_json(d["continues"]) if d.get("continues") else None)


@dataclass(frozen=True)
class Removal:
    """A policy instance the running graph no longer produces, kept because its stage is
    latched (above 0: held until its reset). What its reset needs is kept with it: the stage of
    a policy that is gone cannot be read from the graph any more."""

    since_ms: int  # when it was found removed (a reload, a start, a takeover)
    code: str  # POLICY_REMOVED | SCOPE_REMOVED (see engine/removed.py)
    why: str  # one line a human reads
    stage_name: Optional[str] = None  # its stage's name, as the graph that ran it said
    manual: bool = True  # its stage resets by hand only
    approvals: Optional[int] = None  # distinct approvers its reset needs; None: no longer known

    def to_json(self) -> list[Any]:
        return [self.since_ms, self.code, self.why, self.stage_name, self.manual, self.approvals]

    @classmethod
    def from_json(cls, d: list[Any]) -> "Removal":
        return cls(int(d[0]), str(d[1]), str(d[2]), d[3], bool(d[4]), d[5])


@dataclass
class ScopeState:
    stage: StageState = field(default_factory=StageState)
    triggers: dict[str, TriggerState] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)  # name → signal state (see signals.py)
    signal_kinds: dict[str, str] = field(default_factory=dict)  # name → kind + params digest
    # armed coverage (see coverage.py): (armed | blind, since when, reason code, blind until);
    # None before the first tick. Saved so that a standby and a restarted runner report it.
    coverage: Optional[tuple[str, int, Optional[str], Optional[int]]] = None
    # the running graph no longer produces this instance; kept while its stage is latched
    removed: Optional[Removal] = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage.to_json(),
            "triggers": {k: v.to_json() for k, v in self.triggers.items()},
            "signals": {k: [self.signal_kinds.get(k, ""), v.to_json()] for k, v in self.signals.items()},
        }
        if self.coverage is not None:
            out["coverage"] = list(self.coverage)
        if self.removed is not None:
            out["removed"] = self.removed.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ScopeState":
        s = cls(StageState.from_json(d["stage"]), {k: TriggerState.from_json(v) for k, v in d["triggers"].items()})
        for name, (kind, data) in d["signals"].items():
            s.signals[name] = Kept(data)  # as saved, until its kind reads it
            s.signal_kinds[name] = kind
        cov = d.get("coverage")  # absent before coverage was kept
        if cov is not None:
            s.coverage = (str(cov[0]), int(cov[1]), cov[2] if len(cov) > 2 else None, cov[3] if len(cov) > 3 else None)
        if d.get("removed") is not None:  # absent before removed instances were kept apart
            s.removed = Removal.from_json(d["removed"])
        return s


# A book holding something whose answers repeat exactly (equity, every position's size and mark,
# every priced holding) while the venue's clock moves on by more than this is a frozen feed: its
# data is as old as the first answer with that content. Ten seconds: a live mark moves within
# a second or two; a blind trigger is usually a minute, so it is not the tolerance that decides.
FROZEN_AFTER_MS = 10_000


@dataclass
class AccountState:
    """What the engine remembers of one account between ticks.

    Freshness, in the venue's clock (``ts_event``, never later than we observed it):
    ``last_good_ms`` is the newest well-formed answer; ``content`` the fingerprint of the
    latest answer of a book that holds something (None: a quiet book, nothing in it must move);
    ``changed_ms`` the time of the first answer that carried that content. :meth:`data_age_ms`
    turns them into the one data age that signals, status, metrics and runbooks all report."""

    last_good_ms: Optional[int] = None  # ts_event of the last snapshot that fetched fine
    first_equity: Optional[float] = None  # stands in for initial capital when none is declared
    day: Optional[int] = None  # UTC day number of day_open_equity
    day_open_equity: Optional[float] = None
    content: Optional[str] = None  # fingerprint of the latest answer that holds something
    changed_ms: Optional[int] = None  # ts_event of the first answer with that content
    # the positions' symbols and sides the last fingerprint read (copies), with their checksum
    # (not saved): a book whose positions stay the same, nearly every tick, compares the lists
    # instead of joining, encoding and checking them again
    names: Optional[tuple[list[str], list[str], int]] = field(default=None, repr=False, compare=False)

    def frozen(self) -> bool:
        """The venue's clock has moved on by more than FROZEN_AFTER_MS while what the book holds
        repeated exactly."""
        return (self.content is not None and self.changed_ms is not None and self.last_good_ms is not None
                and self.last_good_ms - self.changed_ms > FROZEN_AFTER_MS)

    def data_age_ms(self, now_ms: int) -> Optional[int]:
        """How old the account's data is at ``now_ms``: since its newest good answer, or, for a
        frozen feed, since the first answer with the content it keeps repeating. None: never seen."""
        if self.last_good_ms is None:
            return None
        since = self.changed_ms if self.frozen() else self.last_good_ms
        return max(0, now_ms - since)  # type: ignore[operator]

    def to_json(self) -> list[Any]:
        # the first four fields only: a runner of the previous release loads ``cls(*d)`` (the
        # freshness fields travel beside them, see State.to_json)
        return [self.last_good_ms, self.first_equity, self.day, self.day_open_equity]

    @classmethod
    def from_json(cls, d: list[Any]) -> "AccountState":
        return cls(*d[:4])


@dataclass
class PnlHistory:
    """Unrealized PnL of every open position, sampled every ``step_ms``, over ``window_ms``.

    One sample per account and step: ``(ts, keys, values)`` — ``keys`` a tuple of
    ``(symbol, position side)``, ``values`` the matching unrealized PnLs as an array of doubles.
    A sample reuses the previous sample's keys tuple while the book's positions are the same, so
    a 10,000-position book over an hour is 60 arrays of floats rather than 600,000 dict entries
    (measured: ~116 MB of objects and 100 ms garbage-collection passes before). The oldest
    sample kept is the reference of attribution; a position absent from it opened since.
    """

    window_ms: int
    step_ms: int
    next_sample_ms: Optional[int] = None
    accounts: dict[str, deque[PnlSample]] = field(default_factory=dict)  # account key → deque of samples
    # the columns the last sample of each account was made from (not saved): the next tick's
    # columns are compared with them instead of building and comparing 10,000 keys
    _columns: dict[str, tuple[list[str], list[str], tuple[PnlKey, ...]]] = field(
        default_factory=dict, repr=False, compare=False)

    def add(self, account: str, ts: int, pnl: dict[PnlKey, float]) -> deque[PnlSample]:
        """Append a sample of ``{(symbol, position side): upnl}`` to an account's history."""
        return self.append(account, ts, tuple(pnl), array("d", pnl.values()))

    def sample(self, account: str, ts: int, symbols: list[str], side_keys: list[str],
               values: Sequence[float]) -> deque[PnlSample]:
        """Append a sample given as columns (the positions' symbols, position sides and PnLs), as
        :meth:`add` would take it as a dict: a key held twice keeps its last PnL at its first
        place. The same positions as the account's previous sample (compared column to column,
        without building a key) share its keys tuple."""
        q = self.accounts.get(account)
        seen = self._columns.get(account)
        if q and seen is not None and seen[2] is q[-1][1] and seen[0] == symbols and seen[1] == side_keys:
            keys = seen[2]
        else:
            keys = tuple(zip(symbols, side_keys))
            as_dict = dict(zip(keys, values))
            if len(as_dict) != len(keys):
                self._columns.pop(account, None)
                return self.add(account, ts, as_dict)
            if q and q[-1][1] == keys:
                keys = q[-1][1]
            self._columns[account] = (symbols, side_keys, keys)
        q = self.append(account, ts, keys, array("d", values))
        return q

    def append(self, account: str, ts: int, keys: tuple[PnlKey, ...], values: array[float]) -> deque[PnlSample]:
        q = self.accounts.get(account)
        if q is None:
            q = self.accounts[account] = deque()
        if q and q[-1][1] == keys:
            keys = q[-1][1]  # the same positions: share the tuple
        q.append((ts, keys, values))
        return q

    def aligned(self, account: str, sample: PnlSample, symbols: list[str], side_keys: list[str]
                ) -> Optional[array[float]]:
        """The PnLs of ``sample`` position by position, when its positions are those of
        ``symbols`` and ``side_keys`` in that order (each position's reference is then the value
        at its own index, with no key built or looked up); None otherwise. Known only when the
        sample shares its keys with the account's last sample made from columns, which were
        these (and, a key held twice never sampled from columns, unique)."""
        seen = self._columns.get(account)
        if seen is None or seen[2] is not sample[1] or len(sample[2]) != len(symbols):
            return None
        if seen[0] != symbols or seen[1] != side_keys:
            return None
        return sample[2]

    @staticmethod
    def reference(sample: PnlSample) -> dict[PnlKey, float]:
        """A sample as ``{(symbol, position side): upnl}``."""
        return dict(zip(sample[1], sample[2]))

    def to_json(self, samples: bool = True) -> list[Any]:
        return [self.window_ms, self.step_ms, self.next_sample_ms,
                {acct: [[ts, [[k[0], k[1], v] for k, v in zip(keys, values)]] for ts, keys, values in q]
                 for acct, q in self.accounts.items()} if samples else {}]

    @classmethod
    def from_json(cls, d: list[Any]) -> "PnlHistory":
        hist = cls(d[0], d[1], d[2])
        for acct, q in d[3].items():
            hist.accounts[acct] = deque()
            for ts, sample in q:
                hist.add(acct, ts, {(a, b): v for a, b, v in sample})
        return hist


@dataclass
class State:
    scopes: dict[str, ScopeState] = field(default_factory=dict)  # "policy|scope" → state
    accounts: dict[str, AccountState] = field(default_factory=dict)  # "venue/account" → state
    heartbeats: dict[str, int] = field(default_factory=dict)  # source → ts (ms) of its last beat
    pnl: dict[int, PnlHistory] = field(default_factory=dict)  # reference window (ms) → history
    last_tick_ms: Optional[int] = None
    unmatched: dict[str, int] = field(default_factory=dict)  # policy whose scope selects nothing → since
    tally: Tally = field(default_factory=Tally)  # the gate's refusals and the venue's violations counted

    def copy(self) -> "State":
        return copy.deepcopy(self)

    def scope(self, policy: str, scope: str) -> ScopeState:
        key = f"{policy}|{scope}"
        st = self.scopes.get(key)
        if st is None:
            st = self.scopes[key] = ScopeState()
        return st

    def to_json(self, *, pnl_samples: bool = True) -> dict[str, Any]:
        """The state as a JSON document. ``pnl_samples=False`` leaves the PnL history's samples
        out (kept apart, see :func:`pnl_changes`): at 10,000 positions they are nearly all of it."""
        return {
            "format_version": STATE_FORMAT,
            "last_tick_ms": self.last_tick_ms,
            "scopes": {k: v.to_json() for k, v in sorted(self.scopes.items())},
            "accounts": {k: v.to_json() for k, v in sorted(self.accounts.items())},
            # apart from "accounts", which an older runner reads field by field: it loads this
            # document and starts the freshness bookkeeping afresh
            "content": {k: [v.content, v.changed_ms] for k, v in sorted(self.accounts.items())
                        if v.content is not None or v.changed_ms is not None},
            "heartbeats": dict(sorted(self.heartbeats.items())),
            "pnl": {str(k): v.to_json(pnl_samples) for k, v in sorted(self.pnl.items())},
            **({"unmatched": dict(sorted(self.unmatched.items()))} if self.unmatched else {}),
            **({"tally": self.tally.to_json()} if self.tally.since_ms is not None else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any],
                  pnl_samples: Iterable[tuple[int, str, int, list[Any], list[float]]] = ()) -> "State":
        """The state a document describes, with the PnL samples kept apart from it, as
        ``(window_ms, account, ts_ms, [[symbol, position side], ...], [upnl, ...])`` in time
        order. A sample of a window the document has no history for is left out; an account
        whose samples are in the document (an older runner saved it) keeps those."""
        if d.get("format_version") != STATE_FORMAT:
            raise ValueError(f"state format {d.get('format_version')} is not {STATE_FORMAT}")
        state = cls(
            scopes={k: ScopeState.from_json(v) for k, v in d["scopes"].items()},
            accounts={k: AccountState.from_json(v) for k, v in d["accounts"].items()},
            heartbeats=dict(d["heartbeats"]),
            pnl={int(k): PnlHistory.from_json(v) for k, v in d["pnl"].items()},
            last_tick_ms=d["last_tick_ms"],
            unmatched={str(k): int(v) for k, v in d.get("unmatched", {}).items()},
            tally=Tally.from_json(d.get("tally")),  # absent before the counts were kept: not counted yet
        )
        for k, (content, changed_ms) in d.get("content", {}).items():  # absent before freshness was kept
            acc = state.accounts.get(k)
            if acc is not None:
                acc.content, acc.changed_ms = content, changed_ms
        inline = {(w, acct) for w, hist in state.pnl.items() for acct in hist.accounts}
        for window_ms, account, ts, keys, values in pnl_samples:
            hist = state.pnl.get(window_ms)
            if hist is not None and (window_ms, account) not in inline:
                hist.append(account, ts, tuple((k[0], k[1]) for k in keys), array("d", values))
        return state


# (window_ms, account) → (ts of its oldest sample, ts of its newest), as last saved
PnlMarks = dict[tuple[int, str], tuple[int, int]]


def pnl_marks(state: State) -> PnlMarks:
    """Where each account's PnL history starts and ends: what a save of ``state`` leaves stored."""
    return {(w, acct): (q[0][0], q[-1][0]) for w, hist in state.pnl.items() for acct, q in hist.accounts.items() if q}


def pnl_changes(state: State, saved: PnlMarks) -> tuple[list[PnlRow], list[tuple[int, str, Optional[int]]]]:
    """What to store so that the saved PnL history (as ``saved`` marks it) becomes ``state``'s:
    the samples to add, as ``(window_ms, account, ts_ms, keys, values)``, and per history
    ``(window_ms, account, keep_from)`` to drop the samples before ``keep_from`` (all of them
    where None). A tick between two sample steps changes nothing; a step adds one sample and
    drops one per account."""
    added: list[PnlRow] = []
    kept: list[tuple[int, str, Optional[int]]] = []
    live = set()
    for w, hist in state.pnl.items():
        for acct, q in hist.accounts.items():
            if not q:
                continue
            live.add((w, acct))
            first, last = saved.get((w, acct), (None, None))
            if first is None or q[0][0] < first:
                last = None  # nothing stored, or less than we hold: store it all (added replaces)
            elif q[0][0] > first:
                kept.append((w, acct, q[0][0]))
            new = []
            for sample in reversed(q):
                if last is not None and sample[0] <= last:
                    break
                new.append(sample)
            added.extend((w, acct, ts, keys, values) for ts, keys, values in reversed(new))
    kept.extend((w, acct, None) for w, acct in saved if (w, acct) not in live)
    return added, kept


def forget_heartbeats(state: State, keep: Collection[str]) -> State:
    """Forget the heartbeats of every source not in ``keep`` (nothing names it any more)."""
    for source in [s for s in state.heartbeats if s not in keep]:
        del state.heartbeats[source]
    return state


def record_heartbeat(state: State, source: str, ts_ms: int) -> State:
    """A bot or feed said it is alive at ``ts_ms``. Heartbeats never move backwards."""
    prev = state.heartbeats.get(source)
    if prev is None or ts_ms > prev:
        state.heartbeats[source] = ts_ms
    return state
