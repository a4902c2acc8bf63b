"""Render the coverage of rules by PolicyTests (:class:`killswitch.preview.rule_coverage.CoverageReport`)
as text, JSON (``format_version`` 1, inside ``ksctl test -o json``) or markdown (the pull-request
comment).

Text: a line per policy (covered/total, percent), its uncovered rules each with ``file:line:col``
and what was missing, the rules no PolicyTest can reach, then a total line. Markdown: a table of
the policies and a list of the uncovered rules. ``shown`` (policy names) narrows the policies
listed (``--changed``); the total is always over every policy read.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..preview.rule_coverage import CoverageReport, PolicyCoverage, Rule


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _shown(report: CoverageReport, shown: Optional[set[str]]) -> list[PolicyCoverage]:
    return [p for p in report.policies if shown is None or p.name in shown]


def _head(p: PolicyCoverage) -> str:
    return (f"{p.name} ({p.file}:{p.line}:{p.col}): {p.covered}/{p.total} rules, {_pct(p.percent)}"
            + ("" if p.tested else ", no PolicyTest runs against it"))


def total_line(report: CoverageReport, threshold: Optional[float]) -> str:
    line = f"coverage: total {report.covered}/{report.total} rules, {_pct(report.percent)}"
    if threshold is not None:
        line += f" (threshold {threshold:g}%: {'below' if below(report, threshold) else 'met'})"
    return line


def below(report: CoverageReport, threshold: float) -> bool:
    return report.percent < threshold


def coverage_text(report: CoverageReport, threshold: Optional[float], shown: Optional[set[str]] = None) -> list[str]:
    lines = []
    for p in _shown(report, shown):
        lines.append("coverage: " + _head(p))
        lines += [f"  {r.where}: {r.kind} {r.name}: {r.what}" for r in p.uncovered]
        lines += [f"  {r.where}: {r.kind} {r.name}: {r.what}" for r in p.not_testable]
    lines.append(total_line(report, threshold))
    return lines


def _rule_json(r: Rule) -> dict[str, Any]:
    return {"kind": r.kind, "name": r.name, "file": r.file, "line": r.line, "col": r.col, "covered": r.covered,
            "what": r.what}


def coverage_json(report: CoverageReport, threshold: Optional[float], shown: Optional[set[str]] = None
                  ) -> dict[str, Any]:
    """``rules[].covered``: true, false, or null for a rule no PolicyTest can reach (in no total)."""
    return {"format_version": 1, "covered": report.covered, "total": report.total, "percent": report.percent,
            "threshold": threshold, "below_threshold": below(report, threshold) if threshold is not None else None,
            "policies": [{"name": p.name, "file": p.file, "line": p.line, "col": p.col, "tested": p.tested,
                          "covered": p.covered, "total": p.total, "percent": p.percent,
                          "rules": [_rule_json(r) for r in p.rules]} for p in _shown(report, shown)]}


def _code(text: str) -> str:
    """``text`` as a markdown code span, whatever backticks it holds."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def coverage_markdown(report: CoverageReport, threshold: Optional[float], shown: Optional[set[str]] = None
                      ) -> list[str]:
    policies = _shown(report, shown)
    head = f"**Rule coverage: {_pct(report.percent)}** ({report.covered}/{report.total} rules)"
    if threshold is not None:
        head += f", threshold {threshold:g}%: " + ("**below**" if below(report, threshold) else "met")
    lines = [head, ""]
    if not policies:
        return lines + ["No policy of the changed files." if shown is not None else "No policy.", ""]
    lines += ["| policy | covered | rules | % |", "|---|---:|---:|---:|"]
    lines += [f"| {p.name}{'' if p.tested else ' (no test)'} | {p.covered} | {p.total} | {_pct(p.percent)} |"
              for p in policies]
    uncovered = [(p, r) for p in policies for r in p.uncovered]
    untestable = [(p, r) for p in policies for r in p.not_testable if r.kind != "override"]
    overrides = [(p, r) for p in policies for r in p.not_testable if r.kind == "override"]
    whose = " of the changed policies" if shown is not None else ""
    lines.append("")
    if uncovered:
        lines += [f"Uncovered rules{whose}:", ""]
        lines += [f"- {_code(r.where)} {r.kind} {_code(r.name)}: {r.what}" for _, r in uncovered]
    else:
        lines.append(f"Every rule{whose} is covered.")
    if untestable:
        lines += ["", "Not testable by PolicyTest (the pre-trade gate answers them):", ""]
        lines += [f"- {_code(r.where)} {r.kind} {_code(r.name)}" for _, r in untestable]
    if overrides:  # no limit: how the limits may be overridden, which people ask for and approve
        lines += ["", "Overrides of the limits, not testable by PolicyTest (people ask for and approve them):", ""]
        lines += [f"- {_code(r.where)} {_code(r.name)} of {p.name}" for p, r in overrides]
    lines.append("")
    return lines
