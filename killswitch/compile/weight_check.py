"""KS230 / KS231: accounts whose polling cannot fit (or nearly fills) a venue's REST weight budget.

What it owns: :func:`check_weight_budget`, the findings on the Accounts documents one runner
runs with, at the interval it ticks at (every account is snapshotted each tick):

* KS230, per venue with a per-IP limit (every account of one runner shares the runner's IP):
  the accounts' weight a minute over the limit, at the ``spec.accounts`` list (file:line:col),
  with the arithmetic (:meth:`killswitch.weights.VenueLoad.arithmetic`): the load, the limit,
  how many accounts fit polled at the interval, and what streams would cost instead. Also, per
  account, an endpoint called faster than the venue allows its UID (OKX, Bybit count per UID
  and endpoint; Kraken spot per key, at its rate tier's decay), at the account.
* KS231 (a warning), a load above :data:`WARN_SHARE` of the per-IP limit: what the runner's own
  orders, retries and any other client of the IP have left.
* KS232 (a warning), at an account whose venue (or its market type there) declares no snapshot
  cost or no limit: its polling is counted against nothing, and that is said, not taken as free.

The numbers are the adapters' dialects' (``snapshot_cost``, ``weight_limit``), handed in by the
caller through ``cost_of`` (the compiler does not import the adapters: ``ksctl validate`` and
``plan`` hand in :func:`~killswitch.compile.venue_weights.declared_costs`, the dialects' numbers
as a table); an account whose venue declares none is not counted, and KS232 says so.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account, Accounts
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc
from ..weights import SnapshotCost, VenueLoad, WeightLimit, venue_load
from .venue_weights import venue_rate_tiers

WARN_SHARE = 0.8  # of the per-IP limit: above it, KS231

# account → (its snapshot's cost, its venue's limit), None when the venue declares none
CostOf = Callable[[Account], Optional[tuple[SnapshotCost, WeightLimit]]]


def venue_loads(accounts: Sequence[Account], interval_s: float, cost_of: CostOf) -> list[VenueLoad]:
    """The load of ``accounts`` on each venue that declares its costs, in the accounts' order."""
    by_venue: dict[str, tuple[WeightLimit, list[tuple[str, SnapshotCost, Optional[float]]]]] = {}
    own: dict[str, dict[str, Mapping[str, tuple[float, float]]]] = {}  # venue → account → its UID limits
    for acc in accounts:
        got = cost_of(acc)
        if got is None:
            continue
        cost, limit = got
        stream = acc.stream
        reconcile = stream.reconcile_every.seconds if stream is not None and stream.enabled else None
        by_venue.setdefault(acc.venue, (limit, []))[1].append((acc.name, cost, reconcile))
        own.setdefault(acc.venue, {})[acc.name] = limit.endpoint_limits  # (its rate tier's, where it has one)
    return [venue_load(venue, limit, interval_s, rows, own[venue]) for venue, (limit, rows) in by_venue.items()]


def _tier_hint(acc: Account) -> str:
    """Where the account's venue has rate tiers and it names none: the key's own tier may allow it."""
    tiers = venue_rate_tiers().get(acc.venue, ())
    if not tiers or acc.rate_tier is not None:
        return ""
    return f", or name its key's rate_tier ({', '.join(tiers)}): unnamed, it is paced as {tiers[0]}"


def check_weight_budget(docs: Sequence[LoadedDoc], interval_s: float, cost_of: CostOf) -> list[Diagnostic]:
    """KS230 / KS231 for the accounts of ``docs``' Accounts documents ticked every ``interval_s``."""
    placed: list[tuple[LoadedDoc, int, Account]] = []
    for doc in docs:
        if isinstance(doc.model, Accounts):
            placed += [(doc, i, acc) for i, acc in enumerate(doc.model.spec.accounts)]
    if not placed:
        return []
    out = []
    for doc, i, acc in placed:
        if cost_of(acc) is None:
            out.append(Diagnostic.make(
                d.KS232, doc.file, doc.srcmap.value(doc.item_path("accounts", i)),
                f'account "{acc.name}": {acc.venue} ({acc.market_type}) declares no REST weight for a snapshot; '
                "its polling is not counted against the venue's limit",
                "the budget check covers the venues whose dialect declares a snapshot's cost and the limit "
                "(see docs/exchanges.md); watch this account's weight in ksctl status (venue_weight) instead"))
    for load in venue_loads([acc for _, _, acc in placed], interval_s, cost_of):
        first = next(p for p in placed if p[2].venue == load.venue)
        doc = first[0]
        where = doc.srcmap.key(("spec", "accounts"))
        share = load.share
        if share is not None and share > 1.0:
            out.append(Diagnostic.make(
                d.KS230, doc.file, where,
                f"{load.venue}: the accounts' polling needs {share:.0%} of the venue's per-IP REST limit",
                load.arithmetic() + "; split the accounts over runners on other IPs, poll less often "
                "(the policies' interval), or stream them (stream: on each account)"))
        elif share is not None and share > WARN_SHARE:
            out.append(Diagnostic.make(
                d.KS231, doc.file, where,
                f"{load.venue}: the accounts' polling takes {share:.0%} of the venue's per-IP REST limit",
                load.arithmetic() + "; orders, retries and other clients of the IP share the rest"))
        for name, endpoint, over in load.uid_overloads():
            at = next(p for p in placed if p[2].name == name and p[2].venue == load.venue)
            out.append(Diagnostic.make(
                d.KS230, at[0].file, at[0].srcmap.value(at[0].item_path("accounts", at[1])),
                f'account "{name}": {endpoint} called at {over:.0%} of what {load.venue} allows one UID',
                f"{load.venue} limits it per UID: poll less often (the policies' interval)" + _tier_hint(at[2])))
    return out
