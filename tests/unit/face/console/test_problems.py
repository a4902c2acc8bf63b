"""The console's standing problems: the status's standing facts (killswitch/facts/), each kind's
line its module's, and the locks in force; ranked what can lose money first; a calm runner has
none; each problem's detail is its own template or, for a kind without one, its facts listed
(facts/_each.html.j2), and no template is left without its problem."""

from __future__ import annotations

from pathlib import Path

import pytest

import killswitch.face.console.strip as strip
from killswitch.face.console.strip import Problem
from killswitch.facts import SEVERITIES, kind_of, modules
from tests.unit.face.console.test_model import ACC, model, render, status

TEMPLATES = Path(strip.__file__).parent / "templates" / "facts"
# what can lose money first; then who is told and what the policies see; then the configuration's
# noise; and last what a person accepted
ORDER = ["locks_stored", "rejected", "still_open", "violations", "trading", "lock", "modes", "pages", "blind",
         "unguarded", "reload", "drift", "streams", "unmatched", "accepted"]


def _ranked() -> list[str]:
    kinds = [(m.RANK, kind_of(m.__name__)) for m in modules()] + [(strip.LOCK_RANK, "lock")]
    return [kind for _, kind in sorted(kinds)]


def test_every_problem_is_found_in_its_rank():
    # the kinds named here keep their order; a new fact's module takes its place by its RANK
    # alone (residuals: on the incident's card)
    assert [k for k in _ranked() if k in ORDER] == ORDER


def test_a_calm_runner_has_no_standing_problem_and_the_page_no_section():
    m = model(status((ACC,)))
    assert m["standing"] == {}
    assert 'id="problems"' not in render(m)


@pytest.mark.parametrize("kind", ORDER)
def test_each_detail_template_belongs_to_a_problem(kind):
    templates = {p.name.removesuffix(".html.j2") for p in TEMPLATES.glob("*.html.j2")} - {"_each"}
    assert templates <= set(_ranked()), templates - set(_ranked())
    assert kind in templates  # every problem named here has a detail of its own under its line


def test_a_problem_is_one_details_with_its_title_line_and_detail():
    m = model(status((ACC,), reload_ok=False))
    problem = m["standing"]["reload"]
    assert isinstance(problem, Problem) and problem.tone in SEVERITIES and problem.keep == "problem-reload"
    page = render(m)
    assert '<details class="problem error" data-keep="problem-reload" id="problem-reload">' in page
    assert "<strong>POLICIES: RELOAD FAILED</strong>: the last good graph keeps running" in page
    assert "The last good graph keeps running" in page  # its detail (facts/reload.html.j2)
