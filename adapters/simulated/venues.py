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


__all__ = ["VENUES", "sim_account"]
