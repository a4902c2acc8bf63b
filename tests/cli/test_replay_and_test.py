"""ksctl replay and ksctl test as a risk engineer runs them."""

import json
import shutil

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.scenarios import futures_crash
from tests.conftest import POLICIES, ROOT, check_golden

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_recording_is_what_the_scenario_generates():
    lines = RECORDING.read_text().splitlines()
    expected = [json.dumps(t, separators=(",", ":"), sort_keys=True) for t in futures_crash()]
    assert lines == expected, "stale recording: run `make recordings`"


def test_replay_of_the_crash_is_golden(update_goldens):
    r = run("replay", "--policies", "policies", "--snapshots", "policies/recordings/futures-crash.jsonl")
    assert r.exit_code == 0, r.output
    check_golden(ROOT / "tests" / "golden" / "replay" / "futures-crash.txt", r.output, update_goldens)


def test_replay_json_is_versioned_and_summarised():
    r = run("replay", "--policies", "policies", "--snapshots", str(RECORDING), "-o", "json")
    assert r.exit_code == 0
    body = json.loads(r.output)
    assert body["format_version"] == 1
    assert body["graph"]["digest"].startswith("sha256:")
    assert body["summary"]["ticks"] == 100
    assert body["summary"]["final_stages"]["futures-book|binanceusdm/binance-futures-main"] == 3
    assert body["summary"]["final_stages"]["portfolio-breaker|global"] == 2
    entered = [s for t in body["ticks"] for s in t["scopes"] if s["transition"]]
    assert [(s["policy"], s["transition"]["to_level"]) for s in entered] == [
        ("portfolio-breaker", 1), ("portfolio-breaker", 2),
        ("futures-book", 1), ("futures-book", 2), ("futures-book", 3),
    ]
    orders = [o for s in entered for o in (s["plan"] or {}).get("orders", [])]
    assert orders and all(o["reduce_only"] for o in orders)


@pytest.mark.parametrize(
    "content,line,words",
    [
        ("not json\n", 1, "not JSON"),
        ('{"now": 1, "snapshots": [{"venue": "x"}]}\n', 1, "not a snapshot"),
        ('[1, 2]\n', 1, "JSON object"),
        ('{"snapshots": []}\n', 1, '"now"'),
        ('{"now": 5, "snapshots": []}\n{"now": 4, "snapshots": []}\n', 2, "backwards"),
    ],
)
def test_replay_reports_bad_lines_with_their_number(tmp_path, content, line, words):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    r = CliRunner().invoke(cli, ["replay", "--policies", "policies", "--snapshots", str(f)])
    assert r.exit_code == 1
    assert f"bad.jsonl:{line}:" in r.output and words in r.output


def test_example_policy_tests_pass():
    r = run("test", "policies")
    assert r.exit_code == 0, r.output
    assert "0 failed" in r.output


def test_a_wrong_expectation_fails_at_its_position(tmp_path):
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    t = copy / "tests" / "futures-book.test.yaml"
    t.write_text(t.read_text().replace("{at: 30m, stage: 2,", "{at: 30m, stage: 3,"))
    r = run("test", str(copy))
    assert r.exit_code == 1
    assert "futures-book.test.yaml:33:11: FAIL a bleeding long side climbs the ladder: at 30m: stage: expected 3, got 2" in r.output


def test_no_policy_tests_is_a_failure(tmp_path):
    (tmp_path / "p.yaml").write_text((POLICIES / "spot-book.yaml").read_text())
    assert CliRunner().invoke(cli, ["test", str(tmp_path)]).exit_code == 1
