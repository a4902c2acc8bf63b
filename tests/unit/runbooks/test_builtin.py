"""The built-in runbook (no runbooks/ directory: the chart's default, or policies outside the
repository) is the repository's default.md.j2, shipped in the package: one text, so the two
cannot drift. The plain runbook written without a template engine is the last resort only."""

from __future__ import annotations

import re

import pytest

from killswitch.runbooks import render as render_module
from killswitch.runbooks.builtin import builtin_templates
from killswitch.runbooks.render import BUILTIN, render_runbook
from killswitch.runbooks.sample import sample_incident
from killswitch.runbooks.templates import Templates
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

# what README's "How to read a runbook" promises of every runbook
PROMISED = ("## First steps", "## 1. What fired", "## 2. What was done", "## 3. Positions left",
            "## 4. Trading lock", "### What broke the halt", "## 5. What happens next", "## 6. Inspect and reset",
            "## 7. After closure", "| mode |", "| equity at entry |")


def _incidents() -> list[dict]:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return [sample_incident(node, stage.level, digest="sha256:" + "5e" * 32, revision=None)
            for node in graph.policies for stage in node.stages]


def _headings(md: str) -> list[str]:
    return re.findall(r"(?m)^#{1,3} .*$|^\| (?:mode|equity at entry) \|", md)


def test_the_builtin_template_is_the_repository_default_one_file():
    assert (ROOT / "runbooks" / "default.md.j2").resolve() == (ROOT / "killswitch" / "runbooks"
                                                                / "default.md.j2").resolve()
    assert builtin_templates() is not None
    assert builtin_templates().sources["default.md.j2"] == (ROOT / "runbooks" / "default.md.j2").read_text()


@pytest.mark.parametrize("data", _incidents(), ids=lambda d: d["incident"])
def test_without_a_directory_the_runbook_is_the_repository_default(data):
    repository = Templates.load(ROOT / "runbooks")
    rb = render_runbook(data, None)
    assert rb.template == BUILTIN and rb.problems == ()
    expected = repository.render("default.md.j2", data)
    assert rb.markdown == expected
    assert _headings(rb.markdown) == _headings(expected)
    for promised in PROMISED:
        assert promised in rb.markdown, promised
    assert "could not be used" not in rb.markdown


def test_a_directory_whose_templates_all_fail_falls_back_to_the_builtin_template():
    data = next(d for d in _incidents() if d["template"] == "flatten.md.j2")
    broken = Templates({"default.md.j2": "{{ stage.nmae.x }}", "flatten.md.j2": "{% if %}"})
    rb = render_runbook(data, broken)
    assert rb.template == BUILTIN and len(rb.problems) == 2
    assert rb.markdown.startswith("> The runbook template `flatten.md.j2` could not be used; this runbook was "
                                  "rendered with the built-in `default.md.j2`.")
    assert "## First steps" in rb.markdown and "## 5. What happens next" in rb.markdown


def test_the_plain_runbook_is_the_last_resort_and_says_why(monkeypatch):
    data = _incidents()[0]
    monkeypatch.setattr(render_module, "builtin_templates", lambda: Templates({"default.md.j2": "{{ nope }}"},
                                                                            "killswitch/runbooks"))
    rb = render_runbook(data, None)
    assert rb.template == BUILTIN and len(rb.problems) == 1 and "nope" in rb.problems[0]
    assert "> The runbook template could not be used; this is the built-in runbook." in rb.markdown
    assert rb.markdown.startswith("# Runbook: ")
    monkeypatch.setattr(render_module, "builtin_templates", lambda: None)
    rb = render_runbook(data, None)
    assert "is not installed" in rb.problems[0] and "could not be used" in rb.markdown


def test_a_copy_of_runbooks_with_its_link_dangling_still_renders_the_default(tmp_path):
    """`cp -r policies/ /tmp/x` keeps policies/runbooks/default.md.j2 as a relative link that
    points nowhere there: the directory's templates extend the built-in default, with no problem
    said."""
    import shutil

    copy = tmp_path / "runbooks"
    shutil.copytree(ROOT / "policies" / "runbooks", copy, symlinks=True)
    assert (copy / "default.md.j2").is_symlink() and not (copy / "default.md.j2").exists()
    templates = Templates.load(copy)
    assert templates.borrowed == {"default.md.j2"}
    assert templates.path("default.md.j2") == "killswitch/runbooks/default.md.j2"
    data = next(d for d in _incidents() if d["template"] == "flatten.md.j2")
    rb = render_runbook(data, templates)
    assert rb.template == "flatten.md.j2" and rb.problems == (), rb.problems
    assert "could not be used" not in rb.markdown
    for promised in PROMISED:
        assert promised in rb.markdown, promised


def test_a_directory_of_its_own_templates_extends_the_builtin_default(tmp_path):
    (tmp_path / "mine.md.j2").write_text('{% extends "default.md.j2" %}\n')
    templates = Templates.load(tmp_path)
    data = dict(next(iter(_incidents())), template="mine.md.j2")
    rb = render_runbook(data, templates)
    assert rb.template == "mine.md.j2" and rb.problems == ()
    assert "## First steps" in rb.markdown


def test_a_directory_with_its_own_default_is_not_given_the_builtin(tmp_path):
    (tmp_path / "default.md.j2").write_text("# ours\n")
    templates = Templates.load(tmp_path)
    assert templates.borrowed == frozenset() and templates.sources == {"default.md.j2": "# ours\n"}


def test_a_runner_without_runbooks_compiles_the_builtin_at_its_start_not_in_an_incident(monkeypatch):
    """The built-in template is one a process, compiled when the runner's runbook sink starts:
    an incident's runbook renders with no compiling on the runner's loop (at 10,000 positions
    that was the longest hold of the incident)."""
    from killswitch.runbooks.sink import RunbookSink

    builtin_templates.cache_clear()  # (a process's first runner: no earlier test's render)
    RunbookSink(None)
    assert builtin_templates() is builtin_templates()

    def refuse(*a, **kw):
        raise AssertionError("a template loaded in an incident")

    monkeypatch.setattr(builtin_templates().env.loader, "load", refuse)  # (jinja2's cache answers first)
    rb = render_runbook(_incidents()[0], None)
    assert rb.template == BUILTIN and not rb.problems and "## 2. What was done" in rb.markdown
