"""The standing facts: what the runner has now that a person must not miss, a module each,
found by discovery (as the policy kinds are, :mod:`killswitch.policy.kinds`).

A standing fact holds until something ends it: an operator's lock stored while no runner leads,
closes the venue refused, positions a close left open, orders a cancel did not take, lock
violations, trading revoked at the venue, a position mode read apart from the declared one,
pages that reach nobody, blind policies, accounts no policy guards, a failed reload, drift,
degraded streams, policies that match no account, overrides of the limits in force, positions
left open that a person accepted.
Each is a module of this package holding all that is said of it: its :class:`Fact` records, read
from the runner's status values (``facts(status)``: what it stands on, since when, what ends it,
its severity, its sentence as ``ksctl status`` prints it and its hint, the ``ksctl`` command
that ends it), its ``RANK`` (what can lose money first, the configuration's noise last, what a
person accepted last of all) and its one line on the console (:func:`shown`: its ``TITLE``,
counted or not, and its ``LEAD`` before the facts' labels, or its own ``shown(facts, when)``, None where
the console says it elsewhere; ``when`` is the console's own way of writing a time).

The runner's status document carries them as ``facts`` (:func:`standing`); ``ksctl status``
(:func:`status_lines`) and the console's standing problems iterate that list and ask nothing of a
fact's kind. Views that say a fact from other values borrow its module's words: a page its
sentence (:func:`.still_open.still_open_text`, :func:`.residuals.leg_text`,
:func:`.modes.mismatch_text`, :func:`.reload.failed_text`), the start-up log the accounts out of
reach (:mod:`.trading`), the ``PAGES_FAILING`` line a receiver failing
(:func:`.pages.failing_text`), the runbooks an acceptance and its command, the closure report and
the console what a violation came to (:func:`.violations.outcome_text`). A new standing fact, or a
reworded one, is a module here and its test.

Pure: no I/O, no clock; imports nothing of the runner, the faces or the CLI (a contract).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import field
from functools import lru_cache
from itertools import groupby
from types import ModuleType
from typing import Any, Callable, Iterable, NamedTuple, Optional, Sequence

from ..figures import iso
from ..records import record

SEVERITIES = ("error", "blind", "accepted", "notice")  # red, amber, dashed on the console; notice: status only

When = Callable[[Optional[int]], Optional[dict]]  # the console's time: {"clock", "ago", "iso", "ms"}


@record
class Fact:
    """One standing fact as the status document carries it."""

    kind: str  # its module's name
    severity: str  # one of SEVERITIES
    scope: str  # what it stands on: an account, a policy's scope, a receiver, a leg's account
    since_ms: Optional[int]  # since when it stands (None: not known)
    ends: str  # what ends it
    text: str  # what ``ksctl status`` prints of it ("" where status says it in a section of its own)
    hint: str = ""  # the ksctl command that ends it ("" where none does)
    label: str = ""  # how the console's one line names it among the others of its kind
    data: dict = field(default_factory=dict)  # what else its console line reads of it


class Line(NamedTuple):
    """A kind's one line on the console: ``title: line``."""

    title: str
    line: str
    sep: str = ": "


def kind_of(module: str) -> str:
    """A module's kind: its name in this package (``killswitch.facts.still_open`` → ``still_open``)."""
    return module.rsplit(".", 1)[-1]


@lru_cache(maxsize=1)
def modules() -> tuple[ModuleType, ...]:
    """Every module of this package, in rank order; two of one rank are refused."""
    found = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    ranks = [int(m.RANK) for m in found]
    if len(set(ranks)) != len(ranks):
        raise RuntimeError(f"two standing facts share a rank: {sorted((m.RANK, m.__name__) for m in found)}")
    return tuple(sorted(found, key=lambda m: m.RANK))


def module(kind: str) -> ModuleType:
    """The module of ``kind``."""
    return next(m for m in modules() if kind_of(m.__name__) == kind)


def standing(status: Any) -> tuple[Fact, ...]:
    """Every standing fact of the runner's status values (:class:`killswitch.view.RunnerStatus`,
    read by attribute), in rank order."""
    return tuple(f for m in modules() for f in m.facts(status))


def of(status: Any) -> tuple[Fact, ...]:
    """The facts the status document carries; from its fields where it carries none (a runner
    older than the list, or a status made by hand)."""
    return tuple(status.facts) or standing(status)


def by_kind(facts: Iterable[Fact]) -> list[tuple[str, list[Fact]]]:
    """The facts of each kind together, the kinds in rank order."""
    rank = {kind_of(m.__name__): m.RANK for m in modules()}
    known = sorted((f for f in facts if f.kind in rank), key=lambda f: rank[f.kind])
    return [(kind, list(group)) for kind, group in groupby(known, key=lambda f: f.kind)]


def status_lines(facts: Iterable[Fact]) -> list[str]:
    """What ``ksctl status`` prints of the facts, what can lose money first: each one's text
    once (a line that says several facts, a leg refused for two incidents or the receivers that
    fail, is printed once), then a kind's note when its module has one; indented, but for the
    runner's own failures (a module's ``INDENT``)."""
    lines: list[str] = []
    for kind, group in by_kind(facts):
        indent = getattr(module(kind), "INDENT", "  ")
        for text in dict.fromkeys(f.text for f in group if f.text):
            lines += [indent + line for line in text.split("\n")]
        note = getattr(module(kind), "note", None)
        lines += [indent + said for said in ([note(group)] if note else []) if said]
    return lines


def shown(kind: str, facts: Sequence[Fact], when: When) -> Optional[Line]:
    """The console's one line of a kind's facts: its module's ``shown``, else its ``TITLE``
    counted (``("ORDER", "ORDERS", " STILL OPEN AFTER A CANCEL")``) or as it is (``"POSITION
    MODE"``) and its ``LEAD`` before the facts' labels."""
    m = module(kind)
    if hasattr(m, "shown"):
        return m.shown(facts, when)
    title = m.TITLE if isinstance(m.TITLE, str) else counted(len(facts), m.TITLE[0], m.TITLE[1]) + m.TITLE[2]
    return Line(title, m.LEAD + names([f.label for f in facts]))


def names(items: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 2 more``: the first ``shown`` of ``items``, never one alone of many."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def counted(n: int, one: str, many: Optional[str] = None) -> str:
    """``1 ORDER`` / ``3 ORDERS``; ``many`` by default ``one`` and an s (``2 snapshots``)."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def stamp(ms: Optional[int]) -> str:
    """A time as ``ksctl status`` writes it, ``-`` for none."""
    return "-" if ms is None else iso(ms)


def time_of_day(ms: Optional[int], ref_ms: Optional[int]) -> str:
    """``13:00:05Z`` on the day of ``ref_ms`` (the last tick), the whole UTC time on another day."""
    if ms is None:
        return "-"
    full = iso(ms)
    return full[11:] if ref_ms is not None and iso(ref_ms)[:10] == full[:10] else full


__all__ = ["Fact", "Line", "SEVERITIES", "When", "by_kind", "counted", "kind_of", "module", "modules", "names",
           "of", "shown", "stamp", "standing", "status_lines", "time_of_day"]
