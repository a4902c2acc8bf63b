"""The example policy pull-request workflow (policies/.github/workflows/policy-pr.yml) and the
Action it uses (action.yml) cannot rot: every ``ksctl`` line the Action runs is parsed by the real
CLI, with the inputs the workflow gives (and the Action's defaults) filled in, from the root of
the policy repository (policies/), as GitHub runs it.

Parsing checks the command exists, its options exist, required ones are given, choices are
valid and the files it names (the recording) are there. The diff line, the one that reads git,
is also run for real in a clone of a policy repository with a pull request's change.
"""

from __future__ import annotations

import os
import re
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
from tests.cli.github_actions import Contexts, load_action, substitute, with_input_defaults
from tests.conftest import POLICIES, ROOT, require_tool

WORKFLOW = POLICIES / ".github" / "workflows" / "policy-pr.yml"
# What GitHub sets on a pull_request run, as far as the ksctl lines read it.
GITHUB_ENV = {"GITHUB_BASE_REF": "main", "GITHUB_STEP_SUMMARY": "/tmp/summary.md", "GITHUB_OUTPUT": "/tmp/out"}
GITHUB = {"base_ref": "main", "token": "t0ken", "event": {"pull_request": {"number": 7}}}
# the shell arrays of the Action's script, as a pull request that changes one policy fills them
ARRAYS = {"changed": ["--changed", "futures-book.yaml"]}
ARRAY = re.compile(r"\$\{(\w+)\[@\]\}")
RUNNER = {"temp": "/tmp/runner"}
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"}


def load_workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def workflow_inputs(doc: dict) -> dict[str, str]:
    """What the workflow hands the Action (`with:` of its step that uses it), each as a string;
    a threshold it leaves empty is given one, so that the line that reads it is parsed too."""
    [step] = [s for job in doc["jobs"].values() for s in job["steps"] if "/killswitch@" in s.get("uses", "")]
    given = {k: str(v) for k, v in (step.get("with") or {}).items()}
    return {**given, "coverage-threshold": given.get("coverage-threshold") or "80"}


def ksctl_lines(doc: dict) -> list[tuple[str, list[str], dict]]:
    """(step name, ksctl arguments with variables filled in, the step's environment) of every ksctl
    line of the Action's steps, with the inputs the workflow ``doc`` gives."""
    action = load_action()
    ctx = Contexts(inputs=with_input_defaults(action, workflow_inputs(doc), GITHUB, RUNNER), github=GITHUB,
                   runner=RUNNER)
    found = []
    for step in action["runs"]["steps"]:
        script = step.get("run")
        if not script:
            continue
        env = {**GITHUB_ENV, **{k: substitute(str(v), ctx) for k, v in (step.get("env") or {}).items()}}
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
                array = ARRAY.fullmatch(tok)
                if array:
                    args.extend(ARRAYS[array.group(1)])  # KeyError for an array the test does not know
                    continue
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


@pytest.mark.parametrize("step, args", [pytest.param(s, a, id=f"{i}-{a[0]}")
                                        for i, (s, a, _) in enumerate(ksctl_lines(load_workflow()))])
def test_every_ksctl_line_parses_with_the_cli(step, args, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "desk/policies")  # the runner sets it; ksctl pr overlaps reads it
    command: click.Command | None = cli
    words = list(args)
    while isinstance(command, click.Group):  # ksctl pr overlaps: down to the command itself
        command = command.get_command(None, words.pop(0))
    assert command is not None, f"step {step!r}: no command ksctl {shlex.join(args)}"
    try:
        ctx = command.make_context(f"ksctl {args[0]}", words)
    except click.ClickException as e:
        pytest.fail(f"step {step!r}: ksctl {shlex.join(args)}: {e.format_message()}")
    if args[0] == "validate":
        assert ctx.params["strict"], "the pull request must fail on warnings too"
    if args[0] == "test" and "--coverage" in args:
        assert ctx.params["changed"] == ("futures-book.yaml",), "the uncovered rules of the changed policies"
    if args[:2] == ["pr", "overlaps"]:
        assert ctx.params["repo"] == "desk/policies" and ctx.params["number"] == 7
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
