"""``ksctl test`` with PolicyTest v2: a difference in what is sent fails at the expectation's
file:line:col with one line per difference, in text and in JSON; every example policy has a test
that pins its orders and says what must not fire."""

import json
import shutil

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from killswitch.cli.main import cli
from tests.conftest import POLICIES


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _copy(tmp_path, old, new):
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    t = copy / "tests" / "futures-book.test.yaml"
    text = t.read_text()
    assert text.count(old) == 1
    t.write_text(text.replace(old, new))
    return copy


def test_an_amount_off_fails_at_its_expectation_with_what_was_sent(tmp_path):
    copy = _copy(tmp_path, "amount: 50, reduce_only", "amount: 40, reduce_only")
    r = run("test", copy)
    assert r.exit_code == 1
    lines = r.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "FAIL in hedge mode" in line)
    assert lines[at].endswith("futures-book.test.yaml:67:11: FAIL in hedge mode every stage's orders are pinned, "
                              "cancels first: at 26m: orders[2] sell SOL/USDT:USDT (line 79): amount: expected 40, "
                              "got 50")
    assert lines[at + 1].startswith("    sent: #1 cancel entries [o1, o3]; #2 sell 1 BTC/USDT:USDT reduce-only LONG "
                                    "in 2 chunks (reduce_top_risk); #4 sell 10 ETH/USDT:USDT")
    assert "1 failed" in lines[-1]


def test_a_failure_in_json_keeps_its_lines(tmp_path):
    copy = _copy(tmp_path, "not_firing: [hard]", "not_firing: [hard, harder]")
    r = run("test", copy, "-o", "json")
    assert r.exit_code == 1
    body = json.loads(r.output)
    [f] = body["failures"]
    assert (f["line"], f["col"], f["ran"]) == (80, 11, True)
    assert f["message"].startswith("at 30m: not_firing: expected [harder] not to fire, but it fires\n")


def test_every_example_policy_has_a_test_that_pins_its_sends_and_what_must_not_fire():
    yaml = YAML(typ="safe")
    for t in sorted((POLICIES / "tests").glob("*.test.yaml")):
        doc = yaml.load(t.read_text())
        expects = [e for case in doc["spec"]["tests"] for e in case.get("expect", [])]
        assert any("orders" in e and "cancels" in e for e in expects), t.name
        assert any(e.get("not_firing") for e in expects), t.name


def test_the_policy_language_example_passes(tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "docs" / "policy-language.md").read_text()
    start = readme.index("```yaml", readme.index("## Policy tests")) + len("```yaml\n")
    t = tmp_path / "readme.test.yaml"
    t.write_text(readme[start:readme.index("```", start)])
    r = run("test", POLICIES / "futures-book.yaml", t)
    assert r.exit_code == 0, r.output
    assert "3 check(s): 3 passed, 0 failed" in r.output


def test_the_example_tests_validate_against_the_checked_in_schema():
    # in the dev lock through kubernetes-validate (the chart tests); an editor's view of the schema
    jsonschema = pytest.importorskip("jsonschema")
    from killswitch.cli.schema import schema_file

    schema = json.loads(schema_file("test").read_text())
    yaml = YAML(typ="safe")
    for t in sorted((POLICIES / "tests").glob("*.test.yaml")):
        jsonschema.validate(yaml.load(t.read_text()), schema)
    bad = yaml.load((POLICIES / "tests" / "spot-book.test.yaml").read_text())
    bad["spec"]["tests"][1]["expect"][0]["orders"] = [{"symbol": "ETH/USDT", "side": "sell", "reduceonly": False}]
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError as e:
        assert "reduceonly" in e.message
    else:
        raise AssertionError("an unknown key passed the schema")
