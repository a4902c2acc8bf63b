"""Policy instances the running graph no longer produces: dropped when armed, kept while latched.

The engine state keeps one :class:`~.state.ScopeState` per policy instance it evaluated
(``"policy|scope"``), and a reload carries it across by name. An instance whose policy is no
longer in the graph (``POLICY_REMOVED``), or whose key the policy's scope can no longer produce
over the declared accounts (``SCOPE_REMOVED``: an account or a venue no longer selected, the
level changed, a declared strategy or symbol removed), guards nothing any more:

- at stage 0 it is dropped, with everything the state keeps of it (triggers, signal windows,
  coverage): no view lists it as a live guard;
- above stage 0 it is kept, marked :class:`~.state.Removal` (with what its reset needs), until
  its reset: a latched stage never ends by a reload (stages never de-escalate), and the views
  show it as removed, not as guarding.

An instance marked removed that the graph produces again (a reload taken back) is live again,
its mark cleared. Instances of a strategy or symbol level without a declared list are
*dynamic*: their keys are whatever the positions hold, so no set of accounts says which are
gone, and they are never dropped here (only their policy's removal drops them).

The declared accounts are :class:`Declared` values: an account whose labels are not known
(None) is taken as selected by every label selector, so that what cannot be resolved keeps an
instance rather than drops it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ..compile.graph import DecisionGraph, PolicyNode
from ..policy.scope import names_select
from .scope import declares
from .state import Removal, StageState, State

POLICY_REMOVED = "POLICY_REMOVED"
SCOPE_REMOVED = "SCOPE_REMOVED"


@dataclass(frozen=True)
class Declared:
    """An account this runner runs, as its scope selectors read it."""

    venue: str
    account: str
    labels: Optional[Mapping[str, str]] = None  # None: not known (taken as matching every selector)
    # the strategies the Accounts document declares on it (None: not known, taken as every one)
    strategies: Optional[frozenset[str]] = None


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune` did: the instances dropped (stage 0), those kept removed (latched:
    ``(key, level)``), those live again (their mark cleared), and of the kept ones those marked
    removed by this prune (``marked``: not marked before, or for another cause)."""

    dropped: tuple[str, ...] = ()
    kept: tuple[tuple[str, int], ...] = ()
    restored: tuple[str, ...] = ()
    marked: tuple[str, ...] = ()

    @property
    def news(self) -> bool:
        """Whether this prune changed what the store says was removed: an instance dropped, or one
        marked removed now (an instance kept removed since an earlier prune is not news)."""
        return bool(self.dropped or self.marked)

    def __bool__(self) -> bool:
        return bool(self.dropped or self.kept or self.restored)

    def rows(self) -> list[dict[str, Any]]:
        """The audit payload's ``removed`` list: each instance with its stage and what became of it."""
        out = [{"policy": k.partition("|")[0], "scope": k.partition("|")[2], "stage": 0, "dropped": True}
               for k in self.dropped]
        out += [{"policy": k.partition("|")[0], "scope": k.partition("|")[2], "stage": level, "dropped": False}
                for k, level in self.kept]
        return out

    def text(self) -> str:
        """One line a log says: ``dropped p venue-b; kept until reset: q x at stage 1``: each
        instance as every other view names it (policy, then scope), never the ``p|scope`` key."""
        parts = []
        if self.dropped:
            parts.append("dropped " + ", ".join(map(_named, self.dropped)))
        if self.kept:
            parts.append("kept until reset: " + ", ".join(f"{_named(k)} at stage {level}" for k, level in self.kept))
        if self.restored:
            parts.append("live again: " + ", ".join(map(_named, self.restored)))
        return "; ".join(parts)


def _named(key: str) -> str:
    """``bot-a-guard binanceusdm/sim-hedge`` of the instance key ``bot-a-guard|binanceusdm/sim-hedge``."""
    policy, _, scope = key.partition("|")
    return f"{policy} {scope}" if scope else policy


def selected(policy: PolicyNode, a: Declared) -> bool:
    """Whether ``policy``'s scope selects ``a`` (as :func:`.scope.selects` does a snapshot of
    it); unknown labels match (fail closed: kept, not dropped)."""
    sc = policy.scope
    if sc["venues"] and a.venue not in sc["venues"]:
        return False
    if not declares(sc["strategies"], a.strategies):
        return False
    acc = sc["accounts"]
    if not names_select(acc["names"], a.venue, a.account):
        return False
    if a.labels is None:
        return True
    return all(a.labels.get(k) == v for k, v in acc["match_labels"].items())


def producible(policy: PolicyNode, accounts: Sequence[Declared]) -> Optional[frozenset[str]]:
    """Every instance key ``policy``'s scope can produce over ``accounts`` (as
    :func:`.scope.instances` keys them); None when the set depends on the positions (a strategy
    or symbol level without a declared list)."""
    sc = policy.scope
    level = sc["level"]
    chosen = [a for a in accounts if selected(policy, a)]
    if level == "strategy":
        # a declared one exists even with no position, on an account that declares it
        named = sc["strategies"]
        return frozenset(n for n in named if any(declares((n,), a.strategies) for a in chosen)) if named else None
    if level == "symbol":
        named = sc["symbols"]
        return frozenset(named) if named else None  # a declared one exists even with no account
    if level == "global":
        return frozenset(["global"] if chosen else [])
    if level == "venue":
        return frozenset(a.venue for a in chosen)
    return frozenset(f"{a.venue}/{a.account}" for a in chosen)


def removed(graph: DecisionGraph, state: State, accounts: Sequence[Declared]) -> dict[str, tuple[str, str]]:
    """Every instance of ``state`` the graph no longer produces: key → (code, why)."""
    nodes = {p.name: p for p in graph.policies}
    keys: dict[str, Optional[frozenset[str]]] = {}
    out: dict[str, tuple[str, str]] = {}
    for key in state.scopes:
        policy, _, scope = key.partition("|")
        node = nodes.get(policy)
        if node is None:
            out[key] = (POLICY_REMOVED, f"policy {policy} is no longer in the running policies")
            continue
        if policy not in keys:
            keys[policy] = producible(node, accounts)
        known = keys[policy]
        if known is not None and scope not in known:
            out[key] = (SCOPE_REMOVED, f"the scope of policy {policy} no longer selects {scope}")
    return out


def prune(graph: DecisionGraph, state: State, accounts: Sequence[Declared], now_ms: int,
          before: Optional[DecisionGraph] = None) -> Pruned:
    """Drop from ``state`` every instance :func:`removed` names at stage 0; mark those above
    stage 0 :class:`Removal` (what their reset needs read from ``graph``, else from ``before``,
    the graph that ran them, else not known); clear the mark of those produced again. Forgets
    the unmatched mark of a policy no longer in the graph. ``state`` is changed in place."""
    gone = removed(graph, state, accounts)
    dropped, kept, restored, marked = [], [], [], []
    for key in sorted(state.scopes):
        ss = state.scopes[key]
        if key not in gone:
            if ss.removed is not None:
                ss.removed = None
                restored.append(key)
            continue
        if ss.stage.level <= 0:
            del state.scopes[key]
            dropped.append(key)
            continue
        kept.append((key, ss.stage.level))
        if ss.removed is None or ss.removed.code != gone[key][0]:
            ss.removed = _removal(key, ss.stage, gone[key], now_ms, graph, before)
            marked.append(key)
    names = {p.name for p in graph.policies}
    for policy in [p for p in state.unmatched if p not in names]:
        del state.unmatched[policy]
    return Pruned(tuple(dropped), tuple(kept), tuple(restored), tuple(marked))


def _removal(key: str, st: StageState, gone: tuple[str, str], now_ms: int, graph: DecisionGraph,
             before: Optional[DecisionGraph]) -> Removal:
    """The mark of a removed instance: how its stage resets as fixed when it was entered
    (engine/stages.py), else as the graph (or ``before``) says."""
    policy = key.partition("|")[0]
    node = next((p for g in (graph, before) if g is not None for p in g.policies if p.name == policy), None)
    stage = next((s for s in node.stages if s.level == st.level), None) if node is not None else None
    if st.manual is not None and st.needs is not None:
        return Removal(now_ms, gone[0], gone[1], stage.name if stage is not None else None, st.manual, st.needs)
    if stage is None:
        return Removal(now_ms, gone[0], gone[1])
    return Removal(now_ms, gone[0], gone[1], stage.name, stage.manual, stage.approvals if stage.manual else 1)


def removed_text(policy: str, scope: str, level: int, r: Removal) -> str:
    """What every view says of a kept removed instance."""
    return (f"REMOVED BY RELOAD: {policy} {scope} at stage {level}: {r.why}; it guards nothing now; "
            f"reset it to end it (ksctl reset --policy {policy} --scope {scope})")


def reset_needs(r: Removal) -> int:
    """Distinct approvers the reset of a removed instance needs: its stage's, when known; two
    when its policy's stage is no longer known (fail closed: never fewer than it could have asked)."""
    return r.approvals if r.approvals is not None else 2
