"""An Accounts-document account on the simulated exchange in any dialect it speaks.

What it owns: :data:`VENUES`, the ccxt ids the simulated server answers as (each venue package's
``SIM_ID``, ``adapters/venues/<venue>/``, in registry order, each over its face in
:mod:`.faces`), and :func:`sim_account`, the
:class:`~killswitch.policy.accounts_doc.Account` of one engine account in one of them: ``venue``,
``api_url`` the server's base URL (the ccxt adapter sends every request there), credentials
that the face checks, set in the environment and referenced from the document as in production
(each venue's face module's ``sim_account``).
For ``ksctl demo --venue``, the close-all fault bench and the integration tests.

What it must not do: build a client or an adapter (the runner's bootstrap does), name a venue
(a new one is a folder: :mod:`adapters.registry`), or point an account anywhere but the
simulated server on loopback.

:func:`spot_venues` names those whose account is a spot one (the face's ``MARKET_TYPE``).
"""

from __future__ import annotations

import importlib
from typing import Any

from ..registry import sim_venues

VENUES: tuple[str, ...] = tuple(sim_venues())


def sim_account(server: Any, account: str, venue: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on ``server``, speaking ``venue``'s dialect;
    ``fields`` (labels, initial_capital, ...) go into the document as written."""
    pkg = sim_venues().get(venue)
    if pkg is None:
        raise ValueError(f"the simulated exchange does not answer as {venue!r}; it answers as {', '.join(VENUES)}")
    face = importlib.import_module(f"{pkg.__name__}.{pkg.FACE}")
    return face.sim_account(server, account, **fields)


def market_type(venue: str) -> str:
    """The market type of ``venue``'s simulated account: its face module's ``MARKET_TYPE``
    (Kraken spot's: spot), futures where it declares none."""
    pkg = sim_venues()[venue]
    return str(getattr(importlib.import_module(f"{pkg.__name__}.{pkg.FACE}"), "MARKET_TYPE", "futures"))


def spot_venues() -> tuple[str, ...]:
    """The venues of :data:`VENUES` whose simulated account is a spot one (the demo tells them the
    spot book's story; a futures account's tests leave them out)."""
    return tuple(v for v in VENUES if market_type(v) == "spot")


__all__ = ["VENUES", "market_type", "sim_account", "spot_venues"]
