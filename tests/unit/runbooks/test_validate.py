"""Runbook templates checked at ``ksctl validate`` time: every fixture in
tests/fixtures/bad/templates/ reports exactly the diagnostics its header declares (the format of
tests/unit/policy/test_bad_policies.py), against the templates of tests/fixtures/bad/templates/runbooks/.
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
from hypothesis import given, settings, strategies as st

from killswitch.cli.main import cli
from killswitch.compile.compiler import compile_documents
from killswitch.policy import diagnostics as d
from killswitch.policy.load import load_sources, load_text
from killswitch.runbooks.check import TemplateCheck
from tests.conftest import POLICIES, ROOT
from tests.unit.policy.test_bad_policies import Header, _fmt, _key, _show

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "bad" / "templates"
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
    # no error: only the warning that its two triggers, holding on a 15m drawdown, are blind for
    # 12 min after a deployment (KS219), which is not what these fixtures are about
    assert [x.code for x in result.diagnostics] == ["KS219", "KS219"] and result.graph is not None


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
    blind = ("KS219 7:19", "warning")  # "hard" holds on a 15m drawdown: blind for 12 min after a deployment
    assert [(_fmt(_key(x)), x.severity.value) for x in result.diagnostics] == [blind, ("KS152 10:12", "warning")]
    assert result.graph is not None
    plain = compile_documents(load_text(POLICY.replace("NAME", "a"), "a.yaml"), templates=TemplateCheck(None))
    assert [_fmt(_key(x)) for x in plain.diagnostics] == [blind[0]]  # no template named: the built-in one serves


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


# --- the shape a stage's check reads: its policy's full samples ----------------------------------


@pytest.fixture(scope="module")
def sample_policies(tmp_path_factory) -> tuple[list, list]:
    """(the example policies, the policies of bench/validate.py's generated repository: every
    signal kind, trigger shape and stage kind it draws), compiled once for the module."""
    from killswitch.sources import read_sources
    from tests.conftest import bench_module

    bench = bench_module("validate")
    root = tmp_path_factory.mktemp("generated")
    bench.write_repo(root, 120, seed=3)
    compiled = []
    for where in (POLICIES, root / "policies"):
        result = compile_documents(load_sources(read_sources([str(where)]).files))
        assert result.graph is not None, _show(result.errors)
        compiled.append(list(result.graph.policies))
    return compiled[0], compiled[1]


def test_a_stages_sample_incident_is_within_its_policys_full_samples(sample_policies):
    """TemplateCheck checks a stage's template against the shape of its policy's full samples
    alone (``known_covers``): that is sound only while a stage's own sample adds no key to it."""
    from killswitch.runbooks.check import SAMPLE_DIGEST
    from killswitch.runbooks.sample import sample_incident
    from killswitch.runbooks.template_shape import data_shape, merge_shapes

    examples, generated = sample_policies
    policies = examples + generated
    stages = 0
    for p in policies:
        known = data_shape(sample_incident(p, s.level, digest=SAMPLE_DIGEST, revision=None, full=True)
                           for s in p.stages)
        for s in p.stages:
            own = data_shape([sample_incident(p, s.level, digest=SAMPLE_DIGEST, revision=None)])
            assert merge_shapes(own, known) == known, (p.name, s.level)
            stages += 1
    assert len(policies) > 100 and stages > 200


MISTAKES = {
    "typo.md.j2": "{{ stage.nmae }} {{ policy.name }}",
    "branch.md.j2": "{% if actions.orders %}{% for o in actions.orders %}{{ o.statuss }}{% endfor %}{% endif %}",
    "top.md.j2": "{{ polcy }}",
    "clean.md.j2": "{% for o in actions.orders %}{{ o.status }}{% endfor %}{{ stage.name }}",
    # known where a policy has a reduce_top_risk action, unknown elsewhere: a finding that
    # depends on the policy, so a key remembered for another policy's shape would show
    "params.md.j2": "{% if stage.level > 99 %}{% for a in stage.actions %}{{ a.params.count }}{% endfor %}{% endif %}",
}


@pytest.mark.parametrize("template", sorted(MISTAKES) + ["default.md.j2", "flatten.md.j2"])
def test_a_check_on_the_policys_shape_finds_what_one_on_the_stages_own_finds(template, sample_policies):
    """The same findings, found afresh for each stage, with and without ``known_covers``."""
    from killswitch.runbooks.check import SAMPLE_DIGEST
    from killswitch.runbooks.sample import sample_incident
    from killswitch.runbooks.templates import Templates, data_shape

    sources = dict(MISTAKES, **{n: (ROOT / "runbooks" / n).read_text() for n in ("default.md.j2", "flatten.md.j2")})

    def found(errors):
        return [(e.kind, e.file, e.line, e.message) for e in errors]

    examples, generated = sample_policies
    cases = []  # (policy, its full shape, [(stage's sample, the findings of a fresh check)])
    for p in examples[:6] + generated[:20]:
        known = data_shape(sample_incident(p, s.level, digest=SAMPLE_DIGEST, revision=None, full=True)
                           for s in p.stages)
        stages = []
        for s in p.stages:
            ctx = [sample_incident(p, s.level, digest=SAMPLE_DIGEST, revision=None)]
            stages.append((ctx, found(Templates(sources).check(template, ctx, known))))
        cases.append((p, known, stages))
    # the policies found clean first: a key remembered for one of them and taken for another's
    # shape would then pass what a fresh check finds
    cases.sort(key=lambda c: any(want for _, want in c[2]))
    held = Templates(sources)  # one for every policy, as TemplateCheck keeps one
    for p, known, stages in cases:
        for ctx, want in stages:
            assert found(held.check(template, ctx, known, known_covers=True)) == want, p.name
    findings = sum(len(want) for _, _, stages in cases for _, want in stages)
    clean_policies = sum(not any(want for _, want in stages) for _, _, stages in cases)
    assert (findings > 0) == (template in ("typo.md.j2", "branch.md.j2", "top.md.j2", "params.md.j2"))
    if template == "params.md.j2":
        assert 0 < clean_policies and findings > 0  # clean for some policies, not for others


def _shape_of(value):
    """What a shape is, written plainly: the reference for data_shape's walk."""
    if isinstance(value, dict):
        return ("dict", {k: _shape_of(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        from killswitch.runbooks.template_shape import merge_shapes

        item = None
        for v in value:
            item = merge_shapes(item, _shape_of(v))
        return ("list", item)
    return None


_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3)
# data as an incident holds it: each key always of one kind (a scalar, a mapping, a list of
# mappings, a list of scalars), keys in any order and any subset of them
_record = st.recursive(
    st.fixed_dictionaries({}, optional={"s": _scalar, "n": _scalar, "v": st.lists(_scalar, max_size=3)}),
    lambda inner: st.fixed_dictionaries({}, optional={
        "s": _scalar, "d": inner, "l": st.lists(inner, max_size=3), "t": st.lists(inner, max_size=3).map(tuple),
        "v": st.lists(_scalar, max_size=3)}),
    max_leaves=12)


@settings(deadline=None)  # nested records of up to 12 leaves: under a loaded machine's two workers, slow
@given(st.lists(_record, max_size=4))
def test_data_shape_is_the_merge_of_each_values_shape(values):
    from killswitch.runbooks.template_shape import data_shape, merge_shapes

    want = None
    for v in values:
        want = merge_shapes(want, _shape_of(v))
    assert data_shape(values) == want


def test_what_a_template_includes_and_reads_is_found_through_every_statement_that_names_one():
    # one walk reads both: the templates named (in the template's order, a literal list's each,
    # never a computed name) and every name, attribute and constant key the template mentions
    from killswitch.runbooks.templates import Templates

    t = Templates({
        "main.md.j2": "{% extends 'base.md.j2' %}{% block b %}{{ stage.name }}"
                      "{% include ['a.md.j2', 'b.md.j2'] %}{% include name_of_one %}"
                      "{% import 'm.md.j2' as m %}{% from 'f.md.j2' import g %}{{ policy['owner'] }}{% endblock %}",
        "base.md.j2": "{% block b %}{% endblock %}", "a.md.j2": "{{ scope }}", "b.md.j2": "{% include 'a.md.j2' %}",
        "m.md.j2": "", "f.md.j2": "{% macro g() %}{% endmacro %}"})
    assert t._closure("main.md.j2") == ["main.md.j2", "base.md.j2", "a.md.j2", "b.md.j2", "m.md.j2", "f.md.j2"]
    assert t._names("main.md.j2") == {"stage", "name", "name_of_one", "policy", "owner"}
    assert t._names("a.md.j2") == {"scope"}
