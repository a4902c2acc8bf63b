"""The top of the console: the open incidents first, then the standing problems, one line each.

During an incident the on-call reads the top of the page first. What fires comes first there, as
an alert manager lists it: an incidents strip with one row per open stage entry — what entered
(the policy's stage on its scope) and on which triggers that fire now, when, whether somebody
acknowledged it, the reset's approvals so far and its orders — an incident whose closes the venue
refused first (marked on its row: those legs stay open, not sent again), then the highest stage,
then the newest. The runner's standing problems come after it, each as one line whose detail
opens under it, what can lose money first: each is a module of :mod:`.facts`.

What it owns: :func:`strip_rows` (the incidents, ordered, each with the words of its strip row)
and :func:`pages_reach` (whose failed pages a fallback receiver delivered, as ``ksctl status``
says it). The detail of each problem is the
page model's (:mod:`.model`); the acknowledgements come with each incident's notes
(:mod:`.silences_model`), added later, so the template reads them from the incident itself.

Pure: no I/O, no clock, no HTML. Must not say anything the page model did not.
"""

from __future__ import annotations

from typing import Any, Sequence


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


def pages_reach(receivers: Sequence[dict]) -> dict[str, Any]:
    """Where the pages of the failing ``receivers`` (the page model's) went, for the one line of
    PAGES ARE FAILING: each fallback receiver that delivered some of them, whose (``its``,
    ``their``, or the receivers' names) and the latest it delivered (``fallbacks``), and whose
    failed pages no fallback delivered (``unheard``; None: none such)."""
    def whose(names: Sequence[str]) -> str:
        if len(receivers) == 1:
            return "its"
        return "their" if len(names) == len(receivers) else ", ".join(f"{n}'s" for n in names)

    groups: dict[str, list[dict]] = {}
    for r in receivers:
        if r.get("fallback"):  # (its time can be missing: then none is said, never an empty one)
            groups.setdefault(f"{r['document']}/{r['fallback']}", []).append(r)
    unheard = [f"{r['document']}/{r['receiver']}" for r in receivers if r["failures"] and not r.get("fallback")]
    return {"fallbacks": [{"fallback": fb, "whose": whose([f"{r['document']}/{r['receiver']}" for r in rs]),
                           "at": max((r["fallback_at"] for r in rs if r.get("fallback_at")), key=lambda t: t["ms"],
                                     default=None)}
                          for fb, rs in groups.items()],
            "unheard": whose(unheard) if unheard else None}
