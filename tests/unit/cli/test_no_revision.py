"""One spelling for a graph whose sources have no git revision: "not in git", in every output
that prints one (ksctl graph, validate, plan, diff, status, report, runbooks, notifications; the
daemon's start line is checked in tests/cli/run/test_runner.py). Each is rendered with no revision and
must say "not in git" and none of the spellings it replaced ("revision none", "revision -",
"revision None")."""

from __future__ import annotations

import re

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.sources import NO_REVISION, read_sources, revision_text
from tests.conftest import POLICIES, ROOT

OLD_SPELLINGS = re.compile(r"revision[ `:]*(none|None|-)(?![\w-])")


def _graph():
    files = read_sources([str(POLICIES / "futures-book.yaml")]).files
    result = compile_documents(load_sources(files), revision=None)
    assert result.graph is not None and result.graph.revision is None
    return result


def _graph_outputs():
    from killswitch.render.diagnostics import validate_text
    from killswitch.render.graph import dot, mermaid

    result = _graph()
    return {"mermaid": mermaid(result.graph), "dot": dot(result.graph), "validate": validate_text(result, 1, False)}


def _status():
    from killswitch.client import LockDocument
    from killswitch.render.status import status_text
    from killswitch.view import RunnerStatus

    st = RunnerStatus("dry-run", True, 1, "sha256:abc", None, None, None)
    return status_text(st, LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False))


def _runbooks():
    from killswitch.render.runbook import fallback_markdown
    from killswitch.runbooks.render import render_runbook
    from killswitch.runbooks.sample import sample_incident
    from killswitch.runbooks.templates import Templates

    node = _graph().graph.policies[0]
    data = sample_incident(node, node.stages[-1].level, digest="sha256:" + "5e" * 32, revision=None)
    rb = render_runbook(data, Templates.load(ROOT / "runbooks"))
    assert not rb.problems, rb.problems
    return {"runbook": rb.markdown, "fallback runbook": fallback_markdown(data)}


def _report():
    from killswitch.render.report import report_markdown

    incident = {"incident": "p/s/L3/e1", "policy": "p", "scope": "s", "level": 3, "from": 0, "at": "t",
                "reason": "R", "graph_digest": "sha256:abc", "revision": None, "dry_run": False, "verified": True,
                "stage": None, "runbook": None, "ended": None, "approvals": [],
                "orders": {"total": 0, "filled": 0, "failed": 0, "open": 0, "planned_dry_run": 0},
                "notifications": {"delivered": [], "failed": []}}
    summary = dict.fromkeys(("incidents", "active", "dry_run_incidents", "transitions", "orders", "orders_filled",
                             "orders_failed", "orders_open", "reset_approvals", "reset_attempts",
                             "notifications_delivered", "notifications_failed", "notifications_dropped"), 0)
    doc = {"format_version": 2, "period": {"since": "a", "until": "b"}, "generated": "c", "store": "sqlite://x",
           "audit": {"verdict": "consistent_unanchored", "passed": True, "intact": False, "anchored": False,
                     "covered": "", "anchoring": "", "rows_in_period": 0},
           "summary": summary, "incidents": [incident], "transitions": [], "orders": [], "approvals": [],
           "resets": [], "notifications": [], "other_events": {}}
    return report_markdown(doc)


def _notification():
    from killswitch.events import STAGE_TRANSITION, Event
    from killswitch.notify.dispatch import Alert
    from killswitch.notify.message import detail

    event = Event.make(STAGE_TRANSITION, 1_772_456_400_000, {"reason": "R", "graph_digest": "sha256:abc",
                                                              "revision": None}, policy="p", scope="s", level=3)
    alert = Alert("fp", {"policy": "p", "severity": "critical"}, event, event.ts_ms, event.ts_ms, True)
    return "\n".join(detail(alert, None))


OUTPUTS = {"graph": _graph_outputs, "status": lambda: {"status": _status()}, "runbooks": _runbooks,
           "report": lambda: {"report": _report()}, "notification": lambda: {"notification": _notification()}}


def test_the_spelling_is_one_constant():
    assert revision_text(None) == NO_REVISION == "not in git"
    assert revision_text("0123abc") == "0123abc"


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_every_output_says_not_in_git_when_there_is_no_revision(kind):
    for name, text in OUTPUTS[kind]().items():
        assert "not in git" in text, (name, text)
        assert not OLD_SPELLINGS.search(text), (name, OLD_SPELLINGS.search(text))


def test_the_old_spellings_would_be_caught():
    for old in ("%% revision none", "revision `None`", "graph sha256:abc  revision -  last tick", "revision -"):
        assert OLD_SPELLINGS.search(old), old
