"""ksctl diff as a policy reviewer runs it: two revisions of the futures book over the recorded
crash (golden text and JSON), the exit codes, and ``REV:PATH`` read from a git repository the
test makes with two commits.

The second revision (tests/fixtures/diff/futures-book.tighter.yaml) is the example policy with a
tighter first stage: -3.5% / -6% confirmed over 2 ticks instead of -4.5% / -7% over 3, and a 15m
cooldown instead of 30m. It is derived from policies/futures-book.yaml by TIGHTER_EDITS and kept
in step with it like a golden file: `pytest --update-goldens` rewrites it, and the diff outputs.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import ROOT, check_golden, require_tool

RECORDING = "policies/recordings/futures-crash.jsonl"
EXAMPLE = "policies/futures-book.yaml"
TIGHTER = "tests/fixtures/diff/futures-book.tighter.yaml"
GOLDEN = ROOT / "tests" / "golden" / "diff"
TIGHTER_EDITS = [
    ("#   stage 1  -4.5% / -7%   3 confirmations", "#   stage 1  -3.5% / -6%   2 confirmations"),
    ("      when: dd_15m >= 4.5% || dd_1h >= 7%\n      for: 3 ticks",
     "      when: dd_15m >= 3.5% || dd_1h >= 6%\n      for: 2 ticks"),
    ("      on: [soft]\n      cooldown: 30m", "      on: [soft]\n      cooldown: 15m"),
]
# What the tighter first stage changes over the crash: stage 1 three minutes earlier, with
# smaller cuts (ETH is not yet near its liquidation price, so it is halved, not closed).
SUMMARY = ("2 decisions differ and refusals differ on 2 ticks: first at 2026-03-02T14:04:00Z; "
           "OLD reaches stage 1 at 2026-03-02T14:07:00Z, NEW at 2026-03-02T14:04:00Z")
# A commit with -dirty, as the work tree is: the golden must not depend on the checkout.
COMMIT = re.compile(r"\b[0-9a-f]{40}(?:-dirty)?\b")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def masked(text: str) -> str:
    return COMMIT.sub("<commit>", text)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_tighter_revision_is_the_example_with_its_edits(update_goldens):
    text = (ROOT / EXAMPLE).read_text()
    for old, new in TIGHTER_EDITS:
        assert text.count(old) == 1, f"{EXAMPLE} no longer has {old!r}: update TIGHTER_EDITS"
        text = text.replace(old, new)
    check_golden(ROOT / TIGHTER, text, update_goldens)


def test_diff_of_a_tighter_first_stage_over_the_crash_is_golden(update_goldens):
    r = run("diff", EXAMPLE, TIGHTER, "--against", RECORDING)
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines()[-1] == SUMMARY
    check_golden(GOLDEN / "futures-book-tighter.txt", masked(r.stdout), update_goldens)


def test_diff_json_of_the_same_change_is_golden(update_goldens):
    r = run("diff", EXAMPLE, TIGHTER, "--against", RECORDING, "-o", "json")
    assert r.exit_code == 1, r.output
    body = json.loads(r.stdout)
    assert body["format_version"] == 1
    assert body["old"]["digest"] != body["new"]["digest"]
    assert [(m["level"], m["old"], m["new"]) for m in body["milestones"]] == [
        (1, "2026-03-02T14:07:00Z", "2026-03-02T14:04:00Z")]
    assert [(d["kind"], d["start"], d["ticks"]) for d in body["differences"]] == [
        ("decision", "2026-03-02T14:04:00Z", 1), ("refusals", "2026-03-02T14:05:00Z", 2),
        ("decision", "2026-03-02T14:07:00Z", 1)]
    eth = [c for c in body["differences"][0]["changes"]
           if c["aspect"] == "order" and c["new"]["symbol"] == "ETH/USDT:USDT"]
    assert eth and eth[0]["old"] is None and eth[0]["new"]["side"] == "sell"
    assert body["summary"] == {"differs": True, "decisions": 2, "refusal_ticks": 2,
                               "first": "2026-03-02T14:04:00Z", "text": SUMMARY}
    check_golden(GOLDEN / "futures-book-tighter.json", masked(r.stdout), update_goldens)


def test_same_policies_exit_0_and_say_so():
    r = run("diff", "policies", "policies/", "--against", RECORDING, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "the graphs are the same" in r.stdout
    assert r.stdout.splitlines()[-1] == "No difference: OLD and NEW decide the same on all 100 ticks."


def test_a_change_that_decides_the_same_over_the_recording_exits_0(tmp_path):
    # a shorter cooldown of the manual flatten: another graph, but nothing re-enters it in the crash
    changed = tmp_path / "futures-book.yaml"
    text = (ROOT / EXAMPLE).read_text()
    assert text.count("cooldown: 360m") == 1
    changed.write_text(text.replace("cooldown: 360m", "cooldown: 300m"))
    r = run("diff", EXAMPLE, str(changed), "--against", RECORDING, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "The graphs differ, but not in what they decide over this recording." in r.stdout
    assert r.stdout.splitlines()[-1] == "No difference: OLD and NEW decide the same on all 100 ticks."


def test_detailed_exitcode_is_2_when_the_decisions_differ():
    r = run("diff", EXAMPLE, TIGHTER, "--against", RECORDING, "--detailed-exitcode")
    assert r.exit_code == 2, r.output


def test_policy_option_limits_the_comparison(tmp_path):
    # the whole example repo with the tighter futures book: other policies decide the same
    (tmp_path / "policies").mkdir()
    for f in (ROOT / "policies").glob("*.yaml"):
        shutil.copy(f, tmp_path / "policies" / f.name)
    shutil.copy(ROOT / TIGHTER, tmp_path / "policies" / "futures-book.yaml")
    new = str(tmp_path / "policies")
    r = run("diff", "policies", new, "--against", RECORDING, "--policy", "portfolio-breaker")
    assert r.exit_code == 0, r.output
    r = run("diff", "policies", new, "--against", RECORDING, "--policy", "futures-book")
    assert r.exit_code == 1 and r.stdout.splitlines()[-1] == SUMMARY
    r = run("diff", "policies", new, "--against", RECORDING, "--policy", "futures-boook")
    assert r.exit_code == 2
    assert "no policy 'futures-boook' in OLD or NEW" in r.stderr and "futures-book" in r.stderr


def test_policy_errors_in_either_revision_exit_1_with_the_diagnostics(tmp_path):
    bad = tmp_path / "futures-book.yaml"
    bad.write_text((ROOT / EXAMPLE).read_text().replace("on: [hard]", "on: [hrad]"))
    r = run("diff", EXAMPLE, str(bad), "--against", RECORDING)
    assert r.exit_code == 1
    assert f"{bad}:" in r.stderr and "error[KS" in r.stderr and '"hrad"' in r.stderr
    assert f"ksctl diff: NEW ({bad}) has errors" in r.stderr
    assert r.stdout == ""


def test_unreadable_recording_exits_1_with_its_line(tmp_path):
    rec = tmp_path / "bad.jsonl"
    rec.write_text("not json\n")
    r = run("diff", EXAMPLE, TIGHTER, "--against", str(rec))
    assert r.exit_code == 1
    assert f"{rec}:1: not JSON" in r.stderr


# --- REV:PATH --------------------------------------------------------------------------------


def git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A policy repository with two commits: the example futures book, then the tighter one."""
    require_tool("git")
    for k, v in {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "risk desk",
                 "GIT_AUTHOR_EMAIL": "risk@example.com", "GIT_COMMITTER_NAME": "risk desk",
                 "GIT_COMMITTER_EMAIL": "risk@example.com"}.items():
        monkeypatch.setenv(k, v)
    r = tmp_path / "policy-repo"
    (r / "policies").mkdir(parents=True)
    git(r, "init", "-q")
    shutil.copy(ROOT / EXAMPLE, r / "policies" / "futures-book.yaml")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "futures book")
    shutil.copy(ROOT / TIGHTER, r / "policies" / "futures-book.yaml")
    git(r, "commit", "-q", "-am", "futures book: cut earlier, cool down sooner")
    monkeypatch.chdir(r)
    return r


def test_revisions_of_a_directory_are_compared(repo):
    r = run("diff", "HEAD~1:policies/", "HEAD:policies/", "--against", str(ROOT / RECORDING))
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines()[-1] == SUMMARY
    old, new = git(repo, "rev-parse", "HEAD~1"), git(repo, "rev-parse", "HEAD")
    assert re.search(rf"^  OLD graph sha256:[0-9a-f]{{64}} \(revision {old}\)$", r.stdout, re.M), r.stdout
    assert re.search(rf"^  NEW graph sha256:[0-9a-f]{{64}} \(revision {new}\)$", r.stdout, re.M), r.stdout
    # the same graphs as the files they were committed from
    files = json.loads(run("diff", str(ROOT / EXAMPLE), str(ROOT / TIGHTER), "--against", str(ROOT / RECORDING),
                           "-o", "json").stdout)
    revs = json.loads(run("diff", "HEAD~1:policies/", "HEAD:policies/", "--against", str(ROOT / RECORDING),
                          "-o", "json").stdout)
    assert (revs["old"]["digest"], revs["new"]["digest"]) == (files["old"]["digest"], files["new"]["digest"])
    assert revs["old"]["revision"] == old


def test_a_file_at_a_revision_against_the_work_tree_from_a_subdirectory(repo, monkeypatch):
    monkeypatch.chdir(repo / "policies")
    r = run("diff", "HEAD~1:futures-book.yaml", "futures-book.yaml", "--against", str(ROOT / RECORDING))
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines()[-1] == SUMMARY
    r = run("diff", "HEAD:.", ".", "--against", str(ROOT / RECORDING))
    assert r.exit_code == 0, r.output
    assert "the graphs are the same" in r.stdout


def test_policy_errors_at_a_revision_are_named_by_revision_and_path(repo):
    path = repo / "policies" / "futures-book.yaml"
    path.write_text(path.read_text().replace("on: [hard]", "on: [hrad]"))
    git(repo, "commit", "-q", "-am", "typo")
    r = run("diff", "HEAD~1:policies", "HEAD:policies", "--against", str(ROOT / RECORDING))
    assert r.exit_code == 1
    assert re.search(r"^HEAD:policies/futures-book\.yaml:\d+:\d+: error\[KS\d+\]", r.stderr, re.M), r.stderr
    assert "ksctl diff: NEW (HEAD:policies) has errors" in r.stderr


@pytest.mark.parametrize("spec, message", [
    ("nosuch:policies/", "unknown revision 'nosuch'"),
    ("HEAD~1:nowhere/", "nowhere/ does not exist at HEAD~1"),
    (":policies/", "give a revision before the colon (REV:PATH)"),
])
def test_revisions_git_cannot_give_exit_1(repo, spec, message):
    r = run("diff", spec, "policies/", "--against", str(ROOT / RECORDING))
    assert r.exit_code == 1
    assert r.stderr.strip() == f"ksctl diff: OLD {spec}: {message}"


def test_a_revision_outside_a_git_repository_says_so(tmp_path, monkeypatch):
    require_tool("git")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = run("diff", "HEAD:.", str(ROOT / EXAMPLE), "--against", str(ROOT / RECORDING))
    assert r.exit_code == 1
    assert "not a git repository" in r.stderr


# --- a recording with snapshots that failed -----------------------------------------------------------


@pytest.fixture
def failing(tmp_path):
    from tests.recordings import failing_recording

    return str(failing_recording(tmp_path / "failing.jsonl"))


def test_a_diff_over_failed_snapshots_names_them_and_exits_1(failing):
    r = run("diff", EXAMPLE, TIGHTER, "--against", failing, "--detailed-exitcode")
    assert r.exit_code == 1, r.output
    assert "  ! bybit/bybit-futures  AUTH on 40 of 40 snapshots" in r.stdout
    assert "  ! binanceusdm/binance-futures-main  TIMEOUT on 3 of 40 snapshots" in r.stdout
    assert r.stdout.splitlines()[-1].startswith("Incomplete diff: 2 of 2 accounts not read on every snapshot")
    assert "--allow-incomplete" in r.stderr


@pytest.mark.parametrize("args, code", [
    (("--allow-incomplete",), 0),
    (("--allow-incomplete", "--detailed-exitcode"), 4),
])
def test_an_allowed_incomplete_diff_is_never_0_with_detailed_exitcode(failing, args, code):
    r = run("diff", EXAMPLE, TIGHTER, "--against", failing, *args)
    assert r.exit_code == code, r.output


def test_an_allowed_incomplete_diff_that_differs_exits_6_with_detailed_exitcode(tmp_path):
    from tests.recordings import failing_recording

    rec = str(failing_recording(tmp_path / "failing.jsonl", ticks=100, failing=(5,)))
    r = run("diff", EXAMPLE, TIGHTER, "--against", rec, "--allow-incomplete", "--detailed-exitcode", "-o", "json")
    assert r.exit_code == 6, r.output
    body = json.loads(r.stdout)
    assert body["complete"] is False and body["summary"]["differs"] is True
    assert {a["account"]: a["status"] for a in body["accounts"]} == {
        "binanceusdm/binance-futures-main": "partly_read", "bybit/bybit-futures": "not_read"}
