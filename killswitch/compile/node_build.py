"""Typed nodes from validated models: each signal's and action's parameters resolved once.

What it owns: :func:`signal_node` and :func:`action_node`, which turn a signal or action of a
validated Policy into its frozen node of :mod:`.nodes` with what its kind's ``build`` makes of
its parameters (durations in ms, ratios as fractions, position conditions parsed), plus the
policy's own text (``written``) for display and the key a kept state is kept under (the saved
form, so saved state survives); :func:`kind_action`, an action's node from its kind and
parameters (a manual close's too). No kind is named here.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Optional

from ..policy.actions import ACTIONS, Action
from ..policy.registry import ActionKind, KeptState
from ..policy.signals import SIGNALS, Signal
from . import nodes as n


def signal_node(name: str, sig: Signal) -> n.SignalNode:
    """The typed node of one signal: what its kind's ``build`` made of its parameters (durations
    in ms, ratios as fractions), evaluated by its ``evaluate`` or over its kept ``state`` (the key
    it is kept under: see :func:`_kept_state_key`), and its parameters as written (canonical
    text) for display."""
    kind, p = sig.kind, sig.params
    entry = SIGNALS[kind]
    written = p.model_dump(mode="json", exclude_none=True)
    assert entry.build is not None  # every kind is a module's
    kept, params = entry.state, entry.build(p)
    return n.SignalNode(name=name, kind=kind, type=entry.model.value_type, written=written,
                        params=params, evaluate=entry.evaluate, reads_book=entry.reads_book,
                        state=kept, state_key=_kept_key(kept, params, written) if kept is not None else None,
                        need=entry.history_need, listens=entry.listens)


def _kept_state_key(state_name: str, written: dict[str, Any], key: Optional[str] = None) -> str:
    # the state's name alone for a signal without parameters (consecutive_losses' "losses", the
    # name its state was always saved under), else with the parameters as written, or with the
    # key the kind makes of its parameters (heartbeat_age's "listening:<source>")
    if key is not None:
        return f"{state_name}:{key}"
    return f"{state_name}:{sorted(written.items())}" if written else state_name


def _kept_key(kept: KeptState, params: Any, written: dict[str, Any]) -> str:
    return _kept_state_key(kept.name, written, kept.key(params) if kept.key is not None else None)


def action_node(action: Action) -> n.ActionNode:
    """The typed node of one action: what its kind's ``build`` made of its parameters, planned by
    its ``plan`` (the planner hands it the stage entry), and its parameters as written for display."""
    p = action.params
    return kind_action(ACTIONS[action.kind], p.model_dump(mode="json", exclude_none=True), p)


def kind_action(entry: ActionKind, written: dict[str, Any], p: Any) -> n.ActionNode:
    """The node of an action of ``entry``'s kind with the validated parameters ``p``."""
    build, plan = entry.build, entry.plan
    assert build is not None and plan is not None  # every kind is a module's
    return n.ActionNode(kind=entry.name, written=written, params=build(p), plan=plan, closes=entry.closes,
                        after_closes=entry.after_closes, closes_all=entry.closes_all)
