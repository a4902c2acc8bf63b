"""A revoke owes only what can be sent: an account without a ``revoke:`` block is named out of
reach and never owed, a strategy's revoke reaches only the accounts it trades on."""

from __future__ import annotations

import json
from types import SimpleNamespace

from killswitch.events import REVOKE_FAILED

from .helpers import (
    ACCOUNT,
    KEYS,
    OTHER,
    T0,
    KeyVenue,
    ServedKeys,
    events,
    rows,
    run,
    started,
    ticks,
    two_accounts,
)


def test_an_operator_revoke_names_the_account_it_cannot_reach_and_never_owes_it(tmp_path):
    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    assert preview.allowed, preview.reason
    assert f"{OTHER}: OUT OF REACH, not revoked: no revoke: block in the Accounts document" in "\n".join(
        preview.effects), preview.effects
    done = run(w.desk.revoke_trading("simulated", "bot ignores the halt", preview_id=preview.preview_id, actor="ann"))
    assert done.done and done.out_of_reach == (OTHER,)
    assert done.reason.startswith(f"REVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back); "
                                  f"OUT_OF_REACH, not revoked: {OTHER}"), done.reason
    assert set(w.parts.revokes.status()) == {ACCOUNT}
    reports = ticks(w, 30, beat=True)  # nothing owed on sim-hedge: no retry, no failure, no page
    assert events(reports, REVOKE_FAILED) == [] and set(w.parts.revokes.status()) == {ACCOUNT}
    restored = run(w.desk.restore_trading("simulated", "fixed", approver="bob"))
    assert restored.done and restored.reason.startswith(f"RESTORED: trading on {ACCOUNT}"), restored.reason
    assert w.parts.revokes.status() == {} and w.venue.keys == {k: "allowed" for k in KEYS}
    again = two_accounts(tmp_path, venue=w.venue, clock=w.clock)  # a restart: nothing said of sim-hedge, nothing owed
    started(again)
    ticks(again, 3, beat=True)
    assert again.parts.revokes.status() == {}


def test_a_strategys_revoke_reaches_only_the_accounts_it_trades_on(tmp_path):
    """bot-a is declared on sim-main alone: its revoke reaches sim-main, not sim-hedge (the walk
    saw sim-hedge previewed and then named OUT OF REACH, with no word of why it was reached)."""
    w = two_accounts(tmp_path, venue=KeyVenue(), prefixes={"bot-a-": "bot-a"})
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("bot-a")
    assert preview.allowed, preview.reason
    assert preview.reason == f"PREVIEW: revoke trading on 1 account(s): {ACCOUNT}", preview.reason
    said = "\n".join(preview.effects)
    assert OTHER not in said and f"strategy bot-a trades on {ACCOUNT} (declared in the Accounts document" in said, said
    done = run(w.desk.revoke_trading("bot-a", "bot-a ignores the halt", preview_id=preview.preview_id, actor="ann"))
    assert done.done and done.out_of_reach == (), done.reason
    assert set(w.parts.revokes.status()) == {ACCOUNT}


def test_a_revoke_of_a_strategy_no_account_trades_on_is_refused_with_the_way_out():
    """A strategy known from a policy's scope alone trades on no account this runner can name:
    refused, never every account of the runner."""
    from killswitch.runner.names import Catalog
    from killswitch.runner.operator.revoke_commands import OperatorRevokes

    cat = Catalog(accounts=frozenset({ACCOUNT, OTHER}), strategies=frozenset({"bot-a", "bot-z"}),
                  account_strategies={ACCOUNT: frozenset({"bot-a"}), OTHER: frozenset()})
    me = SimpleNamespace(known=SimpleNamespace(catalog=lambda: cat))
    assert OperatorRevokes._accounts(me, "bot-a") == (None, [ACCOUNT])  # type: ignore[arg-type]
    why, accounts = OperatorRevokes._accounts(me, "bot-z")  # type: ignore[arg-type]
    assert accounts == [] and why.startswith("NO_ACCOUNT: strategy bot-z is declared on no account"), why
    assert "ksctl revoke --scope venue/account" in why
    assert OperatorRevokes._accounts(me, "simulated") == (None, [OTHER, ACCOUNT])  # type: ignore[arg-type]


def test_a_stage_revoke_holds_only_the_accounts_with_the_switch(tmp_path):
    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    reports = ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{OTHER}"].stage.level == 1
    reports += ticks(w, 30)
    assert set(w.parts.revokes.status()) == {ACCOUNT} and events(reports, REVOKE_FAILED) == []


def test_a_book_that_owes_a_revoke_where_no_switch_is_forgets_it_without_sending(tmp_path):
    """A book saved before such holds were refused: the owed revoke is dropped, never retried."""
    from killswitch.runner.book.revoke_state import Hold, RevokeBook

    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    hold = Hold(holder=f"operator|{OTHER}", policy="operator", scope=OTHER, since_ms=T0, reason="MANUAL_REVOKE: x")
    w.parts.book.revokes_changed(RevokeBook().hold([OTHER], hold, T0))
    assert set(w.parts.revokes.status()) == {OTHER}
    reports = ticks(w, 3, beat=True)
    assert w.parts.revokes.status() == {} and events(reports, REVOKE_FAILED) == []


def test_ksctl_revoke_exits_1_naming_the_account_out_of_reach(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli
    from tests.integration.test_ops_commands import TOKEN

    op = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with ServedKeys(tmp_path, build=two_accounts) as srv:
        args = ["revoke", "--scope", "simulated", "--api", srv.url, "--reason", "bot ignores the halt", "--yes"]
        r = op.invoke(cli, args)
        assert r.exit_code == 1, r.output
        assert f"  {OTHER}: OUT OF REACH, not revoked: no revoke: block" in r.output, r.output
        assert f"\nREVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back); OUT_OF_REACH, not revoked: " \
               f"{OTHER}" in r.output, r.output
        r = op.invoke(cli, args + ["-o", "json"])
        assert r.exit_code == 1 and json.loads(r.output)["out_of_reach"] == [OTHER], r.output


UNREACHED = f"{OTHER}: OUT OF REACH, not revoked (no revoke: block in the Accounts document)"


def test_a_revokes_unreached_account_is_named_after_a_restart_everywhere_the_revoke_is(tmp_path, caplog):
    """The walk revoked a venue whose sim-hedge has no revoke: block: the answer named it, and then
    nothing did (status, the console, the restore preview, the start-up log, the report row)."""
    import logging

    from killswitch.face.api.render import encode
    from killswitch.face.console.model import page_model
    from killswitch.facts import status_lines, trading
    from killswitch.runbooks.operator_actions import operator_actions
    from killswitch.view import RunnerStatus, decode

    from .test_confirmed import console_text

    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    done = run(w.desk.revoke_trading("simulated", "bots everywhere", preview_id=preview.preview_id, approvals=2,
                                     actor="ann"))
    assert done.done and done.out_of_reach == (OTHER,), done.reason
    again = two_accounts(tmp_path, venue=w.venue, clock=w.clock)  # a restart on the same store
    with caplog.at_level(logging.WARNING, logger="killswitch.runner"):
        started(again)
        ticks(again, 2, beat=True)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("TRADING: ")]
    assert logged == [f"TRADING: {ACCOUNT} revoked (read back); held by ann's revoke of simulated (ksctl status)",
                      f"TRADING: {UNREACHED}; asked by ann's revoke of simulated (ksctl status)"], logged

    st = decode(RunnerStatus, json.loads(encode(again.desk.status())))  # as the client reads GET /v1/status
    lines = status_lines(trading.facts(st))
    assert lines[0].startswith(f"  TRADING {ACCOUNT}: revoked (read back)"), lines
    assert lines[1:] == [f"  TRADING {UNREACHED}; asked by ann's revoke of simulated"], lines

    r = again.desk
    model = page_model(r.status(), (True, "LEADER"), r.lock_document(), r.dms_status(), r.triggers(),
                       run(r.incidents()))
    assert model["standing"]["trading"].line == f"trading revoked on {ACCOUNT}; {UNREACHED}", model["standing"]
    page = console_text(again)
    assert f"Trading NOT revoked {OTHER}: OUT OF REACH, not revoked (no revoke: block in the Accounts document); " \
           "asked by ann's revoke of simulated" in page, page

    restore = r.preview_restore("simulated", "bob")
    assert restore.allowed, restore.reason
    assert f"{UNREACHED}: the revoke never reached it, so the restore sends nothing there" in restore.effects, \
        restore.effects

    [row] = rows(again, "trading_revoke_requested")
    assert row["out_of_reach"] == [OTHER] and row["accounts"] == [OTHER, ACCOUNT], row
    audit = SimpleNamespace(kind="trading_revoke_requested", payload=row, ts_ms=T0, seq=1)
    [action] = operator_actions([audit], T0 + 60_000, lambda seq: True, {}, {})
    assert action["reason"] == (f"bots everywhere (revoked {ACCOUNT}; {UNREACHED}); its restore needs 2 "
                                "approver(s)"), action["reason"]


def test_the_page_of_a_venue_revoke_names_the_account_it_did_not_reach_and_who_asked(tmp_path):
    """The walk's page said only "trading revoked at the venue for sim-main …: keys …": whoever is
    paged, not the one who typed the command, must learn that a bot on sim-hedge can still trade."""
    from killswitch.events import TRADING_REVOKED
    from killswitch.notify.message import headline

    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    told: list = []
    work = w.parts.revokes.work

    async def recorded(now):
        out = await work(now)
        told.extend(out)
        return out

    w.parts.revokes.work = recorded
    preview = w.desk.preview_revoke("simulated")
    done = run(w.desk.revoke_trading("simulated", "bots everywhere", preview_id=preview.preview_id, actor="ann"))
    assert done.done, done.reason
    [event] = [e for e in told if e.kind == TRADING_REVOKED]
    assert event.data["out_of_reach"] == [OTHER], event.data
    said = headline(SimpleNamespace(labels=event.labels, event=event))
    assert said == (f"trading revoked at the venue for {ACCOUNT} (read back): keys {', '.join(sorted(KEYS))}; "
                    f"{UNREACHED}; asked by ann's revoke of simulated: bots everywhere"), said
