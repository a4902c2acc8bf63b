"""Closes the venue refused: tried again within a bound per kind of refusal, then ``CLOSE_REJECTED``.

The book's ledger of them (:attr:`~killswitch.runner.book.book.Book.rejections`): the tick
(:mod:`..venue.executor`'s outcomes, an :class:`~killswitch.runner.venue.execution.ExecutionReport`)
and the shortfalls (:mod:`..venue.shortfalls`) tell it what the venues answered.

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

A stored fact, as residuals are (:mod:`.residuals`): the ledger is the book's
(:attr:`~killswitch.runner.book.book.Book.rejections`), saved with its state document (fenced,
SQLite and PostgreSQL alike) at the tick that counted a refusal, and rebuilt from it at start,
by a standby that follows and by one that takes over: a restarted runner shows the same legs,
their tries, the venue's words and their times, and gives no leg its bound again. A refusal the
journal holds that the saved ledger lacks (the runner stopped between the venue's answer and the
save) is counted from the journal when a runner starts leading (:meth:`CloseRejections.recount`).
A leg's fact ends when it is resolved: its position is gone or its incident is over
(:meth:`CloseRejections.refresh`, and for a stopped leg its residual's end,
:meth:`CloseRejections.keep_stopped`), a later close of it filled (:meth:`CloseRejections.observe`),
or a person accepted it (:meth:`CloseRejections.accept`: ``ksctl close-accept``, audited; kept,
unsent and unshown, until its position or its incident ends, so that no recount raises it again).

Must not: send anything, or stop a close the venue did not refuse (a close that filled short or
expired is the shortfalls' to plan again, within their own budget).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from adapters.base import PERMANENT, TRANSIENT

from ...engine.stages import incident_of
from ...facts.residuals import accepted_text
from ...figures import iso
from ...metrics import Registry
from .revoke_state import BACKOFF_FIRST_MS as FIRST_BACKOFF_MS, BACKOFF_MAX_MS as MAX_BACKOFF_MS, backoff_ms

CLOSE_REJECTED = "CLOSE_REJECTED"
PERMANENT_TRIES = 2
TRANSIENT_TRIES = 8
MAX_TRACKED = 10_000  # legs tracked at once (a book of refusals beyond it forgets the oldest)
SEEN_KEPT = 16  # client order ids a leg keeps of the closes it counted (more than any bound)
POSITION_CLOSED = "POSITION_CLOSED"  # a fact ended: its position is gone
INCIDENT_ENDED = "INCIDENT_ENDED"  # a fact ended: its incident is no longer in force

LegKey = tuple[str, str, str, str]  # (incident, "venue/account", symbol, LONG | SHORT | long | short)
Leg = tuple[str, str, str]  # (account key "venue/account", symbol, LONG | SHORT | long | short)


def leg_of(venue: str, account: str, symbol: str, side: str, position_side: Optional[str]) -> Leg:
    """The position an order of ours reduces: the hedge-mode leg it names, else the side a
    sell (long) or a buy (short) closes. A spot sell counts as closing the holding ("long")."""
    leg = position_side if position_side in ("LONG", "SHORT") else ("long" if side == "sell" else "short")
    return f"{venue}/{account}", symbol, leg


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
    seen: tuple[str, ...] = ()  # the client order ids counted (the latest SEEN_KEPT): a recount skips them
    # a person accepted it ({"by", "reason", "ms"}): off the status and the first screen, not sent
    # again, kept (so that a recount from the journal does not raise it again) until its position
    # or its incident ends
    accepted: Optional[dict] = None
    # what the refused closes of the latest round (``decision_id``) would have closed, their
    # amounts summed (a close sent in chunks: every chunk): a partial reduction's shortfall
    meant: float = 0.0
    # the tries: the rounds planned of the leg's close (each decision id, ``…/r<n>``, once) that
    # the venue refused; a close sent in chunks is one try of several orders (:attr:`tries` counts
    # the orders). 0: a ledger saved before it was counted (:attr:`rounds_told` says the orders)
    rounds: int = 0

    def refused_round(self, decision_id: str, amount: Any) -> None:
        """A refused close of ``amount`` in round ``decision_id``, counted in :attr:`meant`
        and, when the round is a new one, in :attr:`rounds` (before :attr:`decision_id` moves on
        to it)."""
        same = self.tries > 0 and self.decision_id == decision_id
        self.meant = (self.meant if same else 0.0) + float(amount or 0.0)
        if not same:
            self.rounds += 1

    @property
    def rounds_told(self) -> int:
        """The tries as the views say them: :attr:`rounds`, or for a ledger saved before rounds
        were counted the orders, within the bound (never "5 tries of 2")."""
        return self.rounds or min(self.tries, self.bound)

    @property
    def bound(self) -> int:
        if self.manual:
            return 1
        return TRANSIENT_TRIES if self.kind == TRANSIENT else PERMANENT_TRIES

    def summary(self) -> str:
        """``2 of 2 orders rejected by the venue: -1106 Parameter 'reduceOnly' sent when not required.``"""
        return f"{self.tries} of {self.tries} orders rejected by the venue: {self.said}"

    def to_json(self) -> dict:
        d = asdict(self)
        d["seen"] = list(self.seen)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "LegRefusals":
        return cls(**{**d, "seen": tuple(d.get("seen") or ())})

    @property
    def standing(self) -> bool:
        """Shown (status, console, the gauge): not accepted by a person."""
        return self.accepted is None


@dataclass(frozen=True)
class Stop:
    """A leg that reached its bound: what becomes its CLOSE_REJECTED residual."""

    key: LegKey
    refusals: LegRefusals


class CloseRejections:
    """See the module doc."""

    def __init__(self) -> None:
        self.legs: dict[LegKey, LegRefusals] = {}
        self.counted: dict[tuple[str, str], int] = {}  # (account, venue code) → refused closes, for /metrics
        self.version = 0  # moves on at every change of ``legs``: the tick saves the book when it moved

    # --- stored: saved with the book's state document, rebuilt from it -------------------------------

    def to_json(self) -> list[dict]:
        return [{"incident": k[0], "account": k[1], "symbol": k[2], "leg": k[3], **leg.to_json()}
                for k, leg in sorted(self.legs.items())]

    def load(self, rows: Optional[Sequence[dict]]) -> None:
        """The legs as saved (a start, a takeover, a standby following): in place of those kept.
        The refusals counted for /metrics stay this process's."""
        legs: dict[LegKey, LegRefusals] = {}
        for d in rows or ():
            d = dict(d)
            key = (d.pop("incident"), d.pop("account"), d.pop("symbol"), d.pop("leg"))
            legs[key] = LegRefusals.from_json(d)
        if legs != self.legs:
            self.legs = legs
            self.version += 1

    def _changed(self) -> None:
        self.version += 1

    def observe(self, execution: Any, now_ms: int) -> list[Stop]:
        """A tick's outcomes: each close the venue refused counted against its leg; a close of a
        leg that filled forgets the leg's refusals. The legs that reached their bound now. The
        re-plans the executor asked for of closes refused and waiting, or stopped, are taken out
        of ``execution.unfilled`` (the leg is planned again when due, :meth:`due`)."""
        stops: list[Stop] = []
        waiting: list[str] = []
        for o in execution.orders:
            key = key_of(o)
            if o.status == "filled" or (o.status in ("open", "partially_filled") and o.filled > 0):
                if self.legs.pop(key, None) is not None:  # a later close of the leg went through
                    self._changed()
                continue
            if o.status != "rejected" or not o.reduce_only or o.refusal is None:
                continue  # (refused by the adapter itself, or not a close: the shortfalls' as before)
            known = self.legs.get(key)
            if known is not None and o.client_order_id in known.seen:
                continue  # counted already (from the journal, by a runner that took over)
            self._count(o)
            leg = self._tally(key, o, o.refusal or PERMANENT, o.code, now_ms)
            leg.code, leg.said, leg.last_ms = o.code or "", o.detail or "", now_ms
            leg.next_ms = now_ms + (backoff_ms(leg.tries) if leg.kind == TRANSIENT else 0)
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

    def _tally(self, key: LegKey, o: Any, kind: str, code: Optional[str], at: int) -> LegRefusals:
        """A refused close ``o`` (an order outcome or a journal row) counted against its leg,
        made at ``at`` when new: its round, its try, its kind and its client order id."""
        leg = self.legs.get(key)
        if leg is None:
            leg = self.legs[key] = LegRefusals(0, kind, code or "", o.detail or "", o.decision_id, o.side,
                                               o.position_side, at, at, at, manual=o.decision_id.startswith("manual/"))
        leg.refused_round(o.decision_id, getattr(o, "amount", None))
        leg.tries += 1
        leg.kind, leg.decision_id = kind, o.decision_id
        leg.seen = (*leg.seen, o.client_order_id)[-SEEN_KEPT:]
        return leg

    def _count(self, o: Any) -> None:
        code = (o.detail or o.code or "?").split(" ", 1)[0][:60]
        k = (f"{o.venue}/{o.account}", code)
        self.counted[k] = self.counted.get(k, 0) + 1

    def _bound(self) -> None:
        if len(self.legs) > MAX_TRACKED:
            for key in sorted(self.legs, key=lambda k: self.legs[k].last_ms)[:len(self.legs) - MAX_TRACKED]:
                del self.legs[key]
            self._changed()

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
        for k in [k for k, leg in self.legs.items() if leg.stopped and leg.standing and k not in residuals]:
            del self.legs[k]
            self._changed()

    def refresh(self, positions: Callable[[str], Optional[dict]], in_force: Callable[[str], bool]
                ) -> list[tuple[LegKey, LegRefusals, str]]:
        """End the facts of legs still tried, or accepted, whose position is gone
        (``POSITION_CLOSED``: the account's last good snapshot, ``positions(account)`` →
        {(symbol, leg): contracts}, has none; None: unread, kept) or whose incident is over
        (``INCIDENT_ENDED``: ``in_force`` False). A stopped leg ends with its residual
        (:meth:`keep_stopped`). Returns the ended."""
        ended = []
        for key, leg in list(self.legs.items()):
            if leg.stopped and leg.standing:
                continue
            incident, account, symbol, name = key
            why = None
            if not in_force(incident):
                why = INCIDENT_ENDED
            else:
                book = positions(account)
                if book is not None and not book.get((symbol, name)):
                    why = POSITION_CLOSED
            if why is not None:
                del self.legs[key]
                self._changed()
                ended.append((key, leg, why))
        return ended

    def _named(self, incident: Optional[str], account: str, symbol: Optional[str], leg: Optional[str]
               ) -> Iterator[tuple[LegKey, LegRefusals]]:
        """The legs on ``account``, of ``incident``, ``symbol`` and ``leg`` where given, in order."""
        return ((k, r) for k, r in sorted(self.legs.items()) if k[1] == account and incident in (None, k[0])
                and symbol in (None, k[2]) and (leg is None or leg.casefold() == k[3].casefold()))

    def find(self, incident: Optional[str], account: str, symbol: Optional[str], leg: Optional[str]
             ) -> list[LegKey]:
        """The legs a person names (see :meth:`_named`) that stand."""
        return [k for k, r in self._named(incident, account, symbol, leg) if r.standing]

    def accepted(self, incident: Optional[str], account: str, symbol: Optional[str], leg: Optional[str]
                 ) -> list[tuple[LegKey, dict]]:
        """The legs a person names that a person accepted already, each with its acceptance
        (``{"by", "reason", "ms"}``): what a second acceptance of them answers."""
        return [(k, r.accepted) for k, r in self._named(incident, account, symbol, leg) if r.accepted is not None]

    def acceptance(self, key: LegKey) -> Optional[dict]:
        """Who accepted the leg, when and why (``{"by", "reason", "ms"}``), or None: not accepted."""
        leg = self.legs.get(key)
        return None if leg is None else leg.accepted

    def refused(self) -> list[tuple[str, str, str, bool]]:
        """Each leg the ledger keeps a refusal of (any incident, stopped or still tried), once:
        (account, symbol, leg, whether a person accepted it)."""
        out: dict[Leg, bool] = {}
        for (_, account, symbol, name), leg in sorted(self.legs.items()):
            out[(account, symbol, name)] = out.get((account, symbol, name), False) or leg.accepted is not None
        return [(*k, v) for k, v in sorted(out.items())]

    def notes(self, legs: Iterable[Leg]) -> list[str]:
        """What a close preview of ``legs`` says of the venue's refusals of their closes that the
        ledger holds (any incident): when, the venue's words, and whether a person accepted it."""
        wanted = set(legs)
        out = []
        for (incident, account, symbol, name), leg in sorted(self.legs.items()):
            if (account, symbol, name) not in wanted:
                continue
            state = accepted_text(leg.accepted) if leg.accepted is not None else \
                f"not accepted: it stands as {CLOSE_REJECTED}" if leg.stopped else "not accepted: still tried"
            out.append(f"REFUSED_BEFORE: the venue refused {leg.tries} close(s) of {symbol} {name} on {account}, "
                       f"the last at {iso(leg.last_ms)}: {leg.said} ({leg.code}); incident {incident}; {state}")
        return out

    def accept(self, key: LegKey, by: Optional[str], reason: str, now_ms: int) -> Optional[LegRefusals]:
        """A person accepted the leg's fact (left open on purpose, or handled at the venue): off
        the status and the first screen, and not sent again for its incident. Its refusals as
        they were (for :meth:`restore`), or None when the leg is not known."""
        leg = self.legs.get(key)
        if leg is None:
            return None
        before = replace(leg)
        leg.accepted, leg.stopped = {"by": by, "reason": reason, "ms": now_ms}, True
        self._changed()
        return before

    def restore(self, legs: dict[LegKey, LegRefusals]) -> None:
        """Legs as an acceptance found them (its save was fenced off: nothing changed)."""
        self.legs.update(legs)
        self._changed()

    def recount(self, entries: Iterable[Any], now_ms: int) -> list[Stop]:
        """The refusals of closes the journal holds (``entries``: an incident's journal rows,
        :class:`~killswitch.state.store.JournalEntry`) that the saved ledger did not count: a
        runner stopped between the venue's answer and the save. Each is counted against its leg
        with the venue's words and how a retry fares, as journaled (a refusal the adapter made
        itself, or one journaled before the journal said how a retry fares, is not: as
        :meth:`observe` counts none); the legs that reach their bound now, as :meth:`observe`
        returns them."""
        stops: list[Stop] = []
        for e in entries:
            kind = getattr(e, "refusal", None)
            if e.status != "rejected" or not e.reduce_only or kind is None:
                continue
            key = key_of(e)
            leg = self.legs.get(key)
            if leg is not None and (leg.stopped or e.client_order_id in leg.seen):
                continue
            at = e.updated_ms or e.created_ms or now_ms
            leg = self._tally(key, e, kind, e.reason_code, at)
            leg.code, leg.said = e.reason_code or leg.code, e.detail or leg.said
            leg.last_ms = max(leg.last_ms, at)
            leg.next_ms = max(now_ms, at + backoff_ms(leg.tries)) if kind == TRANSIENT else now_ms
            self._changed()
            if leg.tries >= leg.bound:
                leg.stopped = True
                stops.append(Stop(key, leg))
        return stops

    def status(self) -> list[dict]:
        """The legs with refusals, for the status: CLOSE_REJECTED ones and those still tried."""
        return [{"incident": incident, "account": account, "symbol": symbol, "leg": leg_name,
                 "state": CLOSE_REJECTED if leg.stopped else "retrying", "tries": leg.tries,
                 "rounds": leg.rounds_told, "bound": leg.bound, "kind": leg.kind, "reason": leg.code,
                 "venue_said": leg.said, "next_ms": None if leg.stopped or leg.next_ms < 0 else leg.next_ms,
                 "first_ms": leg.first_ms, "last_ms": leg.last_ms}
                for (incident, account, symbol, leg_name), leg in sorted(self.legs.items()) if leg.standing]

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
        per = Counter(account for (_, account, _, _), leg in self.legs.items() if leg.stopped and leg.standing)
        for account, n in sorted(per.items()):
            venue, _, name = account.partition("/")
            stopped.add(n, venue=venue, account=name)


__all__ = ["CLOSE_REJECTED", "INCIDENT_ENDED", "POSITION_CLOSED", "CloseRejections", "FIRST_BACKOFF_MS",
           "LegRefusals", "MAX_BACKOFF_MS", "PERMANENT_TRIES", "Stop", "TRANSIENT_TRIES", "accepted_text", "backoff_ms",
           "key_of", "leg_of"]
