"""The composite Action (action.yml) run through its own shell, as GitHub's runner runs it
(tests/cli/github_actions.py): on a scratch policy repository with a base branch and a pull
request's branch checked out, with this checkout's ksctl on PATH in place of the install step
(whose shape tests/unit/test_ci_workflows.py checks) and a stand-in `gh` that records the comment
it is asked to post.

GitHub's API (`ksctl pr overlaps`) is the fake of tests/cli/test_pr_overlaps.py, or a port where
nothing answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.github_actions import (
    ActionRun,
    Contexts,
    Unsupported,
    condition,
    evaluate,
    load_action,
    run_action,
)
from tests.cli.test_pr_overlaps import REPO as OVERLAPS_REPO, changed, github, pull  # noqa: F401 (a fixture)
from tests.conftest import POLICIES, ROOT, require_tool

KSCTL_BIN = str(Path(sys.executable).parent)
RECORDING = "recordings/futures-crash.jsonl"
REPO = OVERLAPS_REPO  # the fake GitHub's repository
TIGHTER = ROOT / "tests" / "fixtures" / "diff" / "futures-book.tighter.yaml"


GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "risk desk",
           "GIT_AUTHOR_EMAIL": "risk@example.com", "GIT_COMMITTER_NAME": "risk desk",
           "GIT_COMMITTER_EMAIL": "risk@example.com"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


@pytest.fixture
def pull_request(tmp_path):
    """A clone of a policy repository (this repository's policies/, runbooks and all) whose main is
    origin/main, on a branch ``pr`` to change; commit with ``git(workspace, "commit", ...)``."""
    require_tool("git")
    origin = tmp_path / "policy-repo"
    shutil.copytree(POLICIES, origin, ignore=shutil.ignore_patterns(".github"))
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "policies")
    workspace = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", str(origin), str(workspace))
    git(workspace, "checkout", "-q", "-b", "pr")
    return workspace


def fake_gh(tmp_path: Path) -> Path:
    """A `gh` that records its arguments and the body it was handed, for the comment step."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$(dirname "$0")/gh.args"\n'
                  'while [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cp "$2" "$(dirname "$0")/gh.body"; fi;'
                  ' shift; done\n')
    gh.chmod(0o755)
    return bin_dir


def run(workspace: Path, tmp_path: Path, inputs: dict[str, str], *, same_repo: bool = True,
        extra_path: tuple[str, ...] = (), api_url: str = "http://127.0.0.1:9") -> ActionRun:
    """The Action on ``workspace`` as pull request 7 of desk/policies; GitHub's API at ``api_url``
    (by default a port where nothing answers: nothing here reaches GitHub)."""
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    github = {"token": "", "base_ref": "main", "event_name": "pull_request", "repository": REPO,
              "api_url": api_url,
              "event": {"pull_request": {"number": 7, "head": {"repo": {
                  "full_name": REPO if same_repo else "someone/fork"}}}}}
    return run_action(workspace, temp, inputs, github, path=[*extra_path, KSCTL_BIN],
                      skip=lambda step: "pip install" in (step.get("run") or ""))


def test_a_change_that_decides_differently_is_for_review(pull_request, tmp_path, github):
    shutil.copy(TIGHTER, pull_request / "futures-book.yaml")
    (pull_request / "tests" / "futures-book.test.yaml").unlink()  # its timings are the old policy's
    git(pull_request, "commit", "-q", "-am", "futures book: cut earlier")
    gh = fake_gh(tmp_path)
    github.pulls = [pull(7, "Cut earlier", "alice"), pull(8, "Tighten the ladder", "bob"), pull(9, "Docs", "carol")]
    github.files = {7: [changed("futures-book.yaml"), changed("tests/futures-book.test.yaml", "removed")],
                    8: [changed("futures-book.yaml")], 9: [changed("README.md")]}

    result = run(pull_request, tmp_path, {"recording": RECORDING, "github-token": "t0ken"}, extra_path=(str(gh),),
                 api_url=github.url)

    assert not result.failed, [(s.name, s.returncode, s.stderr) for s in result.steps]
    assert result.outputs["verdict"] == "changed"
    assert float(result.outputs["coverage"]) >= 0
    assert "### ✓ ksctl validate --strict" in result.summary
    assert "OLD reaches stage 1 at 2026-03-02T14:07:00Z, NEW at 2026-03-02T14:04:00Z" in result.summary
    assert "### ksctl plan over `recordings/futures-crash.jsonl`" in result.summary
    assert "**Verdict: changed**" in result.summary
    # the uncovered rules listed are the changed policy's; the total stays over every policy
    assert "| futures-book (no test) | 0 |" in result.summary and "| spot-book |" not in result.summary
    # the other open pull request on the same policy, found through GitHub's API with the token
    assert f"[#8](https://github.com/{REPO}/pull/8) Tighten the ladder" in result.summary
    assert "/pull/9)" not in result.summary
    assert {auth for _, auth in github.seen} == {"Bearer t0ken"}
    # the one comment, edited in place, holds the same review
    args = (gh / "gh.args").read_text().splitlines()
    assert args[:3] == ["pr", "comment", "7"] and "--edit-last" in args and "--create-if-none" in args
    assert (gh / "gh.body").read_text() == Path(result.outputs["review"]).read_text()
    assert result.step("Comment on the pull request").returncode == 0


def test_an_unchanged_pull_request_passes_without_a_comment_from_a_fork(pull_request, tmp_path):
    (pull_request / "README.md").write_text("policies\n")
    git(pull_request, "add", "README.md")
    git(pull_request, "commit", "-q", "-m", "readme")

    result = run(pull_request, tmp_path, {"recording": RECORDING, "github-token": "t0ken"}, same_repo=False)

    assert not result.failed
    assert result.outputs["verdict"] == "pass"
    assert not result.step("Comment on the pull request").ran  # a fork's token cannot comment
    assert "other pull requests not checked: UNREACHABLE" in result.summary  # said, not a failure
    assert "0 decisions differ" in result.summary or "no difference" in result.summary.lower(), result.summary


def test_a_broken_policy_fails_with_its_place(pull_request, tmp_path):
    text = (pull_request / "futures-book.yaml").read_text()
    (pull_request / "futures-book.yaml").write_text(text.replace("for: 3 ticks", "for: three ticks", 1))
    git(pull_request, "commit", "-q", "-am", "futures book: a typo")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "for: 3 ticks" in ln)

    result = run(pull_request, tmp_path, {"recording": RECORDING})

    assert result.outputs["verdict"] == "fail"
    verdict = result.step("Verdict")
    assert verdict.ran and verdict.returncode != 0, "the job fails"
    assert "### ✗ ksctl validate --strict (exit 1)" in result.summary
    assert f"futures-book.yaml:{line}:" in result.summary  # file:line:col, as the text output says
    review = result.step("Review the policies")
    assert f"::error file=futures-book.yaml,line={line}" in review.stdout  # an annotation on the PR's line
    assert "ksctl plan" not in result.summary, "what does not compile is not planned"


def test_a_failing_policy_test_fails_but_still_shows_the_diff(pull_request, tmp_path):
    shutil.copy(TIGHTER, pull_request / "futures-book.yaml")
    git(pull_request, "commit", "-q", "-am", "futures book: cut earlier, tests not updated")

    result = run(pull_request, tmp_path, {"recording": RECORDING})

    assert result.failed and result.outputs["verdict"] == "fail"
    assert "### ✗ ksctl test --coverage (exit 1)" in result.summary
    assert "OLD reaches stage 1 at 2026-03-02T14:07:00Z, NEW at 2026-03-02T14:04:00Z" in result.summary


def test_without_a_recording_there_is_no_plan_and_it_says_so(pull_request, tmp_path):
    result = run(pull_request, tmp_path, {})

    assert result.outputs["verdict"] == "pass"
    assert "No recording given (input `recording`): no plan and no diff." in result.summary
    assert "no token: other pull requests not checked" in result.summary


def test_a_coverage_threshold_above_the_coverage_fails(pull_request, tmp_path):
    (pull_request / "tests" / "futures-book.test.yaml").unlink()  # none of futures-book's rules is reached
    git(pull_request, "commit", "-q", "-am", "futures book: no tests")

    result = run(pull_request, tmp_path, {"coverage-threshold": "100"})

    assert float(result.outputs["coverage"]) < 100
    assert result.outputs["verdict"] == "fail" and result.failed
    assert "### ✗ ksctl test --coverage (exit 1)" in result.summary


def test_an_unknown_input_is_refused(pull_request, tmp_path):
    with pytest.raises(KeyError, match="not inputs of the action"):
        run(pull_request, tmp_path, {"recordings": RECORDING})


@pytest.mark.parametrize("token, head, comment, runs", [
    ("t0ken", "desk/policies", "true", True),
    ("t0ken", "someone/fork", "true", False),  # a fork's pull request: a read-only token
    ("", "desk/policies", "true", False),  # no token given: no comment
    ("t0ken", "desk/policies", "false", False),
])
def test_the_comment_step_runs_only_where_it_can_post(token, head, comment, runs):
    [step] = [s for s in load_action()["runs"]["steps"] if s.get("name") == "Comment on the pull request"]
    github = {"repository": "desk/policies", "event": {"pull_request": {"head": {"repo": {"full_name": head}}}}}
    ctx = Contexts(inputs={"github-token": token, "comment": comment}, github=github, runner={},
                   steps={"review": {"outputs": {"verdict": "pass"}}})
    assert condition(step, ctx) is runs
    ctx.steps = {}  # the review did not finish: nothing to post
    assert condition(step, ctx) is False


def test_an_expression_the_emulation_does_not_know_is_refused():
    ctx = Contexts(inputs={}, github={}, runner={})
    for expr in ("inputs.a || inputs.b", "contains(github.ref, 'x')", "secrets.TOKEN", "1 > 0"):
        with pytest.raises(Unsupported):
            evaluate(expr, ctx)
