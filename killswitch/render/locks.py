"""Render the trading locks as ``ksctl status`` and ``ksctl lock`` show them: one line per hold
(who holds it, since and until when, why), the pre-trade limits' usage, and the preview of a
lock that weakens what binds its scope, and a check-order's answer (``ksctl check-order``).

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..client import LockDocument, LockHold
from ..figures import figure
from ..holds import held_until as held_until, holder as holder
from ..view import ActionPreview

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..runner.gate.request import Decision


def lock_downgrade_text(p: ActionPreview, mode: str, replaced: Sequence[LockHold]) -> str:
    """A lock that weakens what binds its scope, before it is sent: before -> after, the
    operator's holds it replaces (who set them, why), and the runner's preview of the change."""
    before, after = p.lock_before or "active", p.lock_after or "active"
    if before != after:
        lines = [f"lock {p.scope}: {before} -> {after} (WEAKER: orders refused now will pass)"]
    else:
        lines = [f"lock {p.scope}: the operator's lock becomes {mode}; {p.scope} stays {after} while another "
                 f"lock binds it, and is {mode} once that one is lifted"]
    for h in replaced:
        who = f" by {h.details['by']}" if isinstance(h.details.get("by"), str) else ""
        lines.append(f"  replaces the operator's {h.mode} lock{who} set {h.created_ts or '-'}: {h.reason}")
    lines += [f"  {e}" for e in p.effects if not e.startswith("replaces the operator's")]
    return "\n".join(lines)


def lock_lines(locks: LockDocument) -> list[str]:
    """One line per hold of every locked scope: the mode, who holds it (a policy's stage, an
    operator, the dead man's switch), since when, until when and why; or that nothing is locked."""
    if not locks.scopes:
        return ["  trading locks: none (every scope active)"]
    lines = []
    for scope, entry in sorted(locks.scopes.items()):
        holds = entry.holds or ()
        for h in holds:
            lines.append(f"  LOCK {scope}: {h.mode} by {holder(h)} since {h.created_ts or '-'}, {held_until(h)}; "
                         f"reason: {h.reason}")
        if not holds:  # a runner that sends no holds: the merged entry is what there is
            lines.append(f"  LOCK {scope}: {entry.mode}; reason: {entry.reason}")
    return lines


def limit_lines(locks: LockDocument) -> list[str]:
    """One line per pre-trade limit of each scope: its usage against its value (unknown when an
    account of the scope was not read); OVER when the book breaks it already."""
    lines = []
    for p in locks.limits:
        for u in p.usage:
            of = f" {u.symbol}" if u.symbol else ""
            if u.usage is None:
                used = "usage unknown (an account not read)"
            else:
                share = f" ({u.usage / u.value:.0%})" if u.value else ""
                used = f"{figure(u.usage)} of {figure(u.value)}{share}" + ("  OVER" if u.usage > u.value else "")
                if u.resting:  # what the resting orders that open further add to the positions
                    used += f" (positions {figure(u.positions or 0.0)} + resting orders {figure(u.resting)})"
            lines.append(f"  LIMIT {p.policy} {u.scope} {u.limit}{of}: {used}")
    return lines


def decision_lines(decision: "Decision") -> list[str]:
    """A check-order answer: ALLOW or DENY with its reason, and each limit it breaks with its
    usage (of a position or gross limit: what the positions, the resting orders and the order
    bring)."""
    lines = [f"{'ALLOW' if decision.allow else 'DENY'}: {decision.reason}"]
    limit = decision.limit or {}
    for b in limit.get("breaches") or ([limit] if limit else []):
        of = f" {b['symbol']}" if b.get("symbol") else ""
        line = f"  {b.get('code')}{of}: {_usage(b)}"
        parts = b.get("exposure")
        if parts:
            line += (f" (positions {figure(parts['positions'])} + resting orders {figure(parts['resting'])}"
                     f" + this order {figure(parts['order'])})")
        lines.append(line)
    return lines


def _usage(breach: dict) -> str:
    """A breach's usage of its limit: a ratio as a percentage (``296.51% of 5.00%``, as its
    reason says), any other unit as a figure with the unit named."""
    usage, value = breach.get("usage"), breach.get("value")
    if breach.get("unit") == "ratio" and isinstance(value, (int, float)):
        if usage is None and breach.get("code") == "PRICE_COLLAR":
            return f"no limit price, a collar of {value:.2%} needs one"
        used = "unknown" if usage is None else f"{usage:.2%}"
        return f"{used} of {value:.2%}"
    used = "unknown" if usage is None else figure(usage)
    return f"{used} of {figure(value)} {breach.get('unit', '')}".rstrip()


def window_lines(rows: Sequence[dict]) -> list[str]:
    """Each trading window and its next change: ``WINDOW futures-book: reducing lock from Sat
    00:00 UTC (during weekend, funding)`` (``ksctl status`` and ``ksctl plan``)."""
    return [f"  WINDOW {r['policy']}: {r['text']}" for r in rows]
