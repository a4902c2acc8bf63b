"""A token the runner does not know (401) is told the role the verb needs: the operator role for
a revoke, a lock and a close, the approver role for a reset and a restore, the bot role for a
heartbeat; never the viewer role of a read (issue 65, walk 65 M8: following that advice brought
a second refusal, ROLE_REQUIRED)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli

from .test_ops_commands import READERS, Served

SCOPE = "simulated/sim-main"
VERBS = {
    "revoke": (["revoke", "--scope", SCOPE, "--reason", "x", "--yes"], "operator"),
    "restore": (["revoke", "--scope", SCOPE, "--restore", "--reason", "x"], "approver"),
    "lock": (["lock", "--scope", SCOPE, "--reason", "x"], "operator"),
    "close": (["close", "--scope", SCOPE, "--reason", "x", "--live"], "operator"),
    "reset": (["reset", "--policy", "crash-ladder", "--scope", SCOPE, "--reason", "x", "--yes"], "approver"),
    "heartbeat": (["heartbeat", "--source", "bot-a"], "bot"),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with Served(tmp_path_factory.mktemp("hint"), tokens=READERS) as srv:
        yield srv


@pytest.mark.parametrize("verb", list(VERBS))
@pytest.mark.parametrize("output", ["text", "json"])
def test_a_wrong_token_is_told_the_role_of_the_verb(served, verb, output):
    args, role = VERBS[verb]
    r = CliRunner(env={"KS_API_TOKEN": "nonsense"}).invoke(cli, [*args, "--api", served.url, "-o", output])
    assert r.exit_code == 2, r.output
    assert "AUTH_INVALID" in r.output and "the token in KS_API_TOKEN is not one this runner knows" in r.output
    assert f"set KS_API_TOKEN to a token with the {role} role (ksctl token new --identity NAME --roles {role})" \
        in r.output, r.output
    assert "viewer" not in r.output and "nonsense" not in r.output
    # the hint first, the runner's answer last, as every refusal ends (walk 11 of issue 65, L8)
    assert r.output.index("is not one this runner knows") < r.output.index("AUTH_INVALID"), r.output
