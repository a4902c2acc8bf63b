"""Runbook templates checked at ``ksctl validate`` time: every fixture in
tests/fixtures/bad/templates/ reports exactly the diagnostics its header declares (the format of
tests/unit/test_bad_policies.py), against the templates of tests/fixtures/bad/templates/runbooks/.
Then the default template, a missing runbooks/ directory, the repository's own templates, and
the command line.
"""

from __future__ import annotations


import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.compiler import compile_documents
from killswitch.policy import diagnostics as d
from killswitch.policy.load import load_sources, load_text
from killswitch.runbooks.check import TemplateCheck

from ..conftest import POLICIES, ROOT
from .test_bad_policies import Header, _fmt, _key, _show

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bad" / "templates"
TEMPLATES = FIX / "runbooks"
FIXTURES = sorted(FIX.glob("*.bad.yaml"))
TEMPLATE_CODES = {"KS104", "KS150", "KS151", "KS152"}


def compile_with_templates(path: Path, root=TEMPLATES):
    return compile_documents(load_text(path.read_text(encoding="utf-8"), str(path)), templates=TemplateCheck(root))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_template_fixture_reports_exactly_the_expected_diagnostics(path):
    header = Header(path)
    assert header.expected and header.codes <= TEMPLATE_CODES
    result = compile_with_templates(path)
    got = {_key(x) for x in result.diagnostics}
    assert got == header.expected, f"{path.name}\n{_show(result.diagnostics)}"
    assert result.graph is None  # a template error is an error: no graph to run
    for x in result.diagnostics:
        assert x.code in d.CODES and x.hint
        assert "runbook template" in x.message


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_without_a_template_checker_the_same_policy_compiles_clean(path):
    result = compile_documents(load_text(path.read_text(encoding="utf-8"), str(path)))
    assert result.diagnostics == [] and result.graph is not None


def test_messages_say_where_in_the_template():
    by_code = {x.code: x for x in compile_with_templates(FIX / "009-several-mistakes-templates.bad.yaml").diagnostics}
    assert by_code["KS104"].hint.startswith('did you mean "ok.md.j2"?')
    assert "runbooks/broken-syntax.md.j2:" in by_code["KS150"].message
    assert "untaken-branch-typo.md.j2:4:" in by_code["KS151"].message
    assert '"stage.aprovals" is undefined' in by_code["KS151"].message
    assert 'did you mean "approvals"?' in by_code["KS151"].message
    sandbox = compile_with_templates(FIX / "006-template-sandbox-escape.bad.yaml").diagnostics[0]
    assert "sandbox-escape.md.j2:2:" in sandbox.message and "unsafe" in sandbox.message
    twin = compile_with_templates(FIX / "008-template-html-twin-broken.bad.yaml").diagnostics[0]
    assert "twin.html.j2:3:" in twin.message and '"policy.ownr"' in twin.message


POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: NAME}
    spec:
      signals: {dd: {equity_drawdown: {window: 15m}}}
      triggers:
        hard: {when: "dd >= 5%", on_missing_data: hold}
      stages:
        - {level: 1, name: flat, on: [hard], reset: manual, actions: [close_all]}
    """)


def test_a_broken_default_template_is_reported_once_at_its_own_line(tmp_path):
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "default.md.j2").write_text("# {{ policy.name }}\n\n{{ stage.lvel }}\n")
    docs = load_sources([("a.yaml", POLICY.replace("NAME", "a")), ("b.yaml", POLICY.replace("NAME", "b"))])
    result = compile_documents(docs, templates=TemplateCheck(tmp_path / "runbooks"))
    [diag] = result.diagnostics
    assert (diag.code, diag.pos.line, diag.pos.col) == ("KS151", 3, 1)
    assert diag.file.endswith("runbooks/default.md.j2") and '"stage.lvel"' in diag.message


def test_without_a_runbooks_directory_a_named_template_cannot_be_checked(tmp_path):
    named = POLICY.replace("NAME", "a") + "  runbook: flatten.md.j2\n"
    result = compile_documents(load_text(named, "a.yaml"), templates=TemplateCheck(None))
    assert [(_fmt(_key(x)), x.severity.value) for x in result.diagnostics] == [("KS152 10:12", "warning")]
    assert result.graph is not None
    plain = compile_documents(load_text(POLICY.replace("NAME", "a"), "a.yaml"), templates=TemplateCheck(None))
    assert plain.diagnostics == []  # no template named: the built-in runbook serves


@pytest.mark.parametrize("template", sorted(p.name for p in (ROOT / "runbooks").glob("*.md.j2")))
def test_every_repository_template_checks_clean_for_every_kind_of_stage(template):
    """Each template of runbooks/ named by each example policy (every kind of stage and scope)."""
    from killswitch.sources import read_sources

    src = read_sources([str(POLICIES)])
    files = [(f, re.sub(r"(?m)^  runbook: .*\n", "", t) + f"  runbook: {template}\n" if "\nkind: Policy\n" in t else t)
             for f, t in src.files]
    result = compile_documents(load_sources(files), templates=TemplateCheck(ROOT / "runbooks"))
    assert result.diagnostics == [], _show(result.diagnostics)


def test_example_policies_validate_clean_with_their_templates():
    from killswitch.cli.validate import compile_paths

    result, files = compile_paths((str(POLICIES),))
    assert result.diagnostics == [] and files > 0


def test_ksctl_validate_finds_the_runbooks_directory_and_reports_file_line_col(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = "tests/fixtures/bad/templates/009-several-mistakes-templates.bad.yaml"
    out = CliRunner().invoke(cli, ["validate", rel])
    assert out.exit_code == 1
    assert f"{rel}:17:12: error[KS104]: runbook template \"ok.md.js\"" in out.output
    assert f"{rel}:16:88: error[KS150]:" in out.output and f"{rel}:15:62: error[KS151]:" in out.output
    # --runbooks names another directory: there the policy's templates do not exist
    other = tmp_path / "rb"
    shutil.copytree(TEMPLATES, other)
    (other / "broken-syntax.md.j2").write_text("# fixed {{ policy.name }}\n")
    (other / "untaken-branch-typo.md.j2").write_text("# fixed {{ stage.approvals }}\n")
    (other / "ok.md.js").write_text("not a template name: it does not end in .j2\n")
    out = CliRunner().invoke(cli, ["validate", "--runbooks", str(other), rel])
    assert out.exit_code == 1
    assert "error[KS150]" not in out.output and "error[KS151]" not in out.output
    assert "error[KS104]" in out.output
