"""KS220: an account's ``settle_coins`` entry its venue does not read.

What it owns: :data:`VENUE_SETTLE_COINS`, the settle coins each venue lists positions and orders
by (one list a coin), and :func:`check_settle_coins`, the finding on an account of an Accounts document: a coin
the venue does not settle in (with the supported ones and the closest), or ``settle_coins`` on a
venue that lists every settle coin at once (it would not be read), or on a spot account.

The table is data about the venues, kept here because the compiler must not import the adapters;
it is the adapters' dialects' ``supported_settle_coins`` (``tests/unit/adapters/venues/test_bybit_lists.py``
holds the two equal). A venue that is not in it reads no settle coin.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterator

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc

# ccxt exchange id → the settle coins an account of it may declare (the first ones its default)
VENUE_SETTLE_COINS: dict[str, tuple[str, ...]] = {
    # linear USDT, USDC; inverse (coin-settled) contracts' coins, read only when declared
    "bybit": ("USDT", "USDC", "BTC", "ETH"),
}


def check_settle_coins(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS220 for every ``settle_coins`` entry of account ``i`` of ``doc`` (``acc``) that its venue
    does not read, at the entry (file:line:col)."""
    path = doc.item_path("accounts", i) + ("settle_coins",)
    supported = VENUE_SETTLE_COINS.get(acc.venue, ())
    for j, coin in enumerate(acc.settle_coins):
        if acc.market_type != "futures":
            message = f'account "{acc.name}": settle_coins is read only for futures accounts'
            hint = "a spot account holds balances, not settled contracts: remove settle_coins"
        elif not supported:
            message = f'account "{acc.name}": settle_coins is not read for venue "{acc.venue}"'
            hint = (f"{acc.venue} lists the positions and orders of every settle coin at once; "
                    "remove settle_coins (venues that read it: " + ", ".join(sorted(VENUE_SETTLE_COINS)) + ")")
        elif coin not in supported:
            message = f'account "{acc.name}": venue "{acc.venue}" does not settle in "{coin}"'
            hint = d.suggestion_hint(coin, supported, f"{acc.venue} settles in {', '.join(supported)}")
        else:
            continue
        yield Diagnostic.make(d.KS220, doc.file, doc.srcmap.value(path + (j,)), message, hint)
        if acc.market_type != "futures" or not supported:
            break  # one finding for the field, not one per coin
