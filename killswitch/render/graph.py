"""Render a decision graph as Mermaid or Graphviz dot: signals → triggers → stages → actions.

One cluster per policy. Node ids are derived from names, so the output is stable and diffable
(golden tests pin it). Labels are escaped for each language.
"""

from __future__ import annotations

import re

from ..compile.graph import ActionNode, DecisionGraph, PolicyNode, StageNode
from ..sources import revision_text


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _action_label(a: ActionNode) -> str:
    shown = {k: v for k, v in a.written.items() if v not in ([], {}, None)}
    if not shown:
        return a.kind
    inner = ", ".join(f"{k}: {_short(v)}" for k, v in shown.items())
    return f"{a.kind} {{{inner}}}"


def _short(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    if isinstance(v, bool):  # as the policy writes it (annualize: true), not as Python prints it
        return "true" if v else "false"
    return str(v)


def _stage_label(s: StageNode) -> str:
    bits = [f"L{s.level} {s.name}"]
    if s.cooldown_s is not None:
        bits.append(f"cooldown {_dur(s.cooldown_s)}")
    if s.manual:
        bits.append(f"manual reset, {s.approvals} approval" + ("" if s.approvals == 1 else "s"))
    return " · ".join(bits)


def _dur(seconds: float) -> str:
    from ..policy.units import Duration

    return str(Duration(int(round(seconds * 1000))))


def _trigger_label(p: PolicyNode, name: str) -> str:
    t = p.trigger(name)
    extra = []
    if t.confirm_ticks:
        extra.append(f"for {t.confirm_ticks} tick" + ("" if t.confirm_ticks == 1 else "s"))
    if t.confirm_s:
        extra.append(f"for {_dur(t.confirm_s)}")
    if t.keep_firing_for_s:
        extra.append(f"keep {_dur(t.keep_firing_for_s)}")
    extra.append(f"missing: {t.on_missing_data}")
    return f"{name}: {t.when}\n" + ", ".join(extra)


def _signal_label(p: PolicyNode, name: str) -> str:
    s = p.signal(name)
    params = ", ".join(f"{k}: {_short(v)}" for k, v in s.written.items())
    return f"{name}\n{s.kind}" + (f" {{{params}}}" if params else "")


def _edges(p: PolicyNode):
    nodes: list[tuple[str, str, str]] = []  # id, label, shape
    edges: list[tuple[str, str]] = []
    for s in p.signals:
        nodes.append((_id(p.name, "sig", s.name), _signal_label(p, s.name), "signal"))
    for t in p.triggers:
        tid = _id(p.name, "trg", t.name)
        nodes.append((tid, _trigger_label(p, t.name), "trigger"))
        for r in t.reads:
            edges.append((_id(p.name, "sig", r), tid))
    for st in p.stages:
        sid = _id(p.name, "stg", str(st.level))
        nodes.append((sid, _stage_label(st), "stage"))
        for trigger in st.on:
            edges.append((_id(p.name, "trg", trigger), sid))
        for i, a in enumerate(st.actions):
            aid = _id(p.name, "act", str(st.level), str(i))
            nodes.append((aid, _action_label(a), "action"))
            edges.append((sid, aid))
    for lo, hi in zip(p.stages, p.stages[1:]):
        edges.append((_id(p.name, "stg", str(lo.level)), _id(p.name, "stg", str(hi.level))))
    return nodes, edges


def mermaid(graph: DecisionGraph) -> str:
    shapes = {"signal": ("([", "])"), "trigger": ("{{", "}}"), "stage": ("[", "]"), "action": ("[/", "/]")}
    out = ["flowchart LR", f"  %% digest {graph.digest}", f"  %% revision {revision_text(graph.revision)}"]
    for p in graph.policies:
        out.append(f'  subgraph {_id("policy", p.name)}["policy {p.name}"]')
        nodes, edges = _edges(p)
        for nid, label, kind in nodes:
            a, b = shapes[kind]
            text = label.replace('"', "#quot;").replace("\n", "<br/>")
            out.append(f'    {nid}{a}"{text}"{b}')
        for src, dst in edges:
            arrow = "-.->" if "_stg_" in src and "_stg_" in dst else "-->"
            out.append(f"    {src} {arrow} {dst}")
        out.append("  end")
    return "\n".join(out) + "\n"


def dot(graph: DecisionGraph) -> str:
    shapes = {"signal": "ellipse", "trigger": "hexagon", "stage": "box", "action": "note"}
    out = [
        "digraph killswitch {",
        "  rankdir=LR;",
        f'  label="digest {graph.digest}\\nrevision {revision_text(graph.revision)}";',
        "  node [fontname=Helvetica, fontsize=10];",
    ]
    for p in graph.policies:
        out.append(f"  subgraph cluster_{_id(p.name)} {{")
        out.append(f'    label="policy {_esc(p.name)}";')
        nodes, edges = _edges(p)
        for nid, label, kind in nodes:
            out.append(f'    {nid} [shape={shapes[kind]}, label="{_esc(label)}"];')
        for src, dst in edges:
            style = " [style=dashed]" if "_stg_" in src and "_stg_" in dst else ""
            out.append(f"    {src} -> {dst}{style};")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def graph_json(graph: DecisionGraph) -> str:
    """The graph as data (``-o json``): per policy, the nodes (id, kind, label as drawn) and the
    edges (signal → trigger that reads it, trigger → stage it enters, stage → its actions, stage →
    the next stage up)."""
    import json

    policies = []
    for p in graph.policies:
        nodes, edges = _edges(p)
        policies.append({"name": p.name,
                         "nodes": [{"id": nid, "kind": kind, "label": label} for nid, label, kind in nodes],
                         "edges": [{"from": src, "to": dst} for src, dst in edges]})
    return json.dumps({"format_version": 1, "digest": graph.digest, "revision": graph.revision,
                       "policies": policies}, indent=1)
