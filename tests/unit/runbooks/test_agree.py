"""Runbooks that agree with themselves: no negative ages, no "every close filled" when none was
sent, http(s) links rendered as links and nothing else, no empty table header, and the built-in
runbook without a templates directory is not a failure."""

from __future__ import annotations

import copy

import pytest

from killswitch.render.runbook import inline, markdown_html
from killswitch.runbooks.incident import age_text, order_summary, value_text
from killswitch.runbooks.render import BUILTIN, render_runbook
from killswitch.runbooks.sample import sample_incident
from killswitch.runbooks.templates import Templates
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

FILLED = "Every close of this tick filled"


@pytest.fixture(scope="module")
def flatten_incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    data = sample_incident(graph.policy("futures-book"), 3, digest="sha256:" + "5e" * 32, revision=None)
    assert data["template"] == "flatten.md.j2"
    return data


def _with_orders(data: dict, statuses: list[str], dry_run: bool = False) -> dict:
    out = copy.deepcopy(data)
    template = out["actions"]["orders"][0]
    out["actions"]["orders"] = [{**template, "client_order_id": f"ks-{i}", "status": s,
                                 "filled": template["amount"] if s == "filled" else 0.0, "code": None}
                                for i, s in enumerate(statuses)]
    out["actions"]["summary"] = order_summary(out["actions"]["orders"])
    out["dry_run"] = dry_run
    return out


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(ROOT / "runbooks")


def test_no_close_planned_does_not_say_every_close_filled(flatten_incident, templates):
    md = render_runbook(_with_orders(flatten_incident, []), templates).markdown
    assert "No order was planned in this tick." in md and FILLED not in md
    assert "**No close was planned in this tick**" in md


def test_a_dry_run_says_its_closes_were_planned_not_sent(flatten_incident, templates):
    md = render_runbook(_with_orders(flatten_incident, ["not sent (dry run)"] * 2, dry_run=True), templates).markdown
    assert FILLED not in md
    assert "**DRY RUN: 2 closes planned, none sent**" in md


def test_closes_that_all_filled_say_so_and_a_failed_one_says_it_did_not(flatten_incident, templates):
    md = render_runbook(_with_orders(flatten_incident, ["filled", "filled"]), templates).markdown
    assert FILLED in md
    md = render_runbook(_with_orders(flatten_incident, ["filled", "rejected"]), templates).markdown
    assert FILLED not in md and "**1 position not closed** (section 2: 1 close order did not fill)" in md


@pytest.mark.parametrize("seconds, text", [
    (-0.584, "0s (clock skew: their clock is 584ms ahead of the runner's)"),
    (0.0, "0ms"), (0.25, "250ms"), (75.0, "1m15s"), (None, None),
])
def test_an_age_is_never_negative(seconds, text):
    assert age_text(seconds) == text


def test_a_duration_signal_below_zero_reads_as_skew_not_a_negative_age():
    assert value_text(-0.584, "duration") == "0s (clock skew: their clock is 584ms ahead of the runner's)"
    assert not value_text(-0.584, "duration").startswith("-")


@pytest.mark.parametrize("text, html", [
    ("see [the wiki](https://wiki.example/a?b=1&c=2)",
     'see <a href="https://wiki.example/a?b=1&amp;c=2" rel="noopener noreferrer">the wiki</a>'),
    ("at http://127.0.0.1:8080/v1/runbooks/x.",
     'at <a href="http://127.0.0.1:8080/v1/runbooks/x" rel="noopener noreferrer">'
     'http://127.0.0.1:8080/v1/runbooks/x</a>.'),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("[x](data:text/html,<b>hi</b>)", "[x](data:text/html,&lt;b&gt;hi&lt;/b&gt;)"),
    ("file:///etc/passwd", "file:///etc/passwd"),
    ('[a](https://x.example/"onmouseover="1)', '[a](https://x.example/&quot;onmouseover=&quot;1)'),
    ("`https://in.code.example`", "<code>https://in.code.example</code>"),
    ("**[<b>](https://x.example)**", '**<a href="https://x.example" rel="noopener noreferrer">&lt;b&gt;</a>**'),
])
def test_links_are_rendered_for_http_and_https_only_and_escaped(text, html):
    assert inline(text) == html


def test_a_key_value_table_has_no_empty_header_row():
    out = markdown_html("| | |\n|---|---|\n| incident | `x` |\n")
    assert "<thead>" not in out and "<th>" not in out and "<td>incident</td>" in out
    assert "<thead><tr><th>a</th>" in markdown_html("| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_without_a_templates_directory_the_builtin_runbook_is_no_problem(flatten_incident):
    rb = render_runbook(flatten_incident, None)
    assert rb.template == BUILTIN and rb.problems == ()
    assert "could not be used" not in rb.markdown and "could not be used" not in rb.html
    # the built-in runbook is the repository's default.md.j2 (tests/unit/runbooks/test_builtin.py)
    assert rb.markdown == Templates.load(ROOT / "runbooks").render("default.md.j2", flatten_incident)


def test_a_template_that_fails_is_still_said_in_the_builtin_runbook(flatten_incident):
    broken = Templates({"default.md.j2": "{{ stage.nmae.x }}", "flatten.md.j2": "{% if %}"})
    rb = render_runbook(flatten_incident, broken)
    assert rb.template == BUILTIN and len(rb.problems) == 2 and "could not be used" in rb.markdown
