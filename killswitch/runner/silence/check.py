"""A silence's matchers checked against what the runner knows, and what it would hold back now.

What it owns:

- :func:`value_problem`: the value of an equality matcher on ``policy``, ``scope``, ``venue``,
  ``account``, ``strategy``, ``symbol`` or ``incident`` resolved against the runner's catalog and
  open incidents, an unknown one refused with close matches (``UNKNOWN_POLICY``,
  ``UNKNOWN_SCOPE``, ``UNKNOWN_VENUE``, ``UNKNOWN_ACCOUNT``, ``UNKNOWN_STRATEGY``,
  ``UNKNOWN_SYMBOL``, ``UNKNOWN_INCIDENT``; a symbol only once every account's markets have been
  read: before that, no list is whole enough to refuse from), and of ``severity`` and ``event``
  against their closed sets (``UNKNOWN_SEVERITY``: info, warning, critical; ``UNKNOWN_EVENT``:
  the event kinds); a ``scope`` beside a
  ``policy`` must be one of that policy's scope instances (``scope=binanceusdm/sim-main`` for a
  policy whose scope is ``binanceusdm`` silences nothing of it). A pattern (``=~``) on
  ``policy``, ``scope`` or ``account`` that matches none of the names the runner knows (nor the
  empty value of a page without the label) is refused the same way, with the close matches of
  its literal text (``policy=~"bot-wach"``); ``!~`` and ``!=`` are never refused.
- :func:`preview`: what the matchers hold back now, as Alertmanager shows a new silence's
  affected alerts: the open incidents whose pages they match, and the pages in force (the
  notification sink's groups, each receiver) — "affects 2 open incidents, 0 pages" — and, when
  none of them names a scope, that it spans every scope (:func:`killswitch.silences.spans_every_scope`,
  over the names the runner knows: :func:`known_values`).
- :func:`idle`: an active silence that names something (a scope, a policy, an incident...) and
  holds back no open incident's pages: it is flagged, with what keeps the open incidents on what
  it names out of it (the matcher none of their pages matches: ``but none matches
  severity="info"``), and what it holds back from now on (:attr:`Silence.holds_later`: made
  ahead of any incident, every page it matches, a new incident's stage entry too).

Pure: reads the book, the catalog and the pages handed in; no I/O, no clock.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Mapping, Optional, Sequence

from ...compile.graph import StageNode
from ...events import FAILED_LABEL, MANUAL_CLOSE, SENT_LABEL, SEVERITY, STAGE_TRANSITION, scope_labels
from ...notify.dispatch import SEVERITY_RANK
from ...policy.matchers import LabelMatcher
from ...silences import EVERY_SCOPE, SCOPE_NAMING, Silence, spans_every_scope
from ...view.silence_preview import HeldPage, SilencePreview, summary
from ..book.view import BookView
from ..names import Catalog, Unknown, near_hint, near_names

# incident id -> (policy or None for a manual close, scope, level)
Incidents = Mapping[str, tuple[Optional[str], str, int]]
# labels whose values are a closed set, the same on every runner: label -> (its values, code, what)
CLOSED = {"severity": (tuple(SEVERITY_RANK), "UNKNOWN_SEVERITY", "a severity a page carries"),
          "event": (tuple(SEVERITY), "UNKNOWN_EVENT", "an event a page carries")}
# a pattern's literal text, for the hint: an escaped character kept as itself; a class (\d, \w...)
# and the syntax left out
_REGEX_SYNTAX = re.compile(r"\\(.)|[.*+?()\[\]{}|^$]")


def _literal(pattern: str) -> str:
    return _REGEX_SYNTAX.sub(lambda m: m.group(1) if m.group(1) and not m.group(1).isalnum() else "", pattern)


def _unknown(code: str, what: str, value: str, known: Iterable[str], also: str = "") -> Unknown:
    # an account typed by its name alone, or a typo of that name: the page carries its key, venue/account
    return Unknown(code, f"{value!r} is not {what}{near_hint(value, known, near_names)}{also}")


def pattern_problem(m: LabelMatcher, catalog: Catalog) -> Optional[Unknown]:
    """Why a pattern matcher (``=~``) on ``policy``, ``scope`` or ``account`` matches none of the
    names this runner knows, or None (one it matches, or the empty value of a page without the
    label: ``policy=~".*"``)."""
    known = {"policy": (catalog.policies, "UNKNOWN_POLICY", "policy this runner runs"),
             "scope": (catalog.scopes(), "UNKNOWN_SCOPE", "scope this runner knows"),
             "account": (catalog.accounts, "UNKNOWN_ACCOUNT", "account of this runner"),
             **{k: (v, code, what.split(" ", 1)[1]) for k, (v, code, what) in CLOSED.items()}}.get(m.name)
    if m.op != "=~" or m.pattern is None or known is None:
        return None
    names, code, what = known
    if m.pattern.matches("") or any(m.pattern.matches(n) for n in names):
        return None
    literal = _literal(m.value)
    hint = near_hint(literal, names) if literal else ""
    return Unknown(code, f"{m.name}=~{m.value!r} matches no {what}{hint}")


def value_problem(matchers: Sequence[LabelMatcher], catalog: Catalog, open_: Incidents) -> Optional[str]:
    """Why an equality matcher's value names nothing this runner knows, or a pattern matcher
    matches none of its names (:func:`pattern_problem`), or None."""
    policies = [m.value for m in matchers if m.op == "=" and m.name == "policy"]
    for m in matchers:
        by_pattern = pattern_problem(m, catalog)
        if by_pattern is not None:
            return by_pattern.reason + " (a silence on it would hold back nothing)"
        if m.op != "=" or m.value == "":  # name="" matches a page without the label, as in Alertmanager
            continue
        bad: Optional[Unknown] = None
        if m.name == "policy":
            bad = catalog.resolve_policy(m.value)
        elif m.name == "scope":
            bad = catalog.resolve_scope(m.value)
            for p in policies:
                if bad is None and catalog.policy_scopes.get(p):
                    bad = catalog.resolve_policy_scope(p, m.value)
        elif m.name == "venue" and m.value not in catalog.venues:
            bad = _unknown("UNKNOWN_VENUE", "a venue of this runner", m.value, catalog.venues)
        elif m.name == "account" and m.value not in catalog.accounts:
            bad = _unknown("UNKNOWN_ACCOUNT", "an account of this runner", m.value, catalog.accounts,
                           " (a page's account is venue/account, as in the Accounts document)")
        elif m.name == "strategy" and m.value not in catalog.strategies:
            bad = _unknown("UNKNOWN_STRATEGY", "a strategy this runner knows", m.value, catalog.strategies,
                           " (strategies: the policies' scopes and heartbeat sources, the Accounts document's, "
                           "an armed dead man's switch, what the venues report)")
        elif m.name == "symbol" and m.value not in catalog.all_symbols \
                and catalog.symbols_for(catalog.accounts) is not None:
            bad = _unknown("UNKNOWN_SYMBOL", "a symbol the venues of this runner list", m.value,
                           catalog.all_symbols, " (symbols are written as the venue's market: BTC/USDT:USDT)")
        elif m.name == "incident" and m.value not in open_:
            bad = _unknown("UNKNOWN_INCIDENT", "an open incident", m.value, open_)
        elif m.name in CLOSED and m.value not in CLOSED[m.name][0]:
            values, code, what = CLOSED[m.name]
            listed = f" (severities: {', '.join(values)})" if m.name == "severity" else ""
            bad = _unknown(code, what, m.value, values, listed)
        if bad is not None:
            return bad.reason + " (a silence on it would hold back nothing)"
    return None


def stage_severities(stage: Optional[StageNode]) -> tuple[str, ...]:
    """The severities of a stage entry's pages, as the dispatcher gives them (its placements):
    per route its notify actions name, the highest one asked for that route; critical (a stage
    transition's own) without a notify action."""
    per_route: dict[str, str] = {}
    for n in (n for a in (stage.actions if stage is not None else ()) for n in a.asks.notices):
        if SEVERITY_RANK.get(n.severity, 0) > SEVERITY_RANK.get(per_route.get(n.route, ""), -1):
            per_route[n.route] = n.severity
    return tuple(sorted(set(per_route.values()), key=SEVERITY_RANK.__getitem__, reverse=True)) or ("critical",)


def incident_labels(book: BookView, policy: str, scope: str, level: int) -> dict[str, str]:
    """The labels of the page a stage entry sends (as the runner's ``transition_event`` labels
    it), the highest severity its stage's notify actions give (:func:`stage_severities`; a page of
    each other severity is :func:`page_variants`')."""
    node = book.node(policy)
    labels: dict[str, str] = {str(k): str(v) for k, v in (node.labels if node is not None else {}).items()}
    stage = next((st for st in node.stages if st.level == level), None) if node is not None else None
    labels.update(event=STAGE_TRANSITION, policy=policy, scope=scope, level=str(level),
                  severity=stage_severities(stage)[0])
    if stage is not None:
        labels["stage"] = stage.name
    if node is not None and node.owner:
        labels["owner"] = str(node.owner)
    labels.update(scope_labels(node.scope.get("level") if node is not None else None, scope))
    return labels


def page_labels(book: BookView, catalog: Catalog, incident: str, where: tuple[Optional[str], str, int]
                ) -> dict[str, str]:
    """The labels of an open incident's page: a stage entry's (:func:`incident_labels`)
    or a manual close's, with its ``incident``."""
    policy, scope, level = where
    if policy is not None:
        labels = incident_labels(book, policy, scope, level)
    else:
        labels = {"event": MANUAL_CLOSE, "severity": "warning", **catalog.labels_of(scope), "scope": scope}
    labels["incident"] = incident
    return labels


def page_variants(book: BookView, labels: Mapping[str, str]) -> list[Mapping[str, str]]:
    """An open incident's pages (:func:`page_labels`): a stage entry's, one per severity its
    notify actions give (a warning to the desk and a critical to the pager are two pages)."""
    if labels.get("event") != STAGE_TRANSITION or not labels.get("policy"):
        return [labels]
    node = book.node(labels["policy"])
    stage = next((st for st in node.stages if str(st.level) == labels.get("level")), None) if node else None
    return [{**labels, "severity": sev} for sev in stage_severities(stage)]


def _matches(matchers: Sequence[LabelMatcher], labels: Mapping[str, str]) -> bool:
    # which receivers a page reaches is the routes' business: a receiver matcher is left out here
    return all(m.matches(labels) for m in matchers if m.name != "receiver")


def held_incidents(matchers: Sequence[LabelMatcher], book: BookView, catalog: Catalog, open_: Incidents,
                   silence: Optional[Silence] = None) -> list[str]:
    """The open incidents some of whose pages ``matchers`` match; of a stored ``silence``, those
    it holds back (:meth:`Silence.holds`: not a stage entry its author never saw)."""
    out = []
    for i, where in sorted(open_.items()):
        pages = page_variants(book, page_labels(book, catalog, i, where))
        if any(silence.matches(p, receiver=False) and silence.holds(p) if silence is not None
               else _matches(matchers, p) for p in pages):
            out.append(i)
    return out


def known_values(catalog: Catalog, open_: Incidents) -> dict[str, frozenset[str]]:
    """The values the runner knows of each label that names a scope (:data:`SCOPE_NAMING`)."""
    return {"policy": catalog.policies, "scope": catalog.scopes(), "venue": catalog.venues,
            "account": catalog.accounts, "strategy": catalog.strategies, "symbol": catalog.all_symbols,
            "incident": frozenset(open_)}


def preview(matchers: Sequence[LabelMatcher], book: BookView, catalog: Catalog, open_: Incidents,
            pages: Iterable[tuple[Mapping[str, str], str]]) -> SilencePreview:
    incidents = held_incidents(matchers, book, catalog, open_)
    held = [HeldPage(labels.get("event", "?"), labels.get("severity", "warning"), receiver, labels.get("policy"),
                     labels.get("scope"), labels.get("incident"), SENT_LABEL in labels and FAILED_LABEL not in labels,
                     FAILED_LABEL in labels)
            for labels, receiver in pages if all(m.matches({**labels, "receiver": receiver}) for m in matchers)]
    sent = sum(1 for p in held if p.sent)
    failed = Counter(p.receiver for p in held if p.failed)
    every = spans_every_scope(matchers, known_values(catalog, open_))
    text = summary(len(incidents), len(held) - sent, sent, failed) + (f"; it {EVERY_SCOPE}" if every else "")
    return SilencePreview(True, f"PREVIEW: {text}", tuple(str(m) for m in matchers), tuple(incidents), tuple(held),
                          text, every_scope=every)


def idle(s: Silence, book: BookView, catalog: Catalog, open_: Incidents) -> Optional[str]:
    """``IDLE: ...`` for a silence that names something and holds back no open incident's pages:
    the one text of ``ksctl silence list``, the status and the console. Open incidents on what it
    names are counted, with what keeps them out: the matcher none of them matches (``IDLE: 2 open
    incidents match scope="x" but none matches severity="info"``), or the rule of
    :meth:`Silence.holds` (their stage entries came after it was made, none a cooldown re-run of
    one it holds)."""
    naming = [m for m in s.matchers if m.op == "=" and m.name in SCOPE_NAMING]
    if not naming or held_incidents(s.matchers, book, catalog, open_, s):
        return None
    named = ", ".join(str(m) for m in naming)
    tail = f": it holds back {s.holds_later} (ksctl silence expire {s.id})"
    near = {i: page_variants(book, page_labels(book, catalog, i, where)) for i, where in sorted(open_.items())}
    near = {i: pages for i, pages in near.items() if any(_matches(naming, p) for p in pages)}
    if not near:
        return f"IDLE: no open incident matches {named}{tail}"
    count = f"{len(near)} open incident{'s' if len(near) > 1 else ''} match{'' if len(near) > 1 else 'es'} {named}"
    others = [m for m in s.matchers if m not in naming and m.name != "receiver"]
    pages = [p for ps in near.values() for p in ps if _matches(naming, p)]
    none_match = [m for m in others if not any(m.matches(p) for p in pages)]
    if none_match:
        why = f"none matches {', '.join(str(m) for m in none_match)}"
    elif any(s.matches(p, receiver=False) for p in pages):  # matched, not held: Silence.holds
        why = ("it holds back none of their stage entries (each entered since it was made, not as a cooldown "
               "re-run of one it holds, or above the stage it was made at)")
    else:  # each kept out by another matcher
        why = f"none matches all of {', '.join(str(m) for m in others)}"
    return f"IDLE: {count} but {why}{tail}"
