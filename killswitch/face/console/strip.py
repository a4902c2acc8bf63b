"""The top of the console: the open incidents first, then the standing problems, one line each.

During an incident the on-call reads the top of the page first. What fires comes first there, as
an alert manager lists it: an incidents strip with one row per open stage entry — what entered
(the policy's stage on its scope) and on which triggers that fire now, when, whether somebody
acknowledged it, the reset's approvals so far and its orders — an incident whose closes the venue
refused first (marked on its row: those legs stay open, not sent again), then the highest stage,
then the newest. The runner's standing problems come after it, each as one line whose detail
opens under it, what can lose money first: each is a standing fact of the status
(:mod:`killswitch.facts`, whose module says its line), and the trading locks of the lock
document (:func:`lock_problem`).

What it owns: :func:`strip_rows` (the incidents, ordered, each with the words of its strip row)
and :func:`problems` (the standing problems, each a :class:`Problem` with what is the page's own
of it: a class more, shown open at first). The detail of each problem, under its line, is
``templates/facts/<kind>.html.j2`` over the page model (:mod:`.model`); the acknowledgements come
with each incident's notes (:mod:`.silences_model`), added later, so the template reads them from
the incident itself. None of the strip, the page model's keys nor the page's template names a
kind of problem.

Pure: no I/O, no clock, no HTML. Must not say anything the page model did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ...facts import SEVERITIES, Fact, When, by_kind, module, names, shown as shown_of

LOCK_RANK = 60  # the trading locks in force: after trading permission at the venue, before the position modes
_MODES = {"halted": 0, "reducing": 1}
# what is the page's own of a problem: a class more (kept for what selects them); shown open at
# first (an operator's lock not in force: read it at once)
HTML: dict[str, dict[str, Any]] = {"locks_stored": {"css": "locks-stored", "opened": True},
                                   "rejected": {"css": "close-rejected"}, "still_open": {"css": "still-open"},
                                   "modes": {"css": "position-modes"}}


@dataclass(frozen=True)
class Problem:
    """One standing problem as the page shows it: ``title: line``, its detail under it."""

    kind: str  # the fact's kind: the details' data-keep ``problem-<kind>`` and its detail template
    rank: int  # where it stands among the problems (lowest first)
    tone: str  # the details' colour: error (red), blind (amber), accepted (dashed)
    title: str  # ``2 ORDERS STILL OPEN AFTER A CANCEL``
    line: str  # what it names, in one line
    css: str = ""  # a class more for the details (kept for what selects them)
    sep: str = ": "  # between the title and the line
    opened: bool = False  # shown open at first
    # each fact's label, since (the console's time), what ends it and its hint: what the detail
    # lists where the kind has no template of its own (facts/_each.html.j2)
    facts: tuple[dict, ...] = ()

    @property
    def keep(self) -> str:
        """The details' ``data-keep`` (the page's script keeps it open across refreshes by it)."""
        return "problem-" + self.kind.replace("_", "-")


def problems(facts: Sequence[Fact], when: When, lock: Optional[Problem]) -> dict[str, Problem]:
    """The standing problems, by kind, in rank order: each kind of the facts its module shows,
    and ``lock`` (:func:`lock_problem`)."""
    out = [lock] if lock is not None else []
    for kind, group in by_kind(facts):
        shown = shown_of(kind, group, when)
        if shown is not None:
            tone = min((f.severity for f in group), key=SEVERITIES.index)
            out.append(Problem(kind, module(kind).RANK, tone, shown.title, shown.line, sep=shown.sep,
                               facts=tuple({"label": f.label or f.scope, "since": when(f.since_ms), "ends": f.ends,
                                            "hint": f.hint} for f in group), **HTML.get(kind, {})))
    return {p.kind: p for p in sorted(out, key=lambda p: p.rank)}


def lock_problem(summary: Optional[dict], locks: Sequence[dict]) -> Optional[Problem]:
    """The trading locks in force (the lock document's, which the status does not carry): every
    scope a lock binds, by its binding mode, the most restrictive first, and how many locks are in
    force — never the first scope alone."""
    if not summary:
        return None
    modes: dict[str, list[str]] = {}
    for lk in locks:
        if lk.get("binding", True) and lk["scope"] not in modes.get(lk["mode"], []):
            modes.setdefault(lk["mode"], []).append(lk["scope"])
    if not modes:  # (the summary's own, when no hold is listed)
        modes = {summary["mode"]: [summary["scope"]]}
    said = "; ".join(f"{mode} on {names(sorted(scopes))}" for mode, scopes in
                     sorted(modes.items(), key=lambda kv: _MODES.get(kv[0], 2)))
    held = f" ({len(locks)} locks in force)" if len(locks) > 1 else ""
    return Problem("lock", LOCK_RANK, "error", "TRADING LOCKED", said + held)


def _check_text(c: dict) -> str:
    return f"{c['signal']} = {c['value']} {c['op']} {c['threshold']}"


def entered_on(firing: Sequence[dict]) -> str:
    """The triggers of a scope that fire now, with the checks they breach:
    ``deep (dd = 6.1% >= 5%)``; one that fires on a heartbeat never heard (``on_missing_data:
    fire``) as ``silent (bot-a never heard: grace 3m passed without a first beat)``; one that fires
    while no check breaches now (held on missing data, firing on it, or kept firing for a while)
    with why and every check's value and verdict, never its name alone; empty when none fires."""
    out = []
    for t in firing:
        breached = [_check_text(c) for c in t["checks"] if c["breached"]]
        if breached:
            out.append(f"{t['name']} ({'; '.join(breached)})")
        elif [c for c in t["checks"] if c.get("unheard")] and (t.get("reason") or "").endswith("rule=fire"):
            # fires on a source never heard (on_missing_data: fire): said so, as status says it
            out.append(f"{t['name']} ({'; '.join(c['unheard'] for c in t['checks'] if c.get('unheard'))})")
        elif t["checks"]:
            reason = t.get("reason") or ""
            why = ("firing on missing data, " if reason.endswith("rule=fire") else "held, ") + reason if reason \
                else "kept firing"
            said = "; ".join(f"{_check_text(c)}: {c['verdict']}" for c in t["checks"])
            out.append(f"{t['name']} ({why}: {said})")
        else:  # nothing evaluated by this runner yet (a standby): its name
            out.append(t["name"])
    return ", ".join(out)


def strip_rows(incidents: Sequence[dict]) -> list[dict]:
    """The open stage entries as the strip orders them: one with legs the venue refused to close
    first (``refused``), then the highest level, then the newest."""
    return sorted(incidents, key=lambda i: (not i.get("refused"), -(i["level"] or 0),
                                            -((i["since"] or {}).get("ms") or 0), i["id"]))


def refused_legs(incident: str, rejected: Sequence[dict]) -> list[str]:
    """The legs of ``incident`` whose closes the venue refused up to their bound (not sent again,
    not accepted by a person): ``SOL/USDT:USDT SHORT on binanceusdm/sim-hedge``, each once."""
    return list(dict.fromkeys(f"{r['symbol']} {r['leg']} on {r['account']}" for r in rejected
                              if r.get("incident") == incident and r.get("state") == "CLOSE_REJECTED"))
