"""Closes the venue refused: tried again within a bound per kind of refusal, then ``CLOSE_REJECTED``.

What it owns: per position leg and incident (the stage entry, or the manual close, that asked
for it), the venue's refusals of its closes — how many, the last one's code and message (the
venue's own: ``-1106 Parameter 'reduceOnly' sent when not required.``) and when the leg may be
tried again:

- a refusal a retry cannot mend (``permanent``: a bad parameter, no position to reduce, and one
  for the position mode the adapter already rebuilt once) is tried :data:`PERMANENT_TRIES` times
  in all, each at the next tick from fresh positions;
- one the venue may take later (``transient``: margin, its rate limit, a busy engine, a price
  band) waits :data:`FIRST_BACKOFF_MS`, doubling to :data:`MAX_BACKOFF_MS`, :data:`TRANSIENT_TRIES`
  tries in all;
- an operator's close (``manual/…``) is sent once and never planned again: its refusal is final;
- then the leg is ``CLOSE_REJECTED``: a residual (:mod:`.residuals`: status, console, the
  runbook's "Positions left", the page), and no close of it is sent again for that incident
  (:meth:`CloseRejections.screen`); a new incident (a manual close, a stage entered again) tries
  anew, within its own bound.

The counts live in memory: a restarted runner gives a leg its bound again (bounded still); a
leg that reached it is a residual, saved with the state, and stays stopped.

Must not: send anything, or stop a close the venue did not refuse (a close that filled short or
expired is the shortfalls' to plan again, within their own budget).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from adapters.base import PERMANENT, TRANSIENT

from ...metrics import Registry
from .execution import ExecutionReport, OrderOutcome, leg_of

CLOSE_REJECTED = "CLOSE_REJECTED"
PERMANENT_TRIES = 2
TRANSIENT_TRIES = 8
FIRST_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000
MAX_TRACKED = 10_000  # legs tracked at once (a book of refusals beyond it forgets the oldest)

LegKey = tuple[str, str, str, str]  # (incident, "venue/account", symbol, LONG | SHORT | long | short)


def incident_of(decision_id: str) -> str:
    """The incident a close belongs to: its decision id without the re-plan round (``/r<n>``)."""
    return re.sub(r"/r\d+$", "", decision_id)


def key_of(o: Any) -> LegKey:
    """The (incident, account, symbol, leg) of an order outcome or an order intent."""
    account, symbol, leg = leg_of(o.venue, o.account, o.symbol, o.side, getattr(o, "position_side", None))
    return incident_of(o.decision_id), account, symbol, leg


@dataclass
class LegRefusals:
    """A leg's refusals in one incident."""

    tries: int
    kind: str  # the last refusal's: permanent | transient | mode
    code: str  # the reason code (POSITION_MODE_MISMATCH, REDUCE_ONLY_REJECTED, VENUE_REFUSED, …)
    said: str  # the venue's code and message
    decision_id: str  # the last round refused (its entry is planned again when the leg is due)
    side: str
    position_side: Optional[str]
    next_ms: int  # when it may be tried again
    first_ms: int
    last_ms: int
    stopped: bool = False

    manual: bool = False  # an operator's close: sent once, never planned again (its refusal is final)

    @property
    def bound(self) -> int:
        if self.manual:
            return 1
        return TRANSIENT_TRIES if self.kind == TRANSIENT else PERMANENT_TRIES

    def summary(self) -> str:
        """``2 of 2 orders rejected by the venue: -1106 Parameter 'reduceOnly' sent when not required.``"""
        return f"{self.tries} of {self.tries} orders rejected by the venue: {self.said}"


@dataclass(frozen=True)
class Stop:
    """A leg that reached its bound: what becomes its CLOSE_REJECTED residual."""

    key: LegKey
    refusals: LegRefusals


def backoff_ms(tries: int) -> int:
    """The wait after the ``tries``-th transient refusal: 1 s, 2 s, 4 s, … up to 60 s."""
    return min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** max(0, tries - 1))


class CloseRejections:
    """See the module doc."""

    def __init__(self) -> None:
        self.legs: dict[LegKey, LegRefusals] = {}
        self.counted: dict[tuple[str, str], int] = {}  # (account, venue code) → refused closes, for /metrics

    def observe(self, execution: ExecutionReport, now_ms: int) -> list[Stop]:
        """A tick's outcomes: each close the venue refused counted against its leg; a close of a
        leg that filled forgets the leg's refusals. The legs that reached their bound now. The
        re-plans the executor asked for of closes refused and waiting, or stopped, are taken out
        of ``execution.unfilled`` (the leg is planned again when due, :meth:`due`)."""
        stops: list[Stop] = []
        waiting: list[str] = []
        for o in execution.orders:
            key = key_of(o)
            if o.status == "filled" or (o.status in ("open", "partially_filled") and o.filled > 0):
                self.legs.pop(key, None)
                continue
            if o.status != "rejected" or not o.reduce_only or o.refusal is None:
                continue  # (refused by the adapter itself, or not a close: the shortfalls' as before)
            self._count(o)
            leg = self._refused(key, o, now_ms)
            if leg.tries >= leg.bound:
                leg.stopped = True
                stops.append(Stop(key, leg))
                waiting.append(o.decision_id)
            elif leg.kind == TRANSIENT:
                waiting.append(o.decision_id)  # planned again once its wait is over, not at the next tick
        for did in waiting:  # one re-plan asked per short close: take out as many
            if did in execution.unfilled:
                execution.unfilled.remove(did)
        self._bound()
        return stops

    def _refused(self, key: LegKey, o: OrderOutcome, now_ms: int) -> LegRefusals:
        leg = self.legs.get(key)
        kind = o.refusal or PERMANENT
        if leg is None:
            leg = self.legs[key] = LegRefusals(0, kind, o.code or "", o.detail or "", o.decision_id, o.side,
                                               o.position_side, now_ms, now_ms, now_ms,
                                               manual=o.decision_id.startswith("manual/"))
        leg.tries += 1
        leg.kind, leg.code, leg.said, leg.decision_id, leg.last_ms = kind, o.code or "", o.detail or "", \
            o.decision_id, now_ms
        leg.next_ms = now_ms + (backoff_ms(leg.tries) if kind == TRANSIENT else 0)
        return leg

    def _count(self, o: OrderOutcome) -> None:
        code = (o.detail or o.code or "?").split(" ", 1)[0][:60]
        k = (f"{o.venue}/{o.account}", code)
        self.counted[k] = self.counted.get(k, 0) + 1

    def _bound(self) -> None:
        if len(self.legs) > MAX_TRACKED:
            for key in sorted(self.legs, key=lambda k: self.legs[k].last_ms)[:len(self.legs) - MAX_TRACKED]:
                del self.legs[key]

    def due(self, now_ms: int) -> list[str]:
        """The rounds whose transient wait is over: their entries are planned again now (once)."""
        out = []
        for leg in self.legs.values():
            if not leg.stopped and leg.kind == TRANSIENT and leg.next_ms <= now_ms and leg.next_ms >= 0:
                out.append(leg.decision_id)
                leg.next_ms = -1  # asked once; the next refusal sets it again
        return list(dict.fromkeys(out))

    def screen(self, plans: Sequence[Any], now_ms: int, stopped: Iterable[LegKey] = ()) -> tuple[list, list[Any]]:
        """``plans`` without the closes of a leg stopped in their incident (CLOSE_REJECTED: here,
        or a residual of it, ``stopped``) or waiting out a transient refusal; those closes, never
        sent, are returned beside."""
        from dataclasses import replace

        halted = set(stopped) | {k for k, leg in self.legs.items() if leg.stopped}
        out, dropped = [], []
        for p in plans:
            keep = []
            for o in p.orders:
                key = key_of(o)
                leg = self.legs.get(key)
                if key in halted or (leg is not None and leg.kind == TRANSIENT and leg.next_ms > now_ms):
                    dropped.append(o)
                else:
                    keep.append(o)
            out.append(p if len(keep) == len(p.orders) else replace(p, orders=tuple(keep)))
        return out, dropped

    def keep_stopped(self, residuals: set[LegKey]) -> None:
        """Forget the stopped legs without a residual any more (the position closed, the
        incident over, or closed before it could be recorded): a new close of them tries anew."""
        for k in [k for k, leg in self.legs.items() if leg.stopped and k not in residuals]:
            del self.legs[k]

    def status(self) -> list[dict]:
        """The legs with refusals, for the status: CLOSE_REJECTED ones and those still tried."""
        out = []
        for (incident, account, symbol, leg_name), leg in sorted(self.legs.items()):
            out.append({"incident": incident, "account": account, "symbol": symbol, "leg": leg_name,
                        "state": CLOSE_REJECTED if leg.stopped else "retrying", "tries": leg.tries,
                        "bound": leg.bound, "kind": leg.kind, "reason": leg.code, "venue_said": leg.said,
                        "next_ms": None if leg.stopped or leg.next_ms < 0 else leg.next_ms})
        return out

    def collect_metrics(self, registry: Registry) -> None:
        fam = registry.sampled("killswitch_close_rejected_total", "counter",
                               "Closes the venue refused, by account and the venue's own code.",
                               ("venue", "account", "code"))
        for (account, code), n in sorted(self.counted.items()):
            venue, _, name = account.partition("/")
            fam.add(n, venue=venue, account=name, code=code)
        stopped = registry.sampled("killswitch_close_rejected_legs", "gauge",
                                   "Position legs whose closes reached their bound of venue refusals "
                                   "(CLOSE_REJECTED): left open, not sent again for their incident.",
                                   ("venue", "account"))
        per: dict[str, int] = {}
        for (_, account, _, _), leg in self.legs.items():
            if leg.stopped:
                per[account] = per.get(account, 0) + 1
        for account, n in sorted(per.items()):
            venue, _, name = account.partition("/")
            stopped.add(n, venue=venue, account=name)


__all__ = ["CLOSE_REJECTED", "CloseRejections", "FIRST_BACKOFF_MS", "LegRefusals", "MAX_BACKOFF_MS",
           "PERMANENT_TRIES", "Stop", "TRANSIENT_TRIES", "backoff_ms", "incident_of", "key_of"]
