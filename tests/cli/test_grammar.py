"""One CLI grammar, checked over click's command tree (every ``ksctl`` command, found by walking
it, so a new command must be placed in one of the tables below before this passes; a verb made
from the operations' table is placed, and run, by its entry):

- every command that prints data takes ``-o text|json``, and with ``-o json`` prints one valid
  JSON document — run for real, against the example policies, a state store, and a runner on
  the simulated exchange behind its API; ``--format`` offers file formats only, never json;
- its text output prints times as ISO-8601 UTC, never epoch milliseconds;
- a file the command reads that does not exist is a usage error: exit 2, with nothing created.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import click
import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.cli.verbs import VERBS, flag
from killswitch.state.store import IntentRow
from killswitch.view.operations import COUNT, SECONDS
from tests.conftest import POLICIES

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"
SCOPE = "simulated/sim-main"
T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
INCIDENT = "futures-book/binanceusdm/binance-futures-main/L3/e1"


def leaves(cmd: click.Command = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command of the tree by its path (``("dms", "arm")``), groups walked, not listed."""
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        out: dict[tuple[str, ...], click.Command] = {}
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
            out.update(leaves(sub, path + (name,)))
        return out
    return {path: cmd}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # a run that prints data; {placeholders} are filled from the fixtures
    before: tuple[str, ...] = ()  # a command run first, each time (what an undo needs done)
    exits: Optional[int] = 0  # the exit code the run must end with (None: 0 when its -o json says done, else 1)


# Commands that print data: how each is run (it must exit 0 unless it says), in an order the runner accepts.
DATA = {
    ("validate",): Case(("{policies}",)),
    ("shards",): Case(("{accounts}", "{policies}")),
    ("schema",): Case(("policy",)),
    ("graph",): Case(("{policies}",)),
    ("test",): Case(("{policies}",)),
    ("replay",): Case(("--policies", "{policies}", "--snapshots", "{recording}")),
    ("plan",): Case(("--policies", "{policies}", "--against", "{recording}")),
    ("diff",): Case(("{policies}", "{policies}", "--against", "{recording}")),
    # the walk's runner is built in the test's process from no policy files: drift, whatever its API says
    ("drift",): Case(("--against", "{policies}", "--api", "{api}"), exits=1),
    ("routes", "test"): Case(("--routes", "{policies}", "--label", "policy=futures-book",
                              "--label", "severity=critical", "--label", "scope=binanceusdm/main")),
    ("status",): Case(("--api", "{api}")),
    # a heartbeat is taken from a source something names: arming names it
    ("heartbeat",): Case(("--api", "{api}", "--source", "walker"),
                         ("dms", "arm", "--api", "{api}", "--source", "walker", "--timeout", "5m")),
    # a close of the walk's BTC long, asked before any lock: allowed (exit 0; a deny exits 1)
    ("check-order",): Case(("--api", "{api}", "--account", SCOPE, "--symbol", "BTC/USDT:USDT", "--side", "sell",
                            "--amount", "0.001", "--reduce-only")),
    ("lock",): Case(("--api", "{api}", "--scope", SCOPE, "--reason", "walk", "--mode", "reducing", "--ttl", "1h")),
    # the walk's runner has nothing latched: its refusal (NOT_ENGAGED) is the data, and exits 1
    ("reset",): Case(("--api", "{api}", "--policy", "crash-ladder", "--scope", SCOPE, "--reason", "walk"), exits=1),
    ("close",): Case(("--api", "{api}", "--scope", SCOPE, "--reason", "walk", "--dry-run")),
    # the walk's account has no revoke: block: the preview's refusal is the data, and exits 1
    ("revoke",): Case(("--api", "{api}", "--scope", SCOPE, "--reason", "walk"), exits=1),
    ("silence", "add"): Case(("--api", "{api}", "--match", "policy=crash-ladder", "--duration", "1h",
                              "--reason", "walk")),
    # an id no silence has: the refusal (UNKNOWN_SILENCE) is the data, and exits 1
    ("silence", "extend"): Case(("--api", "{api}", "--silence", "0123456789ab", "--duration", "1h"), exits=1),
    ("silence", "edit"): Case(("--api", "{api}", "--silence", "0123456789ab", "--reason", "walk"), exits=1),
    # the walk's policies set no limits: the refusal (UNKNOWN_SCOPE: no policy's limits bind it) is the data
    ("override", "request"): Case(("--api", "{api}", "--scope", SCOPE, "--waive", "max_order_notional",
                                   "--reason-code", "WALK", "--reason", "walk", "--expires", "5m"), exits=1),
    # the walk's runner is no shard: the kill is done on it (its preview is the data), unconfirmed: exit 2
    ("kill",): Case(("--api", "{api}", "--firm", "--reason", "walk"), exits=2),
    # nothing is engaged on the walk's runner: the refusal is the data, and exits 1
    ("ack",): Case(("--api", "{api}", "--policy", "crash-ladder", "--scope", SCOPE, "--reason", "walk"), exits=1),
    # the walk's chain has no key and no anchor is given: consistent, UNVERIFIED (exit 4)
    ("history",): Case(("--state", "{state}"), exits=4),
    ("audit", "verify"): Case(("--state", "{state}"), exits=4),
    ("runbook", "list"): Case(("--state", "{state}")),
    ("runbook", "render"): Case(("--incident", INCIDENT, "--state", "{state}", "--runbooks", "{runbooks}")),
    ("report",): Case(("--since", "2026-03-01", "--until", "2026-03-03", "--state", "{state}"), exits=4),
    ("token", "new"): Case(("--identity", "walker", "--roles", "operator")),
    # no token in the variable named: it says it did not look, and exits 0 (the forge is faked in
    # tests/cli/test_pr_overlaps.py)
    ("pr", "overlaps"): Case(("--repo", "octocat/risk-policies", "--pr", "7", "--token-env", "KS_WALK_NO_TOKEN",
                              "{policies}")),
    ("token", "check"): Case(("{tokens}",)),
}
# The verbs made from the operations' table, each run with a value of every field it requires, in
# the table's order: a read exits 0; a change as its answer says (done, or refused: an unknown name).
SAMPLES = {"scope": SCOPE, "account": SCOPE, "source": "walker", SECONDS: "5m", COUNT: "1"}
DATA.update({words: Case(("--api", "{api}", *(x for a in op.args if a.required
                                               for x in (flag(a), SAMPLES.get(a.name, SAMPLES.get(a.kind, "walk"))))),
                         exits=0 if op.write is None else None) for words, op in VERBS.items()})
# Commands that print no data, and why.
NOT_DATA = {
    ("run",): "the daemon: it logs what it does while it runs; its data is served by the API (status, lock, ...)",
    ("demo",): "a narrated demonstration of the runner against the simulated exchange",
}

# Every file a command reads, run missing (exit 2 expected). {missing} is a path that does not exist.
MISSING = {
    ("validate", "paths"): ("{missing}",),
    ("validate", "runbooks"): ("{policies}", "--runbooks", "{missing}"),
    ("validate", "accounts"): ("{policies}", "--accounts", "{missing}"),
    ("validate", "sarif_root"): ("{policies}", "-o", "sarif", "--sarif-root", "{missing}"),
    ("shards", "accounts"): ("{missing}",),
    ("shards", "policies"): ("{accounts}", "{missing}"),
    ("graph", "paths"): ("{missing}",),
    ("test", "paths"): ("{missing}",),
    ("test", "accounts"): ("{policies}", "--accounts", "{missing}"),
    ("test", "sarif_root"): ("{policies}", "-o", "sarif", "--sarif-root", "{missing}"),
    ("replay", "policy_paths"): ("--policies", "{missing}", "--snapshots", "{recording}"),
    ("replay", "snapshots"): ("--policies", "{policies}", "--snapshots", "{missing}"),
    ("plan", "policy_paths"): ("--policies", "{missing}", "--against", "{recording}"),
    ("plan", "against"): ("--policies", "{policies}", "--against", "{missing}"),
    ("plan", "accounts"): ("--policies", "{policies}", "--accounts", "{missing}"),
    ("plan", "state_url"): ("--policies", "{policies}", "--against", "{recording}", "--state", "sqlite://{missing}"),
    ("diff", "old"): ("{missing}", "{policies}", "--against", "{recording}"),
    ("diff", "new"): ("{policies}", "{missing}", "--against", "{recording}"),
    ("diff", "against"): ("{policies}", "{policies}", "--against", "{missing}"),
    ("routes test", "paths"): ("--routes", "{missing}", "--label", "policy=futures-book"),
    ("history", "state_url"): ("--state", "sqlite://{missing}"),
    ("history", "audit_key_file"): ("--state", "{state}", "--audit-key-file", "{missing}"),
    ("audit verify", "state_url"): ("--state", "sqlite://{missing}"),
    ("audit verify", "audit_key_file"): ("--state", "{state}", "--audit-key-file", "{missing}"),
    ("audit verify", "anchors_file"): ("--state", "{state}", "--anchors-from", "{missing}"),
    ("runbook list", "state_url"): ("--state", "sqlite://{missing}"),
    ("runbook render", "state_url"): ("--incident", INCIDENT, "--state", "sqlite://{missing}"),
    ("runbook render", "runbooks"): ("--incident", INCIDENT, "--state", "{state}", "--runbooks", "{missing}"),
    **{("runbook render", opt): ("--incident", INCIDENT, "--api", "{api}", "--" + opt.replace("_", "-"), "{missing}")
       for opt in ("ca_file", "cert_file", "key_file")},  # the runner's runbook (--api): refused before sent
    **{("runbook list", opt): ("--api", "{api}", "--" + opt.replace("_", "-"), "{missing}")
       for opt in ("ca_file", "cert_file", "key_file")},  # the runner's list (--api): refused before sent
    ("report", "state_url"): ("--since", "2026-03-01", "--state", "sqlite://{missing}"),
    ("report", "audit_key_file"): ("--since", "2026-03-01", "--state", "{state}", "--audit-key-file", "{missing}"),
    ("report", "anchors_file"): ("--since", "2026-03-01", "--state", "{state}", "--anchors-from", "{missing}"),
    ("token check", "path"): ("{missing}",),
    ("pr overlaps", "paths"): ("--repo", "octocat/risk-policies", "--pr", "7", "{missing}"),
    ("run", "policies"): ("--policies", "{missing}", "--accounts", "{accounts}"),
    ("run", "accounts"): ("--policies", "{policies}", "--accounts", "{missing}"),
    ("run", "api_tokens"): ("--policies", "{policies}", "--accounts", "{accounts}", "--api-tokens", "{missing}"),
    ("demo", "policy_dir"): ("--policies", "{missing}"),
    ("run", "web_config_file"): ("--policies", "{policies}", "--accounts", "{accounts}", "--web-config-file",
                                 "{missing}"),
    ("run", "trusted_proxy"): ("--policies", "{policies}", "--accounts", "{accounts}", "--trusted-proxy",
                               "{missing}"),
    ("run", "oidc_config"): ("--policies", "{policies}", "--accounts", "{accounts}", "--oidc-config", "{missing}"),
}
# The TLS files of every command that talks to a runner (--ca-file, --cert-file, --key-file): each
# command's own data run with the file missing, refused before anything is sent.
MISSING.update({(" ".join(name), opt): (*DATA[name].args, "--" + opt.replace("_", "-"), "{missing}")
                for name in DATA if "{api}" in DATA[name].args
                for opt in ("ca_file", "cert_file", "key_file")})
# Paths a command takes that are not files it needs, and why a missing one is not an error.
NOT_READ = {
    ("report", "out"): "written, not read",
    ("runbook render", "out"): "written, not read",
    ("run", "lock_file"): "written, not read",
    ("test", "changed"): "compared with the files read, never read itself: a pull request's deleted file names "
                         "no policy",
    ("run", "state_url"): "the runner creates its state store",
    ("run", "runbooks"): "optional: a missing directory is said at start and the built-in runbook serves, so that "
                         "a missing ConfigMap never keeps the kill switch from running",
    ("run", "audit_key_file"): "optional: said at start (AUDIT_KEY_UNREADABLE); the runner guards the book unanchored "
                               "rather than not at all",
    ("run", "kube_serviceaccount_dir"): "read only with --kube-leader-label, at each patch of the pod's label: a "
                                        "missing token is a LEADER_LABEL_FAILED warning (NO_TOKEN), never a stop",
}


def _is_path(p: click.Parameter) -> bool:
    return isinstance(p.type, (click.Path, click.File)) or p.name in ("state_url", "old", "new")


# --- the tables cover the tree --------------------------------------------------------------------------


def test_every_command_of_the_tree_is_placed_in_one_table():
    tree = set(leaves())
    assert tree == set(DATA) | set(NOT_DATA), (
        f"not placed: {sorted(tree - set(DATA) - set(NOT_DATA))}; gone: {sorted(set(DATA) | set(NOT_DATA) - tree)}")
    assert not set(DATA) & set(NOT_DATA)


def test_every_path_a_command_takes_is_checked_missing_or_said_why_not():
    paths = {(" ".join(name), p.name) for name, cmd in leaves().items() for p in cmd.params if _is_path(p)}
    assert paths == set(MISSING) | set(NOT_READ), (
        f"not placed: {sorted(paths - set(MISSING) - set(NOT_READ))}; "
        f"gone: {sorted((set(MISSING) | set(NOT_READ)) - paths)}")


@pytest.mark.parametrize("name", sorted(DATA), ids=" ".join)
def test_every_command_that_prints_data_takes_output_text_or_json(name):
    cmd = leaves()[name]
    [out] = [p for p in cmd.params if p.name == "output"]
    assert "-o" in out.opts and "--output" in out.opts
    choices = list(out.type.choices)  # type: ignore[attr-defined]
    assert "json" in choices
    assert name == ("schema",) or choices[:2] == ["text", "json"], "text first (the default), then json"
    for p in cmd.params:  # --format is a file format (md, html, mermaid, dot), never the output grammar
        if "--format" in p.opts:
            assert "json" not in p.type.choices and "text" not in p.type.choices  # type: ignore[attr-defined]


# --- run for real ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The example policies, a recording, a state store (an order, an audit row, a runbook), a
    tokens document, and a runner on the simulated exchange behind its API."""
    from tests.integration.test_ops_commands import TOKEN, Served

    tmp = tmp_path_factory.mktemp("grammar")
    state = f"sqlite://{tmp / 'state.db'}"
    _fill_state(state)
    tokens = tmp / "tokens.yaml"
    tokens.write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens:\n"
                      f"  - {{identity: walker, roles: [operator], sha256: {'ab' * 32}}}\n")
    root = Path(__file__).resolve().parents[2]
    from killswitch.face.api.admission import Admission, Limits

    # the walk sends many changes of one identity in a few seconds: a rate the walk cannot reach,
    # so that an answer is the command's, never 429 (the rates are tested in tests/unit/face/api/test_admission.py)
    with Served(tmp, admission=Admission(Limits(write_rate=10_000.0, write_burst=10_000))) as srv:
        yield {"policies": str(POLICIES), "recording": str(RECORDING), "state": state, "tokens": str(tokens),
               "accounts": str(POLICIES / "accounts.yaml"), "runbooks": str(root / "runbooks"),
               "missing": str(tmp / "no-such-file.yaml"), "api": srv.url, "token": TOKEN}


def _fill_state(url: str) -> None:
    from killswitch.runbooks.render import render_runbook
    from killswitch.runbooks.sample import sample_incident
    from killswitch.sources import read_sources
    from killswitch.state import RunbookRecord, open_store
    from tests.unit.engine_helpers import compile_graph

    store = open_store(url)
    fence = store.acquire_lease("walker", 60_000, T0)
    store.journal_intents(fence, [IntentRow("ks-1", INCIDENT, "binanceusdm", "binance-futures-main", "BTC/USDT:USDT",
                                            "sell", None, 1.0, True, json.dumps({"client_order_id": "ks-1"}))],
                          ts_ms=T0)
    store.journal_result(fence, "ks-1", "filled", 1.0, 60_000.0, None, None, ts_ms=T0 + 100)
    store.audit("stage_transition", T0, {"policy": "futures-book", "scope": "binanceusdm/binance-futures-main",
                                         "from": 0, "to": 3, "reason": "ESCALATED", "decision_id": INCIDENT,
                                         "graph_digest": "sha256:ab", "revision": None, "dry_run": False})
    graph = compile_graph(read_sources([str(POLICIES / "futures-book.yaml")]).files)
    data = sample_incident(graph.policies[0], 3, digest=graph.digest, revision=None, created_ms=T0)
    rb = render_runbook(data, None)
    store.save_runbook(RunbookRecord(INCIDENT, "futures-book", "binanceusdm/binance-futures-main", 3, T0,
                                     graph.digest, None, "built-in", rb.markdown, rb.html, json.dumps(data)))
    store.close()


def _args(template: tuple[str, ...], world: dict) -> list[str]:
    return [a.format(**world) for a in template]


def _invoke(world: dict, name: tuple[str, ...], args: list[str]):
    return CliRunner(env={"KS_API_TOKEN": world["token"]}).invoke(cli, [*name, *args])


EPOCH_MS = re.compile(r"(?<![\w.:-])1[5-9]\d{11}(?![\w.])")  # 2017..2033 in milliseconds


def test_every_command_that_prints_data_prints_json_and_iso_times(world):
    bad = []
    for name, case in DATA.items():
        args = _args(case.args, world)
        for output in ("json", "text"):
            if case.before:
                assert CliRunner(env={"KS_API_TOKEN": world["token"]}).invoke(
                    cli, _args(case.before, world)).exit_code == 0
            r = _invoke(world, name, [*args, "-o", output])
            exits = case.exits
            if exits is None:  # a change: as its answer says (its text run, which says it in words: 0 or 1)
                exits = _answered(r.stdout) if output == "json" else min(r.exit_code, 1)
            if r.exit_code != exits:
                bad.append(f"{' '.join(name)} -o {output}: exit {r.exit_code}: {r.output[-400:]}")
            elif output == "json":
                try:
                    json.loads(r.stdout)
                except ValueError as e:
                    bad.append(f"{' '.join(name)} -o json: not one JSON document ({e}): {r.stdout[:200]!r}")
            elif EPOCH_MS.search(r.stdout):
                bad.append(f"{' '.join(name)}: epoch milliseconds in the text: {EPOCH_MS.search(r.stdout).group()}")
            if name == ("schema",):
                break  # a schema is JSON: -o json is its one output
    assert not bad, "\n".join(bad)


def _answered(stdout: str) -> int:
    """The exit code of a change whose -o json answer is ``stdout``: 0 done, else 1 (-1: no answer)."""
    try:
        return 0 if json.loads(stdout).get("done") is True else 1
    except (ValueError, AttributeError):
        return -1


def test_the_epoch_check_would_catch_the_old_history_line():
    assert EPOCH_MS.search("1772456400000  ks-1  binanceusdm/main BTC/USDT:USDT sell 1  filled")
    assert not EPOCH_MS.search("2026-03-02T13:00:00Z  ks-1  sha256:1772456400000ab")


@pytest.mark.parametrize("key", sorted(MISSING), ids=lambda k: f"{k[0]} {k[1]}")
def test_a_missing_file_is_a_usage_error(world, key, tmp_path):
    command, _ = key
    name = tuple(command.split())
    r = _invoke(world, name, _args(MISSING[key], world))
    assert r.exit_code == 2, f"{command}: exit {r.exit_code}: {r.output[-400:]}"
    assert not Path(world["missing"]).exists(), "reading a missing file created it"


def test_validate_of_a_missing_file_exits_2_and_says_which():
    r = CliRunner().invoke(cli, ["validate", "/nonexistent.yaml"])
    assert r.exit_code == 2 and "'/nonexistent.yaml' does not exist" in r.output


def test_the_cli_reference_lists_every_command_and_no_other():
    readme = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    start = readme.index("# The CLI at a glance")
    block = readme[readme.index("```\n", start) + 4:readme.index("\n```", readme.index("```\n", start) + 4)]
    lines = [x for x in block.splitlines() if x.startswith("ksctl ")]
    listed = {x.split()[1] for x in lines}
    tree = leaves()
    assert listed == {name[0] for name in tree}, f"README lists {sorted(listed)}"
    for name in tree:
        if len(name) == 2:  # a group's command, named on its group's line (dms arm|disarm ... | status)
            group_lines = " ".join(x for x in lines if x.split()[1] == name[0])
            assert re.search(rf"(^|[\s|]){name[1]}([\s|]|$)", group_lines), f"README lacks ksctl {' '.join(name)}"
    entries = re.split(r"\n(?=ksctl )", block)  # each command's lines, with the lines under it
    for words, op in VERBS.items():  # a verb of the table: its lines name each of its options
        said = " ".join(x for x in entries if x.split()[1] == words[0])
        assert not [flag(a) for a in op.args if flag(a) not in said], f"docs/cli.md: ksctl {op.verb} lacks options"


# --- --state: one option, answered the same way everywhere ----------------------------------------------

# How each command that takes --state is run with a given state URL ({url}).
STATE_RUNS = {
    **{tuple(command.split()): tuple(a.replace("sqlite://{missing}", "{url}") for a in args)
       for (command, param), args in MISSING.items() if param == "state_url"},
    ("run",): ("--policies", "{policies}", "--accounts", "{accounts}", "--api-port", "-1", "--max-ticks", "1",
               "--state", "{url}"),
}
BAD_STATE_URLS = {
    "a SQLite file in a folder that does not exist": "sqlite:///{tmp}/no-such-folder/state.db",
    "a scheme no store has": "sqlite3:///{tmp}/state.db",
    "no file": "sqlite://",
    "not a URL": "{tmp}/state.db",
}


def test_every_command_that_takes_state_is_run_with_bad_urls():
    takes = {name for name, cmd in leaves().items() if any(p.name == "state_url" for p in cmd.params)}
    assert takes == set(STATE_RUNS), f"not run: {sorted(takes - set(STATE_RUNS))}"


@pytest.mark.parametrize("bad", sorted(BAD_STATE_URLS), ids=str)
def test_a_bad_state_url_is_a_usage_error_in_every_command(world, bad, tmp_path):
    url = BAD_STATE_URLS[bad].format(tmp=tmp_path)
    wrong = []
    for name, args in STATE_RUNS.items():
        r = _invoke(world, name, [a.format(url=url, **world) for a in args])
        if r.exit_code != 2 or "Invalid value for '--state'" not in r.output or "Traceback" in r.output:
            wrong.append(f"{' '.join(name)}: exit {r.exit_code}: {r.output[-300:]}")
    assert not wrong, "\n".join(wrong)
    assert list(tmp_path.iterdir()) == [], "a bad state URL created something"


def test_the_state_option_is_one_option_with_one_default_and_the_environment():
    for name, cmd in leaves().items():
        for p in cmd.params:
            if p.name == "state_url" and name != ("plan",):  # plan starts from no state unless given one
                assert (p.envvar, p.show_envvar, p.required) == ("KS_STATE_URL", True, False), name
                assert p.default == "sqlite://./killswitch-state.db", name


# --- one grammar: positional or option, one name per idea, one exit code per outcome (docs/cli.md) --------

# A positional is a file or directory a command reads, or the kind of schema: what the runner names
# (a scope, a policy, a source, an incident, a silence) is an option, the same in every command.
POSITIONALS = {("validate", "paths"), ("shards", "accounts"), ("shards", "policies"), ("graph", "paths"),
               ("test", "paths"), ("diff", "old"), ("diff", "new"), ("schema", "kind"), ("token check", "path"),
               ("pr overlaps", "paths")}
# Positionals kept for scripts from before, each the deprecated spelling of an option.
DEPRECATED_POSITIONALS = {("heartbeat", "source_arg"): "--source", ("silence expire", "id_arg"): "--silence"}
# One name per idea: each word on the left is spelled as on the right (the left kept only as a
# deprecated alias, said so in its help).
SYNONYMS = {"--comment": "--reason", "--note": "--reason", "--why": "--reason", "--format": "-o", "--id": "--silence",
            "--approvals-needed": "--approvals", "--state-url": "--state", "--url": "--api", "--token": "--token-env"}


def _help(name: tuple[str, ...]) -> str:
    r = CliRunner().invoke(cli, [*name, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    return r.output


def test_a_positional_is_a_path_or_a_deprecated_spelling_of_an_option():
    found, deprecated = set(), {}
    for name, cmd in leaves().items():
        for p in cmd.params:
            if isinstance(p, click.Argument):
                key = (" ".join(name), p.name)
                if key in DEPRECATED_POSITIONALS:
                    deprecated[key] = cmd
                else:
                    found.add(key)
    assert found == POSITIONALS, f"positionals that name what the runner knows: {sorted(found - POSITIONALS)}"
    assert set(deprecated) == set(DEPRECATED_POSITIONALS)
    for (command, _), option in DEPRECATED_POSITIONALS.items():
        text = " ".join(_help(tuple(command.split())).split())
        assert f"is deprecated: use {option}" in text, f"ksctl {command} --help does not say so"


def test_one_name_per_idea_and_every_old_spelling_says_it_is_deprecated():
    bad = []
    for name, cmd in leaves().items():
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            for opt in p.opts:
                if opt in SYNONYMS and not (p.help or "").startswith(f"Deprecated: use {SYNONYMS[opt]}"):
                    bad.append(f"ksctl {' '.join(name)} {opt}: spelled {SYNONYMS[opt]} elsewhere")
    assert not bad, "\n".join(bad)


def test_the_same_noun_is_the_same_option_everywhere():
    """An option's name means one thing: a value in one command is never a flag in another
    (``--yes`` is a flag everywhere, ``--scope`` a value everywhere), and its environment
    variable, where it reads one, is the same."""
    kinds: dict[str, set] = {}
    for _name, cmd in leaves().items():
        for p in cmd.params:
            if isinstance(p, click.Option):
                for opt in p.opts:
                    kinds.setdefault(opt, set()).add(p.is_flag)
                    if p.envvar:
                        kinds.setdefault(opt + " env", set()).add(p.envvar)
    assert {o: k for o, k in kinds.items() if len(k) > 1} == {}


def test_a_wrong_command_gets_the_close_ones():
    r = CliRunner().invoke(cli, ["statu"])
    assert r.exit_code == 2 and "no command 'statu'; did you mean 'status'?" in r.output, r.output
    r = CliRunner().invoke(cli, ["silence", "expier"])
    assert r.exit_code == 2 and "did you mean 'expire'?" in r.output, r.output
    r = CliRunner().invoke(cli, ["frobnicate"])
    assert r.exit_code == 2 and "did you mean" not in r.output and "(commands: ack, audit," in r.output


@pytest.mark.parametrize("old, new, clash", [
    (("heartbeat", "--api", "{api}", "walker"), ("heartbeat", "--api", "{api}", "--source", "walker"), ("other",)),
    (("silence", "expire", "--api", "{api}", "0123456789ab"),
     ("silence", "expire", "--api", "{api}", "--silence", "0123456789ab"), ("ba9876543210",)),
    (("ack", "--api", "{api}", "--policy", "crash-ladder", "--scope", SCOPE, "--comment", "walk"),
     ("ack", "--api", "{api}", "--policy", "crash-ladder", "--scope", SCOPE, "--reason", "walk"),
     ("--comment", "other")),
], ids=["heartbeat SOURCE", "silence expire ID", "ack --comment"])
def test_an_old_spelling_does_what_the_new_one_does_and_says_it_is_deprecated(world, old, new, clash):
    _leading(world)
    env = {"KS_API_TOKEN": world["token"]}
    CliRunner(env=env).invoke(cli, ["dms", "arm", "--api", world["api"], "--source", "walker", "--timeout", "5m"])
    a = CliRunner(env=env).invoke(cli, _args(old, world))
    b = CliRunner(env=env).invoke(cli, _args(new, world))
    assert (a.exit_code, a.stdout) == (b.exit_code, b.stdout), (a.output, b.output)
    assert "is deprecated: use" in a.stderr and "deprecated" not in b.stderr
    both = CliRunner(env=env).invoke(cli, _args(new, world) + list(clash))
    assert both.exit_code == 2 and "give --" in both.output, both.output  # both spellings, differing: usage


def _leading(world) -> None:
    """Wait until the walk's runner leads (the state's lease of another holder runs out on its clock)."""
    import time

    from killswitch.client import RunnerClient

    deadline = time.monotonic() + 30
    while not RunnerClient(world["api"], world["token"]).status().leader:
        assert time.monotonic() < deadline, "the walk's runner never led"
        time.sleep(0.05)


def test_a_silence_add_with_the_old_comment_spelling_is_the_same_silence(world):
    _leading(world)
    env = {"KS_API_TOKEN": world["token"]}
    args = ["silence", "add", "--api", world["api"], "--match", "policy=crash-ladder", "--duration", "1h"]
    r = CliRunner(env=env).invoke(cli, [*args, "--comment", "older script", "-o", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["done"] is True, r.output
    assert r.stderr == "ksctl silence add: --comment is deprecated: use --reason\n"
    r = CliRunner(env=env).invoke(cli, args)
    assert r.exit_code == 2 and "Missing option '--reason'" in r.output


# Every command that talks to a runner: the same exit code for the same outcome.
# A command whose data run above reads the state store, run against the runner (--api): the walk's
# runner stored no runbook for the incident, so its refusal (UNKNOWN_INCIDENT) is the data, exit 1;
# its list ("no runbook stored") is data, exit 0.
API_READS = {("runbook", "render"): Case(("--incident", INCIDENT, "--api", "{api}"), exits=1),
             ("runbook", "list"): Case(("--api", "{api}",))}
API_COMMANDS = {**{name: case for name, case in DATA.items() if "--api" in case.args}, **API_READS}


def test_every_command_that_talks_to_a_runner_is_checked_for_its_exit_codes():
    talks = {name for name, cmd in leaves().items() if any(p.name == "api" for p in cmd.params)}
    assert talks == set(API_COMMANDS)


def test_an_unreachable_runner_is_exit_5_in_every_command(world):
    from killswitch.cli.common import EXIT_UNREACHABLE

    wrong = []
    for name, case in API_COMMANDS.items():
        args = _args(case.args, {**world, "api": "http://127.0.0.1:9"})  # the discard port: nothing listens
        r = _invoke(world, name, args)
        if r.exit_code != EXIT_UNREACHABLE or "cannot reach the runner at http://127.0.0.1:9" not in r.output:
            wrong.append(f"{' '.join(name)}: exit {r.exit_code}: {r.output[-300:]}")
    assert not wrong, "\n".join(wrong)


def test_a_token_the_runner_does_not_know_is_exit_2_in_every_command_that_sends_one(world):
    wrong = []
    for name, case in API_COMMANDS.items():
        if not any(p.name == "token_env" for p in leaves()[name].params):
            continue  # sends no token: public reads (dms status)
        r = CliRunner(env={"KS_API_TOKEN": "not-a-token-this-runner-knows"}).invoke(
            cli, [*name, *_args(case.args, world)])
        if r.exit_code != 2 or "KS_API_TOKEN" not in r.output:
            wrong.append(f"{' '.join(name)}: exit {r.exit_code}: {r.output[-300:]}")
    assert not wrong, "\n".join(wrong)
