"""The REST weight budget for ``ksctl validate`` and ``ksctl plan``: the dialects' numbers, as the
table :mod:`killswitch.compile.venue_weights` keeps them, handed to the pure check
(:mod:`killswitch.compile.weight_check`, KS230 / KS231), and one runner's ceiling
(:mod:`killswitch.compile.ceiling_check`, KS233).

What it owns: :func:`weight_findings` (the findings on a compile result's Accounts documents at
the pace the runner would tick at). Thin: the arithmetic is :mod:`killswitch.weights`. It
imports neither the adapters nor the runner: a check of policies reads a table.
"""

from __future__ import annotations

from typing import Any

from ..compile.venue_weights import declared_costs


def weight_findings(result: Any) -> list:
    """KS230 / KS231 on the Accounts documents of a compile result, at the pace the runner would
    tick at: its graph's (:func:`killswitch.compile.graph.tick_interval_s`), else, when other
    errors left no graph, the most frequent interval the loaded policies declare (so that every
    problem is said in one pass)."""
    from ..compile.ceiling_check import check_ceiling
    from ..compile.graph import tick_interval_s
    from ..compile.weight_check import check_weight_budget
    from ..policy.policy_doc import Policy

    if result.graph is not None:
        interval_s = tick_interval_s(result.graph)
    else:
        declared = [doc.model.spec.interval.seconds for doc in result.docs if isinstance(doc.model, Policy)]
        interval_s = min(declared, default=5.0)
    return check_weight_budget(result.docs, interval_s, declared_costs) + check_ceiling(result.docs)


def accounts_findings(docs: Any, graph: Any) -> list:
    """KS230 / KS231 on the Accounts document of ``ksctl plan --accounts`` (its loaded documents,
    with their positions, so that a finding names file:line:col), at the pace ``graph`` ticks at."""
    from ..compile.ceiling_check import check_ceiling
    from ..compile.graph import tick_interval_s
    from ..compile.weight_check import check_weight_budget

    return check_weight_budget(docs, tick_interval_s(graph), declared_costs) + check_ceiling(docs)
