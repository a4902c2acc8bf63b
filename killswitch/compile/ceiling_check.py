"""KS233: the Accounts documents one runner runs with declare more than one runner holds.

What it owns: :data:`RUNNER_CEILING`, the largest layout one runner holds on two cores within
the goals of never going dark (no lease lost, no operator action refused, the loop never held
near the lease's term), as ``bench/firm.py`` measured it (docs/benchmarks.md, *A firm's shape*),
and :func:`check_ceiling`, a warning at the ``spec.accounts`` list (file:line:col) of the first
document when the streamed accounts together pass it: past it, a firm splits its accounts over
shards (``spec.shards``, ``ksctl run --shard``), each a runner of its own, as KS230 says of a
venue's REST weight. A warning: the layout runs, but its reaction and its lease are not what the
benchmarks say.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Accounts
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc
from .shards import shard_accounts

# streamed accounts one runner holds on two cores (bench/firm.py, 50 positions each, five venues,
# 1,000 checks a second): at 50 no lease lost and the loop never held a second; at 100 the lease
# was lost once in the first seconds after start, the loop held up to 2 s
RUNNER_CEILING = 50


def check_ceiling(docs: Sequence[LoadedDoc], ceiling: int = RUNNER_CEILING) -> list[Diagnostic]:
    """KS233 when the streamed accounts one runner would hold pass ``ceiling``: every account of
    ``docs``' Accounts documents, or each shard's share where they declare shards (each shard is
    a runner of its own)."""
    placed = [(doc, acc) for doc in docs if isinstance(doc.model, Accounts) for acc in doc.model.spec.accounts]
    if not placed:
        return []
    first = placed[0][0]
    accounts = [acc for _, acc in placed]
    shards = [s for doc in docs if isinstance(doc.model, Accounts) for s in doc.model.spec.shards]
    runners = [(f'shard "{s.name}"', shard_accounts(accounts, shards, s.name)) for s in shards] if shards \
        else [("one runner", accounts)]
    out = []
    for who, held in runners:
        streamed = sum(1 for acc in held if acc.stream is not None and acc.stream.enabled)
        if streamed <= ceiling:
            continue
        out.append(Diagnostic.make(
            d.KS233, first.file, first.srcmap.key(("spec", "accounts")),
            f"{streamed} streamed accounts for {who}: past the {ceiling} one runner holds on two cores within its "
            "goals (bench/firm.py: no lease lost, the loop never held near the lease's term)",
            f"split them over at least {-(-streamed // max(1, ceiling))} shards (spec.shards; ksctl run "
            "--shard), each a runner of its own; see docs/deployment.md, Shards"))
    return out


__all__ = ["RUNNER_CEILING", "check_ceiling"]
