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

:func:`spot_venues` names those whose account is a spot one (the face's ``MARKET_TYPE``);
:func:`market_types` what else a venue serves (a spot account beside its futures: ``SPOT_FACE``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional

from ..registry import sim_venues

VENUES: tuple[str, ...] = tuple(sim_venues())


def face_of(venue: str, market: Optional[str] = None) -> ModuleType:
    """The face module serving ``venue``'s simulated account of ``market`` (None: its own, the
    REST face's): the REST face, or its spot account's (``SPOT_FACE``) for ``spot`` where the
    REST face serves futures; ValueError naming what the simulator serves otherwise."""
    pkg = sim_venues().get(venue)
    if pkg is None:
        raise ValueError(f"the simulated exchange does not answer as {venue!r}; it answers as {', '.join(VENUES)}")
    face = importlib.import_module(f"{pkg.__name__}.{pkg.FACE}")
    own = str(getattr(face, "MARKET_TYPE", "futures"))
    if market in (None, own):
        return face
    if market == "spot" and pkg.SPOT_FACE is not None:
        return importlib.import_module(f"{pkg.__name__}.{pkg.SPOT_FACE}")
    raise ValueError(f"the simulated {venue} serves a {' or a '.join(market_types(venue))} account, not {market!r}")


def sim_account(server: Any, account: str, venue: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on ``server``, speaking ``venue``'s dialect, of
    the ``market_type`` in ``fields`` (its face's own when none); ``fields`` (labels,
    initial_capital, ...) go into the document as written."""
    return face_of(venue, fields.get("market_type")).sim_account(server, account, **fields)


def market_type(venue: str) -> str:
    """The market type of ``venue``'s simulated account: its face module's ``MARKET_TYPE``
    (Kraken spot's: spot), futures where it declares none."""
    return str(getattr(face_of(venue), "MARKET_TYPE", "futures"))


def market_types(venue: str) -> tuple[str, ...]:
    """Every market type the simulator serves an account of on ``venue``: its own, and spot
    where its package names a ``SPOT_FACE`` (MEXC's)."""
    own = market_type(venue)
    return (own, "spot") if own != "spot" and sim_venues()[venue].SPOT_FACE is not None else (own,)


def spot_venues() -> tuple[str, ...]:
    """The venues of :data:`VENUES` whose simulated account is a spot one (the demo tells them the
    spot book's story; a futures account's tests leave them out)."""
    return tuple(v for v in VENUES if market_type(v) == "spot")


__all__ = ["VENUES", "face_of", "market_type", "market_types", "sim_account", "spot_venues"]
