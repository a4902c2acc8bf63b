"""A firm-wide policy's reset: the approval a shard takes and the firm lease holder applies.

What it owns:

- :func:`relatch_of`: per firm policy instance, what a reset of it runs into now — a trigger that
  still fires enters the stage again at the next evaluation (:mod:`killswitch.view.relatch`'s warning), from the
  firm's state and the holder's last evaluation; the holder writes it in its view (``relatch``);
- :func:`route_reset`: an approval sent to any shard's API, written as a ``reset`` directive for
  the holder; while the holder's last view says a trigger of it still fires, refused
  ``RELATCH_UNCONFIRMED`` with the warning unless confirmed, as a runner's own reset is;
- :func:`take_resets`: the holder applying the approvals written since it last looked, each
  releasing the stage and writing the unlock of the firm policy's locks; an unconfirmed one whose
  trigger began to fire after the shard asked is not applied (said on stderr).

Must not: evaluate the firm-wide policies (:class:`.firm.FirmLink` does) or write a shard's locks.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from ..firm.directives import FIRM_HOLD_PREFIX, RESET, UNLOCK, Directive
from ..state.store import StoreError
from ..view import ResetResult
from ..view.relatch import relatch_unconfirmed, still_firing
from ..view.triggers import trigger_statuses


def relatch_of(graph: Any, state: Any, ev: Any) -> dict[tuple[str, str], tuple[str, ...]]:
    """What a reset of each firm policy instance of ``state`` runs into now (none: not listed)."""
    if state is None:
        return {}
    nodes = {p.name: p for p in graph.policies}
    statuses = trigger_statuses(nodes.get, state, ev)
    out = {}
    for key in state.scopes:
        name, _, scope = key.partition("|")
        if name in nodes and (said := still_firing(nodes[name], scope, statuses)):
            out[(name, scope)] = said
    return out


async def route_reset(link: Any, policy: str, scope: str, approver: str, reason: str,
                      confirm_relatch: bool = False) -> Optional[ResetResult]:
    """An approval of a firm policy's reset (``policy`` or ``firm:<policy>``) sent to this shard:
    a directive for the firm lease holder; None for a policy that is not firm-wide."""
    name = policy.removeprefix(FIRM_HOLD_PREFIX)
    if name not in {p.name for p in link.graph.policies}:
        return None
    if not confirm_relatch:
        try:
            got_view = await asyncio.to_thread(link.firm.firm_view)
        except StoreError as e:
            return ResetResult(False, f"STATE_UNREACHABLE: the firm's view could not be read to check the reset: {e}")
        relatch = next((tuple(str(w) for w in p.get("relatch") or ()) for p in
                        (got_view[0].get("policies") or [] if got_view is not None else [])
                        if p.get("policy") == name and p.get("scope") == scope), ())
        if relatch:
            return ResetResult(False, relatch_unconfirmed(name, scope), relatch)
    payload = {"policy": name, "reason": reason, **({"confirm_relatch": True} if confirm_relatch else {})}
    got = await link.applier.send(RESET, scope, [], payload, approver)
    return ResetResult(got.done, got.reason.replace("FIRM_DIRECTIVE: reset", "FIRM_RESET_SENT: reset", 1)
                       + (" (the firm lease holder applies it at its next evaluation)" if got.done else ""))


async def take_resets(link: Any, now: int) -> list[Directive]:
    """The holder's: apply the reset approvals written since the last taken up to the firm's
    stages (``link.resets_after`` moves on); the unlock directives of those that released one."""
    from ..engine.stages import approve_reset
    from ..firm.directives import scope_accounts

    out: list[Directive] = []
    assert link.state is not None
    for d in await asyncio.to_thread(link.firm.directives_after, link.resets_after):
        assert d.id is not None
        link.resets_after = d.id
        if d.kind != RESET:
            continue
        name, scope = str(d.payload.get("policy")), d.scope
        node = next((p for p in link.graph.policies if p.name == name), None)
        if node is None or f"{name}|{scope}" not in link.state.scopes:
            link.err(f"ksctl run: FIRM_RESET {d.id}: UNKNOWN_SCOPE: {name} {scope} is no firm policy's scope")
            continue
        relatch = relatch_of(link.graph, link.state, link.last_ev).get((name, scope), ())
        if relatch and not d.payload.get("confirm_relatch"):  # began to fire after the shard asked
            link.err(f"ksctl run: FIRM_RESET {d.id} {name} {scope}: {relatch_unconfirmed(name, scope)} "
                     f"({'; '.join(relatch)}; approved by {d.actor}): not applied")
            continue
        tr, why = approve_reset(node, scope, link.state.scope(name, scope).stage, d.actor, now)
        link.echo(f"ksctl run: FIRM_RESET {d.id} {name} {scope}: {why} (approved by {d.actor})")
        if tr is not None:
            out.append(Directive(UNLOCK, scope, {"accounts": scope_accounts(node, scope, link.start.declared),
                                                 "policy": name, "source": "policy",
                                                 "reason": f"FIRM_RESET: policy={name} {why}"}, None, d.actor))
    return out
