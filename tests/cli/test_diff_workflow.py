"""The example policy pull-request workflow (policies/.github/workflows/policy-pr.yml) cannot rot:
every ``ksctl`` line in it is parsed by the real CLI, with the workflow's variables filled in,
from the root of the policy repository (policies/), as GitHub runs it.

Parsing checks the command exists, its options exist, required ones are given, choices are
valid and the files it names (the recording) are there. The diff line, the one that reads git,
is also run for real in a clone of a policy repository with a pull request's change.
"""

from __future__ import annotations

import os
import shlex
import shutil
import string
import subprocess

import click
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from killswitch.cli.diff import split_revision
from killswitch.cli.main import cli
from tests.conftest import POLICIES, ROOT, require_tool

WORKFLOW = POLICIES / ".github" / "workflows" / "policy-pr.yml"
# What GitHub sets on a pull_request run, as far as the ksctl lines read it.
GITHUB_ENV = {"GITHUB_BASE_REF": "main", "GITHUB_STEP_SUMMARY": "/tmp/summary.md", "GITHUB_OUTPUT": "/tmp/out"}
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"}


def load_workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def ksctl_lines(doc: dict) -> list[tuple[str, list[str], dict]]:
    """(step name, ksctl arguments with variables filled in, the step's environment) of every ksctl line."""
    found = []
    for job in doc["jobs"].values():
        for step in job["steps"]:
            script = step.get("run")
            if not script:
                continue
            env = {**GITHUB_ENV, **(doc.get("env") or {}), **(job.get("env") or {}), **(step.get("env") or {})}
            for line in script.replace("\\\n", " ").splitlines():
                lex = shlex.shlex(line, posix=True, punctuation_chars=True)
                lex.whitespace_split = True
                lex.commenters = "#"
                tokens = list(lex)
                if "ksctl" not in tokens:
                    continue
                args = []
                for tok in tokens[tokens.index("ksctl") + 1:]:
                    if tok in SHELL_OPERATORS:
                        break
                    # substitute() raises KeyError for a variable neither the workflow nor GitHub sets
                    args.append(string.Template(tok).substitute({k: str(v) for k, v in env.items()}))
                found.append((step.get("name", ""), args, env))
    return found


@pytest.fixture(autouse=True)
def _at_policy_repo_root(monkeypatch):
    monkeypatch.chdir(POLICIES)


def test_workflow_runs_validate_test_plan_and_diff():
    lines = ksctl_lines(load_workflow())
    verbs = [args[0] for _, args, _ in lines]
    assert {"validate", "test", "plan", "diff"} <= set(verbs), verbs


@pytest.mark.parametrize("step, args", [pytest.param(s, a, id=s) for s, a, _ in ksctl_lines(load_workflow())])
def test_every_ksctl_line_parses_with_the_cli(step, args):
    if args == ["--version"]:  # the install step's check that ksctl runs
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0 and r.output.startswith("ksctl, version "), r.output
        return
    command = cli.get_command(None, args[0])
    assert command is not None, f"step {step!r}: no command ksctl {args[0]}"
    try:
        ctx = command.make_context(f"ksctl {args[0]}", args[1:])
    except click.ClickException as e:
        pytest.fail(f"step {step!r}: ksctl {shlex.join(args)}: {e.format_message()}")
    if args[0] == "validate":
        assert ctx.params["strict"], "the pull request must fail on warnings too"
    if args[0] == "plan":
        assert ctx.params["against"], "the plan reads a recording, never live accounts"
    if args[0] == "diff":
        # the base branch is read from git; the pull request is the checked-out work tree
        assert split_revision(ctx.params["old"]) == ("origin/main", ".")
        assert split_revision(ctx.params["new"]) is None
        assert ctx.params["detailed_exitcode"], "a difference is for review, not a failed job"


def test_a_line_with_an_unknown_option_would_be_caught():
    # the check above can fail: the same parse refuses what the CLI does not accept
    command = cli.get_command(None, "diff")
    with pytest.raises(click.NoSuchOption):
        command.make_context("ksctl diff", ["a", "b", "--against", "recordings/futures-crash.jsonl", "--base", "x"])
    with pytest.raises(click.BadParameter):
        cli.get_command(None, "plan").make_context("ksctl plan", ["--policies", ".", "--against", "nowhere.jsonl"])


def test_the_diff_line_runs_in_a_pull_request_checkout(tmp_path, monkeypatch):
    """The workflow's own diff line, run as GitHub would: in a clone of the policy repository whose
    base branch is origin/main, with the pull request's change checked out."""
    require_tool("git")
    for k, v in {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "risk desk",
                 "GIT_AUTHOR_EMAIL": "risk@example.com", "GIT_COMMITTER_NAME": "risk desk",
                 "GIT_COMMITTER_EMAIL": "risk@example.com"}.items():
        monkeypatch.setenv(k, v)

    def git(cwd, *args):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    base = tmp_path / "policy-repo"
    (base / "recordings").mkdir(parents=True)
    shutil.copy(POLICIES / "futures-book.yaml", base / "futures-book.yaml")
    shutil.copy(POLICIES / "recordings" / "futures-crash.jsonl", base / "recordings" / "futures-crash.jsonl")
    git(base, "init", "-q", "-b", "main")
    git(base, "add", ".")
    git(base, "commit", "-q", "-m", "futures book")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(base), str(checkout))
    shutil.copy(ROOT / "tests" / "fixtures" / "diff" / "futures-book.tighter.yaml", checkout / "futures-book.yaml")
    git(checkout, "commit", "-q", "-am", "futures book: cut earlier")

    (args,) = [a for _, a, _ in ksctl_lines(load_workflow()) if a[0] == "diff"]
    monkeypatch.chdir(checkout)
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 2, r.output  # differs: for review, and the step lets it pass
    assert "OLD reaches stage 1 at 2026-03-02T14:07:00Z, NEW at 2026-03-02T14:04:00Z" in r.stdout.splitlines()[-1]
