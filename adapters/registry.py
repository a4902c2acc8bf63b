"""The venue packages (``adapters/venues/<venue>/``), found by their folders, in registry order.

What it owns
    :func:`venues`, every venue package in the order its ``ORDER`` gives, and :func:`parts`, one
    kind of module of each (its dialect, its REST face or its stream face), imported by the name
    its package declares. A venue package's ``__init__`` is plain data (:data:`FIELDS`, the ones
    it leaves out :data:`DEFAULTS`; see ``adapters/venues/__init__.py``), so finding the venues
    imports nothing else of them.

    The registries read the venues through it: the dialects (``ccxt_exchange/dialects``), the
    simulator's REST faces (``simulated/faces``), its stream faces (``simulated/http.SimServer``)
    and its accounts (``simulated/venues``); the compiler's list of the ids with a dialect is
    the registered dialects' (``killswitch/dialect_tables.py``). A new venue is a new folder:
    no table elsewhere names it.

What it must not do
    import a venue package by name, nor a part nobody asked for: the ccxt adapter loads the
    venues' dialects alone, never the simulator's faces. (The shared adapter code names no venue
    package at all: the ``venue-packages`` contract in pyproject.toml.)
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Optional

PACKAGE = "adapters.venues"
HOME = Path(__file__).resolve().parent / "venues"

# what a venue package's __init__ declares (name: what it is)
FIELDS = {
    "ORDER": "its place in the registries (the dialects read raw answers in this order)",
    "CCXT_IDS": "the ccxt ids its dialect serves: its DIALECT module's DIALECTS, in their order",
    "DIALECT": "the module holding DIALECTS, one Dialect per ccxt id",
    "SIM_ID": "the ccxt id the simulated exchange answers as, or None",
    "NAME": "the venue as people name it (ksctl demo says it)",
    "FACE": "the simulator's REST face: PREFIXES, handle(server, request), sim_account(server, account, **fields), "
            "MASTER (its master account's endpoints, where it has them)",
    "STREAM_FACE": "the simulator's websocket face: stream_face(server, **options), or None",
    "SPOT_FACE": "the simulator's face of the venue's spot account where FACE serves its futures (its "
                 "sim_account), or None",
}
# what a package that leaves a field out declares (SIM_ID: its one ccxt id; a package of several names it)
DEFAULTS = {"DIALECT": "dialect", "FACE": "face", "STREAM_FACE": None, "SPOT_FACE": None}


class Part(NamedTuple):
    """One module of one venue: the venue's folder name, its package and the module."""

    venue: str
    package: ModuleType
    module: ModuleType


def folder_names(home: Path = HOME) -> tuple[str, ...]:
    """The venue folders (a package each), by name; nothing is imported."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(home)]) if m.ispkg))


@functools.cache
def venues() -> tuple[ModuleType, ...]:
    """Every venue package, in registry order (its ``ORDER``; two with the same ``ORDER`` are an error)."""
    found = [importlib.import_module(f"{PACKAGE}.{name}") for name in folder_names()]
    for pkg in found:
        # the defaults written into the package once, so that every reader finds each field on it
        defaults = {**DEFAULTS, **({"SIM_ID": pkg.CCXT_IDS[0]} if len(getattr(pkg, "CCXT_IDS", ())) == 1 else {}),
                    "NAME": pkg.__name__.rsplit(".", 1)[1]}
        for f, value in defaults.items():
            if not hasattr(pkg, f):
                setattr(pkg, f, value)
        missing = [f for f in FIELDS if not hasattr(pkg, f)]
        if missing:
            raise ImportError(f"{pkg.__name__} does not declare {', '.join(missing)} (adapters/registry.py: FIELDS)")
    orders = [pkg.ORDER for pkg in found]
    if len(set(orders)) != len(orders):
        raise ImportError(f"two venue packages declare the same ORDER: {sorted(orders)}")
    return tuple(sorted(found, key=lambda pkg: pkg.ORDER))


def parts(field: str) -> tuple[Part, ...]:
    """The module each venue names in ``field`` (``DIALECT``, ``FACE`` or ``STREAM_FACE``), in
    registry order; a venue that names none (None) has no part of that kind."""
    if field not in ("DIALECT", "FACE", "STREAM_FACE"):
        raise ValueError(f"no part {field!r}: DIALECT, FACE or STREAM_FACE")
    out = []
    for pkg in venues():
        name: Optional[str] = getattr(pkg, field)
        if name is not None:
            module = importlib.import_module(f"{pkg.__name__}.{name}")
            out.append(Part(pkg.__name__.rsplit(".", 1)[1], pkg, module))
    return tuple(out)


def sim_venues() -> dict[str, Any]:
    """The ccxt id the simulated exchange answers as → that venue's package, in registry order."""
    return {pkg.SIM_ID: pkg for pkg in venues() if pkg.SIM_ID is not None}


def dialect_ids() -> tuple[str, ...]:
    """Every venue's ``CCXT_IDS``, sorted: read from the packages' data, no dialect imported."""
    return tuple(sorted(i for pkg in venues() for i in pkg.CCXT_IDS))


__all__ = ["DEFAULTS", "FIELDS", "HOME", "PACKAGE", "Part", "dialect_ids", "folder_names", "parts", "sim_venues",
           "venues"]
