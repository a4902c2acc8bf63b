"""Runbook formats: the HTML page around a runbook, and the plain runbook used when no
template, not even the built-in one (:mod:`killswitch.runbooks.builtin`), can render an
incident. The markdown → HTML converter is :mod:`killswitch.markdown` (re-exported here as
``inline`` and ``markdown_html``), shared with the runner's console.

Pure: no I/O.
"""

from __future__ import annotations

import html
from typing import Optional

from ..markdown import inline, markdown_html
from ..silences import INCIDENT_ENDED
from ..sources import revision_text

__all__ = ["STYLE", "fallback_markdown", "story_lines", "html_page", "inline", "markdown_html", "runbook_title"]

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:1.6em;border-bottom:2px solid #d0342c;padding-bottom:.3em}
h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:4px}
code{padding:.1em .3em}pre{padding:10px 12px;overflow-x:auto}pre code{padding:0;background:none}
table{border-collapse:collapse;margin:.6em 0;max-width:100%}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td code{word-break:break-all}
th{background:#f6f8fa}blockquote{margin:.8em 0;padding:.4em 1em;border-left:4px solid #d0342c;background:#fff5f5}
li.task{list-style:none}li.task input{margin-right:.5em}
""".strip()


def html_page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` (already HTML); ``title`` is escaped."""
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n"
            f"{body}</main>\n</body>\n</html>\n")


def runbook_title(incident: dict) -> str:
    stage = incident.get("stage") or {}
    return (f"Runbook: {incident.get('policy', {}).get('name', '?')} {incident.get('scope', '?')} "
            f"stage {stage.get('level', '?')} {stage.get('name') or ''}").rstrip()


# --- the runbook without a template ------------------------------------------------------------


def _v(x: object) -> str:
    return "-" if x is None else str(x)


def story_lines(incident: dict) -> list[str]:
    """The banners of what became of the incident since its entry (its ``story``,
    killswitch/runbooks/story.py): ended, removed by a reload, pages held back by a silence."""
    story = incident.get("story") or {}
    out = []
    if story.get("ended"):
        out += [f"> **ENDED**: {story['ended'].get('text')}. This incident no longer holds "
                f"{_v(incident.get('scope'))}.", ""]
    if story.get("removed"):
        removed = story["removed"]
        out += [f"> **REMOVED BY {str(removed.get('by')).upper()}** at {removed.get('at')} (kept until reset)", ""]
    pages = story.get("pages") or {}
    for s in pages.get("silences") or []:
        who = f" ({s.get('by')}: {s.get('comment')})" if s.get("by") else ""
        held = f": it held back {s['held_text']}" if s.get("held_text") else ""
        if s.get("over"):  # its real end: with the incident, an expiry, or its own
            how = ", ended with the incident" if s.get("expired_by") == INCIDENT_ENDED else \
                f", expired by {s['expired_by']}" if s.get("expired_by") else ""
            out += [f"> **PAGES WERE SILENCED** by {s.get('id')}{who}, until {s.get('ends')}{how}{held}", ""]
        else:
            out += [f"> **PAGES SILENCED** by {s.get('id')}{who}, ends {s.get('ends') or 'unknown'}{held}", ""]
    return out


def _lock_line(incident: dict, lock: dict) -> str:
    """The lock that binds, who holds it and, when another's binds, the stage's own beside it; as
    of when (at entry, once the incident ended, unless read again while it was open); every
    other hold on the scope and the revokes of its accounts' keys."""
    own = lock.get("own", True)  # not its own (an operator's): the incident's end does not lift it
    ended = bool((incident.get("story") or {}).get("ended"))
    until_end = (" until the incident ended" if own else "") if lock.get("locked") and ended else ""
    by = f" by {lock['by']}, {lock.get('until')}" if lock.get("locked") and lock.get("by") and not own else ""
    if by and lock.get("stage_lock"):
        by += f" (the stage's own lock: {lock['stage_lock']})"
    when = lock.get("as_of") or incident.get("created")
    when = (f"as of {when}, while the incident was open" if lock.get("refreshed") else f"at entry, {when}") \
        if ended else f"as of {when}"
    if lock.get("locked") and own and not ended:
        by += "; a reset of this stage lifts it"
    out = [f"- {'LOCKED ' + str(lock.get('mode')) if lock.get('locked') else 'not locked'}{by}{until_end} ({when}): "
           f"`{_v(lock.get('reason'))}`"]
    out += [f"- also holds {incident.get('scope')}: {o}" for o in lock.get("others") or ()]
    for r in lock.get("revokes") or ():
        keys = f" (keys {', '.join(r['key_ids'])})" if r.get("key_ids") else ""
        out.append(f"- keys revoked on {r.get('account')}: {r.get('shown')}{keys}; "
                   f"held by {'; '.join(r.get('held_by') or ()) or 'nothing (restore owed)'}")
    return "\n".join(out)


def fallback_markdown(incident: dict, problems: Optional[list[str]] = None) -> str:
    """The runbook when no template could render the incident, not even the built-in one: the
    same facts, plainly.

    Written without a template engine on purpose: it must work when templates do not."""
    pol = incident.get("policy") or {}
    graph = incident.get("graph") or {}
    lock = incident.get("lock") or {}
    cmds = incident.get("commands") or {}
    acts = incident.get("actions") or {}
    out = [f"# {runbook_title(incident)}", ""]
    if problems:
        out += ["> The runbook template could not be used; this is the built-in runbook.", ">"]
        out += [f"> - `{p}`" for p in problems]
        out.append("")
    if incident.get("dry_run"):
        out += ["> **DRY RUN**: nothing was sent to any exchange.", ""]
    out += story_lines(incident)
    acks = incident.get("acknowledgements") or ([incident["acknowledged"]] if incident.get("acknowledged") else [])
    for ack in acks:
        note = f": {ack.get('comment')}" if ack.get("comment") else ""
        out += [f"> **ACKNOWLEDGED** by {_v(ack.get('by'))} at {_v(ack.get('at'))}{note}", ""]
    out += [f"- incident: `{_v(incident.get('incident'))}`",
            f"- at: {_v(incident.get('created'))}",
            f"- policy: `{_v(pol.get('name'))}` (owner {_v(pol.get('owner'))}, {_v(pol.get('source'))})",
            f"- graph: `{_v(graph.get('digest'))}` revision `{revision_text(graph.get('revision'))}`",
            f"- reason: `{_v(incident.get('reason'))}`", "", "## What fired", ""]
    for t in incident.get("fired") or []:
        out.append(f"- trigger `{t.get('name')}`: `{t.get('when')}`")
        for c in t.get("checks") or []:
            out.append(f"  - `{c.get('signal')}` = {c.get('value_text')} ({c.get('op')} {c.get('threshold')})")
    out += ["", "## What was done", ""]
    for o in acts.get("orders") or []:
        out.append(f"- {o.get('side')} {o.get('amount')} {o.get('symbol')} on {o.get('venue')}/{o.get('account')}: "
                   f"**{o.get('status')}**" + (f" `{o.get('code')}`" if o.get("code") else "")
                   + (f": {o.get('detail')}" if o.get("detail") else ""))
    for d in acts.get("directives") or []:
        out.append(f"- {d.get('text')}")
    if not (acts.get("orders") or acts.get("directives")):
        out.append("- no order and no directive")
    out += ["", "## Positions left", ""]
    for p in incident.get("positions") or []:
        out.append(f"- {p.get('account')} {p.get('symbol')} {p.get('side')} {p.get('contracts')} "
                   f"(≈{p.get('notional_text')})")
    if not incident.get("positions"):
        out.append("- none in the last snapshot")
    for r in incident.get("residuals") or []:  # what the runner stopped closing, and why (the venue's words)
        out.append(f"- residual {r.get('account')} {r.get('symbol')} {r.get('side')} {r.get('amount_text')}"
                   + (f" ({r['short']})" if r.get("short") else "") + ": "
                   f"`{r.get('why')}` {r.get('detail')}"
                   + (f"; not sent again: `{r['accept']}`" if r.get("accept") else "")
                   + (f"; not sent again, left open, {r['accepted']}" if r.get("accepted") else ""))
    for r in incident.get("still_open") or []:  # what its cancels did not take: the venue still lists it
        out.append(f"- order still open {r.get('account')} {r.get('symbol')} {r.get('side')} {r.get('amount_text')} "
                   f"order `{r.get('order_id')}`: {r.get('said')}")
    out += ["", "## Trading lock", "", _lock_line(incident, lock), "", "## Commands", "", "```sh"]
    ended_by = (incident.get("story") or {}).get("ended")
    stage = incident.get("stage") or {}
    by_itself = bool(stage) and not stage.get("manual")  # a stage that leaves when its triggers stop
    out += [cmd for k in ("status", "history", "audit_verify", "reset") if (cmd := cmds.get(k))
            and not (k == "reset" and (ended_by or by_itself))]  # nothing to reset: ended, or leaves by itself
    if ended_by:
        out.append(f"# no reset: this incident has ended ({ended_by.get('text')})")
    elif by_itself:
        out.append(f"# no reset: stage {stage.get('level')} leaves by itself once its triggers stop firing")
    out += ["```", "", "## After closure", "",
            "- [ ] positions confirmed closed at the exchange", "- [ ] exchange reconciliation done",
            "- [ ] PnL recorded", "- [ ] notifications delivered", "- [ ] audit trail verified (`ksctl audit verify`)",
            "- [ ] root cause written down", "- [ ] resumption plan with reduced limits agreed", ""]
    return "\n".join(out)
