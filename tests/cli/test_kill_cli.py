"""``ksctl kill --firm`` through the command line, its runner a stand-in that answers as a
shard's runner does: the preview printed and nothing sent without --yes and no terminal (exit
2), sent with the preview's id with --yes, a refused preview (a kill in force) exit 1 with
nothing sent; the release one approval; a typo'd flag and a missing --firm refused as usage."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.firm.kill import kill_preview
from killswitch.view import ChangeResult
from tests.unit.firm.test_kill import ASSIGNMENT, BOARD, DECLARED

PREVIEW = {**kill_preview(ASSIGNMENT, BOARD, DECLARED), "preview_id": "kill-0123456789abcdef"}


class Shard:
    def __init__(self, preview=PREVIEW):
        self.preview, self.sent, self.released = preview, [], []

    def firm_kill_preview(self):
        return self.preview

    def firm_kill(self, reason, preview_id):
        self.sent.append((reason, preview_id))
        return ChangeResult(True, "KILL_SENT: directive 9 for 2 account(s) on 2 shard(s)")

    def firm_kill_release(self, reason):
        self.released.append(reason)
        return ChangeResult(True, "APPROVAL_RECORDED: 1/2 approvers=bob; kill 9 stays in force")


def _run(monkeypatch, shard, *args):
    monkeypatch.setattr("killswitch.cli.kill.runner_client", lambda api, token_env: shard)
    return CliRunner().invoke(cli, ["kill", *args], env={"KS_API_TOKEN": "t"}, catch_exceptions=False)


def test_the_preview_is_printed_and_nothing_is_sent_without_yes_on_no_terminal(monkeypatch):
    shard = Shard()
    got = _run(monkeypatch, shard, "--firm", "--reason", "runaway bots")
    assert got.exit_code == 2 and shard.sent == []
    assert got.output.startswith("PREVIEW: firm-wide kill of 2 account(s) on 2 shard(s); 1 NOT HEARD (desk-b)\n"
                                 "  shard desk-a (1 account(s)): locks halted global; cancels 3 resting")
    assert "until then these accounts are NOT REACHED: binanceusdm/b1" in got.output
    assert "KILL_UNCONFIRMED: nothing was sent" in got.output


def test_with_yes_the_kill_is_sent_with_the_previews_id(monkeypatch):
    shard = Shard()
    got = _run(monkeypatch, shard, "--firm", "--reason", "runaway bots", "--yes")
    assert got.exit_code == 0, got.output
    assert shard.sent == [("runaway bots", "kill-0123456789abcdef")]
    assert "KILL_SENT: directive 9" in got.output


def test_a_refused_preview_sends_nothing_and_exits_1(monkeypatch):
    shard = Shard(kill_preview(ASSIGNMENT, BOARD, DECLARED, in_force={"id": 9, "actor": "alice"}))
    got = _run(monkeypatch, shard, "--firm", "--reason", "again", "--yes")
    assert got.exit_code == 1 and shard.sent == []
    assert got.output.startswith("KILL_IN_FORCE: kill 9 by alice is in force")


def test_the_release_is_one_approval(monkeypatch):
    shard = Shard()
    got = _run(monkeypatch, shard, "--firm", "--release", "--reason", "bots fixed")
    assert got.exit_code == 0 and shard.released == ["bots fixed"] and shard.sent == []
    assert "APPROVAL_RECORDED: 1/2" in got.output


def test_a_typod_flag_and_a_missing_firm_are_usage_errors(monkeypatch):
    shard = Shard()
    got = _run(monkeypatch, shard, "--frim", "--reason", "x")
    assert got.exit_code == 2 and "No such option '--frim'. Did you mean '--firm'?" in got.output
    got = _run(monkeypatch, shard, "--reason", "x", "--yes")
    assert got.exit_code == 2 and "ksctl kill needs --firm" in got.output and shard.sent == []
