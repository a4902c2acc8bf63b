"""The top of the console: the open incidents first, then the standing problems, one line each.

During an incident the on-call reads the top of the page first. What fires comes first there, as
an alert manager lists it: an incidents strip with one row per open stage entry — what entered
(the policy's stage on its scope) and on which triggers that fire now, when, whether somebody
acknowledged it, the reset's approvals so far and its orders — an incident whose closes the venue
refused first (marked on its row: those legs stay open, not sent again), then the highest stage,
then the newest. The runner's standing problems come after it, each as one line whose detail
opens under it, what can lose money first (:data:`RANKED`: an operator's lock stored while no
runner leads, refused closes, orders a cancel did not take, lock violations, trading revoked at
the venue, the lock that binds) before what is told and seen (pages that reach nobody, blind
policies, accounts no policy guards) and the configuration's noise (a failed reload, drift,
policies that match no account); positions left open that a person accepted (not an error, but
not to be forgotten) last.

What it owns: :func:`strip_rows` (the incidents, ordered, each with the words of its strip row),
:func:`standing_lines` (each standing problem's one line) and :func:`pages_reach` (whose failed
pages a fallback receiver delivered, as ``ksctl status`` says it). The detail of each problem is the
page model's (:mod:`.model`); the acknowledgements come with each incident's notes
(:mod:`.silences_model`), added later, so the template reads them from the incident itself.

Pure: no I/O, no clock, no HTML. Must not say anything the page model did not.
"""

from __future__ import annotations

from typing import Any, Sequence

from .policy_badge import drift_line


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


# the standing problems as the page lists them: what can lose money first (an operator's halt not
# in force, closes the venue refused, orders a cancel did not take, bots that broke a lock, trading
# permission at the venue, the lock that binds, closes sent in another position mode), then who is
# told and what the policies can see, then the configuration's noise (a failed reload, drift,
# policies that match no account), and last what a person accepted
RANKED = ("locks_stored", "rejected", "still_open", "violations", "trading", "lock", "modes", "pages", "blind",
          "unguarded", "reload", "drift", "streams", "unmatched", "accepted")


def _names(items: Sequence[str], shown: int = 3) -> str:
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def standing_lines(model: dict[str, Any]) -> dict[str, str]:
    """Each standing problem of the page model in one line (its key: the problem's kind), in the
    order the page lists them, what can lose money first (:data:`RANKED`); a problem the runner
    does not have now is absent."""
    out = _what_runs(model)
    if model["pages"]:  # each failing receiver with its own since (another's recovery does not move it)
        pages = model["pages"]
        out["pages"] = _names([f"{r['document']}/{r['receiver']}" + (
            f" failing since {r['since']['clock']} UTC ({r['since']['ago']})" if r["since"] else " failing")
            for r in pages["receivers"]]) + "".join(
            f"; {f['whose']} failed pages go to the fallback {f['fallback']}" + (
                f" (the latest at {f['at']['clock']} UTC ({f['at']['ago']}))" if f["at"] else "")
            for f in pages.get("fallbacks") or ()) + (
            f"; no fallback receiver has delivered {pages['unheard']} pages" if pages.get("unheard") else "")
    if model["streams_degraded"]:
        out["streams"] = "polled over REST: " + _names([s["account"] for s in model["streams_degraded"]])
    if model["summary"]:
        out["lock"] = _locked(model)
    violations = model["violations"]
    if violations["total"]:
        latest = violations["rows"][0] if violations["rows"] else None
        out["violations"] = f"{violations['total']} at the venue" + (
            f", the latest {latest['action']} {latest['symbol']} on {latest['account']}" if latest else "")
    if model["trading"]:
        reached = [t for t in model["trading"] if not t.get("out_of_reach")]
        out["trading"] = "; ".join(([_names([f"{t['title'].lower()} on {t['account']}" for t in reached])]
                                    if reached else []) + [t["out_of_reach"] for t in model["trading"]
                                                           if t.get("out_of_reach")])
    if model.get("close_rejected"):
        out["rejected"] = "not sent again: " + _names(list(dict.fromkeys(  # a leg once, however many incidents
            f"{r['symbol']} {r['leg']} on {r['account']}" for r in model["close_rejected"])))
    out |= _accepted_line(model)
    if model.get("still_open"):
        out["still_open"] = "the venue still lists: " + _names([f"{r['symbol']} {r['side']} {r['amount']} on "
                                                                 f"{r['account']}" for r in model["still_open"]])
    if model.get("mode_mismatches"):
        out["modes"] = "closes follow the venue's mode: " + _names([m["account"] for m in model["mode_mismatches"]])
    return {k: out[k] for k in RANKED if k in out}


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


def _locked(model: dict[str, Any]) -> str:
    """Every scope a lock binds, by its binding mode, the most restrictive first ("halted on a, b;
    reducing on c"), and how many locks are in force: never the first scope alone."""
    rank = {"halted": 0, "reducing": 1}
    modes: dict[str, list[str]] = {}
    for lk in model["locks"]:
        if lk.get("binding", True) and lk["scope"] not in modes.get(lk["mode"], []):
            modes.setdefault(lk["mode"], []).append(lk["scope"])
    if not modes:  # (the summary's own, when no hold is listed)
        modes = {model["summary"]["mode"]: [model["summary"]["scope"]]}
    said = "; ".join(f"{mode} on {_names(sorted(scopes))}" for mode, scopes in
                     sorted(modes.items(), key=lambda kv: rank.get(kv[0], 2)))
    held = len(model["locks"])
    return said + (f" ({held} locks in force)" if held > 1 else "")


def _what_runs(model: dict[str, Any]) -> dict[str, str]:
    """The standing problems of what the runner runs and what it watches: the page's first."""
    out: dict[str, str] = {}
    if model.get("locks_stored"):  # an operator's halt not in force yet: first
        out["locks_stored"] = "not in force until a runner leads: " + _names(
            [f"{w['mode']} on {w['scope']}" + (f" by {w['by']}" if w.get("by") else "") for w in model["locks_stored"]])
    if not model["reload_ok"]:
        out["reload"] = "the last good graph keeps running" + (
            f" (loaded at {model['last_good_reload']['clock']} UTC)" if model["last_good_reload"] else "")
    if (drift := drift_line(model.get("sync"))) is not None:
        out["drift"] = drift
    if model["unmatched"]:
        out["unmatched"] = ("it protects nothing: " if len(model["unmatched"]) == 1 else "they protect nothing: ") \
            + _names([c["policy"] for c in model["unmatched"]])
    if model.get("unguarded"):
        out["unguarded"] = "no policy's scope selects " + _names(model["unguarded"])
    if model["blind"]:
        out["blind"] = _names([f"{c['policy']} on {c['scope']}" + (" (partly)" if c.get("partly") else "")
                               for c in model["blind"]])
    return out


def _accepted_line(model: dict[str, Any]) -> dict[str, str]:
    """The residuals whose refused close a person accepted, in one line (``accepted``; empty:
    none): not an error, shown so that a position left open on purpose stays on the first screen."""
    accepted = [r for r in model.get("residuals") or () if r.get("accepted")]
    if not accepted:
        return {}
    return {"accepted": "by " + ", ".join(sorted({r["accepted_by"] for r in accepted})) + ": " + _names(
        [f"{r['symbol']} {r['leg']} {r['amount']}" + (f" ({r['short']})" if r.get("short") else "")
         + f" on {r['account']}" for r in accepted])}
