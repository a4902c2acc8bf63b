"""KS262: an ``arm_exchange_dms`` whose scope selects an account whose venue has no countdown.

What it owns
    * :data:`NO_COUNTDOWN`: the ccxt ids whose dialect has no cancel-all-after (the venue's own
      dead man's switch) on its futures, and why, in the venue's terms: MEXC's contract API has
      none; Bitget's countdown-cancel-all serves unified-trading accounts only, not the classic
      account the dialect reads. An id without a dialect arms none either (KS222 says that of it).
    * :func:`dms_findings`: KS262 for each use of the action whose scope selects such an account,
      at the action (file:line:col), naming the accounts and why: the action arms nothing there,
      and a policy that counts on the venue to cancel the account's orders once the runner falls
      silent is told so before a deployment. A warning: the runner's own dead man's switch and
      its lock still guard the account.

The table is data, kept here because the compiler must not import the adapters;
``tests/unit/compile/test_dms_check.py`` holds it equal to the dialects' own (``Dialect.countdown`` of a
real ccxt client), so a new dialect without a countdown says so.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic, Position
from ..policy.scope import Scope
from ..records import record
from .dialect_venues import DIALECT_VENUES
from .scope_check import selects_account, written

# ccxt id (with a dialect) → why its venue keeps no countdown for the account
NO_COUNTDOWN: dict[str, str] = {
    "bitget": "Bitget's countdown-cancel-all serves unified-trading accounts only, not the classic account",
    "mexc": "MEXC's contract API has no cancel-all-after",
}


def no_countdown(acc: Account) -> Optional[str]:
    """Why ``arm_exchange_dms`` arms nothing at ``acc``'s venue (None: its venue has a countdown)."""
    if acc.venue in NO_COUNTDOWN:
        return NO_COUNTDOWN[acc.venue]
    if acc.venue not in DIALECT_VENUES:
        return f'venue "{acc.venue}" has no dialect, so no countdown'
    return None


@record
class DmsUse:
    """One ``arm_exchange_dms`` action as the compiler meets it: where it is written and the
    scope whose accounts it acts on."""

    file: str
    pos: Optional[Position]
    scope: Scope
    policy: str = ""


def dms_findings(accounts: Sequence[Account], uses: Iterable[DmsUse]) -> list[Diagnostic]:
    """KS262 for each use whose scope selects an account whose venue has no countdown: one
    finding a use, naming every such account and why. ``accounts``: every declared account (the
    caller knows them whole, or passes none: then nothing is said)."""
    out: list[Diagnostic] = []
    for use in uses:
        bad = [(a.name, why) for a in accounts
               if selects_account(use.scope, a.venue, a.name, a.labels) and (why := no_countdown(a))]
        if not bad:
            continue
        named = "; ".join(f'"{name}": {why}' for name, why in bad[:5]) + (
            f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        of = f'policy "{use.policy}": ' if use.policy else ""
        sel = written(use.scope) or "every account"
        out.append(Diagnostic.make(
            d.KS262, use.file, use.pos,
            f"{of}arm_exchange_dms arms no venue countdown on {len(bad)} account(s) its scope ({sel}) selects: "
            f"{named}; their orders are not cancelled by the venue when the runner falls silent",
            "there the runner's own dead man's switch and lock_trading guard the account; add a lock or a "
            "cancel_orders to the stage, or narrow the scope to the venues with a countdown"))
    return out


__all__ = ["NO_COUNTDOWN", "DmsUse", "dms_findings", "no_countdown"]
