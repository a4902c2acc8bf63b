"""A close is applied as previewed (issue 30, points 3, 5, 14 and 15), on the runner against the
simulated exchange: a close of one symbol closes that symbol alone; a live close carries its
preview's id and a maximum notional and is refused (nothing sent) when its fresh plan differs
materially from the preview, at its request or at its tick; a preview taken right after a
settled close takes the fills off and says how old its positions are; a dry-run runner says up
front that nothing will be sent. The calm book: long 5 BTC, long 100 ETH, short 1000 SOL."""

from __future__ import annotations

import pytest

from killswitch.runner.operator.close_plans import (
    AMOUNT_SLACK,
    PREVIEW_TTL_MS,
    Envelope,
    PlanLegs,
    default_max_notional,
    refusal,
)
from killswitch.view import PlannedOrder
from tests.unit.runner.operator.rig import ACCOUNT, audit_kinds, make, run, start, ticks

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def ready(tmp_path, **kw):
    w = make(tmp_path, **kw)
    start(w)
    ticks(w, 1, beat=("bot-x",))
    return w


def held(w) -> dict[str, float]:
    return {p.symbol: abs(p.amount) for p in w.engine.positions("sim-main") if abs(p.amount) > 0}


# --- point 3: one symbol ---------------------------------------------------------------------------------


def test_a_close_of_one_symbol_closes_that_symbol_alone_reduce_only_and_no_more_than_the_position(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "cut btc", True, symbol=BTC))
    assert p.accepted and p.symbol == BTC and p.orders == 1
    [o] = p.plan
    assert (o.symbol, o.side, o.amount, o.reduce_only) == (BTC, "sell", 5.0, True)
    sent = run(w.desk.close(ACCOUNT, "cut btc", False, symbol=BTC, preview_id=p.preview_id))
    assert sent.accepted and sent.reason.startswith(f"QUEUED: close of {BTC} in {ACCOUNT} at the next tick"), sent
    ticks(w, 1, beat=("bot-x",))
    assert held(w) == {"ETHUSDT": 100.0, "SOLUSDT": 1000.0}
    journal = [e for e in w.store.journal(limit=100) if e.decision_id.startswith(sent.id)]
    assert [(e.symbol, e.side, e.amount, e.reduce_only, e.status) for e in journal] == [
        (BTC, "sell", 5.0, True, "filled")]
    progress = run(w.desk.close_progress(sent.id))
    assert progress["state"] == "settled" and progress["symbol"] == BTC
    requested = [r.payload for r in w.store.audit_rows(kinds=["manual_close_requested"])]
    assert requested[-1]["symbol"] == BTC and requested[-1]["preview"]["id"] == p.preview_id


@pytest.mark.parametrize("typo, hint", [("BTC/USDT:USDTX", BTC), ("btc/usdt:usdt", BTC), ("DOGE/USDT:USDT", None)])
def test_a_symbol_the_scope_holds_no_position_in_is_refused_with_close_matches(tmp_path, typo, hint):
    w = ready(tmp_path)
    before = len(audit_kinds(w))
    for dry in (True, False):
        r = run(w.desk.close(ACCOUNT, "typo", dry, symbol=typo, preview_id="cp-1-x"))
        assert not r.accepted and r.reason.startswith("UNKNOWN_SYMBOL:"), r
        assert hint is None or f"did you mean '{hint}'" in r.reason, r.reason
    p = run(w.desk.preview_close(ACCOUNT, typo))
    assert not p.allowed and p.reason.startswith("UNKNOWN_SYMBOL:")
    # the live one's refusal is audited with its author (the preview's is not a change), nothing journaled
    assert audit_kinds(w)[before:] == ["manual_close_refused"] and w.store.journal(limit=10) == []


# --- point 5: applied as previewed ------------------------------------------------------------------------


def test_a_live_close_without_a_preview_id_is_refused_and_sends_nothing(tmp_path):
    w = ready(tmp_path)
    r = run(w.desk.close(ACCOUNT, "old client", False))
    assert not r.accepted and r.reason.startswith("PREVIEW_REQUIRED:"), r
    r = run(w.desk.close(ACCOUNT, "made up", False, preview_id="cp-1-000000000000"))
    assert not r.accepted and r.reason.startswith("PREVIEW_UNKNOWN:"), r
    ticks(w, 1, beat=("bot-x",))
    assert len(held(w)) == 3 and "manual_close_requested" not in audit_kinds(w)
    assert audit_kinds(w).count("manual_close_refused") == 2  # each refusal audited, nothing queued


def test_a_close_whose_positions_grew_or_multiplied_since_its_preview_is_refused(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "flatten", True))
    w.engine.open_position("sim-main", "BTCUSDT", "long", 5.0, 60_000.0)  # a bot doubles BTC
    ticks(w, 1, beat=("bot-x",))
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id))
    assert not r.accepted and r.reason.startswith("PREVIEW_MISMATCH: 1 position(s) grew since the preview"), r
    assert f"{ACCOUNT} {BTC} sell 10 now, 5 previewed" in r.reason
    # a preview of one symbol does not cover a close of the scope
    p = run(w.desk.close(ACCOUNT, "flatten", True, symbol=ETH))
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id))
    assert not r.accepted and r.reason.startswith(f"PREVIEW_MISMATCH: the preview was of {ACCOUNT} symbol {ETH}"), r
    ticks(w, 1, beat=("bot-x",))
    assert held(w) == {"BTCUSDT": 10.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}, "nothing was sent"


def test_a_close_above_its_maximum_notional_is_refused(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "flatten", True))
    assert p.notional == pytest.approx(740_000.0) and p.max_notional == default_max_notional(p.notional)
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id, max_notional=500_000.0))
    assert not r.accepted and r.reason.startswith("OVER_MAX_NOTIONAL: the plan's notional is 740,000.00 now"), r
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id, max_notional=740_000.0))
    assert r.accepted and r.max_notional == 740_000.0, r


def test_a_preview_too_old_is_refused(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "flatten", True))
    w.clock.advance(PREVIEW_TTL_MS + 1)
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id))
    assert not r.accepted and r.reason.startswith("PREVIEW_EXPIRED:"), r


def test_a_position_gone_since_the_preview_is_not_material_and_is_said(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "flatten", True))
    w.engine.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 5.0, reduce_only=True)  # closed by hand meanwhile
    ticks(w, 1, beat=("bot-x",))
    r = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id))
    assert r.accepted and r.orders == 2 and f"closed since the preview: {ACCOUNT} {BTC} sell" in r.reason, r


def test_a_close_whose_plan_moved_between_its_request_and_its_tick_is_refused_at_the_tick(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "flatten", True))
    sent = run(w.desk.close(ACCOUNT, "flatten", False, preview_id=p.preview_id))
    assert sent.accepted
    w.engine.open_position("sim-main", "BTCUSDT", "long", 5.0, 60_000.0)  # before the close's tick
    ticks(w, 1, beat=("bot-x",))
    progress = run(w.desk.close_progress(sent.id))
    assert progress["state"] == "refused" and progress["reason"].startswith("PREVIEW_MISMATCH:"), progress
    assert held(w) == {"BTCUSDT": 10.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}, "nothing was sent"
    planned = [r.payload for r in w.store.audit_rows(kinds=["manual_close_planned"])]
    assert planned[-1]["orders"] == 0 and planned[-1]["refused"].startswith("PREVIEW_MISMATCH:")


def _o(symbol: str, side: str, amount: float, notional: float, account: str = ACCOUNT) -> PlannedOrder:
    return PlannedOrder(account, symbol, side, None, amount, notional, None, True, 1, 1)


@pytest.mark.parametrize("fresh, code", [
    ([_o(BTC, "sell", 5, 300_000)], None),  # the same
    ([_o(BTC, "sell", 5 * (1 + AMOUNT_SLACK), 330_000)], None),  # grew within the slack
    ([], None),  # gone: sends less, never something else
    ([_o(BTC, "sell", 5.6, 300_000)], "PREVIEW_MISMATCH"),  # grew beyond the slack
    ([_o(BTC, "buy", 5, 300_000)], "PREVIEW_MISMATCH"),  # the other side
    ([_o(BTC, "sell", 5, 300_000), _o(ETH, "sell", 1, 3_000)], "PREVIEW_MISMATCH"),  # a new symbol
    ([_o(BTC, "sell", 5, 300_000, "simulated/other")], "PREVIEW_MISMATCH"),  # another account
    ([_o(BTC, "sell", 5, 340_000)], "OVER_MAX_NOTIONAL"),  # the mark moved above the cap
], ids=["same", "within-slack", "gone", "grew", "flipped", "new-symbol", "other-account", "over-cap"])
def test_materially_different_as_the_module_defines_it(fresh, code):
    previewed = PlanLegs.of([_o(BTC, "sell", 5, 300_000)])
    why = refusal(previewed, PlanLegs.of(fresh), 330_000, scope=ACCOUNT, symbol=None, of_scope=ACCOUNT, of_symbol=None)
    assert (why is None) if code is None else why.startswith(code + ":"), why


def test_an_envelope_is_read_back_as_it_was_audited():
    env = Envelope("cp-1-abc", PlanLegs.of([_o(BTC, "sell", 5, 300_000)]), 330_000.0, ACCOUNT, BTC)
    assert Envelope.from_json(env.to_json(), ACCOUNT, BTC) == env
    assert Envelope.from_json({"id": "x"}, ACCOUNT, None) is None


# --- point 14: a preview right after a settled close ------------------------------------------------------


def test_a_preview_right_after_a_settled_close_takes_the_fills_off_and_says_how_old_it_is(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "cut btc", True, symbol=BTC))
    run(w.desk.close(ACCOUNT, "cut btc", False, symbol=BTC, preview_id=p.preview_id))
    ticks(w, 1, beat=("bot-x",))  # the close fills at this tick; its snapshots were taken before
    assert any(pos.symbol == BTC for pos in w.parts.book.snapshots[ACCOUNT].positions), "the snapshot still shows BTC"
    again = run(w.desk.close(ACCOUNT, "what is left", True))
    assert {o.symbol for o in again.plan} == {ETH, SOL}, again.plan
    assert len(again.notes) == 1 and again.notes[0].startswith(f"{ACCOUNT} {BTC} long: 5 filled by ")
    assert again.as_of_ms == w.parts.book.snapshots[ACCOUNT].ts_observed and again.age_s is not None
    shown = run(w.desk.preview_close(ACCOUNT))
    assert {o.symbol for o in shown.orders} == {ETH, SOL} and shown.as_of_ms == again.as_of_ms
    # one age of the snapshot: its time (the console counts its age), not also a frozen age in the effects
    assert not any("as of the snapshot" in e for e in shown.effects), shown.effects
    assert any("taken off" in e for e in shown.effects)
    ticks(w, 1, beat=("bot-x",))  # the next snapshot shows it: nothing left to take off
    assert run(w.desk.close(ACCOUNT, "what is left", True)).notes == ()


# --- point 15: a dry-run runner says so up front ----------------------------------------------------------


def test_a_dry_run_runner_says_up_front_that_nothing_will_be_sent_and_gives_the_notional(tmp_path):
    w = ready(tmp_path, dry_run=True)
    p = run(w.desk.close(ACCOUNT, "drill", True))
    assert p.mode == "dry-run" and p.notional == pytest.approx(740_000.0)
    assert p.reason.startswith("DRY_RUN: nothing will be sent (this runner is a dry run): 3 order(s) would be "
                               "planned and audited, notional 740,000.00"), p.reason
    sent = run(w.desk.close(ACCOUNT, "drill", False, preview_id=p.preview_id))
    assert sent.accepted and sent.reason.startswith("QUEUED_DRY_RUN: nothing will be sent (this runner is a dry run)")
    assert "notional 740,000.00" in sent.reason
    shown = run(w.desk.preview_close(ACCOUNT))
    assert shown.reason.startswith("DRY_RUN: nothing will be sent") and shown.notional == pytest.approx(740_000.0)
    ticks(w, 1, beat=("bot-x",))
    assert run(w.desk.close_progress(sent.id))["state"] == "dry_run" and len(held(w)) == 3


def test_a_symbol_closed_already_is_said_to_have_no_position_not_a_typo(tmp_path):
    w = ready(tmp_path)
    p = run(w.desk.close(ACCOUNT, "cut eth", True, symbol=ETH))
    sent = run(w.desk.close(ACCOUNT, "cut eth", False, symbol=ETH, preview_id=p.preview_id))
    assert sent.accepted, sent
    ticks(w, 1, beat=("bot-x",))
    assert "ETHUSDT" not in held(w)
    for dry in (True, False):
        r = run(w.desk.close(ACCOUNT, "again", dry, symbol=ETH, preview_id="cp-1-x"))
        assert not r.accepted and r.reason == (
            f"NO_POSITION: {ACCOUNT} has no position in {ETH} now (the last snapshots, less the fills since); it "
            f"holds {BTC}, {SOL}; nothing to close"), r.reason
        assert "did you mean" not in r.reason
    r = run(w.desk.close(ACCOUNT, "typo", True, symbol="ETH/USDT:USDTX"))
    assert r.reason.startswith("UNKNOWN_SYMBOL:") and f"did you mean '{ETH}'" not in r.reason
