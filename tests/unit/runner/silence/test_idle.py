"""A silence's preview and its IDLE flag read an open incident's pages at the severities its
stage's notify actions give them, and an IDLE silence names the matcher that keeps the open
incidents on its scope out (the one text of ``ksctl silence list``, the status and the console)."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

from killswitch.policy.matchers import parse_matchers
from killswitch.runner.names import Catalog
from killswitch.runner.silence.check import idle, preview
from killswitch.silences import Silence
from tests.unit.engine_helpers import compile_graph

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: bot-watch}
    spec:
      scope: {level: account, accounts: {names: [binanceusdm/sim-hedge]}}
      interval: 5s
      signals:
        beat: {heartbeat_age: {source: bot-h, grace: 20s}}
      triggers:
        late: {when: "beat > 20s", on_missing_data: fire}
        dead: {when: "beat > 75s", on_missing_data: fire}
      stages:
        - {level: 6, name: warn, on: [late], reset: manual, actions: [{notify: {route: desk, severity: warning}}]}
        - {level: 7, name: halt, on: [dead], reset: manual,
           actions: [{lock_trading: {mode: halted}}, {notify: {route: desk, severity: critical}}]}
    """
)
ROUTES = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route: {receiver: chat}
      receivers: [{name: chat, apprise: ["json://127.0.0.1:9/x"]}]
    """
)
SCOPE = "binanceusdm/sim-hedge"
L6 = "bot-watch/binanceusdm/sim-hedge/L6/e2"
CATALOG = Catalog(accounts=frozenset({SCOPE}), policy_scopes={"bot-watch": frozenset({SCOPE})})


def book():
    graph = compile_graph([("bot-watch.yaml", POLICY), ("routes.yaml", ROUTES)])
    return SimpleNamespace(node=lambda name: next((p for p in graph.policies if p.name == name), None))


def silence(text, incidents=None):
    return Silence("s1", tuple(parse_matchers(text)), 0, 3_600_000, "alice", "bot-h restarting", 0, 0,
                   incidents=incidents)


def test_a_warning_stage_is_matched_by_a_severity_warning_silence():
    """bot-watch's stage 6 pages at warning (its notify action's): a silence on warning matches
    it, and is not called IDLE while it holds that page back."""
    open_ = {L6: ("bot-watch", SCOPE, 6)}
    matchers = parse_matchers(f'policy=~"bot-.*", scope="{SCOPE}", severity="warning"')
    got = preview(matchers, book(), CATALOG, open_, [])
    assert got.incidents == (L6,), got
    assert idle(silence(f'policy=~"bot-.*", scope="{SCOPE}", severity="warning"', (L6,)),
                book(), CATALOG, open_) is None


def test_an_idle_silence_names_the_matcher_that_keeps_the_open_incidents_out():
    open_ = {L6: ("bot-watch", SCOPE, 6)}
    flag = idle(silence(f'policy=~"bot-.*", scope="{SCOPE}", severity="info"'), book(), CATALOG, open_)
    assert flag == (f'IDLE: 1 open incident matches scope="{SCOPE}" but none matches severity="info": it holds '
                    "back every page it matches from now on, a new incident's stage entry too (ksctl silence "
                    "expire s1)"), flag
    flag = idle(silence(f'policy=~"spot-.*", scope="{SCOPE}"'), book(), CATALOG,
                {**open_, "bot-watch/binanceusdm/sim-hedge/L7/e3": ("bot-watch", SCOPE, 7)})
    assert flag is not None and flag.startswith(
        f'IDLE: 2 open incidents match scope="{SCOPE}" but none matches policy=~"spot-.*": '), flag
    # made before the incident: its stage entry pages through it (Silence.holds), said so
    flag = idle(silence(f'scope="{SCOPE}"', ()), book(), CATALOG, open_)
    held = "but it holds back none of their stage entries (each entered since it was made, not as a cooldown re-run"
    assert flag is not None and held in flag, flag
    assert flag.endswith(": it holds back only the later pages it matches that are not a new incident's stage "
                         "entry (a new incident pages through it; a cooldown re-run of a stage it holds does not) "
                         "(ksctl silence expire s1)"), flag
    # nothing open on the scope: as before
    flag = idle(silence(f'scope="{SCOPE}"'), book(), CATALOG, {})
    assert flag is not None and flag.startswith(f'IDLE: no open incident matches scope="{SCOPE}": '), flag
