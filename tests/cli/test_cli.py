"""ksctl as a user runs it: exit codes, output formats, and what the validate path imports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.cli.schema import KINDS, KINDS_PAGE, schema_file, schema_text
from killswitch.render.kinds import kinds_page
from tests.conftest import POLICIES, ROOT

BAD = ROOT / "tests" / "golden" / "diagnostics" / "several-mistakes.yaml"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_validate_examples_exit_0():
    r = run("validate", "--strict", str(POLICIES))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ok: 18 files")
    assert "graph sha256:" in r.output


def test_a_copy_of_the_examples_alone_passes_its_own_ci(tmp_path):
    """policies/ is a complete policy repository: copied alone (cp -r, its links as links), it
    passes validate --strict (its runbook templates found in it, KS152 silent) and its tests."""
    import shutil

    repo = tmp_path / "risk-policies"
    shutil.copytree(POLICIES, repo, symlinks=True)
    r = run("validate", "--strict", str(repo))
    assert r.exit_code == 0 and r.output.startswith("ok: 18 files"), r.output
    assert "KS152" not in r.output, r.output
    r = run("test", str(repo))
    assert r.exit_code == 0 and " 0 failed" in r.output, r.output


def test_validate_findings_exit_1_and_print_every_one():
    r = run("validate", str(BAD))
    assert r.exit_code == 1
    assert r.output.count("error[KS") == 8
    assert "FAILED: 8 errors" in r.output


def test_warnings_fail_only_with_strict(tmp_path):
    text = (POLICIES / "spot-book.yaml").read_text().replace(
        "  stages:", '    spare: {when: "day <= -20%", on_missing_data: hold}\n  stages:'
    )
    f = tmp_path / "spot.yaml"
    f.write_text(text)
    # alone, the notify route cannot be checked (KS130) and "spare" is unused (KS205): warnings
    assert run("validate", str(f)).exit_code == 0
    r = run("validate", "--strict", str(f))
    assert r.exit_code == 1
    assert "warning[KS205]" in r.output


def test_validate_json_is_versioned_and_complete():
    r = run("validate", "-o", "json", str(BAD))
    body = json.loads(r.output)
    assert body["format_version"] == 1
    assert body["ok"] is False
    assert body["summary"]["errors"] == len(body["diagnostics"]) == 8
    first = body["diagnostics"][0]
    assert set(first) == {"file", "line", "col", "severity", "code", "message", "hint"}


def test_a_missing_path_is_a_usage_error_not_a_crash(tmp_path):
    r = run("validate", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2
    assert "nope.yaml' does not exist" in r.output
    # a directory without policies is still a finding about what was given
    r = run("validate", "--strict", str(tmp_path))
    assert r.exit_code == 1 and "error[KS007]" in r.output


GROWN = {  # futures-book's first condition, grown; the condition starts at column 14, after "      when: '"
    "200 parentheses": ("(" * 200 + "dd_15m >= 4.5%" + ")" * 200, 14 + 32),  # at the 33rd "("
    "1,200 !": ("!" * 1_200 + "(dd_15m >= 4.5%)", 14 + 32),  # at the 33rd "!"
    "5,000-term || chain": (" || ".join(["dd_15m >= 4.5%"] * 5_000), 14 + 4_096),  # at its 4,097th character
}


@pytest.mark.parametrize("when,col", GROWN.values(), ids=GROWN.keys())
def test_validate_reports_a_grown_condition_as_a_finding_not_an_internal_error(tmp_path, when, col):
    text = (POLICIES / "futures-book.yaml").read_text()
    f = tmp_path / "futures-book.yaml"
    f.write_text(text.replace("when: dd_15m >= 4.5% || dd_1h >= 7%", f"when: '{when}'", 1))
    r = run("validate", str(f))
    assert r.exit_code == 1, r.output  # findings; an internal error is 3
    assert f"{f}:22:{col}: error[KS123]: trigger \"soft\": condition " in r.output
    assert "internal error" not in r.output


def test_usage_error_exits_2():
    assert run("validate").exit_code == 2
    assert run("graph", str(POLICIES), "--format", "png").exit_code == 2
    assert run("schema", "nonsense").exit_code == 2


def test_graph_refuses_broken_policies_with_exit_1():
    r = CliRunner().invoke(cli, ["graph", str(BAD)])
    assert r.exit_code == 1


def test_graph_can_draw_one_policy():
    r = run("graph", str(POLICIES), "-o", "dot", "--policy", "spot-book")
    assert r.exit_code == 0
    assert "cluster_spot_book" in r.output and "futures_book" not in r.output
    # the older spelling draws the same, and says it is deprecated
    old = CliRunner().invoke(cli, ["graph", str(POLICIES), "--format", "dot", "--policy", "spot-book"])
    assert old.exit_code == 0 and old.stdout == r.stdout
    assert old.stderr == "ksctl graph: --format is deprecated: use -o dot\n"
    both = CliRunner().invoke(cli, ["graph", str(POLICIES), "--format", "dot", "-o", "mermaid"])
    assert both.exit_code == 2 and "--format dot and -o mermaid ask for two outputs" in both.output
    assert run("graph", str(POLICIES), "--policy", "nope").exit_code == 2


@pytest.mark.parametrize("kind", KINDS)
def test_checked_in_schemas_are_current(kind):
    assert schema_file(kind).read_text() == schema_text(kind), "stale schema: run `make schemas`"


def test_the_kinds_page_is_current_with_the_catalogue():
    assert KINDS_PAGE.read_text() == kinds_page(), "stale docs/kinds.md: run `make schemas`"


@pytest.mark.parametrize("kind", KINDS)
def test_schema_command_prints_the_schema(kind):
    r = run("schema", kind)
    body = json.loads(r.output)
    assert body["$id"] == f"killswitch/v1/{kind}"
    assert body["additionalProperties"] is False


def test_policy_schema_requires_on_missing_data():
    body = json.loads(schema_text("policy"))
    assert "on_missing_data" in body["$defs"]["Trigger"]["required"]


def _heavy_imports_of_validate(*args: str) -> str:
    # In a fresh interpreter, so that other tests' imports do not hide one.
    code = (
        "import sys\n"
        "from killswitch.cli.main import main\n"
        "try:\n"
        f"    main(['validate', *{list(args)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('ccxt', 'apprise', 'opentelemetry', 'jinja2', 'aiohttp', 'psycopg', 'numpy', "
        "'ruamel') if m in sys.modules]\n"
        "print('heavy=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_validate_never_imports_exchange_or_sink_libraries(tmp_path):
    # jinja2 (about 40 ms) only to check runbook templates, when there are some to check; ruamel
    # only for a file libyaml's fast path declines (none of the examples); numpy never
    from killswitch.policy import yamlfast

    assert _heavy_imports_of_validate(str(POLICIES)) == "heavy=jinja2" + ("" if yamlfast.available() else ",ruamel")
    # policies that name no template: nothing to check, no jinja2
    plain = tmp_path / "policies"
    plain.mkdir()
    for f in POLICIES.glob("*.yaml"):
        text = "".join(line for line in f.read_text().splitlines(keepends=True) if "runbook:" not in line)
        (plain / f.name).write_text(text)
    (tmp_path / "runbooks").mkdir()
    assert _heavy_imports_of_validate("--runbooks", str(tmp_path / "runbooks"), str(plain)) == "heavy=" + (
        "" if yamlfast.available() else "ruamel")


def test_console_script_runs():
    exe = Path(sys.executable).with_name("ksctl")
    out = subprocess.run([str(exe), "validate", str(POLICIES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_internal_error_exits_3(monkeypatch):
    import killswitch.cli.validate as v

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(v, "compile_paths", boom)
    from killswitch.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["validate", str(POLICIES)])
    assert e.value.code == 3


def test_token_new_and_check_round_trip_in_json(tmp_path):
    r = run("token", "new", "--identity", "Alice", "--roles", "operator,approver", "-o", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["entry"]["identity"] == "alice" and doc["entry"]["roles"] == ["operator", "approver"]
    assert doc["token"] not in json.dumps(doc["entry"]), "the entry holds the hash, never the token"
    f = tmp_path / "tokens.yaml"
    f.write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens:\n"
                 f"  - {json.dumps(doc['entry'])}\n")
    r = run("token", "check", str(f), "-o", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["identities"] == [{"identity": "alice", "roles": ["approver", "operator"]}]
    assert run("token", "new", "--identity", "al ice", "--roles", "operator", "-o", "json").exit_code == 2
