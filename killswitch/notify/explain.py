"""Where would a notification go? The answer of ``ksctl routes test``, as plain values.

Given labels (and, optionally, the policies' graph and active label sets that could inhibit
it), say for each routes document the event would reach: how the document was chosen, the
effective labels, every matching route with its path from the root (each step's matchers, from
``matchers:``, ``match`` and ``match_re`` alike, in Alertmanager's text), its receiver and targets
(by reference, never by value), the group key and timers, whether it is told of
resolutions, its mute / active time intervals, and whether an inhibit rule would
mute it (the rule's matchers of both sides, as text). The same functions the sink uses
decide it (:func:`~.dispatch.placements`, :meth:`~.routes.RouteTree.match`,
:meth:`~.routes.RouteTree.inhibited_by`).

Pure: no I/O, no apprise.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from ..policy.units import Duration
from .dispatch import placements
from .receivers import describe_target
from .routes import GROUP_BY_ALL, RouteNode, RouteTree


def _chain(tree: RouteTree, node: RouteNode) -> list[dict]:
    out, cur = [], tree.root
    out.append({"route": cur.name, "matchers": [str(m) for m in cur.matchers]})
    for i in node.path:
        cur = cur.routes[i]
        out.append({"route": cur.name, "matchers": [str(m) for m in cur.matchers]})
    return out


def _targets(tree: RouteTree, receiver: str) -> list[str]:
    spec = next((r for r in tree.model.spec.receivers if r.name == receiver), None)
    return [describe_target(t) for t in spec.apprise] if spec is not None else []


def explain(labels: Mapping[str, str], trees: Mapping[str, RouteTree], graph=None,
            active: Optional[Sequence[Mapping[str, str]]] = None, routes: Optional[Sequence[str]] = None) -> dict:
    """Where a notification with ``labels`` goes. ``routes`` limits the documents considered."""
    names = [t for t in trees if routes is None or t in routes]
    docs = []
    for p in placements(labels, graph, names, keep_severity=True):
        tree = trees[p.tree]
        matches = []
        for node in tree.match(p.labels):
            matches.append({
                "receiver": node.receiver,
                "route": node.name,
                "path": _chain(tree, node),
                "continue": node.continue_,
                "group_key": node.group_key(tree.name, p.labels),
                "group_by": [GROUP_BY_ALL] if node.group_by_all else list(node.group_by),
                "group_wait": str(Duration(node.group_wait_ms)),
                "group_interval": str(Duration(node.group_interval_ms)),
                "repeat_interval": str(Duration(node.repeat_interval_ms)),
                "targets": _targets(tree, node.receiver),
                "send_resolved": node.receiver in tree.send_resolved,
                "mute_time_intervals": list(node.mute_intervals),
                "active_time_intervals": list(node.active_intervals),
            })
        inhibit = None
        if active:
            hit = tree.inhibited_by(p.labels, [dict(a) for a in active])
            if hit is not None:
                rule, src = hit
                doc_rule = tree.model.spec.inhibit_rules[rule.index]
                inhibit = {"rule": rule.index, "source_matchers": [str(m) for m in rule.source],
                           "target_matchers": [str(m) for m in rule.target],
                           "source_match": dict(doc_rule.source_match),
                           "target_match": dict(doc_rule.target_match), "equal": list(doc_rule.equal),
                           "active": dict(src)}
        docs.append({"routes": tree.name, "chosen_by": p.why, "labels": dict(sorted(p.labels.items())),
                     "matches": matches, "inhibited": inhibit is not None, "inhibited_by": inhibit,
                     "active_given": len(active or []), "fallback_receiver": tree.fallback_receiver})
    return {"labels": dict(sorted(labels.items())), "documents": docs}
