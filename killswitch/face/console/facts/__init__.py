"""The console's standing problems, one module each, found by discovery.

A standing problem is what the runner has now and the on-call must not miss under the incidents
strip: an operator's lock stored while no runner leads, closes the venue refused, orders a cancel
did not take, lock violations, trading revoked at the venue, the lock that binds, a position mode
read apart from the declared one, pages that reach nobody, blind policies, accounts no policy
guards, a failed reload, drift, degraded streams, policies that match no account, positions left
open that a person accepted. Each is a module of this package holding what the page says of it:
its rank (what can lose money first, the configuration's noise last, what a person accepted
last of all), its tone, its title, its one line, and a function that finds it in the page model
(:mod:`..model`) or answers None when the runner does not have it. Its detail under the line,
when it has one, is ``templates/facts/<kind>.html.j2``.

What it owns: :class:`Fact` and :func:`facts_of` (every module's fact, in rank order). A new
standing problem is a module here (and its detail template, and its test); none of the strip, the
page model's keys nor the page's template names it.

Pure: no I/O, no clock, no HTML (the template escapes what it is given). Must not say anything
the page model did not.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional, Sequence

TONES = ("error", "blind", "accepted")  # the details' colours: red, amber, dashed


@dataclass(frozen=True)
class Fact:
    """One standing problem as the page shows it: ``title: line``, its detail under it."""

    kind: str  # the module's name: the details' data-keep ``problem-<kind>`` and its detail template
    rank: int  # where it stands among the problems (lowest first)
    tone: str  # one of TONES
    title: str  # ``2 ORDERS STILL OPEN AFTER A CANCEL``
    line: str  # what it names, in one line
    css: str = ""  # a class more for the details (kept for what selects them)
    sep: str = ": "  # between the title and the line
    opened: bool = False  # shown open at first (an operator's lock not in force: read it at once)

    @property
    def keep(self) -> str:
        """The details' ``data-keep`` (the page's script keeps it open across refreshes by it)."""
        return "problem-" + self.kind.replace("_", "-")


Finder = Callable[[dict], Optional[Fact]]


@lru_cache(maxsize=1)
def finders() -> tuple[tuple[int, str, Finder], ...]:
    """Every module of this package's ``(RANK, kind, fact)``, in rank order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append((int(module.RANK), info.name, module.fact))
    ranks = [r for r, _, _ in found]
    if len(set(ranks)) != len(ranks):
        raise RuntimeError(f"two standing problems share a rank: {sorted(found, key=lambda x: x[0])}")
    return tuple(sorted(found, key=lambda x: x[0]))


def facts_of(page: dict) -> dict[str, Fact]:
    """Every standing problem the page model has now, by kind, in rank order."""
    out = {}
    for _, kind, find in finders():
        fact = find(page)
        if fact is not None:
            out[kind] = fact
    return out


def names(items: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 2 more``: the first ``shown`` of ``items``, never one alone of many."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def counted(n: int, one: str, many: str) -> str:
    """``1 ORDER`` / ``3 ORDERS``."""
    return f"{n} {one if n == 1 else many}"


def make(module: str, tone: str, title: str, line: str, **kw: Any) -> Fact:
    """The fact of module ``module`` (its ``__name__``): its kind and rank from it."""
    import sys

    kind = module.rsplit(".", 1)[-1]
    return Fact(kind, int(sys.modules[module].RANK), tone, title, line, **kw)


__all__ = ["Fact", "TONES", "counted", "facts_of", "finders", "make", "names"]
