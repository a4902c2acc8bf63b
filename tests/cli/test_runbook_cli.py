"""``ksctl runbook render / list``: an incident's runbook rendered again from its stored data."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from killswitch.cli.common import compile_paths
from killswitch.cli.main import cli
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import sample_incident
from killswitch.runbooks.sink import record_of
from killswitch.runbooks.templates import Templates
from killswitch.state import open_store

from ..conftest import POLICIES, ROOT

INCIDENT = "futures-book/binanceusdm/main/L3/e3"


@pytest.fixture
def state(tmp_path):
    """A store holding the runbook of a flatten of the futures book, as the runner stores it."""
    result, _ = compile_paths((str(POLICIES),))
    data = sample_incident(result.graph.policy("futures-book"), 3, digest=result.graph.digest, revision="r1")
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    store.save_runbook(record_of(data, render_runbook(data, Templates.load(ROOT / "runbooks"))))
    stored = store.runbook(INCIDENT)
    store.close()
    return url, stored


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_render_again_with_the_same_templates_gives_the_stored_runbook(state, at_root, tmp_path):
    url, stored = state
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url)
    assert out.exit_code == 0, out.output
    assert out.stdout == stored.markdown
    page = tmp_path / "rb.html"
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url, "-o", "html", "--out", str(page))
    assert out.exit_code == 0 and out.stdout == ""
    assert page.read_text() == stored.html
    assert out.stderr == f"ksctl runbook render: wrote {page} ({len(stored.html.encode()):,} bytes)\n"


def test_render_uses_the_current_templates_and_as_stored_what_was_shown(state, at_root, tmp_path):
    url, stored = state
    newer = tmp_path / "runbooks"
    shutil.copytree(ROOT / "runbooks", newer)
    default = newer / "default.md.j2"
    default.write_text(default.read_text().replace("## 1. What fired", "## 1. What fired (revised)"))
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url, "--runbooks", str(newer))
    assert out.exit_code == 0 and "## 1. What fired (revised)" in out.stdout
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url, "--runbooks", str(newer), "--as-stored")
    assert out.exit_code == 0 and out.stdout == stored.markdown


def test_a_broken_template_still_renders_with_the_fallback_and_exits_1(state, at_root, tmp_path):
    url, _ = state
    broken = tmp_path / "runbooks"
    broken.mkdir()
    (broken / "default.md.j2").write_text("{{ stage.nmae }}\n")
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url, "--runbooks", str(broken))
    assert out.exit_code == 1
    # the built-in template (the repository's default.md.j2, shipped in the package) rendered it
    assert out.stdout.startswith("> The runbook template `flatten.md.j2` could not be used; this runbook was "
                                 "rendered with the built-in `default.md.j2`.")
    assert "runbooks/default.md.j2:1" in out.stdout  # the runbook says which template failed
    assert '# futures-book: stage 3 "flatten" on binanceusdm/main' in out.stdout
    assert "template problem:" in out.stderr


def test_an_unknown_incident_exits_1_and_says_so(state, at_root):
    url, _ = state
    out = run("runbook", "render", "--incident", "futures-book/binanceusdm/main/L3/e9", "--state", url)
    assert out.exit_code == 1 and "UNKNOWN_INCIDENT" in out.stderr and out.stdout == ""
    assert f"did you mean {INCIDENT!r}" in out.stderr


def test_a_manual_close_has_no_runbook_and_says_where_its_orders_are(state, at_root):
    url, _ = state
    out = run("runbook", "render", "--incident", "manual/binanceusdm/main/m1772456400000", "--state", url)
    assert out.exit_code == 1 and "UNKNOWN_INCIDENT" in out.stderr
    assert "a manual close is an operator's" in out.stderr and "ksctl report" in out.stderr


def test_list_names_the_stored_incidents(state):
    url, stored = state
    out = run("runbook", "list", "--state", url)
    assert out.exit_code == 0
    assert out.stdout == f"2026-03-02T13:00:00Z  {INCIDENT}  stage 3  template flatten.md.j2  open\n"
    doc = json.loads(run("runbook", "list", "--state", url, "-o", "json").stdout)
    assert [r["incident"] for r in doc["runbooks"]] == [INCIDENT]
    assert run("runbook", "list", "--state", url, "--since", "2026-03-03").stdout == "no runbook stored\n"


def test_render_outside_the_repository_prints_the_stored_runbook_and_says_so(state, tmp_path, monkeypatch):
    url, stored = state
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no runbooks/ here or above: the built-in runbook lacks what flatten.md.j2 adds
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url)
    assert out.exit_code == 0, out.output
    assert out.stdout == stored.markdown  # what the on-call engineer was shown, not the built-in runbook
    assert out.stderr.startswith("ksctl runbook render: WARNING: no runbooks/ directory here or above it (the "
                                 "incident was rendered with 'flatten.md.j2'): printing the runbook as stored at "
                                 "2026-03-02T13:00:00Z; run from the policy repository, or give --runbooks DIR"), \
        out.stderr
    doc = json.loads(run("runbook", "render", "--incident", INCIDENT, "--state", url, "-o", "json").stdout)
    assert doc["as_stored"] is True and doc["fallback"].startswith("no runbooks/ directory") and \
        doc["markdown"] == stored.markdown
    # with --runbooks it renders again, as in the repository
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url, "--runbooks", str(ROOT / "runbooks"))
    assert out.exit_code == 0 and out.stdout == stored.markdown and out.stderr == ""


def test_render_outside_the_repository_renders_a_built_in_runbook_again(tmp_path, monkeypatch):
    result, _ = compile_paths((str(POLICIES),))
    data = sample_incident(result.graph.policy("futures-book"), 3, digest=result.graph.digest, revision="r1")
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    store.save_runbook(record_of(data, render_runbook(data, None)))  # a runner without templates
    store.close()
    monkeypatch.chdir(tmp_path)
    out = run("runbook", "render", "--incident", INCIDENT, "--state", url)
    assert out.exit_code == 0 and out.stderr == "" and out.stdout == render_runbook(data, None).markdown
    doc = json.loads(run("runbook", "render", "--incident", INCIDENT, "--state", url, "-o", "json").stdout)
    assert (doc["template"], doc["as_stored"], doc["fallback"]) == ("builtin", False, None), doc  # as cli.md says


def test_render_with_api_prints_the_runners_runbook_with_no_store_here(state, tmp_path, monkeypatch):
    """README's ``ksctl runbook render --incident ID`` on a desk with no state store: ``--api``
    reads the runner's ``GET /v1/runbooks/{incident}`` (issue 65)."""
    from killswitch.client import RunnerClient

    _, stored = state
    asked = []

    def runbook(self, incident, fmt="md"):
        asked.append((self.base_url, incident, fmt))
        return stored.html if fmt == "html" else stored.markdown

    monkeypatch.setattr(RunnerClient, "runbook", runbook)
    monkeypatch.chdir(tmp_path)  # no killswitch-state.db here
    api = "http://127.0.0.1:8080"
    r = CliRunner().invoke(cli, ["runbook", "render", "--incident", INCIDENT, "--api", api])
    assert r.exit_code == 0, r.output
    assert r.stdout == stored.markdown and asked == [(api, INCIDENT, "md")]
    r = CliRunner().invoke(cli, ["runbook", "render", "--incident", INCIDENT, "--api", api, "-o", "json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and (doc["markdown"], doc["html"], doc["as_stored"]) == (stored.markdown, stored.html,
                                                                                    True)
    both = CliRunner().invoke(cli, ["runbook", "render", "--incident", INCIDENT, "--api", api, "--state", state[0]])
    assert both.exit_code == 2 and "not both" in both.output
    # without --api, the store is read as before: its absence is said
    r = CliRunner().invoke(cli, ["runbook", "render", "--incident", INCIDENT])
    assert r.exit_code == 2 and "no state store at './killswitch-state.db'" in r.output


def test_render_reads_the_runner_named_by_ks_api_url_unless_a_store_is_given(state, tmp_path, monkeypatch):
    """The page's ``ksctl runbook render --incident ID`` with ``KS_API_URL`` exported, as for
    every other verb that talks to the runner: the runner's runbook, not ``./killswitch-state.db``;
    ``--state`` given still renders from the store (offline), and both on the command line exit 2
    (issue 65, walk 6 F-M1)."""
    from killswitch.client import RunnerClient

    url, stored = state
    asked = []

    def runbook(self, incident, fmt="md"):
        asked.append((self.base_url, incident, fmt))
        return stored.markdown

    monkeypatch.setattr(RunnerClient, "runbook", runbook)
    monkeypatch.chdir(tmp_path)  # no killswitch-state.db here
    api = "http://127.0.0.1:28080"
    env = {"KS_API_URL": api, "KS_STATE_URL": None}
    r = CliRunner(env=env).invoke(cli, ["runbook", "render", "--incident", INCIDENT])
    assert r.exit_code == 0, r.output
    assert r.stdout == stored.markdown and asked == [(api, INCIDENT, "md")]
    r = CliRunner(env=env).invoke(cli, ["runbook", "render", "--incident", INCIDENT, "--state", url,
                                        "--runbooks", str(ROOT / "runbooks")])
    assert r.exit_code == 0, r.output
    assert r.stdout == stored.markdown and len(asked) == 1  # from the store: the runner not asked
    both = CliRunner(env=env).invoke(cli, ["runbook", "render", "--incident", INCIDENT, "--api", api,
                                           "--state", url])
    assert both.exit_code == 2 and "not both" in both.output
