"""One policy's pass: what every check of a policy document reads, and where its findings go.

What it owns: :class:`PolicyPass`, the state the checks of one Policy document share — the
document, its model and source map, the context of the other documents, the names salvage
poisoned, the findings so far (:meth:`PolicyPass.add`, which drops warnings about a salvaged
policy) — and the reads of the document as written that more than one check makes (a stage's
raw mapping, where a stage key is). The checks themselves are functions over it, a module per
part of the policy: :mod:`.condition_check` (signals, triggers and their conditions),
:mod:`.stage_check` (the stages), :mod:`.reference_check` (what the policy names, and what
nothing uses), :mod:`.runbook_check` (runbook templates); :mod:`.compiler` runs them in order
and builds the policy's node.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Optional

from ..policy import diagnostics as d
from ..policy.diagnostics import Diagnostic, Position
from ..policy.load import LoadedDoc
from ..policy.policy_doc import Policy
from .crossdoc import Context
from .nodes import ActionNode


class PolicyPass:
    """The state of one policy document's pass, shared by its checks."""

    def __init__(self, doc: LoadedDoc, ctx: Context, diags: list[Diagnostic]):
        self.doc = doc
        self.ctx = ctx
        self.diags = diags
        self.policy: Policy = doc.model  # type: ignore[assignment]
        self.spec = self.policy.spec
        self.sm = doc.srcmap
        self.bad_signals = doc.poisoned_names("signals")
        self.bad_triggers = doc.poisoned_names("triggers")
        self.errors_before = sum(1 for x in diags if x.is_error)
        self.constant: set[str] = set()  # triggers with a comparison that can never (or always) hold
        self.stage_actions: list[tuple[ActionNode, ...]] = []  # each stage's actions, compiled (check_stages)

    def add(self, code: d.Code, pos: Position, message: str, hint: Optional[str] = None) -> None:
        if not self.doc.complete and not code.severity == d.Severity.ERROR:
            return  # warnings about a salvaged policy would be noise: parts of it are missing
        self.diags.append(Diagnostic.make(code, self.doc.file, pos, message, hint))

    def raw_stage(self, i: int) -> dict[str, Any]:
        stages = self.doc.raw.get("spec", {}).get("stages", [])
        idx = self.doc.stage_path(i)[2]
        return stages[idx] if isinstance(stages, list) and idx < len(stages) and isinstance(stages[idx], dict) else {}

    def stage_pos(self, level: int, key: str) -> Position:
        for i, st in enumerate(self.spec.stages):
            if st.level == level:
                sp = self.doc.stage_path(i)
                return self.sm.key(sp + (key,)) if key in self.raw_stage(i) else self.sm.value(sp)
        return self.sm.doc

    def unsure_levels(self, *fields: str) -> set[int]:
        """Levels of the stages salvage kept without one of ``fields`` as written."""
        return {st.level for i, st in enumerate(self.spec.stages) if self.doc.stage_uncertain(i, *fields)}
