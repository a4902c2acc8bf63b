"""Golden runbooks: the markdown and HTML of every stage of every example policy.

Each case is a sample incident (:func:`killswitch.runbooks.incident.sample_incident`) of one
stage of a policy in policies/, at a fixed time, with a fixed digest and revision (so that
changing an unrelated policy does not rewrite every file), rendered with the template that
stage uses from runbooks/. Rewrite with ``pytest tests/golden --update-goldens`` and review
the diff like code: it is what the on-call engineer will read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from killswitch.runbooks.incident import DEFAULT_TEMPLATE, template_for
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import sample_incident
from killswitch.runbooks.templates import Templates
from killswitch.sources import read_sources
from tests.conftest import ROOT, check_golden
from tests.unit.engine_helpers import compile_graph

HERE = Path(__file__).parent
DIGEST = "sha256:" + "5e" * 32
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _graph():
    src = read_sources([str(ROOT / "policies")])
    return compile_graph((str(Path(f).relative_to(ROOT)), t) for f, t in src.files)


GRAPH = _graph()
CASES = [(p.name, s.level) for p in GRAPH.policies for s in p.stages]


def test_every_stage_of_every_example_policy_has_a_case():
    assert {name for name, _ in CASES} == {"dead-mans-switch", "exchange-faults", "futures-book",
                                           "portfolio-breaker", "position-watch", "spot-book", "strategy-latch",
                                           "volatility-drawdown"}
    assert len(CASES) == sum(len(p.stages) for p in GRAPH.policies) >= 8


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(ROOT / "runbooks")


@pytest.mark.parametrize("policy,level", CASES, ids=[f"{p}-L{lvl}" for p, lvl in CASES])
def test_runbook_of_example_policy_stage(policy, level, templates, update_goldens):
    node = GRAPH.policy(policy)
    data = sample_incident(node, level, digest=DIGEST, revision=REVISION)
    rb = render_runbook(data, templates)
    assert rb.problems == ()  # rendered by the template the stage names, not by a fallback
    assert rb.template == (template_for(node, level) or DEFAULT_TEMPLATE)
    check_golden(HERE / f"{policy}-L{level}.md", rb.markdown, update_goldens)
    check_golden(HERE / f"{policy}-L{level}.html", rb.html, update_goldens)


# The templates of runbooks/ on stages whose policy names another one: the default runbook is
# what a policy without a template (or whose template fails) gets, also on a flatten.
TEMPLATE_CASES = [("default.md.j2", "futures-book", 3), ("default.md.j2", "dead-mans-switch", 1),
                  ("default.md.j2", "exchange-faults", 1)]


def test_every_template_of_the_repository_has_a_golden_case():
    names = {f.name for f in (ROOT / "runbooks").glob("*.md.j2")}
    named = {template_for(GRAPH.policy(p), lvl) or DEFAULT_TEMPLATE for p, lvl in CASES}
    assert names == named | {t for t, _, _ in TEMPLATE_CASES}
    assert all(template_for(GRAPH.policy(p), lvl) not in (None, t) for t, p, lvl in TEMPLATE_CASES)


@pytest.mark.parametrize("template,policy,level", TEMPLATE_CASES,
                         ids=[f"{t.split('.')[0]}-{p}-L{lvl}" for t, p, lvl in TEMPLATE_CASES])
def test_runbook_template_on_the_stage_it_is_written_for(template, policy, level, templates, update_goldens):
    data = dict(sample_incident(GRAPH.policy(policy), level, digest=DIGEST, revision=REVISION), template=template)
    rb = render_runbook(data, templates)
    assert (rb.template, rb.problems) == (template, ())
    stem = template.split(".")[0]
    check_golden(HERE / f"{policy}-L{level}.{stem}.md", rb.markdown, update_goldens)
    check_golden(HERE / f"{policy}-L{level}.{stem}.html", rb.html, update_goldens)


def test_golden_folder_holds_only_current_cases():
    expected = {f"{p}-L{lvl}.{ext}" for p, lvl in CASES for ext in ("md", "html")}
    expected |= {f"{p}-L{lvl}.{t.split('.')[0]}.{ext}" for t, p, lvl in TEMPLATE_CASES for ext in ("md", "html")}
    present = {f.name for f in HERE.iterdir() if f.suffix in (".md", ".html")}
    assert present == expected, \
        f"stale golden files: {sorted(present - expected)}; missing: {sorted(expected - present)}"


def test_the_flatten_runbook_on_a_stage_that_closes_nothing_does_not_say_it_flattened(templates):
    # a halt stage given flatten.md.j2: "the book was flattened" above "no close was planned" misled
    data = sample_incident(GRAPH.policy("futures-book"), 3, digest=DIGEST, revision=REVISION)
    assert data["template"] == "flatten.md.j2"
    closes = {"reduce_top_risk", "close_side", "close_positions", "close_all", "reduce_all_by", "reduce_leverage_to"}
    halt = dict(data, stage={**data["stage"], "actions": [a for a in data["stage"]["actions"]
                                                           if a["kind"] not in closes]})
    halt["actions"] = {**data["actions"], "orders": []}
    rb = render_runbook(halt, templates)
    assert rb.problems == ()
    assert "## First steps: the book was locked, not flattened (this stage closes no position)" in rb.markdown
    assert "the book was flattened" not in rb.markdown
    assert "## First steps: the book was flattened" in render_runbook(data, templates).markdown
