"""KS262: an ``arm_exchange_dms`` whose scope selects an account whose venue has no countdown.

What it owns
    * :func:`no_countdown_tables`: the ccxt ids whose dialect has no cancel-all-after (the venue's own
      dead man's switch) on its futures, and why, in the venue's terms: MEXC's contract API has
      none; Bitget's countdown-cancel-all serves unified-trading accounts only, not the classic
      account the dialect reads. An id without a dialect arms none either (KS222 says that of it).
    * :func:`dms_findings`: KS262 for each use of the action whose scope selects such an account,
      at the action (file:line:col), naming the accounts and why: the action arms nothing there,
      and a policy that counts on the venue to cancel the account's orders once the runner falls
      silent is told so before a deployment. A warning: the runner's own dead man's switch and
      its lock still guard the account.

The table is data the dialects declare (``Dialect.no_countdown``), read from their tables
(:mod:`killswitch.dialect_tables`) because the compiler must not import the adapters;
``tests/unit/compile/test_dms_check.py`` holds it equal to the dialects' own (``Dialect.countdown`` of a
real ccxt client); a dialect without a countdown that says not why is written in general terms.

Pure: no I/O.
"""

from __future__ import annotations

import functools
from typing import Iterable, Optional, Sequence

from ..dialect_tables import tables
from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from .scope_check import ActionUse, reach_findings
from .venue_check import dialect_venues


@functools.cache
def no_countdown_tables() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """ccxt id (with a dialect) → why its venue keeps no countdown for a futures account, and (ccxt
    id, market type) → the same, where another market type of the id keeps none: the dialects'
    own word (``Dialect.no_countdown``), from their tables."""
    rows = tables()["NO_COUNTDOWN"]
    return ({venue: why for venue, market, why in rows if market == "futures"},
            {(venue, market): why for venue, market, why in rows if market != "futures"})


def no_countdown(acc: Account) -> Optional[str]:
    """Why ``arm_exchange_dms`` arms nothing at ``acc``'s venue (None: its venue has a countdown)."""
    futures, of_market = no_countdown_tables()
    if (acc.venue, acc.market_type) in of_market:
        return of_market[(acc.venue, acc.market_type)]
    if acc.venue in futures:
        return futures[acc.venue]
    if acc.venue not in dialect_venues():
        return f'venue "{acc.venue}" has no dialect, so no countdown'
    return None


def dms_findings(accounts: Sequence[Account], uses: Iterable[ActionUse]) -> list[Diagnostic]:
    """KS262 for each use whose scope selects an account whose venue has no countdown (see
    :func:`.scope_check.reach_findings`)."""
    return reach_findings(
        d.KS262, accounts, uses, no_countdown, "arm_exchange_dms arms no venue countdown on",
        "; their orders are not cancelled by the venue when the runner falls silent",
        "there the runner's own dead man's switch and lock_trading guard the account; add a lock or a "
        "cancel_orders to the stage, or narrow the scope to the venues with a countdown")


__all__ = ["dms_findings", "no_countdown", "no_countdown_tables"]
