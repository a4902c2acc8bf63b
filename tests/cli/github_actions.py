"""The repository's composite Action (action.yml) run as GitHub's runner runs it, as far as its
steps need: each `run:` script through `bash --noprofile --norc -eo pipefail FILE` (the runner's
`shell: bash`), in the workspace, with the step's `env:` evaluated from the inputs and contexts,
the files GitHub hands a step (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_PATH) and the outputs
read back from them; `if:` conditions and the action's `outputs:` evaluated too.

The expressions evaluated are the ones the Action uses: context references (``inputs.x``,
``github.event.pull_request.number``, ``steps.review.outputs.verdict``, ``runner.temp``), string
literals, ``==`` and ``!=``, ``&&``, ``!`` and the status functions. Anything else raises
``Unsupported``, so that an Action that starts using more fails its tests here rather than being
run half-understood.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML

from tests.conftest import ROOT

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
REFERENCE = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash`


class Unsupported(Exception):
    """An expression this emulation does not evaluate."""


def load_action(path: Path = ACTION) -> dict:
    return YAML(typ="safe").load(path.read_text())


@dataclass
class Contexts:
    inputs: dict[str, str]
    github: dict[str, Any]
    runner: dict[str, str]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False  # a step before failed (success() is false, failure() true)

    def lookup(self, ref: str) -> Any:
        head, *rest = ref.split(".")
        roots = {"inputs": self.inputs, "github": self.github, "runner": self.runner, "steps": self.steps}
        if head not in roots:
            raise Unsupported(f"context {head!r} in {ref!r}")
        value: Any = roots[head]
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def with_input_defaults(action: dict, given: dict[str, str], github: dict, runner: dict) -> dict[str, str]:
    """The inputs as the runner hands them to the steps: the given ones, else each default
    evaluated (a default may be an expression: ``${{ github.token }}``)."""
    ctx = Contexts(inputs={}, github=github, runner=runner)
    out = {}
    for name, spec in (action.get("inputs") or {}).items():
        out[name] = given[name] if name in given else substitute(str(spec.get("default", "")), ctx)
    unknown = set(given) - set(out)
    if unknown:
        raise KeyError(f"not inputs of the action: {sorted(unknown)}")
    return out


def evaluate(expr: str, ctx: Contexts) -> Any:
    expr = expr.strip()
    if "||" in expr or "(" in expr.replace("()", ""):
        raise Unsupported(expr)
    if "&&" in expr:
        return all(truthy(evaluate(term, ctx)) for term in expr.split("&&"))
    if expr.startswith("!"):
        return not truthy(evaluate(expr[1:], ctx))
    for op in ("!=", "=="):
        if op in expr:
            left, right = (evaluate(side, ctx) for side in expr.split(op, 1))
            same = _loose(left) == _loose(right)
            return same if op == "==" else not same
    functions = {"always()": True, "cancelled()": False, "success()": not ctx.failed, "failure()": ctx.failed}
    if expr in functions:
        return functions[expr]
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        return expr[1:-1].replace("''", "'")
    if REFERENCE.fullmatch(expr):
        return ctx.lookup(expr)
    raise Unsupported(expr)


def _loose(value: Any) -> Any:
    """GitHub compares strings case-insensitively and a missing value as the empty string."""
    return "" if value is None else str(value).lower() if isinstance(value, str) else value


def truthy(value: Any) -> bool:
    return value not in (None, "", False, 0)


def substitute(text: str, ctx: Contexts) -> str:
    def one(m: re.Match) -> str:
        value = evaluate(m.group(1), ctx)
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return EXPRESSION.sub(one, text)


def condition(step: dict, ctx: Contexts) -> bool:
    """A step's `if:` (success() when none; a condition without a status function is ANDed with it)."""
    raw = str(step.get("if", "success()"))
    m = EXPRESSION.fullmatch(raw.strip())
    expr = m.group(1) if m else raw
    if not re.search(r"\b(always|cancelled|success|failure)\(\)", expr):
        expr = f"success() && {expr}"
    return truthy(evaluate(expr, ctx))


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str
    failed: bool

    def step(self, name: str) -> StepRun:
        [found] = [s for s in self.steps if s.name == name]
        return found


def read_outputs(path: Path) -> dict[str, str]:
    """name=value lines and name<<DELIMITER blocks, as the runner reads GITHUB_OUTPUT."""
    out: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            out[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        out[name] = value
        i += 1
    return out


def run_action(workspace: Path, temp: Path, inputs: dict[str, str], github: dict, *,
               path: list[str], skip: Callable[[dict], bool] = lambda step: False,
               action: dict | None = None) -> ActionRun:
    """Run the Action's steps in ``workspace``: `uses:` steps and those ``skip`` names are not run
    (the test provides what they would: Python, an installed ksctl on ``path``)."""
    action = action or load_action()
    runner = {"temp": str(temp), "os": "Linux"}
    ctx = Contexts(inputs=with_input_defaults(action, inputs, github, runner), github=github, runner=runner)
    summary = temp / "step-summary.md"
    summary.touch()
    base_env = {
        "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]), "HOME": str(temp),
        "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_BASE_REF": str(github.get("base_ref") or ""),
        "GITHUB_EVENT_NAME": str(github.get("event_name") or ""), "GITHUB_REPOSITORY": str(github.get("repository")),
        "GITHUB_API_URL": str(github.get("api_url") or "https://api.github.com"),
        **{"INPUT_" + k.upper().replace(" ", "_"): v for k, v in ctx.inputs.items()},
    }
    runs: list[StepRun] = []
    for i, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("uses") or f"step {i}"
        if "uses" in step or skip(step) or not condition(step, ctx):
            runs.append(StepRun(name, ran=False))
            continue
        assert step.get("shell") == "bash", f"step {name!r}: a composite step's run needs shell: bash"
        output, added_path, script = temp / f"output-{i}", temp / f"path-{i}", temp / f"step-{i}.sh"
        output.touch()
        added_path.touch()
        script.write_text(step["run"])
        env = {**base_env, "GITHUB_OUTPUT": str(output), "GITHUB_PATH": str(added_path)}
        env.update({k: substitute(str(v), ctx) for k, v in (step.get("env") or {}).items()})
        r = subprocess.run([*BASH, str(script)], cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
        runs.append(StepRun(name, True, r.returncode, r.stdout, r.stderr))
        if "id" in step:
            ctx.steps[step["id"]] = {"outputs": read_outputs(output),
                                     "outcome": "success" if r.returncode == 0 else "failure"}
        extra = [ln for ln in added_path.read_text().splitlines() if ln]
        base_env["PATH"] = os.pathsep.join([*reversed(extra), base_env["PATH"]])
        if r.returncode != 0:
            ctx.failed = True
    outputs = {k: substitute(str(v["value"]), ctx) for k, v in (action.get("outputs") or {}).items()}
    return ActionRun(runs, outputs, summary.read_text(), ctx.failed)
