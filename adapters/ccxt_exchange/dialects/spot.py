"""What the spot dialects share: every asset a spot account holds valued, or the snapshot fails.

What it owns
    :func:`check_every_asset_valued`, the check a spot dialect that values every holding runs
    after the prices are read (Kraken's tickers, MEXC's price tickers): a held asset no price
    values fails the snapshot, naming it and the endpoint that priced the rest — blind there,
    said, never an equity that leaves it out.

What it must not do
    import ccxt or name a venue (each dialect hands its own id and endpoint).
"""

from __future__ import annotations

from typing import Any, Sequence

from ...base import AdapterError, Reason


def check_every_asset_valued(venue: str, endpoint: str, balances: Sequence[Any], quote: str) -> None:
    """Raises BAD_RESPONSE naming every asset of ``balances`` held (a non-zero ``total``) that
    has no ``price`` in ``quote``; nothing when each is valued."""
    missing = [f"{b.asset} ({b.total:g})" for b in balances if b.price is None and b.total]
    if missing:
        raise AdapterError(Reason.BAD_RESPONSE, f"{venue} {endpoint}: no price in {quote} for "
                           f"{', '.join(missing)}, held: the holding cannot be valued (blind there)", venue=venue)


__all__ = ["check_every_asset_valued"]
