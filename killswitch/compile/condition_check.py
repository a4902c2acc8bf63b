"""The checks of a policy's signals, triggers and their conditions.

What it owns: :func:`check_triggers` (each trigger's condition parsed, type-checked and built
into its node: KS120-KS127, KS208; a threshold a signal can never reach, or always exceeds,
KS212), :func:`check_signals` (a position condition's thresholds, KS212; returns sampled more
often than the policy ticks, KS217), :func:`check_position_condition` (KS212 inside a
``where:``) and :func:`check_threshold_order` (a higher stage firing before a lower one, KS207).
A trigger whose comparison is constant is kept in :attr:`.PolicyPass.constant`: its order means
nothing.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Optional

from ..policy import diagnostics as d, expr as ex
from ..policy.expr.check import type_errors
from ..policy.expr.eval import compile_predicate
from ..policy.expr.parse import parse
from ..policy.positions import POSITION_FIELDS, parse_condition
from ..policy.signals import SIGNAL_KINDS, Signal
from ..policy.units import Duration
from . import nodes as n
from .graph import StageNode, TriggerNode
from .policy_pass import PolicyPass

# the code of each kind of mistake the type check finds (killswitch.policy.expr.check)
CONDITION_CODES = {"type": d.KS121, "unit": d.KS124, "zero": d.KS125, "function": d.KS126, "arity": d.KS127}


def check_triggers(pc: PolicyPass, types: dict[str, ex.ValueType], signals: dict[str, n.SignalNode]
                   ) -> dict[str, TriggerNode]:
    out: dict[str, TriggerNode] = {}
    for name, trig in pc.spec.triggers.items():
        path = ("spec", "triggers", name)
        wpath = path + ("when",)
        ok = True
        try:
            ast = parse(trig.when)
        except ex.ExprError as e:
            hint = e.hint
            if e.related is not None:
                at = pc.sm.inside(wpath, e.related, trig.when)
                hint = f'the "(" at {at.line}:{at.col} is not closed'
            code = d.KS120
            if e.kind == "limit":
                code, hint = d.KS123, f"{hint}; split the condition into several triggers: a stage enters on any " \
                                      "trigger of its on:"
            pc.add(code, pc.sm.inside(wpath, e.offset, trig.when), f'trigger "{name}": {e.message}', hint)
            continue
        refs = ex.refs(ast)
        # Broken signals are declared (no "unknown signal" for them) but typeless.
        known: dict[str, Optional[ex.ValueType]] = {**types, **{n: None for n in pc.bad_signals}}
        reads_broken = any(r.name in pc.bad_signals for r in refs)
        for te in type_errors(ast, known):  # every mistake of the condition, in one pass
            ok = False
            if te.kind == "unknown":
                ref = te.message.split('"')[1]
                hint = d.suggestion_hint(ref, known, "signals are declared under spec.signals")
                pc.add(d.KS122, pc.sm.inside(wpath, te.offset, trig.when),
                       f'trigger "{name}" reads unknown signal "{ref}"', hint)
            else:
                pc.add(CONDITION_CODES[te.kind], pc.sm.inside(wpath, te.offset, trig.when),
                       f'trigger "{name}": {te.message}', te.hint)
        if reads_broken:
            ok = False  # no node can be built on a broken signal
        elif ok:
            _ranges(pc, name, wpath, trig.when, ast, signals)
        if trig.on_missing_data is None:
            ok = False
            pc.add(d.KS208, pc.sm.key(path), f'trigger "{name}" does not say what missing or stale data means',
                   "add on_missing_data: fire (fail closed), hold (keep the last result) or ignore")
        if not ok or trig.on_missing_data is None:  # the second holds: no on_missing_data is not ok
            continue
        confirm = trig.for_
        out[name] = TriggerNode(
            name=name,
            when=ex.canonical(ast),
            reads=tuple(dict.fromkeys(r.name for r in refs)),
            confirm_ticks=confirm.ticks if confirm else None,
            confirm_s=confirm.duration.seconds if confirm and confirm.duration else None,
            keep_firing_for_s=trig.keep_firing_for.seconds if trig.keep_firing_for else None,
            on_missing_data=trig.on_missing_data.value,
            ast=ast,
            predicate=compile_predicate(ast),
        )
    return out


def _ranges(pc: PolicyPass, name: str, wpath: tuple[Any, ...], when: str, ast: ex.Node,
            signals: dict[str, n.SignalNode]) -> None:
    """A threshold outside what the signal can report makes the comparison constant."""
    for sig, op, lit in _comparisons(ast):
        node = signals.get(sig)
        if node is None:
            continue
        lo, hi = SIGNAL_KINDS[node.kind].bounds
        verdict = _range_verdict(op, lit.value, lo, hi)
        if verdict:
            pc.constant.add(name)
            span = _span(node.type, lo, hi)
            pc.add(d.KS212, pc.sm.inside(wpath, lit.offset, when),
                   f'trigger "{name}": {sig} {op} {lit.text} {verdict}; {sig} ({node.kind}) reports {span}',
                   "drawdowns and losses are positive fractions: write dd >= 5%, not dd <= -5%"
                   if lo == 0 else f"pick a threshold inside what {sig} reports, or the trigger is constant")


def check_signals(pc: PolicyPass) -> None:
    """What a signal's own parameters can get wrong: a position condition's thresholds (KS212),
    and returns sampled more often than the policy ticks (KS217)."""
    for name, sig in pc.spec.signals.items():
        p = sig.params
        where = p.condition_field
        if where is not None:
            check_position_condition(pc, f'signal "{name}"', ("spec", "signals", name, sig.kind, where),
                                     getattr(p, where))
        _sampling(pc, name, sig)


def _sampling(pc: PolicyPass, name: str, sig: Signal) -> None:
    """KS217: a return is taken at most once a tick, so with a sample (or horizon) shorter
    than the interval each return spans an interval: the window never holds the returns its
    coverage counts (the signal stays unknown), and an annualized volatility would be scaled
    for the wrong period."""
    interval = pc.spec.interval
    p = sig.params
    field = p.sample_field
    if field is not None:
        period: Duration = getattr(p, field)
        if period.ms < interval.ms:
            path = ("spec", "signals", name, sig.kind, field)
            written = isinstance(_raw_at(pc.doc.raw, path), str)
            pc.add(d.KS217, pc.sm.value(path) if written else pc.sm.key(("spec", "signals", name)),
                   f'signal "{name}": {field} {period} is shorter than the policy\'s interval {interval}, '
                   "so the signal would never have enough returns",
                   f"a return is taken at most once a tick; set {field} to {interval} or a multiple of it")


def check_position_condition(pc: PolicyPass, what: str, path: tuple[Any, ...], text: Optional[str]) -> None:
    """KS212 inside a position condition (``where:``): a threshold a position fact can never
    reach, or always exceeds, makes the comparison constant."""
    if text is None:
        return
    raw = _raw_at(pc.doc.raw, path)
    written = raw if isinstance(raw, str) else text  # offsets into the text as written
    try:
        ast = parse_condition(written)
    except ValueError:  # pragma: no cover - the model accepted it
        return
    for fact, op, lit in _comparisons(ast):
        f = POSITION_FIELDS[fact]
        lo, hi = f.bounds
        verdict = _range_verdict(op, lit.value, lo, hi)
        if verdict:
            pc.add(d.KS212, pc.sm.inside(path, lit.offset, written),
                   f"{what}: {fact} {op} {lit.text} {verdict}; {fact} takes {_span(f.type, lo, hi)}",
                   "losses are positive fractions: write loss_on_margin >= 10%, not <= -10%"
                   if fact.startswith("loss_") else f"{fact} is never below 0; a threshold of 0 or less "
                   "makes the comparison the same for every position")


def check_threshold_order(pc: PolicyPass, triggers: dict[str, TriggerNode], stages: dict[int, StageNode]) -> None:
    """Warn when a higher stage fires at a smaller excursion of a signal than a lower stage."""

    def edges(stage: StageNode) -> dict[tuple[str, str], tuple[float, str, str]]:
        out: dict[tuple[str, str], tuple[float, str, str]] = {}
        for tname in stage.on:
            trig = triggers.get(tname)
            if trig is None or tname in pc.constant:
                continue  # a constant comparison is reported (KS212); its order means nothing
            for th in ex.disjunct_thresholds(trig.ast):
                direction = "up" if th.op in (">=", ">") else "down" if th.op in ("<=", "<") else None
                if direction is None:
                    continue
                key = (th.signal, direction)
                cur = out.get(key)
                earlier = cur is None or (th.value < cur[0] if direction == "up" else th.value > cur[0])
                if earlier:
                    out[key] = (th.value, f"{th.signal} {th.op} {th.text}", tname)
        return out

    ordered = sorted(stages.values(), key=lambda s: s.level)
    table = {s.level: edges(s) for s in ordered}
    for i, low in enumerate(ordered):
        for high in ordered[i + 1:]:
            for key, (hv, htext, htrig) in table[high.level].items():
                if key not in table[low.level]:
                    continue
                lv, ltext, _ = table[low.level][key]
                if (key[1] == "up" and hv < lv) or (key[1] == "down" and hv > lv):
                    pc.add(d.KS207, pc.sm.value(("spec", "triggers", htrig, "when")),
                           f'stage "{high.name}" (level {high.level}) fires at {htext}, before stage '
                           f'"{low.name}" (level {low.level}) at {ltext}',
                           "higher stages should need a larger move; check the thresholds")


def _comparisons(ast: ex.Node) -> list[tuple[str, str, ex.Literal]]:
    """Every ``name op literal`` comparison of a condition, the name on the left."""
    return [(sig, op, x) for sig, op, x in ex.signal_comparisons(ast) if isinstance(x, ex.Literal)]


def _range_verdict(op: str, v: float, lo: Optional[float], hi: Optional[float]) -> Optional[str]:
    """Whether ``x op v`` is constant for every x in [lo, hi]: "always holds", "can never hold" or None."""
    if op in (">=", ">"):
        if lo is not None and (v < lo or (v == lo and op == ">=")):
            return "always holds"
        if hi is not None and (v > hi or (v == hi and op == ">")):
            return "can never hold"
    elif op in ("<=", "<"):
        if hi is not None and (v > hi or (v == hi and op == "<=")):
            return "always holds"
        if lo is not None and (v < lo or (v == lo and op == "<")):
            return "can never hold"
    return None


def _raw_at(raw: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if isinstance(raw, dict) and key in raw:
            raw = raw[key]
        elif isinstance(raw, list) and isinstance(key, int) and 0 <= key < len(raw):
            raw = raw[key]
        else:
            return None
    return raw


def _span(vt: ex.ValueType, lo: Optional[float], hi: Optional[float]) -> str:
    def fmt(v: Optional[float]) -> Optional[str]:
        if v is None:
            return None
        return f"{v * 100:g}%" if vt is ex.ValueType.RATIO else f"{v:g}"

    lo_s, hi_s = fmt(lo), fmt(hi)
    if lo_s is not None and hi_s is not None:
        return f"values from {lo_s} to {hi_s}"
    if lo_s is not None:
        return f"values of at least {lo_s}"
    return f"values of at most {hi_s}"
