"""The console's standing problems (killswitch/face/console/facts/): one module each, found by
discovery, ranked what can lose money first; a calm runner has none; each module's detail is its
own template, and no template is left without its module."""

from __future__ import annotations

from pathlib import Path

import pytest

import killswitch.face.console.facts as facts
from killswitch.face.console.facts import TONES, Fact, facts_of, finders
from tests.unit.face.console.test_model import ACC, model, render, status

TEMPLATES = Path(facts.__file__).parents[1] / "templates" / "facts"
# what can lose money first; then who is told and what the policies see; then the configuration's
# noise; and last what a person accepted
ORDER = ["locks_stored", "rejected", "still_open", "violations", "trading", "lock", "modes", "pages", "blind",
         "unguarded", "reload", "drift", "streams", "unmatched", "accepted"]


def test_every_module_is_found_in_its_rank():
    assert [kind for _, kind, _ in finders()] == ORDER


def test_a_calm_runner_has_no_standing_problem_and_the_page_no_section():
    m = model(status((ACC,)))
    assert facts_of(m) == {} and m["standing"] == {}
    assert 'id="problems"' not in render(m)


@pytest.mark.parametrize("kind", ORDER)
def test_each_detail_template_belongs_to_a_module(kind):
    templates = {p.name.removesuffix(".html.j2") for p in TEMPLATES.glob("*.html.j2")}
    assert templates <= set(ORDER), templates - set(ORDER)
    assert kind in templates  # every problem has a detail under its line today


def test_a_problem_is_one_details_with_its_title_line_and_detail():
    m = model(status((ACC,), reload_ok=False))
    fact = m["standing"]["reload"]
    assert isinstance(fact, Fact) and fact.tone in TONES and fact.keep == "problem-reload"
    page = render(m)
    assert '<details class="problem error" data-keep="problem-reload" id="problem-reload">' in page
    assert "<strong>POLICIES: RELOAD FAILED</strong>: the last good graph keeps running" in page
    assert "The last good graph keeps running" in page  # its detail (facts/reload.html.j2)


def test_two_modules_of_one_rank_are_refused(monkeypatch):
    import types

    twin = types.ModuleType("killswitch.face.console.facts.twin")
    twin.RANK, twin.fact = 10, lambda page: None  # type: ignore[attr-defined]
    real = facts.importlib.import_module

    def importing(name, *a):
        return twin if name.endswith(".twin") else real(name, *a)

    infos = list(facts.pkgutil.iter_modules(facts.__path__))
    monkeypatch.setattr(facts.pkgutil, "iter_modules", lambda path: infos + [types.SimpleNamespace(name="twin")])
    monkeypatch.setattr(facts.importlib, "import_module", importing)
    finders.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="two standing problems share a rank"):
            finders()
    finally:
        monkeypatch.undo()
        finders.cache_clear()
