"""KS225, KS226: an account's ``rate_tier``, where its venue's limits are the account's.

What it owns: :func:`check_rate_tier`, the findings on an account of an Accounts document:

* KS225, a ``rate_tier`` its venue does not declare: a tier not among its dialect's (a typo,
  ``starter``), with the closest, or any tier on a venue whose limits are every account's
  alike, naming the venues with tiers; at the ``rate_tier`` value (file:line:col). The adapter
  would pace the first at the venue's lowest tier and ignore the second: neither as written.
* KS226 (a warning), an account on a venue with tiers that names none: its client is paced at
  the venue's lowest tier (Kraken spot's Starter key: its call counter holds the least and
  decays the slowest), fail closed, slower than a higher tier's key allows; at the account's
  ``venue``, naming the setting. The runner says the same at start (``RATE_TIER_ASSUMED``).

The tiers are the dialects' (``Dialect.rate_tiers``), read from their tables
(:func:`.venue_weights.venue_rate_tiers`): the compiler must not import the adapters.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterator

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc
from .venue_weights import venue_rate_tiers


def check_rate_tier(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS225 for account ``i`` of ``doc`` (``acc``) naming a tier its venue does not declare;
    KS226 when its venue has tiers and it names none."""
    path = doc.item_path("accounts", i)
    tiers = venue_rate_tiers().get(acc.venue, ())
    named = ", ".join(tiers)
    if acc.rate_tier is None:
        if tiers:
            yield Diagnostic.make(
                d.KS226, doc.file, doc.srcmap.value(path + ("venue",)),
                f'account "{acc.name}": no rate_tier: {acc.venue} is paced as a {tiers[0]} key, the lowest of '
                f"its tiers ({named})",
                f"set rate_tier to the account's tier on {acc.venue} ({named}): a higher tier's limits "
                "are higher, and a key paced past its own is refused and locked out a while")
        return
    if acc.rate_tier in tiers:
        return
    at = doc.srcmap.value(path + ("rate_tier",))
    if not tiers:
        with_tiers = ", ".join(f"{v} ({', '.join(t)})" for v, t in sorted(venue_rate_tiers().items()))
        yield Diagnostic.make(
            d.KS225, doc.file, at,
            f'account "{acc.name}": venue "{acc.venue}" has no rate tiers: its limits are every account\'s',
            f"remove rate_tier; venues with tiers: {with_tiers or 'none'}")
        return
    yield Diagnostic.make(
        d.KS225, doc.file, at, f'account "{acc.name}": venue "{acc.venue}" has no rate tier "{acc.rate_tier}"',
        d.suggestion_hint(acc.rate_tier, tiers, f"{acc.venue}'s tiers: {named}"))
