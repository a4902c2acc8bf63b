"""The venue watch's one pass (:func:`watch`): for each account read, the orders a lock cancels
(:mod:`.orders`), then the baselines kept, growth reverted and reductions reported (:mod:`.legs`).
See the package's doc for the rules.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence

from ....engine.plans import Plan
from ....orders import CancelIntent
from ....snapshot import Snapshot, spot_holdings
from ...lock.lock import LockBook
from .legs import (
    SizesMemo,
    _columns,
    _held_at,
    _reductions,
    _revert,
    _reverts_somewhere,
    _sizes,
    _with_holdings,
    leg_sizes,
)
from .orders import _cancel_orders
from .values import _EPS, LOCK_VIOLATION, Leg, OrderCheck, Violation, Watch, _lock_for, enforce_of


def watch(book: LockBook, snapshots: Iterable[Snapshot], own: Iterable[str],  # noqa: C901 - one pass an account, kept whole
          baselines: Mapping[str, Any],
          now: int, *, closing: Iterable[Leg] = (), checks: Sequence[OrderCheck] = (),
          before: Mapping[str, Snapshot] = {}, memo: Optional["SizesMemo"] = None) -> Watch:
    """What the locks in force at ``now`` make the runner do to ``snapshots`` (see the module doc).

    ``own``: the client order ids the runner journaled (its orders are never touched);
    ``baselines``: what the last call returned (``{"venue/account": {"since": ms, "legs":
    {"SYMBOL|leg": contracts}}}``, as saved); ``closing``: the legs a plan of this tick closes
    (never reverted); ``checks``: extra per-order checks (see the module doc); ``before``: each
    account as last read before a lock that reverts came to bind it (the previous call's
    snapshots), whose sizes are the baseline of an account that has none yet — else the sizes of
    this first snapshot under the lock are. ``memo``: the caller's :class:`SizesMemo`, the same
    at every call (what did not change is not worked out again; the answer is the same)."""
    mine = own if isinstance(own, frozenset) else frozenset(own)
    shut = closing if isinstance(closing, (set, frozenset)) else frozenset(closing)
    holds = book.in_force(now)
    cancels: list[CancelIntent] = []
    reverts: list[Plan] = []
    violations: list[Violation] = []
    reduced: list[Violation] = []
    notes: list[str] = []
    kept: dict[str, Any] = {}
    if not holds and not checks:
        return Watch()
    for snap in snapshots:
        account = f"{snap.venue}/{snap.account}"
        if not snap.fetch.ok:  # nothing is known of it now: its baselines are kept as they were
            if account in baselines and holds:
                kept[account] = baselines[account]
            continue
        symbols, legs_of, contracts, notional, mark_of = _columns(snap)
        held = spot_holdings(snap)  # a spot account's holdings: long legs after the positions
        rows = _with_holdings(symbols, legs_of, contracts, held)
        sizes, first = memo.sizes(account, *rows) if memo is not None else _sizes(*rows)
        if snap.orders:
            marks = dict(zip(symbols, mark_of))
            units = {s: n / c for s, n, c in zip(symbols, notional, contracts) if c > 0}
            # which order would grow a position is the positions' alone (as the stream's fast path
            # and the gate judge it): a spot holding does not make a sale of it reduce-only
            positions = sizes if not held else _sizes(symbols, legs_of, contracts)[0]
            ids = _cancel_orders(book, snap, account, mine, positions, marks, units, now, checks, violations)
            if ids:
                cancels.append(CancelIntent(snap.venue, snap.account, "entries", tuple(ids), LOCK_VIOLATION))
        if not holds or not _reverts_somewhere(book, holds, snap, account, first, now):
            continue  # no lock reverts anything of it: its baselines end
        record = baselines.get(account)
        legs_before = record.get("legs") if isinstance(record, Mapping) else None
        if not isinstance(legs_before, Mapping):  # the first snapshot under the lock
            read = before.get(account)
            if read is None or not read.fetch.ok:  # nothing read before the lock: its sizes are the baseline
                kept[account] = {"since": now, "legs": {k: c for k, c in sorted(sizes.items()) if c > 0}}
                continue
            # the account as read before the lock was placed: growth since is growth under it
            record, legs_before = {"since": now}, leg_sizes(read)
        since = record.get("since", now) if isinstance(record, Mapping) else now
        if memo is not None and memo.calm(account, sizes, legs_before):
            # the same sizes against the baselines the last call left them with: nothing grew
            # then, nothing can now, and the baselines stand as they are
            kept[account] = {"since": since, "legs": legs_before}
            continue
        # each baseline lowered when the position shrinks
        legs = {key: low for key, base in legs_before.items() if (low := min(float(base), sizes.get(key, 0.0))) > 0}
        kept[account] = {"since": since, "legs": legs}
        reduced.extend(_reductions(book, snap, account, legs_before, sizes, now, held))
        grew = False
        for key, size in sizes.items():
            base = float(legs_before.get(key, 0.0))
            if size <= base * (1 + _EPS) + _EPS:
                continue
            grew = True
            p = _held_at(snap, held, first[key])
            leg = rows[1][first[key]]
            if (account, p.symbol, leg) in shut:
                continue
            lock = _lock_for(book, account, p.symbol, p.strategy, now)
            if not enforce_of(lock).revert_growth:
                continue
            plan, v, note = _revert(snap, account, p, leg, base, size, lock, now)
            if note:
                notes.append(note)
            if v is not None:
                violations.append(v)
            if plan is not None:
                reverts.append(plan)
        if memo is not None and not grew:
            memo.settled(account, sizes, legs)
    return Watch(tuple(cancels), tuple(reverts), tuple(violations), kept, tuple(notes), tuple(reduced))
