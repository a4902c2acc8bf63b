"""KS219: a trigger that is blind after a deployment for longer than its confirmations take.

A windowed signal (a drawdown over 1h with ``min_coverage: 80%``, a volatility of sampled
returns) has no value until its window holds the history its coverage counts; a trigger with
``on_missing_data: hold`` reading it keeps its last result meanwhile — after a deployment (a new
policy, a new signal, a first start) that is "not firing", whatever the market does. A trigger
needs ``interval × confirmations`` anyway before it can fire; when a signal it reads needs more
history than that, the warning gives the blind time in minutes.

What it owns: :func:`blind_triggers`, the finding per trigger. The history each signal kind
needs is the node's own (:meth:`.nodes.SignalNode.history_need`). When the trigger can fire
on another signal sooner (``dd_15m >= 4.5% || dd_1h >= 7%``: the disjunction is true as soon as
one side is), it says so, and names the side that stays blind. A condition is true, false or
unknown as the engine reads it (Kleene: ``unknown || true`` holds, ``unknown && true`` is unknown).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Mapping

from ..policy import expr as ex
from ..records import record
from .graph import TriggerNode
from .nodes import HistoryNeed, SignalNode

NEVER = float("inf")


@record
class Blind:
    """One trigger's finding: ``signal`` is the first blind signal it reads (where the warning
    points: its first reference in the condition)."""

    trigger: str
    signal: str
    offset: int
    message: str
    hint: str


def confirmation_ms(trig: TriggerNode, interval_ms: int) -> float:
    """What a trigger takes after a deployment before it can fire, blind or not: its confirmation
    ticks (one without ``for:``) at the policy's interval, or its confirmation time."""
    if trig.confirm_s is not None:
        return trig.confirm_s * 1000
    return (trig.confirm_ticks or 1) * interval_ms


def earliest_true_ms(node: ex.Node, need: Mapping[str, float]) -> float:
    """The earliest time after the first tick at which ``node`` can be true, given when each
    signal first has a value (``need``; unlisted: at once)."""
    if isinstance(node, ex.Ref):
        return need.get(node.name, 0.0)
    if isinstance(node, ex.Literal):
        return 0.0
    if isinstance(node, ex.Compare) or ex.computed(node):  # a value needs every signal it reads
        return max((need.get(r.name, 0.0) for r in ex.refs(node)), default=0.0)
    if isinstance(node, ex.Not):
        return earliest_true_ms(node.item, need)
    if isinstance(node, ex.And):
        return max(earliest_true_ms(x, need) for x in node.items)
    return min(earliest_true_ms(x, need) for x in ex.children(node))  # Or: true when any side is


def early_signals(node: ex.Node, need: Mapping[str, float], by: float) -> list[str]:
    """The signals through which ``node`` can be true by ``by`` (the sides of a disjunction that
    can, every signal of a comparison or conjunction that can), in source order."""
    if earliest_true_ms(node, need) > by:
        return []
    if isinstance(node, ex.Or):
        out: list[str] = []
        for x in node.items:
            out += [s for s in early_signals(x, need, by) if s not in out]
        return out
    return list(dict.fromkeys(r.name for r in ex.refs(node)))


def minutes(ms: float) -> str:
    """``48 min``, ``12.5 min``, ``0.8 min`` (never called with :data:`NEVER`)."""
    return f"{round(ms / 60_000, 1):g} min"


def blind_triggers(triggers: Mapping[str, TriggerNode], signals: Mapping[str, SignalNode],
                   interval_ms: int, used: set[str]) -> list[Blind]:
    """KS219 for every ``hold`` trigger of ``used`` that reads a signal blind for longer than the
    trigger's confirmations take."""
    needs: dict[str, tuple[float, HistoryNeed]] = {}
    for name, node in signals.items():
        h = node.history_need(interval_ms)
        if h is not None:
            needs[name] = (NEVER if h.ms is None else float(h.ms), h)
    out = []
    for name, trig in triggers.items():
        if trig.on_missing_data != "hold" or name not in used:
            continue
        allowed = confirmation_ms(trig, interval_ms)
        blind = sorted((needs[s][0], s) for s in trig.reads if s in needs and needs[s][0] > allowed)
        if not blind:
            continue
        fire = earliest_true_ms(trig.ast, {s: ms for s, (ms, _) in needs.items()})
        first = blind[0][1]
        offset = next(r.offset for r in ex.refs(trig.ast) if r.name == first)
        out.append(Blind(name, first, offset, _message(name, trig, blind, fire, allowed, needs), _hint(first)))
    return out


def _message(name: str, trig: TriggerNode, blind: list[tuple[float, str]], fire: float, allowed: float,
             needs: Mapping[str, tuple[float, HistoryNeed]]) -> str:
    def need_text(sig: str, first: bool) -> str:
        ms, h = needs[sig]
        if ms == NEVER:
            return f"{sig}, which never has the history it needs ({h.what}: more than its window keeps)"
        return f"{sig}, which needs {minutes(ms)}{' of history' if first else ''} ({h.what})"

    def blind_on(sig: str, ms: float, first: bool) -> str:
        if ms == NEVER:
            return f"{'' if first else 'and '}never on {sig}"
        return f"{'not' if first else 'nor'} on {sig} for {minutes(ms)}"

    parts = [need_text(s, i == 0) for i, (_, s) in enumerate(blind)]
    if len(parts) > 1:
        reads = ", ".join(parts[:-1]) + f", and {parts[-1]}"
    else:
        reads = parts[0]
    if any(ms != NEVER for ms, _ in blind):
        reads += ", before they have a value" if len(parts) > 1 else " before it has a value"
    later = [(ms, s) for ms, s in blind if ms > fire]
    if fire > allowed:
        if fire == NEVER:
            then = "the trigger can never fire"
        else:
            then = f"after a deployment the trigger cannot fire for {minutes(fire)}"
        then += "".join(", " + blind_on(s, ms, False) for ms, s in later)
    else:
        at_once = early_signals(trig.ast, {s: ms for s, (ms, _) in needs.items()}, allowed)
        through = f" on {', '.join(at_once)}" if at_once else ""
        then = f"after a deployment the trigger can fire{through} at once, but " + ", ".join(
            blind_on(s, ms, i == 0) for i, (ms, s) in enumerate(later))
    return f'trigger "{name}" reads {reads}: {then}'


def _hint(sig: str) -> str:
    return (f"lower {sig}'s min_coverage (a value from less history), add a trigger on a shorter window to the "
            "same stage as a fallback, or say what the policy does meanwhile with spec.while_blind")
