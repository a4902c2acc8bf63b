"""The check of the runbook templates a policy uses (KS104, KS150-KS152).

What it owns: :class:`TemplateChecker`, what the caller hands in to read and render templates
(``ksctl validate`` does: :mod:`killswitch.runbooks.check`), the :class:`TemplateProblem` it
reports, and :func:`check_runbooks`, which asks it about every template a policy's stages use:
that it exists, parses and renders a sample incident of each stage it serves. Without a checker
nothing is checked, so the compiler stays pure.

Pure: no I/O (the checker does the reading).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from ..policy import diagnostics as d
from ..policy.diagnostics import Diagnostic, Position
from ..records import record
from .graph import PolicyNode
from .policy_pass import PolicyPass


@record
class TemplateProblem:
    """What a :class:`TemplateChecker` found: ``kind`` is ``unknown``, ``syntax``, ``render`` or
    ``unchecked``; ``file`` and ``line`` say where in the template, when known."""

    kind: str
    message: str
    hint: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None


class TemplateChecker(Protocol):
    def check(self, name: Optional[str], policy: Optional[PolicyNode], level: Optional[int]
              ) -> list[TemplateProblem]:
        """Problems of the runbook template ``name`` (None: the default one) serving stage
        ``level`` of ``policy`` (None when the policy has other errors: no rendering then)."""


_TEMPLATE_CODES = {"unknown": d.KS104, "syntax": d.KS150, "render": d.KS151, "unchecked": d.KS152}


def check_runbooks(pc: PolicyPass, templates: Optional[TemplateChecker], node: Optional[PolicyNode]
                   ) -> None:
    """Every template this policy's runbooks use exists, parses and renders a sample incident
    of each stage it serves. A problem is reported at the line that names the template; a
    problem of the default template (no line names it) at its place in the template."""
    if templates is None:
        return
    uses: list[tuple[Optional[str], Optional[tuple[Any, ...]], list[int]]] = []
    own: set[int] = set()
    for i, st in enumerate(pc.spec.stages):
        for j, act in enumerate(st.actions):
            for template in pc.stage_actions[i][j].asks.runbooks:
                own.add(st.level)
                template_path = pc.doc.action_path(i, j) + (act.kind, "template")
                uses.append((template, template_path, [st.level]))
    rest = [st.level for st in pc.spec.stages if st.level not in own]
    if pc.spec.runbook is not None:
        uses.insert(0, (pc.spec.runbook, ("spec", "runbook"), rest or [st.level for st in pc.spec.stages]))
    elif rest:
        uses.insert(0, (None, None, rest))
    for name, path, levels in uses:
        seen: set[tuple[Any, ...]] = set()
        for level in levels if node is not None else [None]:
            for p in templates.check(name, node, level):
                key = (p.kind, p.file, p.line, p.message)
                if key in seen:
                    continue
                seen.add(key)
                if path is not None:
                    where = f"{p.file}:{p.line}: " if p.file and p.line else ""
                    pc.add(_TEMPLATE_CODES[p.kind], pc.sm.value(path),
                           f'runbook template "{name}": {where}{p.message}', p.hint)
                elif p.file:  # the default template: no policy line names it, its own line says where
                    pc.diags.append(Diagnostic.make(
                        _TEMPLATE_CODES[p.kind], p.file, Position(p.line or 1, 1),
                        f"default runbook template (used when a policy names none): {p.message}", p.hint))
