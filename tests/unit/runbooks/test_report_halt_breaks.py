"""What broke the halt, as the closure report reads it from audit rows (pure: rows in, values out):
what each violation came to — the latest answer the venue gave to its cancel, never "canceled"
without one; a dry run said so; a revert's journaled status — and each change of the bots'
trading permission, with the incident open on its scope at the time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.runbooks.halt_breaks import halt_breaks

ACC = "binanceusdm/main"


def row(seq: int, audit_kind: str, ts_ms: int, **payload):
    return SimpleNamespace(seq=seq, kind=audit_kind, ts_ms=ts_ms, payload=payload)


def cancel(seq: int, order_id: str, *, ts_ms: int = 1_000, **extra):
    return row(seq, "lock_violation", ts_ms, kind="LOCK_VIOLATION", action="cancel", scope=ACC, account=ACC,
               order_id=order_id, client_order_id=f"alp-{order_id}", strategy="alpha", symbol="BTC/USDT:USDT",
               side="buy", amount=1.0, notional=60_000.0, mode="halted", **extra)


def result(seq: int, **outcomes: str):
    return row(seq, "violation_cancel_result", 2_000 + seq, account=ACC, outcomes=outcomes)


INCIDENT = {"incident": "guard/binanceusdm/main/L1/e1", "policy": "guard", "scope": ACC, "ts_ms": 500,
            "end_ms": 5_000}


@pytest.mark.parametrize("rows,outcome", [
    ([cancel(1, "o1")], "no result recorded"),  # a stop after the cancel left, before its answer was audited
    ([cancel(1, "o1"), result(2, o1="canceled")], "canceled"),
    ([cancel(1, "o1"), result(2, o1="EXCHANGE_UNAVAILABLE: 503"), result(3, o1="canceled")], "canceled"),
    ([cancel(1, "o1"), result(2, o1="-2011: Unknown order sent.")], "-2011: Unknown order sent."),
    ([cancel(1, "o1"), result(2, o2="canceled")], "no result recorded"),  # another order's answer
    ([cancel(1, "o1", dry_run=True)], "dry run: not sent"),
])
def test_a_cancels_outcome_is_the_venues_latest_answer_or_says_there_is_none(rows, outcome):
    [v] = halt_breaks(rows, {}, [], lambda seq: True)["violations"]
    assert v["outcome"] == outcome


@pytest.mark.parametrize("statuses,dry_run,outcome", [
    ({"ks-r1": "filled"}, False, "revert filled"),
    ({"ks-r1": "pending"}, False, "revert pending"),
    ({}, False, "not journaled"),
    ({}, True, "dry run: not sent"),
])
def test_a_reverts_outcome_is_its_orders_journaled_status(statuses, dry_run, outcome):
    rev = row(1, "lock_violation", 1_000, action="revert", scope=ACC, account=ACC, revert_client_order_id="ks-r1",
              strategy="unknown", dry_run=dry_run)
    [v] = halt_breaks([rev], statuses, [], lambda seq: True)["violations"]
    assert v["outcome"] == outcome


def test_a_violation_in_an_incidents_window_on_its_scope_names_it_and_one_outside_does_not():
    rows = [cancel(1, "o1", ts_ms=1_000), cancel(2, "o2", ts_ms=6_000),
            row(3, "lock_violation", 1_500, kind="LIMIT_VIOLATION", action="cancel", scope="other-book",
                account="okx/x", order_id="o3")]
    out = halt_breaks(rows, {}, [INCIDENT], lambda seq: seq < 3)["violations"]
    assert [(v["order_id"], v["kind"], v["incident"], v["verified"]) for v in out] == [
        ("o1", "LOCK_VIOLATION", INCIDENT["incident"], True), ("o2", "LOCK_VIOLATION", None, True),
        ("o3", "LIMIT_VIOLATION", None, False)]


def test_the_trading_permission_rows_keep_the_venues_words_and_their_incident():
    rows = [row(1, "trading_permission_failed", 1_000, account=ACC, want_text="revoke", code="-2015",
                message="Invalid API-key, IP, or permissions for action.", attempts=1),
            row(2, "trading_revoked", 2_000, account=ACC, keys={"bot-b": "revoked", "bot-a": "revoked"},
                read_back=True, holds=["guard|" + ACC], by="runner-b"),
            # after the reset that ended the incident (no hold left): still its restore
            row(3, "trading_restored", 9_000, account=ACC, keys={"bot-a": "allowed"}, read_back=False, holds=[]),
            row(4, "trading_revoked", 9_500, account=ACC, keys={"bot-a": "revoked"}, holds=["operator|" + ACC]),
            row(5, "trading_permission_failed", 9_900, account=ACC, code="TIMEOUT", attempts=1, want_text="restore"),
            row(6, "trading_permission_failed", 9_950, account=ACC, code="TIMEOUT", attempts=1, want_text="revoke")]
    out = halt_breaks(rows, {}, [INCIDENT], lambda seq: True)["trading"]
    assert [(t["event"], t["keys"], t["read_back"], t["incident"]) for t in out] == [
        ("failed", [], None, INCIDENT["incident"]), ("revoked", ["bot-a", "bot-b"], True, INCIDENT["incident"]),
        ("restored", ["bot-a"], False, INCIDENT["incident"]), ("revoked", ["bot-a"], None, None),
        ("failed", [], None, None), ("failed", [], None, None)]  # an operator's revoke, its restore refused
    assert (out[0]["code"], out[0]["message"], out[0]["want"]) == (
        "-2015", "Invalid API-key, IP, or permissions for action.", "revoke")
    assert out[1]["by"] == "runner-b" and out[1]["holds"] == ["guard|" + ACC]


def test_a_permission_change_says_who_asked_and_why_in_words():
    op = "operator|" + ACC
    rows = [row(1, "trading_revoke_requested", 900, scope=ACC, accounts=[ACC], reason="bot-a ignores the halt",
                approvals=2, by="alice"),
            row(2, "trading_revoked", 1_000, account=ACC, keys={"bot-a": "revoked"}, read_back=False, holds=[op]),
            row(3, "trading_restore_approval", 3_000, scope=ACC, reason="bot fixed", approver="alice", holder=op),
            row(4, "trading_restore_approval", 4_000, scope=ACC, reason="agreed", approver="bob", holder=op),
            row(5, "trading_restored", 4_100, account=ACC, keys={"bot-a": "allowed"}, read_back=False, holds=[]),
            row(6, "trading_revoked", 6_000, account=ACC, keys={"bot-a": "revoked"}, holds=["guard|" + ACC]),
            row(7, "trading_restored", 7_000, account=ACC, keys={"bot-a": "allowed"}, holds=[])]
    out = halt_breaks(rows, {}, [INCIDENT], lambda seq: True)["trading"]
    assert [t["why"] for t in out] == [
        f"operator on {ACC}, alice: bot-a ignores the halt",
        f"restore of the operator's revoke on {ACC} approved by alice: bot fixed, bob: agreed",
        f"policy guard on {ACC}", f"the reset of policy guard on {ACC}"]


def test_a_second_restore_names_only_the_approvals_given_after_its_own_revoke():
    op = "operator|" + ACC

    def revoke_and_restore(seq: int, ts: int, first: str, second: str) -> list:
        return [row(seq, "trading_revoke_requested", ts, scope=ACC, accounts=[ACC], reason="look", by="alice"),
                row(seq + 1, "trading_revoked", ts + 100, account=ACC, keys={"bot-a": "revoked"}, holds=[op]),
                row(seq + 2, "trading_restore_approval", ts + 200, scope=ACC, reason=first, approver="alice",
                    holder=op),
                row(seq + 3, "trading_restore_approval", ts + 300, scope=ACC, reason=second, approver="bob",
                    holder=op),
                row(seq + 4, "trading_restored", ts + 400, account=ACC, keys={"bot-a": "allowed"}, holds=[])]

    rows = revoke_and_restore(1, 1_000, "bot-a fixed", "agreed") + revoke_and_restore(6, 10_000, "ok", "fine")
    out = halt_breaks(rows, {}, [INCIDENT], lambda seq: True)["trading"]
    assert [t["why"] for t in out if t["event"] == "restored"] == [
        f"restore of the operator's revoke on {ACC} approved by alice: bot-a fixed, bob: agreed",
        f"restore of the operator's revoke on {ACC} approved by alice: ok, bob: fine"]


def test_the_permission_table_reads_in_words_not_raw_values():
    from killswitch.render.report import halt_break_lines

    rows = [row(1, "trading_revoke_requested", 900, scope=ACC, reason="r", by="alice"),
            row(2, "trading_revoked", 1_000, account=ACC, keys={"bot-a": "revoked"}, read_back=False,
                holds=["operator|" + ACC])]
    text = "\n".join(halt_break_lines(halt_breaks(rows, {}, [INCIDENT], lambda seq: True)))
    assert f"| the venue offers no read | confirmed | operator on {ACC}, alice: r |" in text, text
    assert "False" not in text and "operator|" not in text


def test_the_permission_table_lists_each_account_a_venue_revoke_did_not_reach():
    """The walk's table listed sim-main's rows alone: sim-hedge, which the revoke's scope reached
    but could not revoke (no revoke: block), was nowhere in it."""
    from killswitch.render.report import halt_break_lines

    venue, hedge = ACC.split("/")[0], "binanceusdm/hedge"
    rows = [row(1, "trading_revoke_requested", 900, scope=venue, accounts=[hedge, ACC], reason="bot-a ignores it",
                by="alice", out_of_reach=[hedge]),
            row(2, "trading_revoked", 1_000, account=ACC, keys={"bot-a": "revoked"}, read_back=False,
                holds=[f"operator|{venue}"])]
    broke = halt_breaks(rows, {}, [INCIDENT], lambda seq: True)
    assert [(t["account"], t["event"]) for t in broke["trading"]] == [(hedge, "out of reach"), (ACC, "revoked")]
    text = "\n".join(halt_break_lines(broke))
    assert (f"| {hedge} | out of reach | - | - | nothing sent: {hedge}: OUT OF REACH, not revoked (no revoke: block "
            f"in the Accounts document) | operator on {venue}, alice: bot-a ignores it |") in text, text
