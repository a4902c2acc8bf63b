"""The venues' recorded and documented answers, each in its venue's folder
(``adapters/venues/<venue>/fixtures/``, whose README says which are verbatim recordings); those of
ccxt ids without a venue folder (the generic dialect's) stay in ``tests/fixtures/venues/``."""

from __future__ import annotations

from pathlib import Path

VENUES = Path(__file__).resolve().parents[1] / "adapters" / "venues"


def fixture(name: str) -> Path:
    """The one venue fixture called ``name``, whichever venue's folder holds it."""
    found = sorted(VENUES.glob(f"*/fixtures/{name}"))
    if len(found) != 1:
        raise FileNotFoundError(f"{name}: {len(found)} files of that name under {VENUES}/*/fixtures")
    return found[0]


def recorded(exchange: str) -> Path:
    """ccxt's recorded answers of a ccxt id (``ccxt-static-<id>.json``)."""
    return fixture(f"ccxt-static-{exchange}.json")
