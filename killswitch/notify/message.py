"""The text of a notification: what happened, in which mode, and where the runbook is.

A notification carries the firing alerts of one group. The title names the most important new
one; the body gives each new alert in full (policy, scope, stage from → to, reason, the signal
values, the triggers that fired, orders planned, graph digest and revision, mode) with the two
ways to its runbook: ``ksctl runbook render --incident ID`` and, under the external base URL when
one is given, the console's link (:func:`killswitch.events.console_runbook_path`), which opens
the runbook once a reader's token is typed in (the API path alone would answer a bare link 401).
Alerts the group already notified are listed in one line each.

Labels and event data hold no secret (the runner's contract), and nothing here adds one.

Pure: no I/O, no clock (times come from the events).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Optional, Sequence

from .. import events as ev
from ..facts.modes import mismatch_text
from ..facts.reload import failed_text
from ..facts.residuals import label_of, leg_text
from ..facts.still_open import still_open_text
from ..figures import iso_ms as iso  # (iso: to the millisecond, as the audit trail)
from ..fills import bot_side, revert_side
from ..holds import unreached_text
from ..relatch import relatched_text
from ..sources import revision_text
from .dispatch import SEVERITY_RANK, Alert, Notification

NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}
LABEL_ORDER = ("policy", "scope", "venue", "account", "owner", "stage", "level", "from_level", "reason")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    notify_type: str  # apprise: info | success | warning | failure


def mode_of(alert: Alert) -> str:
    dry = alert.event.data.get("dry_run", alert.extra.get("dry_run"))
    return "unknown" if dry is None else "DRY RUN" if dry else "LIVE"


Labels = Mapping[str, str]
Data = Mapping[str, Any]


def headline(alert: Alert) -> str:
    lab, data, kind = alert.labels, alert.event.data, alert.event.kind
    where = " ".join(x for x in (lab.get("policy"), lab.get("scope")) if x)
    said = _HEADLINES.get(kind)
    if said is not None:
        return said(lab, data, where)
    if kind in (ev.TRADING_REVOKED, ev.TRADING_RESTORED):
        verb = "revoked" if kind == ev.TRADING_REVOKED else "restored"
        how = "read back" if data.get("read_back") else "the venue offers no read"
        keys = data.get("keys")
        named = ", ".join(map(str, keys)) if isinstance(keys, (list, tuple)) and keys else "none named"
        text = f"trading {verb} at the venue for {lab.get('account')} ({how}): keys {named}"
        unreached = data.get("out_of_reach")  # a revoke's: the accounts its scope reached but could not revoke
        if isinstance(unreached, (list, tuple)):
            text += "".join(f"; {unreached_text(str(a))}" for a in unreached)
        asked = data.get("asked_by")  # who asked it (an operator's scope, author and reason)
        if isinstance(asked, (list, tuple)) and asked:
            text += f"; asked by {'; '.join(map(str, asked))}"
        return text
    return f"{kind}{': ' + where if where else ''}"


def _stage_transition(lab: Labels, data: Data, where: str) -> str:
    to = data.get("to", lab.get("level"))
    frm = data.get("from", lab.get("from_level"))
    if str(to) == "0":
        return f"{where}: stage {frm} → 0, re-armed"
    verb = "re-entered" if str(frm) == str(to) else "entered"
    again = ", relatched after a reset" if data.get("continues") else ""  # the incident it continues: below
    return f"{where}: {verb} stage {to} {lab.get('stage', '')}".rstrip() + f" (from {frm}{again})"


def _order_failed(lab: Labels, data: Data, where: str) -> str:  # the venue's own code and message where it refused
    said = data.get("detail")
    return f"order failed on {_account(lab)}: {lab.get('reason', '?')}" + (f": {said}" if said else "")


def _residual(lab: Labels, data: Data) -> SimpleNamespace:
    """A residual as its page's data says it, read as status holds one (:mod:`killswitch.facts.residuals`)."""
    said = {k: data.get(k) for k in ("incident", "symbol", "side", "position_side", "amount", "shortfall", "why",
                                     "detail")}
    return SimpleNamespace(**said, account=_account(lab), accepted=None)


def _scope_blind(lab: Labels, data: Data, where: str) -> str:
    if data.get("partly"):  # some trigger can still fire: say on what
        return f"{where}: {data['partly']} ({lab.get('reason', '?')})"
    return f"{where}: BLIND, cannot act ({lab.get('reason', '?')}): triggers {data.get('triggers', '?')}"


def _lock_violation(lab: Labels, data: Data, where: str) -> str:
    action = data.get("action")
    what = {"cancel": f"{data.get('side', '?')} cancelled",
            "revert": f"{bot_side(data)} brought back by the runner's {revert_side(data)}",
            "none": f"{bot_side(data)} filled under the halt (it reduced: nothing sent back)"}.get(
        str(action), f"{data.get('side', '?')} {action}")
    return (f"lock broken at the venue in {lab.get('scope', '?')} by {named_strategies(_strategies_of(lab, data))}: "
            f"{data.get('account', '?')} {data.get('symbol', '?')} {what}")


STRATEGIES_NAMED = 8  # a headline names this many strategies, then says how many more


def _strategies_of(lab: Labels, data: Data) -> list[str]:
    """A violation's strategies: every one whose fills grew a reverted leg, else its label's."""
    given = data.get("strategies")
    names = [str(n) for n in given] if isinstance(given, (list, tuple)) and given else []
    return names or [str(lab.get("strategy", "?"))]


def named_strategies(names: list[str]) -> str:
    """``strategy alpha``, ``strategies alpha and beta``, ``strategies a, b, … and 3 more``:
    every one up to :data:`STRATEGIES_NAMED`, then how many more."""
    names = list(dict.fromkeys(names))
    if len(names) == 1:
        return f"strategy {names[0]}"
    shown, more = names[:STRATEGIES_NAMED], len(names) - STRATEGIES_NAMED
    if more > 0:
        return f"strategies {', '.join(shown)} and {more} more"
    return f"strategies {', '.join(shown[:-1])} and {shown[-1]}"


def _violations_headline(lead: Alert, pool: list[Alert]) -> Optional[str]:
    """A page of violations (lock or limit) names every strategy of its new alerts in its title,
    not the lead's alone beside ``+1 more``, and how many violations it tells (a bot that went on
    trading: the group's update says the new count): None for one violation of one strategy."""
    kinds = (ev.LOCK_VIOLATION, ev.LIMIT_VIOLATION)
    if lead.event.kind not in kinds:
        return None
    names: list[str] = []
    for a in sorted(pool, key=lambda a: a.event.ts_ms):  # in the order they came
        if a.event.kind in kinds:
            names += _strategies_of(a.labels, a.event.data)
    n = sum(1 for a in pool if a.event.kind in kinds)
    if len(dict.fromkeys(names)) < 2 and n < 2:
        return None
    scopes = list(dict.fromkeys(str(a.labels.get("scope", "?")) for a in pool if a.event.kind in kinds))
    broken = "lock" if lead.event.kind == ev.LOCK_VIOLATION else "pre-trade limit"
    return (f"{broken} broken at the venue in {', '.join(scopes)} by {named_strategies(names)}: "
            f"{n} violation(s)")


def _residuals_headline(lead: Alert, pool: list[Alert]) -> Optional[str]:
    """A page of positions left open names every leg in its title (a hedge's two legs refused
    together: the 80 ETH short beside the 30 ETH long, never one of them and ``+1 more``); None
    when one leg is left open."""
    if lead.event.kind != ev.CLOSE_RESIDUAL:
        return None
    left = [a for a in sorted(pool, key=lambda a: a.event.ts_ms) if a.event.kind == ev.CLOSE_RESIDUAL]
    if len(left) < 2:
        return None
    legs = [label_of(_residual(a.labels, a.event.data)) for a in left]
    return f"{len(left)} legs left open, no longer closed: {'; '.join(legs)}"


# each kind's headline from its labels, its data and where it happened (policy and scope)
_HEADLINES: dict[str, Callable[[Labels, Data, str], str]] = {
    ev.STAGE_TRANSITION: _stage_transition,
    ev.ORDER_FAILED: _order_failed,
    ev.POSITION_MODE_MISMATCH: lambda lab, data, where: mismatch_text(
        _account(lab), data.get("detail", "POSITION_MODE_MISMATCH")),
    ev.POSITION_MODE_MATCHED: lambda lab, data, where: (
        f"{_account(lab)}: {data.get('detail', 'the position mode matches')}"),
    ev.CLOSE_RETRIES_EXHAUSTED: lambda lab, data, where: f"{where}: closes still unfilled after every retry",
    ev.CLOSE_RESIDUAL: lambda lab, data, where: leg_text([_residual(lab, data)]),
    ev.ORDER_STILL_OPEN: lambda lab, data, where: still_open_text({"account": _account(lab), **data}),
    ev.POLICY_RELOAD_FAILED: lambda lab, data, where: failed_text(str(data.get("error") or "").split("\n")[0]),
    ev.RESET: lambda lab, data, where: f"{where}: reset approval ({data.get('result', '?')})",
    ev.MANUAL_CLOSE: lambda lab, data, where: f"manual close of {lab.get('scope')} queued",
    ev.LOAD_SHED: lambda lab, data, where: (f"runner {lab.get('holder', '?')} under load: "
                                            + (data.get("shed") or "every cadence as configured again")),
    ev.DEPOSED: lambda lab, data, where: f"runner {lab.get('holder', '?')} lost the lease and stopped acting",
    ev.SNAPSHOT_FAILED: lambda lab, data, where: f"no snapshot from {_account(lab)}: {lab.get('reason', '?')}",
    ev.SCOPE_BLIND: _scope_blind,
    ev.POLICY_UNMATCHED: lambda lab, data, where: (
        f"policy {lab.get('policy')} is OFF: its scope ({data.get('selector', '?')}) selects no account"),
    ev.REVOKE_FAILED: lambda lab, data, where: (
        f"{data.get('want_text', 'revoke')} of trading at the venue FAILED for {lab.get('account')}: "
        f"{data.get('code', '?')}: {data.get('message', '?')}; retried, not revoked until confirmed"),
    ev.LOCK_VIOLATION: _lock_violation,
    ev.LIMIT_VIOLATION: lambda lab, data, where: (
        f"pre-trade limit broken at the venue in {lab.get('scope', '?')} by strategy "
        f"{lab.get('strategy', '?')}: {data.get('account', '?')} {data.get('symbol', '?')} "
        f"{data.get('side', '?')} cancelled ({str(data.get('reason', '?')).split(' [', 1)[0]})"),
    ev.DMS_FIRED: lambda lab, data, where: f"dead man's switch fired{': ' + where if where else ''}",
    ev.DMS_NATIVE_LAPSED: lambda lab, data, where: (
        f"{_account(lab)}: the venue's cancel-all-after lapsed at {data.get('lapsed_at', '?')} with no refresh: "
        "the venue may have cancelled every open order of the account (the bots' reduce-only and "
        "take-profit orders too); armed again"),
}


def _account(lab: Labels) -> str:
    """The account a page names: its ``account`` label is the account's key (venue/account); an
    alert saved before it was carries the bare name beside its ``venue``."""
    account = str(lab.get("account"))
    return account if "/" in account else f"{lab.get('venue')}/{account}"


def _value(v: object, vtype: Optional[str]) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, (int, float)):
        if vtype == "ratio":
            return f"{v * 100:.2f}%"
        if vtype == "duration":
            return f"{v:g}s"
        return f"{v:g}"
    return str(v)


def _signals(alert: Alert) -> str:
    types = alert.extra.get("signal_types") or {}
    parts = []
    for s in alert.event.data.get("signals") or []:
        shown = _value(s.get("value"), types.get(s.get("name")))
        if s.get("reason"):
            shown += f" ({s['reason']})"
        parts.append(f"{s.get('name')}={shown}")
    return ", ".join(parts)


def runbook_lines(incident: str, external_url: Optional[str]) -> list[str]:
    if incident.startswith("manual/"):  # an operator's close: no stage entered, so no runbook is rendered
        return [f"  manual close {incident}: no runbook (an operator's close); its orders: ksctl status, "
                "the console's incident, and ksctl report (Operator actions)"]
    lines = [f"  runbook: ksctl runbook render --incident {shlex.quote(incident)}"]
    if external_url:  # the console: it reads the runbook with the reader's token typed into it
        lines.append(f"           {external_url.rstrip('/')}{ev.console_runbook_path(incident)}")
    else:
        lines.append(f"           API path {ev.runbook_path(incident)} on the runner")
    return lines


def detail(alert: Alert, external_url: Optional[str], group: Optional[str] = None) -> list[str]:
    """An alert in full. ``group``: the severity of the page it is in (its group's), which its
    first line carries as the page's title does; the alert's own, when lower, is said under it."""
    lab, data = alert.labels, alert.event.data
    sev = group or alert.severity
    lines = [f"{sev.upper()} {headline(alert)}", f"  at: {iso(alert.event.ts_ms)}   mode: {mode_of(alert)}"]
    if sev != alert.severity:
        lines.append(f"  this notice: {alert.severity} (the page carries its group's severity, {sev})")
    shown = [f"{k}={lab[k]}" for k in LABEL_ORDER if lab.get(k)]
    shown += [f"{k}={v}" for k, v in sorted(lab.items()) if k not in LABEL_ORDER and k not in ("event", "severity")]
    lines.append("  labels: " + " ".join(shown))
    if alert.event.kind == ev.STAGE_TRANSITION:
        if data.get("continues"):  # the flatten a reset released, its orders and who had it
            lines.append(f"  relatched {relatched_text(data['continues'])}")
        if data.get("reason"):
            lines.append(f"  reason: {data['reason']}")
        sig = _signals(alert)
        if sig:
            lines.append(f"  signals: {sig}")
        if data.get("triggers"):
            lines.append("  triggers firing: " + ", ".join(map(str, data["triggers"])))
        if data.get("orders") is not None:
            sent = " (dry run: none sent)" if data.get("dry_run") else ""
            lines.append(f"  orders planned: {data['orders']}{sent}")
        if data.get("graph_digest"):
            lines.append(f"  graph: {data['graph_digest']} revision {revision_text(data.get('revision'))}")
    else:
        for k, v in sorted(data.items()):
            if isinstance(v, (str, int, float, bool)) or v is None:
                lines.append(f"  {k}: {v}")
    if alert.superseded:  # left for another stage: what ended it, never taken for a stage that holds
        lines.append(f"  ended: {ended_text(alert)}")
    if data.get("incident"):
        lines += runbook_lines(str(data["incident"]), external_url)
    return lines


def ended_text(alert: Alert) -> str:
    """What ended a stage entry left for another stage: ``escalated to stage 3 flatten``."""
    return alert.superseded_why or "left for another stage"


def earlier_line(alert: Alert) -> str:
    """An alert a page lists in one line; a stage entry left for another stage says what ended it."""
    line = f"  {alert.severity.upper()} {headline(alert)} at {iso(alert.event.ts_ms)}"
    return line + (f" (ended: {ended_text(alert)})" if alert.superseded else "")


def still_firing(alert: Alert) -> bool:
    """Whether a resolved notice lists ``alert`` as still firing: not a stage entry its scope
    left (escalated, reset: :attr:`~.alerts.Alert.released`), nor a reset's own notice."""
    return not alert.released and alert.event.kind != ev.RESET


def resolved_headline(alert: Alert) -> str:
    """What ended: a stage entry whose scope is back at level 0, or a fault no longer reported."""
    lab = alert.labels
    if alert.event.kind == ev.STAGE_TRANSITION:
        where = " ".join(x for x in (lab.get("policy"), lab.get("scope")) if x)
        stage = f"stage {lab.get('level', '?')} {lab.get('stage', '')}".rstrip()
        return f"{where}: {stage} is over, {alert.resolved_why or 'back at level 0'}"
    return f"{headline(alert)}: {alert.resolved_why or 'no longer reported'}"


def resolved_lines(alert: Alert, external_url: Optional[str]) -> list[str]:
    lines = [f"RESOLVED {resolved_headline(alert)}",
             f"  was: {alert.severity.upper()} {headline(alert)} at {iso(alert.event.ts_ms)}"]
    if alert.resolved_ms is not None:
        lines.append(f"  resolved at: {iso(alert.resolved_ms)}   mode: {mode_of(alert)}")
    if alert.event.data.get("incident"):
        lines += runbook_lines(str(alert.event.data["incident"]), external_url)
    return lines


def compose(n: Notification, external_url: Optional[str] = None) -> Message:
    new = [a for a in n.alerts if a.fp in n.new]
    if n.resolved and all(a.severity == "info" for a in new):
        return _compose_resolved(n, new, external_url)  # the news is the end (a reset notice comes with it)
    earlier = [a for a in n.alerts if a.fp not in n.new]
    lead_pool = new or list(n.alerts)
    lead = max(_leaders(lead_pool), key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.event.kind in LEADS,
                                                   a.event.ts_ms))
    dry = any(mode_of(a) == "DRY RUN" for a in n.alerts)
    more = len(lead_pool) - 1
    several = _violations_headline(lead, lead_pool)  # every strategy named, none hidden in "+1 more"
    legs = None if several else _residuals_headline(lead, lead_pool)  # every leg left open named
    title = f"[{n.severity.upper()}]" + (" [DRY RUN]" if dry else "") + f" {several or legs or headline(lead)}"
    others = sum(1 for a in lead_pool if a.event.kind not in (ev.LOCK_VIOLATION, ev.LIMIT_VIOLATION)) \
        if several else sum(1 for a in lead_pool if a.event.kind != ev.CLOSE_RESIDUAL) if legs else more
    if others > 0:  # what the others are, when another kind of news rides along (never hidden behind "+1")
        kinds = list(dict.fromkeys(a.event.kind.replace("_", " ") for a in lead_pool
                                   if a is not lead and a.event.kind != lead.event.kind))
        title += f" (+{others} more" + (f": {', '.join(kinds[:3])}" + (", …" if len(kinds) > 3 else "")
                                        if kinds else "") + ")"
    if n.repeat:
        title += " (reminder: still active)"
    body = _each(new, lambda a: detail(a, external_url, n.severity))
    if n.repeat:
        body += [f"Still active ({len(earlier)}), nothing new since the last notification:",
                 *_each(earlier, lambda a: detail(a, external_url, n.severity), ordered=False)]
    elif earlier:
        body += ["Earlier in this group:", *(earlier_line(a) for a in earlier), ""]
    if n.resolved:
        body += ["Resolved since the last notification:", *(f"  RESOLVED {resolved_headline(a)}" for a in n.resolved),
                 ""]
    if n.muted:
        body.append(f"{n.muted} notice(s) of this group muted by inhibit rules.")
    return Message(title, _closed(body, n), NOTIFY_TYPES.get(n.severity, "warning"))


def _each(alerts: Sequence[Alert], lines: Callable[[Alert], list[str]], ordered: bool = True) -> list[str]:
    return [line for a in (sorted(alerts, key=lambda a: a.event.ts_ms) if ordered else alerts)
            for line in (*lines(a), "")]


def _closed(body: list[str], n: Notification) -> str:
    return "\n".join([*body, f"group {n.group_key} · receiver {n.receiver} via {n.route} · dedup {n.dedup_key}"]
                     ).rstrip() + "\n"


# at the same severity, what changes whether an account may trade leads a page over what
# happened inside it (an order failed, a close queued): a restore is never "+1 more" of a
# rejection on another account
LEADS = frozenset({ev.STAGE_TRANSITION, ev.LOCK_VIOLATION, ev.LIMIT_VIOLATION, ev.TRADING_REVOKED,
                   ev.TRADING_RESTORED})
_TRADING = (ev.TRADING_REVOKED, ev.TRADING_RESTORED)


def _leaders(pool: list[Alert]) -> list[Alert]:
    """The alerts that may title a page: all but a revoke or restore of an account followed by a
    later one of the same account in the page (the title says the account's latest state)."""
    latest: dict[str, int] = {}
    for a in pool:
        if a.event.kind in _TRADING:
            acc = str(a.labels.get("account"))
            latest[acc] = max(latest.get(acc, a.event.ts_ms), a.event.ts_ms)
    return [a for a in pool if a.event.kind not in _TRADING
            or a.event.ts_ms >= latest[str(a.labels.get("account"))]] or pool


def _compose_resolved(n: Notification, new: list[Alert], external_url: Optional[str]) -> Message:
    """Resolutions, and nothing new above ``info`` (a reset's own notice, a re-arm): titled
    RESOLVED, an apprise ``success``; the new notices follow in full."""
    lead = max(n.resolved, key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.event.ts_ms))
    dry = any(mode_of(a) == "DRY RUN" for a in n.resolved)
    title = "[RESOLVED]" + (" [DRY RUN]" if dry else "") + f" {resolved_headline(lead)}"
    if len(n.resolved) > 1:
        title += f" (+{len(n.resolved) - 1} more)"
    # what else the group holds: what still fires, named ("1 still firing" alone leaves the reader
    # to guess what); a stage entry that ended (escalated, its scope reset) and a reset's notice are
    # not firing: listed apart, uncounted
    others = [a for a in n.alerts if a.fp not in n.new and still_firing(a)]
    ended = [a for a in n.alerts if a.fp not in n.new and not still_firing(a)]
    if others:
        first = max(others, key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.event.ts_ms))
        title += f" (still firing: {headline(first)}" + (f", +{len(others) - 1} more" if len(others) > 1 else "") + ")"
    body = _each(sorted(n.resolved, key=lambda a: a.resolved_ms or 0), lambda a: resolved_lines(a, external_url),
                 ordered=False) + _each(new, lambda a: detail(a, external_url))
    if others:
        body += ["Still firing in this group:",
                 *(f"  {a.severity.upper()} {headline(a)} at {iso(a.event.ts_ms)}" for a in others), ""]
    if ended:
        body += ["Earlier in this group, no longer firing:", *(earlier_line(a) for a in ended), ""]
    return Message(title, _closed(body, n), "success")


def failed_page(original: Message, receiver: str, result: str, attempts: int, group_key: str,
                rounds: int = 1, severity: str = "critical", resolved: bool = False) -> Message:
    """What the fallback receiver gets when a page could not be delivered: tagged with the failed
    page's own severity (a failed warning is not a critical page; a failed resolved notice is
    information), so the fallback's titles rank as the pages they carry."""
    tag = "INFO" if resolved or severity not in ("critical", "warning") else severity.upper()
    title = f"[{tag}] NOTIFICATION FAILED to {receiver}: {original.title}"
    tries = f"{attempts} attempt(s)" + (f" in each of {rounds} rounds one group interval apart" if rounds > 1 else "")
    body = (f"The notification below could not be delivered to receiver {receiver} after {tries} "
            f"(last result: {result}). The people it was meant for have not been told.\n"
            f"group {group_key}\n\n--- undelivered notification ---\n{original.title}\n\n{original.body}")
    return Message(title, body, {"CRITICAL": "failure", "WARNING": "warning"}.get(tag, "info"))


def verification_message(receiver: str, now_ms: int) -> Message:
    return Message(f"[TEST] killswitch: test notification to {receiver}",
                   f"A test sent by ksctl routes test --verify-receivers {receiver} at {iso(now_ms)}. "
                   "No action is needed.\n", "info")


def possible_repeat(msg: Message, handed_ms: int) -> Message:
    """``msg`` sent again by a runner that took over from one that died while handing it over:
    its receiver may have it already (same dedup key at the end of the body)."""
    at = iso(handed_ms)[11:19]
    note = f"(repeat after a restart: it may have reached you at {at} UTC)"
    return Message(f"{msg.title} {note}",
                   f"{note[1:-1].capitalize()}: the runner that sent it stopped before it could record the "
                   f"delivery. Same dedup key as the first.\n\n{msg.body}", msg.notify_type)
