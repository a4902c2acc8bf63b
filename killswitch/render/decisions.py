"""What a decision is made of, in the JSON and text of ``ksctl plan``, ``replay`` and ``diff``:
its attribution, the risk scores of its scope with their components, the order in which its
cancels and orders are sent, and the positions several decisions close (gross and net totals).

JSON, added to a plan (the fields are additive: ``format_version`` stays 1):

- ``attribution``: ``{"side", "long_decline", "short_decline", "long_share", "short_share", "excluded"}``;
- ``send_seq`` on every cancel and order: its place in what its tick sends (cancels 1..C in plan
  order, each account's one after another and the accounts at once, then each account's orders
  from C+1 on; the same number on two accounts: at once);
- ``scores`` (null unless asked, and for a stage that closes positions): ``{"listing": "top"|"all",
  "positions", "listed", "weights": {component: weight}, "equity", "max_decline", "max_loss",
  "entries": [{"position", "symbol", "side", "rank", "score", "closed", "selected", "components":
  {component: {"value", "weighted"}}}]}``;
- ``thresholds`` on a trigger whose condition computes one (``dd_15m >= max(4.5%, 3 * vol_1h)``):
  ``[{"signal", "op", "expression", "value"}]``, the value as it was at that tick (a fraction for a
  ratio, seconds for a duration; null: it had none);
- totals: ``{"gross", "net", "positions", "overlaps": [{"position", "policies", "net_amount",
  "net_notional", "gross_notional", "closes": [{"time", "now_ms", "policy", "scope", "stage",
  "decision_id", "amount", "notional"}]}]}``.

Formats values only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

from ..engine.attribution import COMPONENTS, Attribution, ScoreTable
from ..engine.plans import Plan
from ..engine.triggers import TriggerResult
from ..orders import NO_SENDS
from ..policy.expr import ValueType
from ..preview.overlaps import CloseTotals
from .times import iso

NO_SEQ = NO_SENDS


def trigger_json(t: TriggerResult, firing: bool = True, pending: bool = True) -> dict:
    """A trigger's result at a tick: its raw condition, whether it fires, and (when its condition
    computes one) every computed threshold as it was at that tick."""
    out: dict = {"condition": t.condition}
    if firing:
        out["firing"] = t.firing
    if pending:
        out["pending"] = t.pending
    out["reason"] = t.reason
    if t.thresholds:
        out["thresholds"] = [{"signal": x.signal, "op": x.op, "expression": x.expression, "value": x.value}
                             for x in t.thresholds]
    return out


def threshold_lines(triggers: "tuple[TriggerResult, ...] | list[TriggerResult]", kinds: dict) -> list[str]:
    """``soft: dd_15m >= 5.127% = max(4.5%, 3 * vol_1h)`` for every computed threshold of
    ``triggers``, the value in its signal's unit (``kinds``: signal name → ``ratio`` ...)."""
    return [f"{t.name}: {x.shown(_unit(kinds.get(x.signal)))}" for t in triggers for x in t.thresholds]


def _unit(kind: Optional[str]) -> Optional[ValueType]:
    return ValueType(kind) if kind in {v.value for v in ValueType} else None


def attribution_json(a: Attribution) -> dict:
    return {"side": a.side, "long_decline": a.long_decline, "short_decline": a.short_decline,
            "long_share": a.long_share, "short_share": a.short_share, "excluded": a.excluded}


def scores_json(t: Optional[ScoreTable]) -> Optional[dict]:
    if t is None:
        return None
    return {
        "listing": t.listing, "positions": t.positions, "listed": len(t.entries),
        "weights": dict(zip(COMPONENTS, t.weights)), "equity": t.equity, "max_decline": t.max_decline,
        "max_loss": t.max_loss,
        "entries": [{"position": e.position, "symbol": e.symbol, "side": e.side, "rank": e.rank, "score": e.score,
                     "closed": e.closed, "selected": e.selected,
                     "components": {name: {"value": v, "weighted": w}
                                    for name, v, w in zip(COMPONENTS, e.values, e.weighted)}}
                    for e in t.entries],
    }


def _numbered(items, seqs: tuple[int, ...]) -> list[dict]:
    out = []
    for i, x in enumerate(items):
        d = dataclasses.asdict(x)
        d["send_seq"] = seqs[i] if i < len(seqs) else None
        out.append(d)
    return out


def cancels_json(p: Plan, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> list[dict]:
    return _numbered(p.cancels, send[0])


def orders_json(p: Plan, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> list[dict]:
    return _numbered(p.orders, send[1])


def plan_json(p: Plan, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> dict:
    """A whole plan: its dataclass fields, with structured attribution and scores and the send numbers."""
    return {
        "decision_id": p.decision_id, "stage": p.stage, "attribution": attribution_json(p.attribution),
        "cancels": cancels_json(p, send), "orders": orders_json(p, send),
        "directives": [dataclasses.asdict(d) for d in p.directives],
        "hedges": [dataclasses.asdict(h) for h in p.hedges], "skipped": list(p.skipped),
        "residuals": [dataclasses.asdict(r) for r in p.residuals], "scores": scores_json(p.scores),
    }


def totals_json(t: CloseTotals) -> dict:
    return {"gross": t.gross, "net": t.net, "positions": t.positions,
            "overlaps": [{"position": o.position, "policies": list(o.policies), "net_amount": o.net_amount,
                          "net_notional": o.net_notional, "gross_notional": o.gross_notional,
                          "closes": [{"time": iso(c.now_ms), "now_ms": c.now_ms, "policy": c.policy,
                                      "scope": c.scope, "stage": c.stage, "decision_id": c.decision_id,
                                      "amount": c.amount, "notional": c.notional} for c in o.closes]}
                         for o in t.overlaps]}


def attribution_line(a: Attribution) -> str:
    """``attribution LONG: long decline 12,345 (80%), short decline 3,086 (20%)[, 2 excluded]``."""
    excluded = f", {a.excluded} position(s) without a reference excluded" if a.excluded else ""
    if a.side == "UNKNOWN" or a.long_share is None or a.short_share is None:
        return f"attribution UNKNOWN: nothing declined over the reference window{excluded}"
    return (f"attribution {a.side}: long decline {a.long_decline:,.0f} ({a.long_share:.0%}), "
            f"short decline {a.short_decline:,.0f} ({a.short_share:.0%}){excluded}")


def score_lines(t: Optional[ScoreTable], most: int = 3) -> list[str]:
    """The highest scores of a plan's scope, each with its weighted components."""
    if t is None or not t.entries:
        return []
    out = [f"risk scores ({t.positions} position(s); the highest, weighted components):"]
    for e in t.entries[:most]:
        parts = " + ".join(f"{name} {w:.3f}" for name, w in zip(COMPONENTS, e.weighted) if w)
        mark = " closed" if e.closed else ""
        out.append(f"  {e.rank}. {e.position} {e.score:.3f} = {parts or '0'}{mark}")
    return out


def seq_mark(seqs: tuple[int, ...], i: int) -> str:
    """``#7 ``, the place of the i-th cancel or order in what its tick sends; nothing when unknown."""
    return f"#{seqs[i]} " if i < len(seqs) else ""


@dataclasses.dataclass(frozen=True)
class ActionWords:
    """How one renderer writes a plan's lines: ``cancel`` makes the line of a cancel from its send
    mark (:func:`seq_mark`), ``order`` that of an order from its mark, its leg (`` long`` on a
    hedge-mode account, else nothing) and its kind (``reduce-only`` or ``spot``), ``hedge`` that
    of a suggested hedge; the prefixes go before a directive, a skipped action and a score line."""

    cancel: Callable[[str, Any], str]
    order: Callable[[str, Any, str, str], str]
    directive: str
    hedge: Callable[[Any], str]
    skipped: str
    score: str


def action_lines(p: Plan, words: ActionWords, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> list[str]:
    """A plan's lines in ``words``; cancels and orders numbered in the order their tick sends them."""
    out = [words.cancel(seq_mark(send[0], i), c) for i, c in enumerate(p.cancels)]
    for i, o in enumerate(p.orders):
        leg = f" {o.position_side}" if o.position_side else ""
        kind = "reduce-only" if o.reduce_only else "spot"
        out.append(words.order(seq_mark(send[1], i), o, leg, kind))
    for d in p.directives:
        params = " ".join(f"{k}={v}" for k, v in d.params.items())
        out.append(f"{words.directive}{d.kind} {params}".rstrip())
    out += [words.hedge(h) for h in p.hedges]
    out += [f"{words.skipped}{s}" for s in p.skipped]
    if p.scores and any(e.selected for e in p.scores.entries):  # a ranking by risk score chose positions
        out += [f"{words.score}{x}" for x in score_lines(p.scores)]
    return out


def overlap_lines(t: CloseTotals) -> list[str]:
    """A warning with every position closed by more than one decision, each close on its own
    line (``!`` the position, then its closes), or nothing."""
    if not t.overlaps:
        return []
    several = sum(1 for o in t.overlaps if len(o.policies) > 1)
    out = [f"Overlapping closes: {len(t.overlaps)} position(s) closed by more than one decision"
           + (f", {several} by more than one policy" if several else "")
           + ". A preview sends nothing in between, so each decision closes the position again; the net total "
             "counts each position once, at its largest close."]
    for o in t.overlaps:
        out.append(f"  ! {o.position} ({', '.join(o.policies)}): counted once as {o.net_amount:g} "
                   f"≈{o.net_notional:,.0f}, planned {len(o.closes)} times ≈{o.gross_notional:,.0f}")
        out += [f"      {c.policy} {c.scope} stage {c.stage} at {iso(c.now_ms)}: {c.amount:g} ≈{c.notional:,.0f}"
                for c in o.closes]
    out.append(f"  gross ≈{t.gross:,.0f} notional, net of overlaps ≈{t.net:,.0f}")
    return out


__all__ = ["attribution_json", "attribution_line", "cancels_json", "orders_json", "overlap_lines", "plan_json",
           "score_lines", "scores_json", "totals_json"]
