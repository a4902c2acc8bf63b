"""The checks of what a policy names, and of what nothing in it uses.

What it owns: :func:`check_actions` (the notification routes and correlation groups actions
name, KS104, KS130; a close_positions ``where:``, KS212), :func:`check_groups_and_weights`
(a group declared twice, KS105; a symbol in two groups, KS215; risk-score weights that do not
sum to 1, KS216), :func:`check_scope_refs` (an unknown account, KS104; a scope that selects no
declared account, KS218), :func:`check_resume_ref` (a resume level that is no stage's, KS104)
and :func:`check_usage` (a trigger no stage uses, KS205; a signal no trigger reads, KS211;
stages that do nothing, KS214).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..policy import diagnostics as d, expr as ex
from ..policy.expr.parse import parse
from . import nodes as n
from .condition_check import check_position_condition
from .graph import StageNode, TriggerNode
from .policy_pass import PolicyPass
from .scope_check import unmatched


def check_actions(pc: PolicyPass, stages: dict[int, StageNode]) -> None:
    groups = {g.name for g in pc.spec.correlation_groups}
    if pc.spec.notify is not None:
        _route_ref(pc, pc.spec.notify.route, ("spec", "notify", "route"))
    for i, st in enumerate(pc.spec.stages):
        for j, act in enumerate(st.actions):
            ap = pc.doc.action_path(i, j)
            kind, asks = act.kind, pc.stage_actions[i][j].asks  # what it names: routes, groups, conditions
            for notice in asks.notices:
                _route_ref(pc, notice.route, ap + (kind, "route"))
            for sel in asks.selections:
                g = sel.correlation_group
                if g and g not in groups and not pc.doc.spec_uncertain("correlation_groups"):
                    pc.add(d.KS104, pc.sm.value(ap + (kind, "correlation_group")),
                           f'stage "{st.name}" closes unknown correlation group "{g}"',
                           d.suggestion_hint(g, groups, "groups are declared under spec.correlation_groups"))
                check_position_condition(pc, f'stage "{st.name}" {kind}', ap + (kind, "where"),
                                         sel.where.text if sel.where is not None else None)


def _route_ref(pc: PolicyPass, route: str, path: tuple[Any, ...]) -> None:
    if not pc.ctx.loaded("NotificationRoutes"):
        pc.add(d.KS130, pc.sm.value(path), f'notification route "{route}" cannot be checked',
               "no NotificationRoutes document was loaded with this policy; validate the whole policy directory")
        return
    names = pc.ctx.names("NotificationRoutes")
    if route not in names:
        pc.add(d.KS104, pc.sm.value(path), f'unknown notification route "{route}"',
               d.suggestion_hint(route, names, "routes are NotificationRoutes documents (metadata.name)"))


def check_groups_and_weights(pc: PolicyPass) -> None:
    owner: dict[str, str] = {}
    names: set[str] = set()
    for i, g in enumerate(pc.spec.correlation_groups):
        gp = ("spec", "correlation_groups", i)
        if g.name in names:
            pc.add(d.KS105, pc.sm.value(gp + ("name",)), f'correlation group "{g.name}" is declared twice',
                   "give each group its own name, or merge their symbols into one group")
        names.add(g.name)
        for j, sym in enumerate(g.symbols):
            if sym in owner and owner[sym] != g.name:
                pc.add(d.KS215, pc.sm.value(gp + ("symbols", j)),
                       f'symbol "{sym}" is in correlation groups "{owner[sym]}" and "{g.name}"',
                       "a symbol belongs to at most one group, so its close is scheduled once")
            owner.setdefault(sym, g.name)
    w = pc.spec.risk_score.weights
    total = w.pnl_delta + w.current_loss + w.liq_proximity + w.notional_share + w.margin_loss
    if abs(total - 1.0) > 1e-9 and not pc.doc.spec_uncertain("risk_score"):
        pc.add(d.KS216, pc.sm.key(("spec", "risk_score", "weights")),
               f"risk-score weights sum to {total:g}, not 1",
               "weights are shares of the score; unlisted weights keep their defaults "
               "(pnl_delta 0.40, current_loss 0.25, liq_proximity 0.20, notional_share 0.10, margin_loss 0.05)")


def check_scope_refs(pc: PolicyPass) -> None:
    """KS104: a scope naming an account nobody declares; KS218: a scope that selects no
    declared account. Only against accounts the context knows (see :class:`.crossdoc.Context`)."""
    known = pc.ctx.declared_names()
    if known is None or pc.doc.spec_uncertain("scope"):
        return
    unknown = False
    for i, name in enumerate(pc.spec.scope.accounts.names):
        if name not in known:
            unknown = True
            pc.add(d.KS104, pc.sm.value(("spec", "scope", "accounts", "names", i)),
                   f'scope names unknown account "{name}"',
                   _account_hint(name, known, pc.ctx.accounts_checked(), given=pc.ctx.given_accounts is not None))
    accounts = pc.ctx.selectable_accounts()
    found = unmatched(pc.spec.scope, accounts) if accounts is not None and not unknown else None
    if found is not None:
        path: tuple[Any, ...] = ("spec", "scope")
        if found.part == "venues":
            path += ("venues", found.item)
        elif found.part == "match_labels":
            path += ("accounts", "match_labels", found.item)
        pc.add(d.KS218, pc.sm.value(path) if found.part else pc.sm.key(path), found.message, found.hint)


def _account_hint(name: str, known: set[str], checked: str, given: bool = False) -> str:
    """The closest known name (either form), then the names known (``venue/name`` where the venue
    is known) and where they were read; checked against an Accounts document among the files
    alone (``given``: none was given with ``--accounts``), how to check against a runner's own."""
    best = d.did_you_mean(name, [n for n in known if ("/" in n) == ("/" in name)]) or d.did_you_mean(name, known)
    named = {n.rpartition("/")[2] for n in known if "/" in n}
    shown = sorted(n for n in known if "/" in n) + sorted(n for n in known if "/" not in n and n not in named)
    listed = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "") if shown else "none"
    lead = f'did you mean "{best}"? ' if best is not None else ""
    own = "" if given or checked == "no Accounts document" else \
        ("; a runner started with its own (ksctl run --accounts FILE) checks against that one: "
         "ksctl validate --accounts FILE checks the same")
    return f"{lead}checked against {checked}, which know: {listed}; a name is an account's name or venue/name{own}"


def check_resume_ref(pc: PolicyPass, stages: dict[int, StageNode]) -> None:
    r = pc.spec.resume
    if r is None or r.from_level is None or not stages or r.from_level in stages:
        return
    if pc.doc.dropped_stages:
        return  # a stage whose level could not be read may be the one it names
    levels = ", ".join(str(level) for level in sorted(stages))
    pc.add(d.KS104, pc.sm.value(("spec", "resume", "from_level")),
           f"resume.from_level {r.from_level} is not a stage level of this policy",
           f"stage levels are {levels}")


def check_usage(pc: PolicyPass, signals: Sequence[n.SignalNode], triggers: dict[str, TriggerNode],
                stages: dict[int, StageNode]) -> None:
    used_triggers = {t for st in pc.spec.stages for t in st.on}
    for name in pc.spec.triggers:
        if name not in used_triggers:
            pc.add(d.KS205, pc.sm.key(("spec", "triggers", name)), f'trigger "{name}" is not used by any stage',
                   "list it under a stage's on:, or remove it")
    read: set[str] = set()
    for name, trig in pc.spec.triggers.items():
        if name in triggers:  # its node names what it reads
            read.update(triggers[name].reads)
            continue
        try:
            read.update(r.name for r in ex.refs(parse(trig.when)))
        except ex.ExprError:
            return  # cannot tell what a broken condition reads
    for s in signals:
        if s.name not in read:
            pc.add(d.KS211, pc.sm.key(("spec", "signals", s.name)),
                   f'signal "{s.name}" is not read by any trigger',
                   "use it in a trigger's when:, or remove it")
    if pc.spec.stages and not any(st.actions for st in pc.spec.stages):
        pc.add(d.KS214, pc.sm.key(("spec", "stages")), "no stage of this policy has actions",
               "a stage without actions only notifies through the policy's route")
