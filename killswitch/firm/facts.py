"""Facts: what a shard's leader publishes of each of its accounts every tick, and what the
holder of the firm lease makes of them.

What it owns:

* :class:`Fact` — one account's row of ``ks_firm.account_fact``: equity, unrealized PnL, gross
  and net exposure, data age, whether the shard could read it, whether the shard is armed, and
  the shard's fencing token it was written under (never raw books: the firm-wide policies read
  these and nothing else);
* :func:`facts_of` — a shard's facts from its tick's snapshots;
* :func:`firm_snapshots` — the snapshots the firm-wide policies are evaluated over: one per
  declared account of a shard, made from its fact when that is fresh and written under the
  shard's current token; else a failed snapshot ``SHARD_NOT_PUBLISHING`` naming the shard and
  the age of its last facts, so that the engine's coverage says the scope is blind
  (``ACCOUNT_NOT_READ``) and the trigger's ``on_missing_data`` applies, as for any unread account.
  A fact written under a token below the shard's current one (a leader since replaced) is
  ignored and counted, never read as fresh;
* :func:`stale_after_ms` — how old a fact may be: one and a half of the firm policies'
  shortest interval (:data:`killswitch.compile.shards.STALE_FACTOR`: every shard ticks and
  publishes once that interval, whatever its local policies; the half is the margin for a tick
  slower than the last, and an interval too short to leave it is refused, KS244).

Pure: no I/O, no clock — ``now`` and every row are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

from ..compile.graph import DecisionGraph
from ..compile.shards import STALE_FACTOR
from ..policy.accounts_doc import Account
from ..snapshot import FetchStatus, Snapshot

SHARD_NOT_PUBLISHING = "SHARD_NOT_PUBLISHING"


@dataclass(frozen=True)
class Fact:
    """One account's published facts (``ts_ms``: the snapshot's ``ts_event``; ``published_ms``:
    when the shard wrote it)."""

    shard: str
    venue: str
    account: str
    ts_ms: int
    published_ms: int
    equity: Optional[float]
    unrealized_pnl: Optional[float]
    gross_exposure: Optional[float]
    net_exposure: Optional[float]
    data_age_ms: Optional[int]
    fetch_ok: bool
    fetch_error: Optional[str]
    armed: bool
    fence: int

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.account}"


@dataclass(frozen=True)
class ShardLease:
    """A shard's lease as its schema holds it: ``holder`` None when nobody holds it."""

    shard: str
    holder: Optional[str]
    expires_ms: int
    fence: int

    def held(self, now: int) -> bool:
        return self.holder is not None and self.expires_ms > now


@dataclass
class Reading:
    """What :func:`firm_snapshots` made of the facts: the snapshots, the facts ignored for a
    stale token, each shard's age of its newest facts, read or ignored (None: none yet), and why
    a shard is not read (absent: it is)."""

    snapshots: list[Snapshot] = field(default_factory=list)
    ignored: int = 0
    ages_ms: dict[str, Optional[int]] = field(default_factory=dict)
    not_publishing: dict[str, str] = field(default_factory=dict)


def facts_of(shard: str, snapshots: Iterable[Snapshot], armed: bool, now: int, fence: int) -> list[Fact]:
    """The facts of a shard's tick: one per snapshot (a failed one says so, with its error)."""
    out = []
    for s in snapshots:
        gross = sum(p.notional for p in s.positions)
        net = sum(p.notional if p.side == "long" else -p.notional for p in s.positions)
        upnl = sum(p.unrealized_pnl for p in s.positions)
        ok = s.fetch.ok
        out.append(Fact(shard, s.venue, s.account, s.ts_event, now, s.equity, upnl if ok else None,
                        gross if ok else None, net if ok else None, max(0, now - s.ts_event), ok,
                        None if ok else (s.fetch.error_code or "FETCH_FAILED"), armed, fence))
    return out


def stale_after_ms(graph: DecisionGraph) -> int:
    """How old a fact may be and still be read (see the module doc)."""
    shortest = min((p.interval_s for p in graph.policies), default=5.0)
    return int(shortest * 1000 * STALE_FACTOR)


def _capital(account: Account) -> Optional[float]:
    ic = account.initial_capital
    return None if ic is None else ic.value


def _failed(account: Account, now: int, code: str, message: str) -> Snapshot:
    return Snapshot(venue=account.venue, account=account.name, market_type=account.market_type, ts_event=now,
                    ts_observed=now, labels=dict(account.labels), initial_capital=_capital(account),
                    fetch=FetchStatus(ok=False, error_code=code, error=message))


def firm_snapshots(facts: Iterable[Fact], leases: Mapping[str, ShardLease],
                   assignment: Mapping[str, Sequence[str]], accounts: Sequence[Account], now: int,
                   stale_ms: int) -> Reading:
    """The snapshots of every account of ``assignment`` (shard → account names) at ``now``
    (see the module doc). ``leases``: each shard's lease (absent: the shard has no schema yet)."""
    by_key: dict[str, Fact] = {}
    out = Reading()
    newest: dict[str, int] = {}  # each shard's last facts, whatever their token: how long it has been silent
    for f in facts:
        newest[f.shard] = max(newest.get(f.shard, f.published_ms), f.published_ms)
        lease = leases.get(f.shard)
        if lease is not None and f.fence < lease.fence:
            out.ignored += 1  # written by a leader since replaced: its facts say nothing now
            continue
        by_key[f.key] = f
    declared = {a.name: a for a in accounts}
    for shard, names in assignment.items():
        age = now - newest[shard] if shard in newest else None
        out.ages_ms[shard] = age
        lease = leases.get(shard)
        if lease is None or not lease.held(now):
            out.not_publishing[shard] = (f"shard {shard} has no leader" + (
                f" (its lease lapsed {(now - lease.expires_ms) / 1000:.1f}s ago)" if lease is not None
                and lease.expires_ms else "") + _age_text(age))
        for name in names:
            account = declared.get(name)
            if account is None:
                continue
            fact = by_key.get(f"{account.venue}/{name}")
            why = out.not_publishing.get(shard)
            if why is None and fact is None:
                why = f"shard {shard} has published no facts of {account.venue}/{name} under its current token"
            elif why is None and fact is not None and now - fact.published_ms > stale_ms:
                why = (f"shard {shard}'s last facts of {account.venue}/{name} are "
                       f"{(now - fact.published_ms) / 1000:.1f}s old (limit {stale_ms / 1000:.1f}s)")
            if why is not None:
                out.not_publishing.setdefault(shard, why)
                out.snapshots.append(_failed(account, now, SHARD_NOT_PUBLISHING, f"{SHARD_NOT_PUBLISHING}: {why}"))
                continue
            assert fact is not None
            if not fact.fetch_ok:
                out.snapshots.append(_failed(account, now, fact.fetch_error or "FETCH_FAILED",
                                             f"shard {shard} could not read {account.venue}/{name}: "
                                             f"{fact.fetch_error}"))
                continue
            out.snapshots.append(Snapshot(
                venue=account.venue, account=name, market_type=account.market_type, ts_event=fact.ts_ms,
                ts_observed=fact.published_ms, equity=fact.equity, labels=dict(account.labels),
                initial_capital=_capital(account)))
    return out


def _age_text(age: Optional[int]) -> str:
    return "; no facts yet" if age is None else f"; its last facts are {age / 1000:.1f}s old"
