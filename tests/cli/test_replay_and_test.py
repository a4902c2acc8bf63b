"""ksctl replay and ksctl test as a risk engineer runs them."""

import json
import shutil

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.preview.recordings import futures_crash
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
        ('{"now": 1, "snapshots": [], "rates": {"binanceusdm": 0}}\n', 1, '"rates"'),
        ('{"now": 1, "snapshots": [], "rates": [20]}\n', 1, '"rates"'),
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
    assert ("futures-book.test.yaml:33:11: FAIL a bleeding long side climbs the ladder: at 30m: stage: expected 3, "
            "got 2") in r.output


def test_no_policy_tests_is_a_failure(tmp_path):
    (tmp_path / "p.yaml").write_text((POLICIES / "spot-book.yaml").read_text())
    assert CliRunner().invoke(cli, ["test", str(tmp_path)]).exit_code == 1


# --- recordings with snapshots that failed ------------------------------------------------------------


def test_a_replay_over_failed_snapshots_names_them_and_exits_1(tmp_path):
    from tests.recordings import failing_recording

    rec = failing_recording(tmp_path / "failing.jsonl")
    r = run("replay", "--policies", "policies/futures-book.yaml", "--snapshots", str(rec))
    assert r.exit_code == 1, r.output
    out = r.stdout
    assert "Accounts evaluated: binanceusdm/binance-futures-main (37 of 40 snapshots)" in out
    assert "  ! binanceusdm/binance-futures-main  TIMEOUT on 3 of 40 snapshots" in out
    assert "  ! bybit/bybit-futures  AUTH on 40 of 40 snapshots" in out
    assert out.rstrip().splitlines()[-1].startswith("Incomplete replay: 2 of 2 accounts not read on every snapshot")
    assert "--allow-incomplete" in r.stderr


def test_a_replay_over_failed_snapshots_passes_when_allowed_and_its_json_says_incomplete(tmp_path):
    from tests.recordings import failing_recording

    rec = failing_recording(tmp_path / "failing.jsonl")
    r = run("replay", "--policies", "policies/futures-book.yaml", "--snapshots", str(rec), "--allow-incomplete",
            "-o", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["complete"] is False and body["summary"]["complete"] is False
    assert body["summary"]["unread"] == ["binanceusdm/binance-futures-main", "bybit/bybit-futures"]
    assert body["summary"]["evaluated"] == [] and body["summary"]["incomplete"].startswith("Incomplete replay")
    by = {a["account"]: a for a in body["accounts"]}
    assert (by["bybit/bybit-futures"]["status"], by["bybit/bybit-futures"]["reason"]) == ("not_read", "AUTH")
    assert by["binanceusdm/binance-futures-main"]["status"] == "partly_read"


def test_a_complete_replay_says_so_in_json():
    r = run("replay", "--policies", "policies", "--snapshots", str(RECORDING), "-o", "json")
    body = json.loads(r.output)
    assert body["complete"] is True and body["summary"]["evaluated"] == ["binanceusdm/binance-futures-main"]
    assert body["summary"]["unread"] == [] and body["summary"]["incomplete"] is None
