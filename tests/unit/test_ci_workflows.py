"""The CI configurations, parsed and checked:

- .github/workflows/ci.yml, the repository's own CI: runs .ci/run on pull requests and on main, with
  the Python the locks are made for, a read-only token, the chart tools cached where
  .ci/install-helm puts them.
- action.yml, the composite Action a policy repository uses: installs the engine from its own
  checkout (the commit the workflow pinned) with the locked, hashed dependencies of that commit,
  never a package name from an index (`killswitch` on the public one is another project's) or an
  unhashed requirement; validates, tests, plans, diffs and comments (its ksctl lines are parsed
  by tests/cli/test_diff_workflow.py, its steps run by tests/cli/test_action_run.py).
- policies/.github/workflows/policy-pr.yml, the policy repository's: uses the Action at a full
  commit of the engine's repository, never a branch or a tag, and installs nothing itself.
- renovate.json (both): their regular expressions find what they are meant to update.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import POLICIES, ROOT

CI = ROOT / ".github" / "workflows" / "ci.yml"
ACTION = ROOT / "action.yml"
POLICY_PR = POLICIES / ".github" / "workflows" / "policy-pr.yml"
SHA = re.compile(r"[0-9a-f]{40}")
INSTALLERS = re.compile(r"(^|\s|/)(pip3?|pipx|uv|easy_install)(\s+pip)?\s+(install|download|sync)\b")
PUBLIC_INDEXES = ("pypi.org", "pythonhosted.org", "test.pypi.org")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def steps(doc: dict):
    """(job env, step) of every step, of a workflow's jobs or a composite action's runs."""
    if "runs" in doc:
        for step in doc["runs"]["steps"]:
            yield dict(step.get("env") or {}), step
        return
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            yield {**(doc.get("env") or {}), **(job.get("env") or {}), **(step.get("env") or {})}, step


def expand(text: str, env: dict) -> str:
    """${{ env.X }}, $X and ${X} filled from ``env``; other variables (GitHub's) stay as they are."""
    text = re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: str(env.get(m.group(1), m.group(0))), text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: str(env[m.group(1)]) if m.group(1) in env else m.group(0), text)


def shell_lines(script: str) -> list[str]:
    return [ln for ln in script.replace("\\\n", " ").splitlines() if ln.strip() and not ln.strip().startswith("#")]


def engine_install_problems(doc: dict) -> list[str]:
    """Every way the workflow could run code it did not pin: an install by name or from an index,
    an unhashed requirements file, a VCS URL or a checkout at a branch or tag."""
    problems: list[str] = []
    installs_engine = False
    for env, step in steps(doc):
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("repository"):
            w = {k: expand(str(v), env) for k, v in step["with"].items()}
            if not SHA.fullmatch(w.get("ref", "")):
                problems.append(f"step {step.get('name', uses)!r}: checks out {w['repository']} at "
                                f"{w.get('ref') or 'its default branch'!r}, not a full commit")
        env = dict(env)
        for line in shell_lines(step.get("run") or ""):
            assignment = re.fullmatch(r"\s*(\w+)=(\S+)\s*", line)
            if assignment:  # a shell variable of the script: engine="$RUNNER_TEMP/killswitch"
                env[assignment.group(1)] = expand(shlex.split(assignment.group(2))[0], env)
            elif INSTALLERS.search(line):
                installs_engine = _install_problems(line, env, problems) or installs_engine
    if not installs_engine:
        problems.append("nothing installs the engine from a pinned commit")
    return problems


def _install_problems(line: str, env: dict, problems: list[str]) -> bool:
    """The problems of one install command, added to ``problems``; whether it installs the
    engine from a pinned commit or a path, without resolving from an index."""
    try:
        words = shlex.split(expand(line, env))
    except ValueError:
        problems.append(f"cannot parse: {line}")
        return False
    verb = next(i for i, w in enumerate(words) if w in ("install", "download", "sync"))
    args = words[verb + 1:]
    if any(w.startswith(("pipx", "uvx")) for w in words[:verb]) or "pipx" in words:
        problems.append(f"{line.strip()}: pipx resolves from an index")
        return False
    for i, a in enumerate(args):
        index_options = ("-i", "--index-url", "--extra-index-url")
        if a in index_options or a.startswith(("--index-url=", "--extra-index-url=")):
            url = a.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
            problems.append(f"{line.strip()}: installs from an index ({url})")
    if "-r" in args or "--requirement" in args:
        if "--require-hashes" not in args:
            problems.append(f"{line.strip()}: a requirements file without --require-hashes")
        return False
    installs_engine = False
    for t in (a for a in args if not a.startswith("-")):
        problem = _target_problem(t, args)
        if problem:
            problems.append(f"{line.strip()}: {problem}")
        else:
            installs_engine = True
    return installs_engine


def _target_problem(t: str, args: list[str]) -> str:
    """What is wrong with installing ``t`` (nothing: a full commit or a path, without its
    dependencies)."""
    if t.startswith("git+") or "://" in t:
        if not re.search(r"@[0-9a-f]{40}(#.*)?$", t):
            return f"{t} is not pinned to a full commit"
    elif not t.startswith(("/", "./", "$RUNNER_TEMP", "${RUNNER_TEMP}", "$GITHUB_WORKSPACE", "$GITHUB_ACTION_PATH")):
        return f"installs {t!r} by name from an index"
    if "--no-deps" not in args:
        return f"{t} resolves its dependencies from an index"
    return ""


# --- the Action and the policy repository's workflow -------------------------------------------

ACTION_USE = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+)@(?P<ref>\S+)")


def action_step(doc: dict) -> dict:
    """The workflow's step that uses the killswitch Action."""
    [step] = [s for _, s in steps(doc) if ACTION_USE.fullmatch(s.get("uses", "")) and
              ACTION_USE.fullmatch(s["uses"]).group("repo").endswith("/killswitch")]
    return step


def action_pin_problems(doc: dict) -> list[str]:
    """How the workflow could run an engine it did not pin: the Action at a branch or a tag, or
    an engine installed beside it."""
    problems = []
    m = ACTION_USE.fullmatch(action_step(doc)["uses"])
    if not SHA.fullmatch(m.group("ref")):
        problems.append(f"uses {m.group('repo')} at {m.group('ref')!r}, not a full commit")
    for _, step in steps(doc):
        if any(INSTALLERS.search(line) for line in shell_lines(step.get("run") or "")):
            problems.append(f"step {step.get('name')!r} installs something itself: the Action installs the engine")
    return problems


def test_action_installs_a_locked_engine_from_its_own_checkout():
    doc = load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert engine_install_problems(doc) == []
    install = next(s["run"] for _, s in steps(doc) if "pip install" in (s.get("run") or ""))
    assert 'engine="$GITHUB_ACTION_PATH"' in install, "the engine is the action's own commit"
    assert "requirements/runtime.txt" in install and "requirements/build.txt" in install
    assert "pip check" in install
    # into a venv of its own under the runner's temp, never into the policy tree
    assert "python -m venv" in install
    [install_step] = [s for _, s in steps(doc) if s.get("run") == install]
    assert install_step["env"]["KS_VENV"].startswith("${{ runner.temp }}/")
    # every input reaches a script through env:, never spliced into the shell text
    for _, step in steps(doc):
        assert "${{" not in (step.get("run") or ""), f"step {step.get('name')!r}: an expression inside run:"


def test_policy_workflow_uses_the_action_at_a_full_commit():
    doc = load(POLICY_PR)
    assert action_pin_problems(doc) == []
    assert "pull_request" in doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    checkout = next(s for _, s in steps(doc) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "ksctl diff reads the base branch from git"
    assert checkout["with"]["persist-credentials"] is False
    inputs = load(ACTION)["inputs"]
    assert set(action_step(doc).get("with") or {}) <= set(inputs)


@pytest.mark.parametrize("uses", ["trading-platform/killswitch@main", "trading-platform/killswitch@v0",
                                  "trading-platform/killswitch@v0.1.0", "trading-platform/killswitch@" + "a" * 39])
def test_the_action_at_a_branch_or_tag_would_be_caught(uses):
    doc = load(POLICY_PR)
    action_step(doc)["uses"] = uses
    assert any("not a full commit" in p for p in action_pin_problems(doc)), uses


def test_an_install_beside_the_action_would_be_caught():
    doc = load(POLICY_PR)
    next(iter(doc["jobs"].values()))["steps"].append({"name": "extra", "run": "pip install killswitch"})
    assert any("installs something itself" in p for p in action_pin_problems(doc))


@pytest.mark.parametrize("env_line, run", [
    ("KILLSWITCH: killswitch==0.1.0", 'python -m pip install "$KILLSWITCH"'),  # the original
    ("KILLSWITCH: killswitch-control-plane", "pip install $KILLSWITCH"),
    ("KILLSWITCH: git+https://github.com/trading-platform/killswitch@main",
     "pip install --no-deps $KILLSWITCH"),
    ("KILLSWITCH: git+https://github.com/trading-platform/killswitch@" + "a" * 40, "pip install $KILLSWITCH"),
    ("KILLSWITCH: requirements.txt", "pip install -r $KILLSWITCH"),
    ("KILLSWITCH: x", "pip install --no-deps --extra-index-url https://pypi.org/simple ./engine"),
    ("KILLSWITCH: x", "uv pip install killswitch"),
    ("KILLSWITCH: x", "pipx install killswitch"),
])
def test_an_unpinned_or_foreign_install_would_be_caught(env_line, run):
    key, _, value = env_line.partition(": ")
    # beside a good install, so that the problem found is the line's own
    good = 'engine="$RUNNER_TEMP/killswitch"\npython -m pip install --no-deps --no-build-isolation "$engine"'
    ok = {"env": {key: value}, "jobs": {"review": {"steps": [{"name": "install", "run": good}]}}}
    assert engine_install_problems(ok) == []
    doc = {"env": {key: value}, "jobs": {"review": {"steps": [{"name": "install", "run": good + "\n" + run}]}}}
    assert engine_install_problems(doc), run


def test_an_engine_checkout_at_a_branch_would_be_caught():
    doc = {"jobs": {"review": {"steps": [
        {"uses": "actions/checkout@v4", "with": {"repository": "trading-platform/killswitch", "ref": "main"}},
        {"run": 'python -m pip install --no-deps --no-build-isolation "$RUNNER_TEMP/killswitch"'}]}}}
    assert any("not a full commit" in p for p in engine_install_problems(doc))


def test_pinned_engine_commit_has_the_action():
    """The workflow's pinned commit is a commit of this repository's history (the engine) that has
    the Action and what its install reads: the locks, and the distribution by our name."""
    rev = ACTION_USE.fullmatch(action_step(load(POLICY_PR))["uses"]).group("ref")
    git = ["git", "-C", str(ROOT)]
    inside = subprocess.run([*git, "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
    if shallow.stdout.strip() == "true":
        pytest.skip("a shallow clone: the pinned commit may be outside it")
    exists = subprocess.run([*git, "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True)
    assert exists.returncode == 0, f"the Action's pinned commit {rev} is not a commit of this repository"
    ancestor = subprocess.run([*git, "merge-base", "--is-ancestor", rev, "HEAD"], capture_output=True)
    assert ancestor.returncode == 0, (f"the Action's pinned commit {rev} is not in HEAD's history (a rebase "
                                      "rewrote it?): pin the last commit that changed action.yml")

    def show(path: str) -> str:
        r = subprocess.run([*git, "show", f"{rev}:{path}"], capture_output=True, text=True)
        assert r.returncode == 0, f"{path} is missing at {rev}: the Action would not run"
        return r.stdout

    assert load_text(show("action.yml"))["runs"]["using"] == "composite"
    assert "--hash=sha256:" in show("requirements/runtime.txt") and "setuptools==" in show("requirements/build.txt")
    assert re.search(r'^name = "killswitch-control-plane"$', show("pyproject.toml"), re.M)


def load_text(text: str) -> dict:
    return YAML(typ="safe").load(text)


def _js_regex(pattern: str) -> re.Pattern:
    """A Renovate regex (JavaScript named groups; /.../ delimiters in managerFilePatterns) for Python."""
    if pattern.startswith("/") and pattern.endswith("/"):
        pattern = pattern[1:-1]
    return re.compile(pattern.replace("(?<", "(?P<"))


def test_policy_renovate_moves_the_action_commit():
    renovate = json.loads((POLICIES / "renovate.json").read_text())
    use = ACTION_USE.fullmatch(action_step(load(POLICY_PR))["uses"])
    [manager] = renovate["customManagers"]
    rel = POLICY_PR.relative_to(POLICIES).as_posix()
    assert any(_js_regex(p).search(rel) for p in manager["managerFilePatterns"]), rel
    [m] = [m for s in manager["matchStrings"] for m in _js_regex(s).finditer(POLICY_PR.read_text())]
    assert m.group("currentDigest") == use.group("ref")
    assert m.group("depName") == "https://github.com/" + use.group("repo")
    assert m.group("datasource") == "git-refs" and m.group("currentValue") == "main"
    # and the github-actions manager leaves that one dependency to it
    [off] = [r for r in renovate["packageRules"] if r.get("enabled") is False]
    assert off["matchManagers"] == ["github-actions"] and off["matchDepNames"] == [use.group("repo")]


# --- the repository's own CI ------------------------------------------------------------------

def test_ci_workflow_runs_ci_run_on_pull_requests_and_main():
    doc = load(CI)
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    assert doc["permissions"] == {"contents": "read"}
    [job] = doc["jobs"].values()
    assert 0 < job["timeout-minutes"] <= 90
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[-1].strip() in ("bash .ci/run", ".ci/run"), runs
    assert "secrets." not in CI.read_text(), "CI needs no secret"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_ci_workflow_python_is_the_one_the_locks_and_image_target():
    job = next(iter(load(CI)["jobs"].values()))
    python = next(s["with"]["python-version"] for s in job["steps"]
                  if s.get("uses", "").startswith("actions/setup-python@"))
    header = (ROOT / "requirements" / "dev.txt").read_text().splitlines()[1]
    assert f"--python-version {python}" in header
    assert f"python:{python}-" in (ROOT / "Dockerfile").read_text()
    assert python == load(ACTION)["inputs"]["python-version"]["default"]


def test_ci_workflow_caches_the_chart_tools_where_install_helm_builds_them(monkeypatch):
    from tests.chart.conftest import tools_dir

    monkeypatch.delenv("KS_TOOLS_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)  # unset on GitHub's runners
    job = next(iter(load(CI)["jobs"].values()))
    caches = [s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
    tools = next(c for c in caches if "killswitch-tools" in c["path"])
    assert Path(tools["path"].replace("~", str(Path.home()))) == tools_dir().parent
    assert "hashFiles('.ci/install-helm')" in tools["key"], "a new tool version must miss the cache"
    assert any(s.get("uses", "").startswith("actions/setup-go@") for s in job["steps"])


def test_root_renovate_covers_the_locks_the_image_and_the_tools():
    renovate = json.loads((ROOT / "renovate.json").read_text())
    patterns = [_js_regex(p) for p in renovate["pip-compile"]["managerFilePatterns"]]
    for lock in sorted((ROOT / "requirements").glob("*.txt")):
        assert any(p.search(lock.relative_to(ROOT).as_posix()) for p in patterns), lock
    [manager] = renovate["customManagers"]
    text = (ROOT / ".ci" / "install-helm").read_text()
    [m] = [m for s in manager["matchStrings"] for m in _js_regex(s).finditer(text)]
    assert m.group("currentValue") == re.search(r"^HELM_UNITTEST_VERSION=(\S+)", text, re.M).group(1)
    assert any(_js_regex(p).search(".ci/install-helm") for p in manager["managerFilePatterns"])
