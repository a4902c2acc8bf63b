"""The shell snippets of docs/ are run, as a newcomer would run them.

- Every ```sh or ```console block of docs/*.md that calls ``ksctl`` (or ``.venv/bin/ksctl``) is
  run for real by :func:`test_the_runnable_snippets_run`, in order, in a sandbox that looks like
  the repository (its ``policies/``; a ``.venv/bin`` whose ``ksctl`` and ``python`` run this
  tree's code, and the test extra's ``oidc-provider-mock``) — unless the line above it says
  ``<!-- not-run: REASON -->``. What the snippets write under ``/tmp/`` goes to the sandbox, and
  the ports they name are free ones; nothing else of their text is changed. A snippet that
  starts ``ksctl run`` passes once the runner's console answers (and the token the snippet made
  is let in; with ``--oidc-config``, the person its last line says to type signs in through the
  provider the snippet started); then the runner is stopped, unless the next runnable snippet
  says ``<!-- with the runner above -->`` on the line above it: that one is run (to its end,
  exit 0) while the runner still runs, and then it is stopped. The sandbox's ``policies/`` are
  the repository's but for the example routes' fallback webhook (``127.0.0.1:9099``), moved to
  a free port where a receiver takes every page: with nothing there, each stop waited 5 s for
  the pages being retried (docs/console.md says what that looks like; no snippet's run is about
  it).
- Every ``ksctl`` command of every snippet — run or not, and the ``$ ksctl`` lines of the plain
  transcripts — is parsed against ksctl's command tree: a command, an option or a choice that
  does not exist, or a spelling that is deprecated, fails.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import click
import pytest

from killswitch.cli.main import cli
from tests.cli.test_grammar import DEPRECATED_POSITIONALS
from tests.conftest import ROOT
from tests.procs import Receiver

DOCS = ROOT / "docs"
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```[ \t]*$", re.M | re.S)
NOT_RUN = re.compile(r"^\s*<!-- not-run: (.+?) -->\s*$")
WITH_RUNNER = re.compile(r"^\s*<!-- with the runner above -->\s*$")
SHELL = ("sh", "console")
# the runner's API, the simulated exchange and the local OpenID provider, as the snippets name them
PORTS = ("8080", "8099", "9400")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    lang: str
    text: str
    not_run: Optional[str]  # why it is not run, or None
    with_runner: bool = False  # run while the runner the snippet before started still runs

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def snippets() -> list[Snippet]:
    out = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if "ksctl" not in m.group(3):
                continue
            before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            said = NOT_RUN.match(before)
            body = "\n".join(line[len(m.group(1)):] for line in m.group(3).splitlines())
            out.append(Snippet(path, text[:m.start()].count("\n") + 1, m.group(2), body,
                               said.group(1) if said else None, WITH_RUNNER.match(before) is not None))
    return out


def shell_snippets() -> list[Snippet]:
    return [s for s in snippets() if s.lang in SHELL]


# --- every ksctl command of the docs parses ---------------------------------------------------------------

_STOP = {"|", "||", "&", "&&", ";", ">", ">>", "2>", "<"}


def ksctl_commands(s: Snippet) -> list[list[str]]:
    """The argument lists of the ``ksctl`` commands in a snippet (a transcript: its ``$`` lines)."""
    text = re.sub(r"\\\n\s*", " ", s.text)
    commands = []
    for line in text.splitlines():
        if s.lang not in SHELL:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for i, w in enumerate(words):
            if w.endswith("ksctl") and (i == 0 or words[i - 1] in _STOP or "=" in words[i - 1]):
                args = []
                for a in words[i + 1:]:
                    if a in _STOP or a.startswith((">", "2>")):
                        break
                    args.append(a)
                commands.append(args)
    return commands


def parse_problem(args: list[str]) -> Optional[str]:
    """What is wrong with ``ksctl ARGS`` as the command tree reads it (no value is converted:
    the files a snippet names need not exist here), or None."""
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="ksctl")
    rest, path = list(args), []
    while isinstance(cmd, click.Group):
        if not rest or rest[0].startswith("-"):
            return None  # ksctl --help, --version
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            return f"no command {' '.join(path + [rest[0]])!r}"
        path.append(rest.pop(0))
        cmd, ctx = sub, click.Context(sub, parent=ctx, info_name=path[-1])
    try:
        values, _, order = cmd.make_parser(ctx).parse_args(rest)
    except click.UsageError as e:
        return f"ksctl {' '.join(path)}: {e.message}"
    for p in order:
        if isinstance(p, click.Option) and (p.help or "").startswith("Deprecated"):
            return f"ksctl {' '.join(path)}: {p.opts[0]} is deprecated: {p.help}"
        if isinstance(p, click.Argument) and (" ".join(path), p.name) in DEPRECATED_POSITIONALS \
                and isinstance(values.get(p.name), str):  # given (an absent one is click's UNSET)
            return f"ksctl {' '.join(path)}: a positional {p.name} is deprecated: use " \
                   f"{DEPRECATED_POSITIONALS[(' '.join(path), p.name)]}"
        if isinstance(p, click.Option) and isinstance(p.type, click.Choice) and \
                isinstance(values.get(p.name), (str, list, tuple)):
            given = [values[p.name]] if isinstance(values[p.name], str) else list(values[p.name])
            wrong = [v for v in given if v not in p.type.choices]
            if wrong:
                return f"ksctl {' '.join(path)}: {p.opts[0]} {wrong[0]!r} is not one of {list(p.type.choices)}"
    return None


def test_the_docs_have_snippets_and_transcripts_to_check():
    s = snippets()
    assert len(shell_snippets()) >= 4 and sum(len(ksctl_commands(x)) for x in s) >= 15


@pytest.mark.parametrize("snippet", snippets(), ids=str)
def test_every_ksctl_command_in_the_docs_parses_in_todays_grammar(snippet):
    commands = ksctl_commands(snippet)
    assert commands or snippet.lang not in SHELL, f"{snippet}: no ksctl command found"
    problems = [f"ksctl {' '.join(c)}: {p}" for c in commands if (p := parse_problem(c))]
    assert not problems, f"{snippet}:\n" + "\n".join(problems)


def test_the_grammar_check_catches_what_it_is_for():
    assert parse_problem(["statu"]) == "no command 'statu'"
    assert "No such option '--comentt'" in parse_problem(["ack", "--comentt", "x"])
    assert "deprecated" in parse_problem(["silence", "add", "--comment", "x"])
    assert "deprecated" in parse_problem(["heartbeat", "bot-1"])
    assert "is not one of" in parse_problem(["lock", "--scope", "s", "--reason", "r", "--mode", "halt"])
    assert parse_problem(["heartbeat", "--source", "bot-1"]) is None


def test_a_shell_snippet_is_run_or_says_why_not():
    for s in shell_snippets():
        assert s.not_run is None or len(s.not_run) > 20, f"{s}: say why it is not run"
    assert [s for s in shell_snippets() if s.not_run is None], "no snippet is run"


def test_the_sign_in_is_shown_against_a_provider_run_locally():
    """Issue 81: the docs named no OpenID provider to try the sign-in with. docs/console.md's
    "Single sign-on" walks through the test extra's provider beside ``ksctl run --oidc-config``,
    in a snippet that is run (the sign-in it ends with is done: :func:`_signs_in`)."""
    runs = [s for s in shell_snippets() if s.not_run is None and s.path.name == "console.md"
            and "oidc-provider-mock" in s.text and "--oidc-config" in s.text]
    assert runs, "no runnable snippet of docs/console.md starts oidc-provider-mock and ksctl run --oidc-config"
    config = re.search(r"^kind: OidcSignin\n(.*?)^YAML$", runs[0].text, re.M | re.S)
    assert config and "issuer: http://127.0.0.1:9400" in config.group(1), runs[0].text


# --- the commands the prose names --------------------------------------------------------------------------

# a `ksctl ...` span of the prose; one followed by "(now `...`)" names an old spelling as old
PROSE_COMMAND = re.compile(r"`(ksctl [^`]+)`(?! \(now `)")


def prose_deprecations(text: str) -> list[tuple[int, str, str]]:
    """(line, command, problem) of each ``ksctl`` span of ``text``'s prose that teaches a
    deprecated spelling (a span that does not parse as a whole, ``ksctl override
    request|approve``, is a summary, not a command)."""
    out = []
    for m in PROSE_COMMAND.finditer(text):
        try:
            words = shlex.split(m.group(1))
        except ValueError:
            continue
        problem = parse_problem(words[1:])
        if problem and "deprecated" in problem:
            out.append((text[:m.start()].count("\n") + 1, m.group(1), problem))
    return out


def test_no_prose_of_the_docs_teaches_a_deprecated_spelling():
    """Issue 81: docs/runner.md fed a dead man's switch by ``ksctl heartbeat SOURCE``, the
    positional that says it is deprecated; the prose is held to today's spellings as the snippets
    are (the old spellings named as old, "(now ...)", aside)."""
    found = [f"{path.relative_to(ROOT)}:{line}: `{command}`: {problem}"
             for path in sorted(DOCS.glob("*.md")) for line, command, problem in prose_deprecations(path.read_text())]
    assert not found, "\n".join(found)
    assert prose_deprecations("fed by `ksctl heartbeat SOURCE` or the API")  # the check sees one
    assert not prose_deprecations("`ksctl heartbeat SOURCE` (now `--source`) keeps working")


# --- the runnable ones, run -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sandbox(tmp: Path, fallback_port: int) -> Path:
    """A directory that looks like the repository to a snippet: ``policies/`` (the example
    routes' fallback webhook on ``fallback_port``) and a ``.venv/bin`` whose ``ksctl`` and
    ``python`` run this tree's code (a ``ksctl run`` leaves its pid behind, so that the test
    stops that runner alone)."""
    home = tmp / "repo"
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / "policies").mkdir()
    for f in (ROOT / "policies").iterdir():
        (home / "policies" / f.name).symlink_to(f)
    routes = (ROOT / "policies" / "routes.yaml").read_text()
    assert "json://127.0.0.1:9099/" in routes
    (home / "policies" / "routes.yaml").unlink()
    (home / "policies" / "routes.yaml").write_text(routes.replace("127.0.0.1:9099", f"127.0.0.1:{fallback_port}"))
    py = home / ".venv" / "bin" / "python"
    py.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    # the test extra's OpenID provider (docs/console.md, "Single sign-on"), as make venv installs it
    provider = Path(sys.executable).parent / "oidc-provider-mock"
    if provider.exists():
        (home / ".venv" / "bin" / "oidc-provider-mock").symlink_to(provider)
    ksctl = home / ".venv" / "bin" / "ksctl"
    ksctl.write_text(f'#!/bin/sh\n[ "$1" = run ] && echo $$ > "{tmp}/ksctl-run.pid"\n'
                     f'exec {sys.executable} -m killswitch.cli.main "$@"\n')
    for f in (py, ksctl):
        f.chmod(0o755)
    return home


def _answers(url: str, token: Optional[str]) -> Optional[int]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited: no such process, or a zombie (a runner that bash ran as its
    last command is this test's own child, and stays a zombie until its Popen is waited on)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].startswith("Z")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if _gone(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _signs_in(s: Snippet, base: str) -> None:
    """The sign-in a snippet walks through (its last line: "type SUB"), through the provider it
    started: the session is granted."""
    from tests.signin_provider import sign_in

    m = re.search(r"type (\w+)", s.text.strip().splitlines()[-1])
    assert m, f"{s}: its last line names nobody to type at the provider"
    session, landed = sign_in(base, m.group(1))
    assert session and landed == base + "/", f"{s}: the sign-in as {m.group(1)} was refused: {landed}"


def test_the_runnable_snippets_run(tmp_path):
    receiver = Receiver()
    home = _sandbox(tmp_path, receiver.port)
    ports = {p: str(_free_port()) for p in PORTS}
    env = {**os.environ, "PATH": f"{home / '.venv' / 'bin'}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "KS_API_PORT": ports["8080"], "KS_API_URL": f"http://127.0.0.1:{ports['8080']}"}
    env.pop("KS_API_TOKEN", None)
    sessions: list[subprocess.Popen] = []
    ran = []
    runnable = [s for s in shell_snippets() if s.not_run is None]
    running: Optional[tuple[int, subprocess.Popen]] = None  # a runner kept for the next snippet
    try:
        for i, s in enumerate(runnable):
            if running is not None and not s.with_runner:
                _stop(running[0])
                assert running[1].wait(30) is not None
                running = None
            assert not s.with_runner or running is not None, f"{s}: no runner above it runs"
            script = s.text
            for old, new in ports.items():
                script = script.replace(old, new)
            script = script.replace("/tmp/", f"{tmp_path}/")
            pid_file = tmp_path / "ksctl-run.pid"
            pid_file.unlink(missing_ok=True)
            log = tmp_path / f"snippet-{len(ran)}.log"
            proc = subprocess.Popen(["bash", "-e", "-c", script], cwd=home, env=env, start_new_session=True,
                                    stdout=log.open("w"), stderr=subprocess.STDOUT)
            sessions.append(proc)
            starts_runner = re.search(r"(^|\s)(\.venv/bin/)?ksctl run\b", s.text, re.M) is not None
            deadline = time.monotonic() + (150 if s.with_runner else 90)
            while True:
                code = proc.poll()
                if starts_runner and _answers(f"http://127.0.0.1:{ports['8080']}/healthz", None) == 200:
                    break
                if code is not None:
                    assert code == 0 and not starts_runner, f"{s}: exit {code}:\n{log.read_text()[-3000:]}"
                    break
                assert time.monotonic() < deadline, f"{s}: no console after 90 s:\n{log.read_text()[-3000:]}"
                time.sleep(0.2)
            if starts_runner:
                said = log.read_text()
                assert f"console at http://127.0.0.1:{ports['8080']}/" in said, f"{s}:\n{said[-3000:]}"
                token = (tmp_path / "alice.token").read_text().strip()
                base = f"http://127.0.0.1:{ports['8080']}"
                assert _answers(base + "/v1/status", token) == 200, f"{s}: the snippet's token is not let in"
                assert _answers(base + "/v1/status", "not-" + token) == 401
                if "--oidc-config" in s.text:  # the person the snippet says to type signs in
                    _signs_in(s, base)
                if i + 1 < len(runnable) and runnable[i + 1].with_runner:
                    running = (int(pid_file.read_text()), proc)
                else:
                    _stop(int(pid_file.read_text()))
                    assert proc.wait(30) is not None
            ran.append(str(s))
        if running is not None:
            _stop(running[0])
    finally:
        for p in sessions:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait(30)
        receiver.close()
    assert ran, "no snippet was run"
