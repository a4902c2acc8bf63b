"""Incident data → runbook (markdown and HTML): the one function every renderer goes through.

The template is the one the incident names (the stage's ``runbook`` action, else the policy's
``spec.runbook``), else ``default.md.j2``. When that template cannot render the incident (it is
missing, broken, or fails on this data) the default one is used; when that fails too, or there
is no templates directory at all, the built-in one: the repository's ``default.md.j2`` shipped
in the package (:mod:`.builtin`). Only when the built-in template fails as well is the runbook
the plain one written without a template engine (:func:`~killswitch.render.runbook.fallback_markdown`):
an incident always gets a runbook, and the runbook says which template failed and why. Without
a templates directory the built-in runbook is the intended one: no problem is recorded (no
"could not be used" box, no error span). ``ksctl validate`` exists so that a template never fails.

Pure: the templates were read beforehand (:meth:`Templates.load`); rendering reads no file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..render.runbook import fallback_markdown, html_page, markdown_html, runbook_title
from .builtin import builtin_templates
from .incident import DEFAULT_TEMPLATE
from .lock_view import lock_view
from .templates import TemplateError, Templates, html_twin

if TYPE_CHECKING:
    from ..state.store import RunbookRecord

BUILTIN = "builtin"


@dataclass(frozen=True)
class Runbook:
    markdown: str
    html: str
    template: str  # the template that rendered it; "builtin": the built-in one (or, failing it, the plain one)
    problems: tuple[str, ...] = ()  # why a template was passed over ("runbooks/x.md.j2:12: ...")


def render_runbook(incident: dict, templates: Optional[Templates]) -> Runbook:
    if isinstance(incident.get("lock"), dict) and isinstance(incident.get("policy"), dict):
        # which lock binds and where it comes from, worked out again (a runbook stored before it was)
        incident = {**incident, "lock": lock_view(incident["lock"], str(incident["policy"].get("name")),
                                                  (incident.get("stage") or {}).get("level"), incident.get("scope"))}
    wanted = incident.get("template") or DEFAULT_TEMPLATE
    problems: list[str] = []
    # No runbooks/ directory (the chart's default): the built-in runbook is what was asked for,
    # not a template that failed. Said once at start; not a problem of each incident.
    names = list(dict.fromkeys((wanted, DEFAULT_TEMPLATE))) if templates is not None else []
    for name in (*names, BUILTIN):  # the directory's, then the built-in one (read only when it is needed)
        source = templates if name != BUILTIN else builtin_templates()
        if source is None:
            problems.append("the built-in runbook template (killswitch/runbooks/default.md.j2) is not installed")
            continue
        tname = DEFAULT_TEMPLATE if name == BUILTIN else name
        try:
            md = source.render(tname, incident)
        except TemplateError as e:
            problems.append(str(e))
            continue
        if problems:
            md = _banner(wanted, f"the built-in `{tname}`" if name == BUILTIN else f"`{name}`", problems) + md
        return Runbook(md, _html(source, tname, incident, md, problems), name, tuple(problems))
    md = fallback_markdown(incident, problems)  # the last resort: no template engine at all
    return Runbook(md, html_page(runbook_title(incident), markdown_html(md)), BUILTIN, tuple(problems))


def _banner(wanted: str, used: str, problems: list[str]) -> str:
    note = "\n".join(f"> - `{p}`" for p in problems)
    return f"> The runbook template `{wanted}` could not be used; this runbook was rendered with {used}.\n>\n{note}\n\n"


def _html(templates: Templates, name: str, incident: dict, md: str, problems: list[str]) -> str:
    twin = html_twin(name)
    if twin is not None and twin in templates:
        try:
            return templates.render(twin, incident)
        except TemplateError as e:
            problems.append(str(e))  # the markdown's HTML form says the same, without the twin's layout
    return html_page(runbook_title(incident), markdown_html(md))


def record_of(data: dict, rb: Runbook) -> "RunbookRecord":
    """A rendered runbook as the store keeps it, with the incident data it was rendered from."""
    from ..state.store import RunbookRecord

    stage = data.get("stage") or {}
    return RunbookRecord(
        incident=data["incident"], policy=data["policy"]["name"], scope=data["scope"], level=int(stage.get("level", 0)),
        created_ms=int(data["created_ms"]), graph_digest=data["graph"]["digest"], revision=data["graph"]["revision"],
        template=rb.template, markdown=rb.markdown, html=rb.html,
        data_json=json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False))
