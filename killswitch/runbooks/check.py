"""What ``ksctl validate`` asks about runbook templates: the compiler's
:class:`~killswitch.compile.runbook_check.TemplateChecker`.

For the template a stage's runbook uses, it answers whether the template exists in the
``runbooks/`` directory, whether it (and what it includes or extends, and its HTML twin)
parses, whether every variable it reads is a key of the incident data, and whether it renders
a sample incident of that very stage (:func:`~.sample.sample_incident`): a template error is
found at validation time, not while an incident is being handled.

Reading the directory and importing jinja2 happen on the first question, so a policy set that
uses no template costs nothing. Without a ``runbooks/`` directory, a template a policy names
cannot be checked (a warning) and the default one is not needed (the built-in runbook serves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..compile.graph import PolicyNode
from ..compile.runbook_check import TemplateProblem
from ..policy.diagnostics import suggestion_hint
from .incident import DEFAULT_TEMPLATE
from .sample import sample_incident
from .template_shape import Shape, data_shape
from .templates import TemplateError, Templates, display_path, html_twin

SAMPLE_DIGEST = "sha256:" + "0" * 64

HINTS = {
    "syntax": "jinja2 syntax: {{ value }}, {% if x %}…{% endif %}, {% for x in xs %}…{% endfor %}",
    "render": "a template reads the keys of the incident data (see killswitch/runbooks/incident.py and "
              "runbooks/default.md.j2); templates run in a sandbox that refuses Python internals",
}


class TemplateCheck:
    def __init__(self, root: Optional[Path]):
        self.root = Path(root) if root is not None else None
        self._templates: Optional[Templates] = None
        self._done: dict[tuple, list[TemplateProblem]] = {}
        self._shape_cache: dict[str, Shape] = {}

    @property
    def templates(self) -> Templates:
        if self._templates is None:
            assert self.root is not None
            exists = self.root.is_dir()
            self._templates = Templates.load(self.root) if exists else Templates({}, display_path(self.root))
        return self._templates

    def check(self, name: Optional[str], policy: Optional[PolicyNode], level: Optional[int]) -> list[TemplateProblem]:
        if self.root is None:
            if name is None:
                return []  # no template named, none to use: the built-in runbook serves
            return [TemplateProblem("unchecked", "cannot be checked: no runbooks/ directory was found",
                                    "put the templates in a runbooks/ directory next to the policies (found walking "
                                    "up to the git root), or give ksctl validate --runbooks DIR")]
        t = self.templates
        tname = name or DEFAULT_TEMPLATE
        if name is None and (tname not in t or tname in t.borrowed):
            return []  # the built-in default serves: the package's own, checked by its tests
        if tname not in t:
            return [TemplateProblem("unknown", f"no such template in {t.root}/",
                                    suggestion_hint(tname, t.names, f"templates are the *.j2 files of {t.root}/"))]
        key = (tname, policy.name if policy is not None else None, level)
        if key not in self._done:
            contexts, known = [], None
            if policy is not None and level is not None:
                contexts.append(sample_incident(policy, level, digest=SAMPLE_DIGEST, revision=None))
                known = self._shape(policy)
            # the stage's sample is within its policy's full samples (only their lists are
            # longer: tests/unit/runbooks/test_validate.py holds it for every kind of stage)
            covers = known is not None
            errors: list[TemplateError] = t.check(tname, contexts, known, known_covers=covers)
            twin = html_twin(tname)
            if twin is not None and twin in t:
                errors += t.check(twin, contexts, known, known_covers=covers)
            self._done[key] = [TemplateProblem(e.kind, e.message, self._hint(e), e.file, e.line) for e in errors]
        return self._done[key]

    def _hint(self, e: TemplateError) -> Optional[str]:
        if e.kind == "unknown":
            t = self.templates
            return suggestion_hint(e.missing or "", t.names, f"include and extend templates by their name in {t.root}/")
        return HINTS.get(e.kind)

    def _shape(self, policy: PolicyNode) -> Shape:
        """The shape of the incidents of every stage of ``policy``, full: what the data of its
        runbooks can hold."""
        if policy.name not in self._shape_cache:
            self._shape_cache[policy.name] = data_shape(
                sample_incident(policy, s.level, digest=SAMPLE_DIGEST, revision=None, full=True) for s in policy.stages)
        return self._shape_cache[policy.name]
