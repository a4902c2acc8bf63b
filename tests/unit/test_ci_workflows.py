"""The CI configurations, parsed and checked:

- .github/workflows/ci.yml, the repository's own CI: runs .ci/run on pull requests and on main, with
  the Python the locks are made for, a read-only token, the chart tools cached where
  .ci/install-helm puts them.
- policies/.github/workflows/policy-pr.yml, the policy repository's: installs the engine from a
  full commit of its repository with the locked, hashed dependencies of that commit, never a
  package name from an index (`killswitch` on the public one is another project's), a branch, a
  tag or an unhashed requirement; validates, tests, plans, diffs and comments (its ksctl lines are
  parsed by tests/cli/test_diff_workflow.py).
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
POLICY_PR = POLICIES / ".github" / "workflows" / "policy-pr.yml"
SHA = re.compile(r"[0-9a-f]{40}")
INSTALLERS = re.compile(r"(^|\s|/)(pip3?|pipx|uv|easy_install)(\s+pip)?\s+(install|download|sync)\b")
PUBLIC_INDEXES = ("pypi.org", "pythonhosted.org", "test.pypi.org")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def steps(doc: dict):
    """(job env, step) of every step."""
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
    elif not t.startswith(("/", "./", "$RUNNER_TEMP", "${RUNNER_TEMP}", "$GITHUB_WORKSPACE")):
        return f"installs {t!r} by name from an index"
    if "--no-deps" not in args:
        return f"{t} resolves its dependencies from an index"
    return ""


# --- the policy repository's workflow ---------------------------------------------------------

def test_policy_workflow_installs_a_pinned_locked_engine():
    doc = load(POLICY_PR)
    assert engine_install_problems(doc) == []
    env = doc["env"]
    assert SHA.fullmatch(env["KILLSWITCH_REVISION"]), env["KILLSWITCH_REVISION"]
    # the engine checkout is that commit, of that repository
    [checkout] = [s for _, s in steps(doc) if (s.get("with") or {}).get("repository")]
    assert expand(checkout["with"]["repository"], env) == env["KILLSWITCH_REPOSITORY"]
    assert expand(checkout["with"]["ref"], env) == env["KILLSWITCH_REVISION"]
    assert checkout["with"].get("persist-credentials") is False
    install = next(s["run"] for _, s in steps(doc) if "pip install" in (s.get("run") or ""))
    assert "requirements/runtime.txt" in install and "requirements/build.txt" in install
    assert "pip check" in install
    assert "pull_request" in doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true


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
    doc = load(POLICY_PR)
    doc["env"]["KILLSWITCH_REVISION"] = "main"
    assert any("not a full commit" in p for p in engine_install_problems(doc))


def test_pinned_engine_commit_has_what_the_workflow_installs():
    """KILLSWITCH_REVISION names a commit of this repository (the engine) at which the workflow's
    install works: the locks it reads exist and the distribution has our name."""
    rev = load(POLICY_PR)["env"]["KILLSWITCH_REVISION"]
    git = ["git", "-C", str(ROOT)]
    inside = subprocess.run([*git, "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
    if shallow.stdout.strip() == "true":
        pytest.skip("a shallow clone: the pinned commit may be outside it")
    exists = subprocess.run([*git, "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True)
    assert exists.returncode == 0, f"KILLSWITCH_REVISION {rev} is not a commit of this repository"

    def show(path: str) -> str:
        r = subprocess.run([*git, "show", f"{rev}:{path}"], capture_output=True, text=True)
        assert r.returncode == 0, f"{path} is missing at {rev}: the workflow's install would fail"
        return r.stdout

    assert "--hash=sha256:" in show("requirements/runtime.txt") and "setuptools==" in show("requirements/build.txt")
    assert re.search(r'^name = "killswitch-control-plane"$', show("pyproject.toml"), re.M)


def _js_regex(pattern: str) -> re.Pattern:
    """A Renovate regex (JavaScript named groups; /.../ delimiters in managerFilePatterns) for Python."""
    if pattern.startswith("/") and pattern.endswith("/"):
        pattern = pattern[1:-1]
    return re.compile(pattern.replace("(?<", "(?P<"))


def test_policy_renovate_moves_the_engine_commit():
    renovate = json.loads((POLICIES / "renovate.json").read_text())
    env = load(POLICY_PR)["env"]
    [manager] = renovate["customManagers"]
    rel = POLICY_PR.relative_to(POLICIES).as_posix()
    assert any(_js_regex(p).search(rel) for p in manager["managerFilePatterns"]), rel
    [m] = [m for s in manager["matchStrings"] for m in _js_regex(s).finditer(POLICY_PR.read_text())]
    assert m.group("currentDigest") == env["KILLSWITCH_REVISION"]
    assert m.group("depName") == "https://github.com/" + env["KILLSWITCH_REPOSITORY"]
    assert m.group("datasource") == "git-refs" and m.group("currentValue") == "main"


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
    policy_job = next(iter(load(POLICY_PR)["jobs"].values()))
    assert python == next(s["with"]["python-version"] for s in policy_job["steps"]
                          if s.get("uses", "").startswith("actions/setup-python@"))


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
