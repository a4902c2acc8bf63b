"""What the compiler reads of the venues' dialects, found at run time: their REST weights and limits
(KS230-KS232), rate tiers (KS225), where each arms no countdown and why (KS262), and the ccxt ids
with a dialect of their own (KS222).

What it owns
    :func:`tables`, the rows every registered dialect declares (:data:`TABLES` names the tables;
    their columns are named where they are written: ``adapters/ccxt_exchange/declared.py``),
    from the one provider an installed distribution declares in the entry-point group
    :data:`GROUP` (this project's: ``adapters.ccxt_exchange.declared:tables``, pyproject.toml),
    and the cache of them. The compiler must not import the adapters (the ``core-above``
    contract): it is handed their tables through this module, which imports the provider by the
    name its distribution declares. The venues are the dialects': a new venue's folder is found
    by the registry and its rows come with it, with nothing generated or written by hand.

    Loading the dialects costs a ``ksctl validate`` about a third of its time (ccxt's adapter
    code, asyncio, the snapshot types), so the rows are kept in a file of the package's
    ``__pycache__`` (:data:`CACHE`, as Python keeps its bytecode: ignored by git), an entry for
    each place the provider's package was found (another checkout first on the import path has
    its own; :data:`KEEP` at most), with the size and modification time of every module of that
    package and ours the process had imported, of each of their folders, and of the folder the
    provider's distribution is installed in. A validate whose entry is current reads the file
    and stats those: no provider imported, no entry point looked up. A module changed, added or
    removed, a venue's folder added, or a distribution installed beside the provider's reads the
    dialects again and rewrites the entry. Where the file cannot be written (a read-only
    install) every process reads the dialects.

What it must not do
    name a provider or a venue; answer "no venues" when it finds no provider, several, or one
    whose tables are not :data:`TABLES` (it raises :class:`NoVenueTables`, saying which: the
    checks that read them would pass every account unchecked); keep a cached copy once a file
    it was read from changed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

GROUP = "killswitch.venue_tables"

# the tables a provider hands over: rows of plain values, each table's columns named by the
# provider; DIALECT_VENUES is the ccxt ids with a dialect, one a row
TABLES = ("VENUES", "READS", "LIMITS", "ENDPOINT_LIMITS", "SPOT_STREAMS", "RATE_TIERS", "TIER_ENDPOINT_LIMITS",
          "NO_COUNTDOWN", "DIALECT_VENUES")

Tables = Mapping[str, tuple[Any, ...]]
Stamps = dict[str, tuple[int, int]]  # path → (modification time in ns, size)

CACHE = Path(__file__).resolve().parent / "__pycache__" / f"venue_tables.{sys.implementation.cache_tag}.marshal"
# the packages whose modules a provider's rows may depend on: its own (the top of its module's name) and ours
OURS = __name__.split(".")[0]
KEEP = 8  # entries the cache keeps, one for each place the packages were found, the newest last


class NoVenueTables(RuntimeError):
    """No provider of the venues' tables, several, or one whose tables are not :data:`TABLES`."""


Provider = tuple[str, str, str]  # distribution, ``module:function``, the folder its metadata is installed in


def providers() -> list[Provider]:
    """Each entry point of :data:`GROUP` installed."""
    from importlib.metadata import entry_points

    return [(ep.dist.name, ep.value, str(ep.dist.locate_file(""))) if ep.dist is not None else ("?", ep.value, "")
            for ep in entry_points(group=GROUP)]


@functools.cache
def tables() -> Tables:
    """The venues' tables, from the cache while it is current, else from the provider."""
    return load(CACHE, providers)


def load(cache: Path, found: Callable[[], list[Provider]]) -> Tables:
    """The tables ``cache`` keeps for the packages as this process finds them, while their stamps
    hold; else read from the one provider ``found`` names (and kept in ``cache`` where it can be)."""
    kept = _read(cache)
    for entry in reversed(kept):
        if all(_origin(top) == origin for top, origin in entry["tops"].items()) and _current(entry["stamps"]):
            return dict(entry["tables"])
    named = found()
    got, top = _provided(named)
    tops = {t: _origin(t) for t in (OURS, top)}
    stamps = _stamps([getattr(m, "__file__", None) for name, m in list(sys.modules.items())
                      if name.split(".")[0] in tops], [where for _, _, where in named])
    # the others' entries kept (another checkout's, found first on another process's import path)
    entries = [*(e for e in kept if e["tops"] != tops)][-(KEEP - 1):] + [{"tops": tops, "stamps": stamps,
                                                                          "tables": dict(got)}]
    try:
        cache.parent.mkdir(exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}")
        partial.write_bytes(marshal.dumps(entries))
        os.replace(partial, cache)  # whole or not at all: another process may read it meanwhile
    except OSError:
        pass  # a read-only install: each process reads the dialects (the module docstring)
    return got


def _provided(found: list[Provider]) -> tuple[Tables, str]:
    """The tables of the one provider in ``found`` and the top package of its module."""
    if len(found) != 1:
        said = "none" if not found else ", ".join(f"{value} ({dist})" for dist, value, _ in found)
        raise NoVenueTables(
            f"the venues' tables need one provider in the entry-point group {GROUP}, found {said}: "
            "install the package (pip install -e . in a checkout, which make venv does)")
    module, _, function = found[0][1].partition(":")
    got = getattr(importlib.import_module(module), function)()
    if not isinstance(got, Mapping) or sorted(got) != sorted(TABLES):
        what = f"the tables {', '.join(sorted(got))}" if isinstance(got, Mapping) else f"a {type(got).__name__}"
        raise NoVenueTables(f"{found[0][1]} hands {what}, not the tables {', '.join(TABLES)}")
    return {name: tuple(got[name]) for name in TABLES}, module.split(".")[0]


def _read(cache: Path) -> list[dict[str, Any]]:
    """The entries ``cache`` keeps, the newest last (none where it is missing or unreadable)."""
    try:
        kept = marshal.loads(cache.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return []
    if not isinstance(kept, list):
        return []
    return [e for e in kept if isinstance(e, dict) and {"tops", "stamps", "tables"} <= set(e)]


def _origin(top: str) -> Optional[str]:
    """Where the import system finds the top-level package ``top`` (its ``__init__``), importing nothing."""
    spec = importlib.util.find_spec(top)
    return spec.origin if spec is not None else None


def _stamps(files: Sequence[Optional[str]], installed: Sequence[str]) -> Stamps:
    """The stamp of each module's file and of its folder (a file or a venue's folder added there
    changes the folder's), and of each folder a provider is ``installed`` in (a package installed
    or removed there changes it)."""
    out: Stamps = {}
    for path in [p for f in files if f for p in (f, os.path.dirname(f))] + [i for i in installed if i]:
        try:
            st = os.stat(path)
        except OSError:  # removed since it was imported: its folder says so
            continue
        out[path] = (st.st_mtime_ns, st.st_size)
    return out


def _current(stamps: Stamps) -> bool:
    """Whether every path of ``stamps`` is as it was."""
    try:
        return all((st.st_mtime_ns, st.st_size) == stamp for path, stamp in stamps.items() for st in (os.stat(path),))
    except OSError:
        return False


__all__ = ["CACHE", "GROUP", "TABLES", "NoVenueTables", "Provider", "Tables", "load", "providers", "tables"]
