"""A close applied as previewed: preview ids, the plan a preview showed, and when a fresh plan
differs from it materially.

What it owns: the record of a close preview (:class:`PreviewRecord`: its id, scope, symbol,
time and the legs it showed), the bounded memory of recent ones (:class:`PreviewLedger`), and
the one rule by which a close sent with a preview's id is refused instead of sending something
the operator did not see (:func:`refusal`).

A close's *legs* are what it closes, per position: ``(account, symbol, order side, position
side)`` with the amount summed over the leg's chunks. A fresh plan **differs materially** from
its preview when

- it has a leg the preview did not have: a position that was not shown (a new symbol, another
  account, the other side, a hedge leg) would be closed — ``PREVIEW_MISMATCH``;
- a leg's amount is more than :data:`AMOUNT_SLACK` above the preview's (the position grew since)
  — ``PREVIEW_MISMATCH``;
- its total notional is above the maximum the close carries — ``OVER_MAX_NOTIONAL`` (a client
  that sends none gets the preview's notional plus :data:`NOTIONAL_SLACK`, as ``ksctl close`` and
  the console offer by default);
- it is of another scope, symbol or hedge leg (one leg, or both) than the preview —
  ``PREVIEW_MISMATCH``.

A leg that is gone or smaller (its position was closed or reduced since) is not material: the
close then sends less than was previewed, never something else, and says which legs are gone.
A preview older than :data:`PREVIEW_TTL_MS` is refused (``PREVIEW_EXPIRED``) when the close is
asked for; one this runner does not hold (another runner's, one from before a restart, a typo)
is ``PREVIEW_UNKNOWN``. Either way: preview again.

Pure: values and a dict; no I/O, no clock (times are given).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from ...view import PlannedOrder

PREVIEW_TTL_MS = 5 * 60_000  # a close must be sent within this long of its preview
MAX_PREVIEWS = 64  # previews a runner keeps in memory (the oldest is forgotten first)
AMOUNT_SLACK = 0.10  # a leg may close at most this much more than previewed (a fraction)
NOTIONAL_SLACK = 0.10  # the default maximum notional: the preview's plus this fraction
_EPS = 1e-12

Leg = tuple[str, str, str, Optional[str]]  # account, symbol, side (buy | sell), position side


@dataclass(frozen=True)
class PlanLegs:
    """What a close plan closes: each leg's amount (contracts, over its chunks) and the total
    notional of its orders."""

    amounts: Mapping[Leg, float]
    notional: float

    @classmethod
    def of(cls, orders: Iterable[PlannedOrder]) -> "PlanLegs":
        amounts: dict[Leg, float] = {}
        notional = 0.0
        for o in orders:
            leg = (o.account, o.symbol, o.side, o.position_side)
            amounts[leg] = amounts.get(leg, 0.0) + o.amount
            notional += o.notional
        return cls(amounts, notional)

    def to_json(self) -> dict:
        """As an audit row keeps it: ``{"legs": [[account, symbol, side, position side, amount]],
        "notional"}``."""
        return {"legs": [[*leg, amount] for leg, amount in sorted(self.amounts.items(), key=lambda x: str(x[0]))],
                "notional": self.notional}

    @classmethod
    def from_json(cls, doc: Any) -> Optional["PlanLegs"]:
        """What :meth:`to_json` wrote; None for anything else (an older or damaged row)."""
        try:
            amounts = {(str(a), str(s), str(side), None if ps is None else str(ps)): float(n)
                       for a, s, side, ps, n in doc["legs"]}
            return cls(amounts, float(doc["notional"]))
        except (KeyError, TypeError, ValueError):
            return None


def default_max_notional(notional: float) -> float:
    """The maximum notional a close of a preview is sent with unless the operator gives one."""
    return round(notional * (1 + NOTIONAL_SLACK), 2)


def leg_text(leg: Leg) -> str:
    account, symbol, side, position_side = leg
    return f"{account} {symbol} {side}{' ' + position_side if position_side else ''}"


@dataclass(frozen=True)
class PreviewRecord:
    """A close preview as the runner showed it: ``id`` is what a close of it carries."""

    id: str
    scope: str
    symbol: Optional[str]
    at_ms: int
    legs: PlanLegs
    leg: Optional[str] = None  # the hedge leg of ``symbol`` it closes (long | short); None: both


def preview_id(scope: str, symbol: Optional[str], at_ms: int, legs: PlanLegs, leg: Optional[str] = None) -> str:
    """``cp-<time>-<digest>``: the preview's time and a digest of what it showed, so two previews
    of different plans never share an id."""
    what = [scope, symbol, at_ms, legs.to_json()] + ([leg] if leg else [])
    body = json.dumps(what, separators=(",", ":"), default=str)
    return f"cp-{at_ms}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"


class PreviewLedger:
    """The latest :data:`MAX_PREVIEWS` close previews, by id (the runner's memory only: a restart
    forgets them, and a close of a forgotten one is refused ``PREVIEW_UNKNOWN``)."""

    def __init__(self, size: int = MAX_PREVIEWS):
        self.size = size
        self._records: OrderedDict[str, PreviewRecord] = OrderedDict()

    def record(self, scope: str, symbol: Optional[str], at_ms: int, orders: Iterable[PlannedOrder],
               leg: Optional[str] = None) -> PreviewRecord:
        legs = PlanLegs.of(orders)
        rec = PreviewRecord(preview_id(scope, symbol, at_ms, legs, leg), scope, symbol, at_ms, legs, leg)
        self._records[rec.id] = rec
        self._records.move_to_end(rec.id)
        while len(self._records) > self.size:
            self._records.popitem(last=False)
        return rec

    def get(self, pid: str) -> Optional[PreviewRecord]:
        return self._records.get(pid)


def unknown_preview(pid: str) -> str:
    return (f"PREVIEW_UNKNOWN: this runner holds no close preview {pid!r} (previews live {PREVIEW_TTL_MS // 60_000} "
            "min in the memory of the runner that made them; a restart or another leader forgets them): "
            "preview again; nothing was sent")


def refusal(previewed: PlanLegs, fresh: PlanLegs, max_notional: float, *, scope: str, symbol: Optional[str],
            of_scope: str, of_symbol: Optional[str], age_ms: Optional[int] = None, leg: Optional[str] = None,
            of_leg: Optional[str] = None) -> Optional[str]:
    """Why a close whose fresh plan is ``fresh`` must not be sent for a preview that showed
    ``previewed`` (of ``of_scope`` / ``of_symbol``), or None; see the module doc. ``age_ms``:
    the preview's age when the close is asked for (None: not checked, as at the close's tick)."""
    if age_ms is not None and age_ms > PREVIEW_TTL_MS:
        return (f"PREVIEW_EXPIRED: the preview is {age_ms // 1000}s old, more than {PREVIEW_TTL_MS // 1000}s: "
                "preview again; nothing was sent")
    if (scope, symbol, leg) != (of_scope, of_symbol, of_leg):
        what = f"{of_scope}" + (f" symbol {of_symbol}" if of_symbol else "") + (
            f" ({of_leg} leg)" if of_leg else " (both legs)" if of_symbol and leg else "")
        return f"PREVIEW_MISMATCH: the preview was of {what}, not of this close; nothing was sent"
    added = sorted((x for x in fresh.amounts if x not in previewed.amounts), key=str)
    if added:
        return (f"PREVIEW_MISMATCH: the plan now closes {len(added)} position(s) the preview did not show: "
                f"{'; '.join(leg_text(x) for x in added[:5])}{' …' if len(added) > 5 else ''}; "
                "preview again; nothing was sent")
    grown = sorted((x for x, n in fresh.amounts.items() if n > previewed.amounts[x] * (1 + AMOUNT_SLACK) + _EPS),
                   key=str)
    if grown:
        first = grown[0]
        return (f"PREVIEW_MISMATCH: {len(grown)} position(s) grew since the preview, e.g. {leg_text(first)} "
                f"{fresh.amounts[first]:g} now, {previewed.amounts[first]:g} previewed (more than "
                f"{AMOUNT_SLACK:.0%} above); preview again; nothing was sent")
    if fresh.notional > max_notional + _EPS:
        return (f"OVER_MAX_NOTIONAL: the plan's notional is {fresh.notional:,.2f} now, above the maximum "
                f"{max_notional:,.2f} the close carries (previewed {previewed.notional:,.2f}); nothing was sent")
    return None


def gone(previewed: PlanLegs, fresh: PlanLegs) -> list[str]:
    """The previewed legs the fresh plan no longer has (their positions were closed since)."""
    return [leg_text(leg) for leg in sorted(previewed.amounts, key=str) if leg not in fresh.amounts]


@dataclass(frozen=True)
class Envelope:
    """What a close sent with a preview's id is held to, at its request and again at its tick:
    the preview's legs and the maximum notional."""

    preview_id: str
    legs: PlanLegs
    max_notional: float
    scope: str
    symbol: Optional[str]
    leg: Optional[str] = None

    def check(self, fresh: PlanLegs) -> Optional[str]:
        return refusal(self.legs, fresh, self.max_notional, scope=self.scope, symbol=self.symbol,
                       of_scope=self.scope, of_symbol=self.symbol, leg=self.leg, of_leg=self.leg)

    def to_json(self) -> dict:
        return {"id": self.preview_id, "max_notional": self.max_notional, **self.legs.to_json()}

    @classmethod
    def from_json(cls, doc: Any, scope: str, symbol: Optional[str], leg: Optional[str] = None
                  ) -> Optional["Envelope"]:
        legs = PlanLegs.from_json(doc) if isinstance(doc, dict) else None
        if legs is None or not isinstance(doc.get("id"), str):
            return None
        try:
            return cls(doc["id"], legs, float(doc["max_notional"]), scope, symbol, leg)
        except (TypeError, ValueError):
            return None
