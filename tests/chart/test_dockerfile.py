"""The container image, as far as it can be checked without a Docker engine.

Checked: the Dockerfile parses (a small parser of the instruction set, below), its stages and
base image, a numeric non-root USER, `ksctl run` as the ENTRYPOINT with default options that
`ksctl run` knows, a HEALTHCHECK on /healthz with python (no curl), .dockerignore keeping the
context to what the build copies; and the build stage replayed outside Docker: the wheel builds
from exactly the files the Dockerfile copies, installs into a fresh venv without the test extras,
and `ksctl --version` and the runner's imports work from it.

Not checked here: that `docker build` succeeds on the base image (apt, useradd, pip inside it),
the image's size, or the container running under a container runtime.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field

import pytest

from killswitch.cli.run import run as run_command
from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Every instruction of the Dockerfile reference; anything else is a syntax error for Docker.
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


@dataclass
class Instruction:
    line: int
    name: str
    args: str

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD, ENTRYPOINT, ...), None for shell form."""
        if not self.args.lstrip().startswith("["):
            return None
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(x, str) for x in value), f"line {self.line}"
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]

    def last(self, name: str) -> Instruction:
        found = self.all(name)
        assert found, f"stage {self.name or self.base} has no {name}"
        return found[-1]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages). Handles comments, parser directives, backslash line
    continuations (comment lines inside them are dropped, as Docker does), and ${VAR} in FROM."""
    instructions: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        name, _, args = buf.partition(" ")
        if name.upper() not in INSTRUCTIONS:
            raise ValueError(f"Dockerfile:{start}: unknown instruction {name!r}")
        instructions.append(Instruction(start, name.upper(), args.strip()))
        buf = ""
    if buf:
        raise ValueError("Dockerfile: the last instruction ends with a line continuation")

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.name == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--platform=")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            assert len(words) in (1, 3), f"Dockerfile:{ins.line}: FROM image [AS name]"
            stages.append(Stage(base, name))
        elif not stages:
            assert ins.name == "ARG", f"Dockerfile:{ins.line}: only ARG may come before the first FROM"
            key, _, default = ins.args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def dockerignore_excludes(rel: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``rel`` (a path relative to the context) out: the last
    matching pattern wins, `!` re-includes, and a pattern matching a parent directory matches
    everything under it. The subset of Docker's rules that .dockerignore here uses."""
    parts = rel.split("/")
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pat.startswith("**/"):
            tail = pat[3:]
            hit = any(fnmatch.fnmatchcase(p, tail) for p in parts)
        else:
            hit = any(fnmatch.fnmatchcase(c, pat) and c.count("/") == pat.count("/") for c in candidates)
        if hit:
            excluded = not negate
    return excluded


def ignore_patterns() -> list[str]:
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def dockerfile():
    return parse_dockerfile(DOCKERFILE.read_text())


def test_dockerfile_parses_into_a_build_and_a_runtime_stage(dockerfile):
    _, stages = dockerfile
    assert [s.name for s in stages] == ["build", "runtime"]
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    for ins in stages[-1].instructions:
        if ins.name in ("CMD", "ENTRYPOINT"):
            assert ins.exec_form() is not None, f"line {ins.line}: exec form, so that signals reach ksctl"


def test_parser_rejects_what_docker_rejects():
    with pytest.raises(ValueError, match="unknown instruction"):
        parse_dockerfile("FROM python:3.11-slim\nRUNN true\n")
    with pytest.raises(ValueError, match="line continuation"):
        parse_dockerfile("FROM python:3.11-slim\nRUN true \\\n")


def test_runtime_runs_as_a_numeric_non_root_user(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    user = runtime.last("USER").args
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user}: numeric, so runAsNonRoot can be verified"
    uid, _, gid = user.partition(":")
    assert int(uid) != 0 and (not gid or int(gid) != 0)
    created = " ".join(i.args for i in runtime.all("RUN"))
    assert re.search(rf"useradd .*--uid {uid}\b", created), "the user exists in /etc/passwd too"
    # the USER comes after every RUN: nothing the runtime stage runs later runs as root
    last_run = max(i.line for i in runtime.all("RUN"))
    assert runtime.last("USER").line > last_run


def test_entrypoint_is_ksctl_run_with_options_it_knows(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    assert runtime.last("ENTRYPOINT").exec_form() == ["ksctl", "run"]
    known = {opt for p in run_command.params for opt in p.opts}
    cmd = runtime.last("CMD").exec_form()
    given = {a for a in cmd if a.startswith("--")}
    assert given <= known, given - known
    assert {"--policies", "--accounts", "--state"} <= given


def test_healthcheck_asks_healthz_with_python(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    check = runtime.last("HEALTHCHECK").args
    _, _, command = check.partition("CMD ")
    argv = json.loads(command)
    assert argv[0] == "python"
    assert "/healthz" in argv[-1]
    port = re.search(r"127\.0\.0\.1:(\d+)/healthz", argv[-1]).group(1)
    assert port in runtime.last("EXPOSE").args.split()
    cmd = runtime.last("CMD").exec_form()
    assert cmd[cmd.index("--api-port") + 1] == port
    compile(argv[-1], "HEALTHCHECK", "exec")  # the python it runs is valid
    for stage in stages:
        for ins in stage.instructions:
            assert not re.search(r"\b(curl|wget)\b", ins.args), f"Dockerfile:{ins.line} needs curl or wget"


def test_runtime_installs_the_wheel_without_extras(dockerfile):
    _, stages = dockerfile
    build, runtime = stages
    assert "pip wheel --no-deps" in " ".join(i.args for i in build.all("RUN"))
    assert any(i.args.startswith("--from=build ") for i in runtime.all("COPY"))
    installs = [i.args for i in runtime.all("RUN") if "pip install" in i.args]
    assert installs and all(".whl" in a and "[" not in a for a in installs), installs


def _context_sources(stage: Stage) -> list[str]:
    """The context paths the stage's COPY instructions read (not those --from another stage)."""
    out = []
    for ins in stage.all("COPY"):
        words = [w for w in shlex.split(ins.args) if not w.startswith("--")]
        if any(w.startswith("--from=") for w in shlex.split(ins.args)):
            continue
        out += words[:-1]
    return out


def test_dockerignore_keeps_the_context_to_what_the_build_copies(dockerfile):
    _, stages = dockerfile
    patterns = ignore_patterns()
    for src in _context_sources(stages[0]):
        assert (ROOT / src).exists(), src
        assert not dockerignore_excludes(src, patterns), f"{src} is copied but .dockerignore excludes it"
    for kept_out in (".git", ".venv", ".tools", "tests", "charts", "policies", "killswitch/__pycache__/x.pyc"):
        assert dockerignore_excludes(kept_out, patterns), kept_out


@pytest.mark.slow
def test_wheel_from_the_docker_context_installs_and_runs_without_test_extras(dockerfile, tmp_path):
    """The build stage replayed: a context with exactly what the Dockerfile copies (minus what
    .dockerignore excludes), `pip wheel`, a fresh venv, the wheel with its runtime dependencies.
    About 20 s with a warm pip cache (`make venv` fills it); the first run downloads the
    dependencies and the build backend."""
    _, stages = dockerfile
    patterns = ignore_patterns()
    context = tmp_path / "context"
    for src in _context_sources(stages[0]):
        source = ROOT / src
        files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
        for f in files:
            rel = f.relative_to(ROOT).as_posix()
            if not dockerignore_excludes(rel, patterns):
                (context / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, context / rel)

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    env = dict(os.environ, PIP_NO_INPUT="1")
    r = subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(context)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    [wheel] = (tmp_path / "dist").glob("killswitch-*.whl")

    # package data: every file the packages read at run time is in the wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ("killswitch", "adapters"):
        for f in (context / pkg).rglob("*"):
            if f.is_file():
                rel = f.relative_to(context).as_posix()
                assert rel in names, f"{rel} is not in the wheel (package data missing from pyproject.toml?)"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [ln for ln in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if ln.startswith("Requires-Dist:")]
    runtime_requires = [ln for ln in requires if "extra ==" not in ln]
    assert not any(re.search(r"\b(pytest|hypothesis|kubernetes-validate)\b", ln) for ln in runtime_requires)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    # the outer pip installs into the fresh venv (no ensurepip); no bytecode: faster, same check
    r = subprocess.run([*pip, "--python", str(python), "install", "-q", "--no-compile", str(wheel)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr

    r = subprocess.run([str(venv / "bin" / "ksctl"), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "0.1.0" in r.stdout, r.stdout + r.stderr
    probe = ("import importlib.util, sys\n"
             "import killswitch.cli.run, killswitch.daemon, killswitch.runner.api, killswitch.state.postgres\n"
             "import adapters.ccxt_exchange\n"
             "sys.exit(sum(importlib.util.find_spec(m) is not None for m in ('pytest', 'hypothesis')))\n")
    r = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"runtime imports failed, or test extras are installed:\n{r.stdout}{r.stderr}"
