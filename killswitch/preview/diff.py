"""Where two policy revisions decide differently over the same recorded ticks.

``compare(old, new)`` takes the evaluations of two replays of the same ticks and returns a
:class:`DiffResult` of values; ``diff_replays`` replays both graphs side by side and compares
tick by tick, ``replay_pair`` lists the evaluations (for tests). It answers a reviewer's question
about a policy pull request: "what would this change have done over last week's recording?".

The difference model, per tick and per (policy, scope):

- a *decision* differs when the stage transitions differ (one revision moves and the other does
  not, moves to another stage, or re-enters where the other enters), or when the planned actions
  differ: orders summed per position leg (symbol, position side, side, amount, notional, number
  of chunks), cancels, directives (lock, notify, dead man's switch), hedge suggestions, skipped
  actions. Order ids, decision ids and reason texts are not compared: they name a decision or
  explain it, they do not change what it does.
- *refusals* differ when the reason codes of what each revision refused to do differ
  (``COOLDOWN_ACTIVE``, ``LATCHED``, …). Consecutive ticks with the same pair of decisions are
  one difference spanning those ticks, so a stage entered a few ticks earlier shows as one span
  and not as one line per tick. On a tick whose decisions differ, the refusals are part of that
  decision's difference.
- *milestones*: for each stage level, when each revision first enters it (or never does); only
  the levels reached at different times are kept.
- a scope evaluated by one revision only (a policy added, removed or renamed, a changed scope
  selector) is listed, and compared against a scope that decides nothing.

Pure: no I/O, no clock. Renders nothing: :mod:`killswitch.render.diff` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Optional, Sequence

from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation, ScopeEvaluation
from ..engine.plans import Plan
from ..engine.stages import StageTransition
from ..orders import NO_SENDS, Sends
from .overlaps import AMOUNT_DIGITS, NOTIONAL_DIGITS  # (sums of chunks: compared at a precision)
from .replay import Tick, replay


@dataclass(frozen=True)
class PolicyRevision:
    """One side of a diff: where its policies came from and the graph they compiled to."""

    label: str  # as the user named it: a path, or REV:PATH
    digest: str
    revision: Optional[str]  # the git commit (with -dirty for a changed work tree), None outside git


@dataclass(frozen=True)
class Leg:
    """The orders one decision plans for one position leg, summed over its chunks."""

    venue: str
    account: str
    symbol: str
    position_side: Optional[str]
    side: str  # buy | sell
    reduce_only: bool
    amount: float
    notional: float
    orders: int  # number of chunks
    # why, for the reader; not compared: reasons carry scores and distances that move with the tick
    reasons: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple:
        return (self.venue, self.account, self.symbol, self.position_side or "", self.side, self.reduce_only)


@dataclass(frozen=True)
class Decision:
    """What one revision decided for one scope at one tick, in the terms ``compare`` looks at."""

    stage_before: int
    stage_after: int
    transition: Optional[StageTransition]
    legs: tuple[Leg, ...] = ()
    cancels: tuple[str, ...] = ()  # "venue/account entries: 2 order(s)"
    directives: tuple[str, ...] = ()  # "lock_trading mode=halted"
    hedges: tuple[str, ...] = ()  # "buy SOL ≈126,421"
    skipped: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()  # reason codes only: the texts carry times that differ anyway
    # for the reader, not compared: the plan itself (attribution, risk scores) and the send
    # numbers of its cancels and orders in its tick
    plan: Optional[Plan] = field(default=None, compare=False)
    send: Sends = field(default=NO_SENDS, compare=False)


NOTHING = Decision(0, 0, None)


@dataclass(frozen=True)
class Change:
    """One aspect of a decision that differs; ``None`` on a side means that side has none of it.

    ``aspect`` is one of ``transition`` (old/new: StageTransition), ``order`` (Leg), ``cancel``,
    ``directive``, ``hedge``, ``skipped`` (str) or ``refusals`` (tuple of reason codes).
    """

    aspect: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Difference:
    """Where the two revisions differ for one scope: one tick, or a span of ticks for refusals."""

    kind: str  # decision | refusals
    policy: str
    scope: str
    start_ms: int
    end_ms: int  # the last tick of the span; start_ms for a single tick
    ticks: int
    old: Optional[Decision]  # None: the scope is not evaluated by that revision
    new: Optional[Decision]
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Milestone:
    """When each revision first enters a stage level in one scope; None: never over the recording."""

    policy: str
    scope: str
    level: int
    stage: Optional[str]
    old_ms: Optional[int]
    new_ms: Optional[int]


@dataclass(frozen=True)
class DiffResult:
    ticks: int
    start_ms: Optional[int]
    end_ms: Optional[int]
    differences: tuple[Difference, ...]
    milestones: tuple[Milestone, ...]  # only the levels the revisions reach at different times
    only_old: tuple[tuple[str, str], ...]  # (policy, scope) evaluated by OLD only
    only_new: tuple[tuple[str, str], ...]

    @property
    def differs(self) -> bool:
        return bool(self.differences or self.only_old or self.only_new)

    @property
    def decisions(self) -> int:
        return sum(1 for d in self.differences if d.kind == "decision")

    @property
    def refusal_ticks(self) -> int:
        return sum(d.ticks for d in self.differences if d.kind == "refusals")

    @property
    def first_ms(self) -> Optional[int]:
        return min((d.start_ms for d in self.differences), default=None)


def replay_pair(old: DecisionGraph, new: DecisionGraph, ticks: Sequence[Tick]
                ) -> tuple[list[Evaluation], list[Evaluation]]:
    """Replay the same ticks through both graphs, each with its own fresh in-memory state."""
    return ([ev for _, ev, _ in replay(old, ticks)], [ev for _, ev, _ in replay(new, ticks)])


# a position leg as Leg names it: venue, account, symbol, position side, side, reduce-only
_LegKey = tuple[str, str, str, Optional[str], str, bool]


@dataclass
class _LegSum:
    amount: float = 0.0
    notional: float = 0.0
    orders: int = 0
    reasons: dict[str, None] = field(default_factory=dict)  # in the order they came, once each


def _legs(plan: Optional[Plan]) -> tuple[Leg, ...]:
    if plan is None:
        return ()
    sums: dict[_LegKey, _LegSum] = {}
    for o in plan.orders:
        key = (o.venue, o.account, o.symbol, o.position_side, o.side, o.reduce_only)
        acc = sums.setdefault(key, _LegSum())
        acc.amount += o.amount
        acc.notional += o.notional
        acc.orders += 1
        acc.reasons[o.reason] = None
    return tuple(Leg(*key, round(acc.amount, AMOUNT_DIGITS), round(acc.notional, NOTIONAL_DIGITS), acc.orders,
                     tuple(acc.reasons))
                 for key, acc in sums.items())


def decision_of(s: ScopeEvaluation, send: Sends = NO_SENDS) -> Decision:
    """The comparable part of one scope evaluation (``send``: its plan's send numbers in its tick)."""
    p = s.plan
    return Decision(
        stage_before=s.stage_before,
        stage_after=s.stage_after,
        transition=s.transition,
        legs=_legs(p),
        cancels=tuple(f"{c.venue}/{c.account} {c.which}: {len(c.order_ids)} order(s)" for c in p.cancels) if p else (),
        directives=tuple((f"{d.kind} " + " ".join(f"{k}={v}" for k, v in d.params.items())).rstrip()
                         for d in p.directives) if p else (),
        hedges=tuple(f"{h.side} {h.base} ≈{h.notional:,.0f}" for h in p.hedges) if p else (),
        skipped=tuple(p.skipped) if p else (),
        refusals=tuple(r.split(":", 1)[0] for r in s.refusals),
        plan=p,
        send=send,
    )


def _transition_key(t: Optional[StageTransition]) -> Optional[tuple]:
    # What a transition does is where it goes. The level it leaves follows from earlier ticks (a
    # difference there is already reported), the reason names the triggers and the decision id
    # counts entries: none of them changes what is done.
    return None if t is None else (t.kind, t.to_level, t.stage)


def _multiset_changes(aspect: str, old: tuple[str, ...], new: tuple[str, ...]) -> list[Change]:
    out: list[Change] = []
    rest = list(new)
    for x in old:
        if x in rest:
            rest.remove(x)
        else:
            out.append(Change(aspect, x, None))
    out.extend(Change(aspect, None, x) for x in rest)
    return out


def _action_changes(old: Decision, new: Decision) -> list[Change]:
    out: list[Change] = []
    if _transition_key(old.transition) != _transition_key(new.transition):
        out.append(Change("transition", old.transition, new.transition))
    olegs = {x.key: x for x in old.legs}
    nlegs = {x.key: x for x in new.legs}
    for key in list(olegs) + [k for k in nlegs if k not in olegs]:
        a, b = olegs.get(key), nlegs.get(key)
        if a != b:
            out.append(Change("order", a, b))
    out += _multiset_changes("cancel", old.cancels, new.cancels)
    out += _multiset_changes("directive", old.directives, new.directives)
    out += _multiset_changes("hedge", old.hedges, new.hedges)
    out += _multiset_changes("skipped", old.skipped, new.skipped)
    return out


def diff_replays(old: DecisionGraph, new: DecisionGraph, ticks: Sequence[Tick], policy: Optional[str] = None,
                 scores: str = "none") -> DiffResult:
    """Replay the ticks through both graphs side by side and compare, one tick at a time (a week of
    ticks is never held as evaluations); ``scores``: list risk scores in the plans (``evaluate``'s)."""
    return compare((ev for _, ev, _ in replay(old, ticks, scores=scores)),
                   (ev for _, ev, _ in replay(new, ticks, scores=scores)), policy)


def _pairs(old: Iterable[Evaluation], new: Iterable[Evaluation]) -> Iterator[tuple[Evaluation, Evaluation]]:
    it_old, it_new = iter(old), iter(new)
    while True:
        eo, en = next(it_old, None), next(it_new, None)  # None: that replay ended (an evaluation never is)
        if eo is None and en is None:
            return
        if eo is None or en is None or eo.now_ms != en.now_ms:
            raise ValueError("the two replays are not over the same ticks")
        yield eo, en


def compare(old: Iterable[Evaluation], new: Iterable[Evaluation], policy: Optional[str] = None) -> DiffResult:
    """Differences between two replays of the same ticks (optionally of one policy only).

    Raises ValueError when the two are not evaluations of the same ticks.
    """
    out: list[Difference] = []
    open_spans: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (last tick index, index in out) of a span
    seen_old: dict[tuple[str, str], None] = {}
    seen_new: dict[tuple[str, str], None] = {}
    first_entry: dict[tuple[str, str, int], list] = {}  # (policy, scope, level) -> [old_ms, new_ms, stage]

    ticks, start, end = 0, None, None
    for i, (eo, en) in enumerate(_pairs(old, new)):
        ticks, end = i + 1, eo.now_ms
        start = eo.now_ms if start is None else start
        o_by = {(s.policy, s.scope): (s, q) for s, q in zip(eo.scopes, eo.sends()) if policy in (None, s.policy)}
        n_by = {(s.policy, s.scope): (s, q) for s, q in zip(en.scopes, en.sends()) if policy in (None, s.policy)}
        seen_old.update(dict.fromkeys(o_by))
        seen_new.update(dict.fromkeys(n_by))
        for key in list(o_by) + [k for k in n_by if k not in o_by]:
            a = decision_of(*o_by[key]) if key in o_by else None
            b = decision_of(*n_by[key]) if key in n_by else None
            for side, d in ((0, a), (1, b)):
                t = d.transition if d is not None else None
                if t is not None and t.kind == "entered":
                    slot = first_entry.setdefault((*key, t.to_level), [None, None, t.stage])
                    if slot[side] is None:
                        slot[side] = eo.now_ms
            ca, cb = a or NOTHING, b or NOTHING  # a scope one side does not evaluate decides nothing
            changes = _action_changes(ca, cb)
            refusals = ca.refusals != cb.refusals
            if changes:
                if refusals:
                    changes.append(Change("refusals", ca.refusals, cb.refusals))
                out.append(Difference("decision", key[0], key[1], eo.now_ms, eo.now_ms, 1, a, b, tuple(changes)))
                open_spans.pop(key, None)
            elif refusals:
                prev = open_spans.get(key)
                at = prev[1] if prev is not None and prev[0] == i - 1 else None  # a span open at the last tick
                if at is not None and (out[at].old, out[at].new) == (a, b):
                    out[at] = replace(out[at], end_ms=eo.now_ms, ticks=out[at].ticks + 1)
                    open_spans[key] = (i, at)
                else:
                    out.append(Difference("refusals", key[0], key[1], eo.now_ms, eo.now_ms, 1, a, b,
                                          (Change("refusals", ca.refusals, cb.refusals),)))
                    open_spans[key] = (i, len(out) - 1)
            else:
                open_spans.pop(key, None)

    milestones = tuple(Milestone(p, s, level, stage, o_ms, n_ms)
                       for (p, s, level), (o_ms, n_ms, stage) in sorted(first_entry.items())
                       if o_ms != n_ms)
    return DiffResult(
        ticks=ticks,
        start_ms=start,
        end_ms=end,
        differences=tuple(out),  # in order of their first tick
        milestones=milestones,
        only_old=tuple(k for k in seen_old if k not in seen_new),
        only_new=tuple(k for k in seen_new if k not in seen_old),
    )


def policy_names(graphs: Iterable[DecisionGraph]) -> list[str]:
    """Every policy name of the graphs, sorted (for ``--policy`` and its error message)."""
    return sorted({p.name for g in graphs for p in g.policies})
