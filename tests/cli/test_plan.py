"""`ksctl plan`: Terraform-style previews over a recording, exit codes, JSON."""

import json

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_over_a_crash_lists_every_change_and_exits_2_with_detailed_exitcode():
    r = run("plan", "--policies", str(POLICIES), "--against", str(RECORDING), "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "# futures-book binanceusdm/binance-futures-main: stage 2 → 3 flatten" in r.output
    assert "~ cancel binanceusdm/binance-futures-main entries: 1 order(s)" in r.output
    assert "? suggest buy SOL" in r.output
    assert r.output.rstrip().endswith("Nothing was sent.")
    assert "Plan: 5 stage change(s), 36 order(s)" in r.output


def test_plan_without_detailed_exitcode_exits_0_even_with_changes():
    assert run("plan", "--policies", str(POLICIES), "--against", str(RECORDING)).exit_code == 0


def test_a_calm_recording_plans_nothing(tmp_path):
    calm = tmp_path / "calm.jsonl"
    calm.write_text("".join(RECORDING.read_text().splitlines(keepends=True)[:40]))
    r = run("plan", "--policies", str(POLICIES), "--against", str(calm), "--detailed-exitcode")
    assert r.exit_code == 0
    assert "No changes." in r.output


def test_plan_json_is_versioned_and_summarised():
    r = run("plan", "--policies", str(POLICIES), "--against", str(RECORDING), "-o", "json")
    body = json.loads(r.output)
    assert body["format_version"] == 1 and body["source"]["kind"] == "file" and body["source"]["ticks"] == 100
    assert body["summary"]["changes"] == 5 and body["summary"]["orders"] == 36
    assert all(o["reduce_only"] for c in body["changes"] for o in c["orders"])


def test_plan_needs_accounts_or_a_recording():
    assert CliRunner().invoke(cli, ["plan", "--policies", str(POLICIES)]).exit_code == 2


def test_a_bad_recording_line_is_an_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = CliRunner().invoke(cli, ["plan", "--policies", str(POLICIES), "--against", str(bad)])
    assert r.exit_code == 1 and "bad.jsonl:1:" in r.output
