"""One confirmation rule for the commands that act at a venue or lift a halt (``close``,
``revoke``, ``kill --firm``, ``reset``), through the command line against stand-in runners: the
preview printed, then on a terminal the word typed back; ``--yes`` sends without asking; from a
script without ``--yes`` nothing is sent, exit 2, with a line that names ``--yes``. ``close
--live`` used to send without asking: it asks as the others do."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.view import ActionPreview, ChangeResult, CloseResult, ResetResult
from tests.cli.test_kill_cli import Shard

SCOPE = "binanceusdm/main"
PREVIEW_ID = "cp-1-0123456789ab"


class Runner:
    """A runner's answers to a close, a revoke and a reset, each preview and what was sent."""

    def __init__(self):
        self.sent: list[tuple] = []

    def close(self, scope, reason, dry_run, symbol=None, leg=None, preview_id=None, max_notional=None):
        if dry_run:
            return CloseResult(True, f"DRY_RUN: 1 order(s) would be sent for {scope}", 1, preview_id=PREVIEW_ID,
                               notional=1000.0, max_notional=1100.0, mode="live")
        self.sent.append(("close", scope, preview_id))
        return CloseResult(True, f"QUEUED: close of {scope}", 1, id="manual/binanceusdm/main/m1",
                           preview_id=preview_id, mode="live")

    def preview_revoke(self, scope):
        return ActionPreview("revoke", scope, True, f"PREVIEW revoke {scope}: 1 account", "live",
                             effects=(f"{scope}: trading -> read-only",), preview_id="rv-1")

    def revoke(self, scope, reason, preview_id, approvals):
        self.sent.append(("revoke", scope, preview_id))
        return ChangeResult(True, f"REVOKED: {scope}")

    def preview(self, action, body):
        return ActionPreview(action, body["scope"], True, f"PREVIEW reset futures-book {body['scope']}: would "
                             "release the stage", "live", lock_before="halted", lock_after="active")

    def reset(self, policy, scope, reason, approver, confirm_relatch=False, withdraw=False):
        self.sent.append(("reset", scope, None))
        return ResetResult(True, f"MANUAL_RESET: {policy} {scope} released")


COMMANDS = {  # name: (the module whose runner_client is replaced, arguments, the word a terminal types)
    "close --live": ("close", ["close", "--scope", SCOPE, "--reason", "flatten", "--live"], SCOPE),
    "close": ("close", ["close", "--scope", SCOPE, "--reason", "flatten"], SCOPE),
    "revoke": ("revoke", ["revoke", "--scope", SCOPE, "--reason", "rogue bot"], SCOPE),
    "reset": ("ops", ["reset", "--policy", "futures-book", "--scope", SCOPE, "--reason", "reviewed"], SCOPE),
    "kill": ("kill", ["kill", "--firm", "--reason", "runaway bots"], "KILL"),
}


def _invoke(monkeypatch, name, *extra, tty=False, typed=None):
    module, args, _ = COMMANDS[name]
    runner = Shard() if module == "kill" else Runner()
    monkeypatch.setattr(f"killswitch.cli.{module}.runner_client", lambda api, token_env, **kw: runner)
    monkeypatch.setattr("killswitch.cli.confirm.stdin_tty", lambda: tty)
    got = CliRunner().invoke(cli, [*args, *extra], env={"KS_API_TOKEN": "t"}, input=typed, catch_exceptions=False)
    return got, runner.sent


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_from_a_script_without_yes_nothing_is_sent_and_the_refusal_names_yes(monkeypatch, name):
    got, sent = _invoke(monkeypatch, name)
    assert got.exit_code == 2, got.output
    assert sent == []
    command = name.split()[0]
    refusal = [x for x in got.stderr.splitlines() if x.startswith(f"ksctl {command}: ")]
    assert refusal and "nothing was sent: " in refusal[-1] and " needs --yes, or " in refusal[-1], got.stderr
    assert refusal[-1].endswith(" typed at the prompt on a terminal"), refusal


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_on_a_terminal_it_asks_and_sends_only_once_the_word_is_typed(monkeypatch, name):
    word = COMMANDS[name][2]
    got, sent = _invoke(monkeypatch, name, tty=True, typed="y\n")
    assert got.exit_code == 1, got.output
    assert sent == [] and f"not confirmed ('y' is not {word!r}); nothing was sent" in got.stderr, got.stderr
    got, sent = _invoke(monkeypatch, name, tty=True, typed=word + "\n")
    assert got.exit_code == 0, got.output
    assert len(sent) == 1 or name == "kill" and sent == [("runaway bots", "kill-0123456789abcdef")], sent


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_with_yes_the_preview_is_printed_and_sent_without_asking(monkeypatch, name):
    got, sent = _invoke(monkeypatch, name, "--yes")
    assert got.exit_code == 0, got.output
    assert len(sent) == 1 and "type " not in got.stderr, (sent, got.stderr)
    assert got.stdout.strip(), "the preview (or the plan queued) is printed"


def test_a_close_live_from_a_script_is_refused_with_its_plan_printed(monkeypatch):
    got, sent = _invoke(monkeypatch, "close --live")
    assert got.exit_code == 2 and sent == []
    assert got.stdout.startswith(f"close {SCOPE}: would send 1 order(s)"), got.stdout
    assert "ksctl close: nothing was sent: a live close needs --yes, or the scope typed at the prompt on a " \
           "terminal" in got.stderr
    got, sent = _invoke(monkeypatch, "close --live", "-o", "json")
    assert got.exit_code == 2 and sent == [] and '"sent": null' in got.stdout and "needs --yes" in got.stdout


def test_a_close_with_yes_and_dry_run_is_a_usage_error(monkeypatch):
    got, sent = _invoke(monkeypatch, "close", "--yes", "--dry-run")
    assert got.exit_code == 2 and sent == [] and "--dry-run only previews and --yes sends" in got.output
