"""A person accepts a close the venue refused: the leg's fact ends, audited, saved.

A leg the venue refused to close (:mod:`..book.rejections`) stands on the console's first
screen and in ``/v1/status``'s ``close_rejections`` until it is resolved: its position closed,
a later close of it filled, or a person accepted it — left open on purpose, or handled at the
venue by hand. This is the last: ``POST /v1/close-rejections/accept`` (``ksctl close-accept``), by an
operator, with a reason. The leg is named by its account, and where the account has more than
one, its symbol, leg (long | short | LONG | SHORT) and incident; every leg that matches is
accepted: marked so in the ledger (off the status and the first screen, not sent again for its
incident, kept until its position or its incident ends, so that a runner that takes over does
not raise it again from the journal) and saved with its audit row ``close_rejection_accepted`` (who,
why, the legs with the venue's words) in one fenced store call — a deposed leader's acceptance
lands nowhere and is taken back. A leg stopped for its incident stays unsent: its
``CLOSE_REJECTED`` residual (under *Residuals*) lasts as long as its position.

Must not: send anything, end a residual, or accept a leg nobody named (a name that matches none
is refused ``UNKNOWN_REJECTION`` with the legs that stand; a name that matches only legs accepted
already answers ``ALREADY_ACCEPTED`` with who accepted them, when and why, and changes nothing).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ...state.store import FencedError
from ...view import ChangeResult
from ..book.rejections import accepted_text
from ..collaborators import Saves
from ..names import close_matches


class RejectionAccepts:
    """See the module doc. ``lead`` writes the audit row under the runner's fencing token and
    says who leads; ``persist`` saves the book."""

    def __init__(self, book: Any, lead: Any, *, persist: Saves, clock: Callable[[], int]):
        self.book = book
        self.lead = lead
        self.persist = persist
        self.clock = clock

    async def accept(self, account: str, reason: str, *, symbol: Optional[str] = None, leg: Optional[str] = None,
                     incident: Optional[str] = None, actor: Optional[str] = None) -> ChangeResult:
        if (standby := self.lead.not_leader("acceptance")) is not None:
            return ChangeResult(False, standby)
        tried = {"account": account, "symbol": symbol, "leg": leg, "incident": incident, "reason": reason, "by": actor}
        if not reason.strip():
            return await self._refused(tried, "BAD_REQUEST: say why the rejected close is accepted (reason)")
        ledger = self.book.rejections
        keys = ledger.find(incident, account, symbol, leg)
        if not keys and (done := ledger.accepted(incident, account, symbol, leg)):
            return ChangeResult(True, "ALREADY_ACCEPTED: " + "; ".join(
                f"{k[2]} {k[3]} on {k[1]} {accepted_text(a)}" for k, a in done) + "; nothing changed")
        if not keys:
            standing = [f"{k[1]} {k[2]} {k[3]} ({k[0]})" for k, r in sorted(ledger.legs.items()) if r.standing]
            near = close_matches(account, sorted({k[1] for k in ledger.legs}))
            hint = f"; did you mean {', '.join(near)}?" if near and account not in near else ""
            named = " ".join(x for x in (account, symbol, leg) if x) + (f" of {incident}" if incident else "")
            return await self._refused(tried, f"UNKNOWN_REJECTION: no rejected close of {named} stands{hint}; "
                                              "standing: " + (", ".join(standing) if standing else "none"))
        now = self.clock()
        legs = [{"incident": k[0], "account": k[1], "symbol": k[2], "leg": k[3], "state": r.get("state"),
                 "tries": r.get("tries"), "venue_said": r.get("venue_said"), "first_ms": r.get("first_ms"),
                 "last_ms": r.get("last_ms")}
                for k in keys for r in ledger.status() if (r["incident"], r["account"], r["symbol"], r["leg"]) == k]
        taken = {k: ledger.accept(k, actor, reason, now) for k in keys}
        try:
            await self.persist.save([("close_rejection_accepted", now, {"legs": legs, "reason": reason, "by": actor})])
        except FencedError:
            ledger.restore({k: v for k, v in taken.items() if v is not None})
            return ChangeResult(False, self.lead.deposed())
        names = ", ".join(f"{k[2]} {k[3]} on {k[1]}" for k in keys)
        return ChangeResult(True, f"CLOSE_REJECTION_ACCEPTED: {names} by {actor or 'an unknown caller'}: {reason}; "
                                  "not sent again for its incident (a new incident tries anew); what is left open "
                                  "stays under Residuals")

    async def _refused(self, payload: dict, why: str) -> ChangeResult:
        """A refused acceptance, audited with its author (``close_rejection_accepted``, ``refused``)."""
        await self.lead.audit_refusal("close_rejection_accepted", self.clock(), {**payload, "legs": []}, why)
        return ChangeResult(False, why)


__all__ = ["RejectionAccepts"]
